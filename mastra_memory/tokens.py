"""Token counting with tiktoken ``o200k_base``, offline, with per-message caching.

The encoding's BPE file is not downloaded: ``litellm`` (a core dependency) ships the official
file in ``litellm/litellm_core_utils/tokenizers/`` under tiktoken's own cache name
(``sha1(<official url>)``), so the first :func:`get_encoding` points tiktoken at that folder for
the duration of the load (tiktoken still checks the file's sha256). A user's own
``TIKTOKEN_CACHE_DIR``/``DATA_GYM_CACHE_DIR`` is respected and tried first. If no encoding can be
loaded at all, counting falls back to a ``ceil(len(text) / 4)`` estimate and logs one warning.

Message and conversation overheads follow Mastra's ``TokenCounter`` (``token-counter.ts``) and
``TokenLimiterProcessor``: 3.8 tokens per message (plus one more message overhead for each tool
result), 24 per conversation, images a flat 765 tokens, other files ``bytes / 4`` capped at 258
for URLs, and reasoning / ``data-*`` parts 0.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mastra_memory.types import FilePart, Message, RawPart, ReasoningPart, TextPart, ToolInvocationPart

__all__ = [
    "CONVERSATION_OVERHEAD",
    "MESSAGE_OVERHEAD",
    "TokenCounter",
    "count_tokens",
    "default_counter",
    "get_encoding",
]

logger = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 3.8
"""Tokens added per message (role markers and separators), as Mastra's TokenCounter."""
CONVERSATION_OVERHEAD = 24
"""Tokens added once per conversation, as Mastra's TokenCounter."""
IMAGE_TOKENS = 765
"""Flat estimate for an image part (Mastra's TokenLimiterProcessor)."""
MEDIA_URL_TOKENS = 258
"""Estimate for a non-image file given by URL (Mastra's TokenLimiterProcessor)."""

_ROLE_TOKENS: dict[str, int] = {}
_ENCODING_NAME = "o200k_base"
_O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_load_lock = threading.Lock()
_encoding: Any = None
_encoding_failed = False


def _litellm_tokenizer_dir() -> Path | None:
    """The folder inside the installed litellm package that holds tiktoken BPE files."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    cache_name = hashlib.sha1(_O200K_URL.encode()).hexdigest()
    return folder if (folder / cache_name).is_file() else None


def get_encoding() -> Any:
    """Return the tiktoken ``o200k_base`` encoding, loaded offline (see the module docstring).

    Returns:
        A ``tiktoken.Encoding``, or ``None`` when none could be loaded (counting then uses the
        ``len / 4`` estimate).
    """
    global _encoding, _encoding_failed
    if _encoding is not None or _encoding_failed:
        return _encoding
    with _load_lock:
        if _encoding is not None or _encoding_failed:
            return _encoding
        import tiktoken

        user_cache = "TIKTOKEN_CACHE_DIR" in os.environ or "DATA_GYM_CACHE_DIR" in os.environ
        if user_cache:
            try:
                _encoding = tiktoken.get_encoding(_ENCODING_NAME)
                return _encoding
            except Exception as exc:  # offline and not in the user's cache
                logger.debug("tiktoken could not load %s from the user's cache: %s", _ENCODING_NAME, exc)
        folder = _litellm_tokenizer_dir()
        if folder is not None:
            saved = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
            try:
                _encoding = tiktoken.get_encoding(_ENCODING_NAME)
            except Exception as exc:
                logger.debug("tiktoken could not load %s from litellm's copy: %s", _ENCODING_NAME, exc)
            finally:
                if saved is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:  # pragma: no cover - only when the user's cache failed above
                    os.environ["TIKTOKEN_CACHE_DIR"] = saved
        if _encoding is None:
            _encoding_failed = True
            logger.warning("tiktoken %s is unavailable offline; token counts use a len/4 estimate", _ENCODING_NAME)
        return _encoding


def count_tokens(text: str) -> int:
    """Tokens of ``text`` in ``o200k_base`` (special tokens are counted as plain text)."""
    if not text:
        return 0
    enc = get_encoding()
    if enc is None:
        return math.ceil(len(text) / 4)
    return len(enc.encode_ordinary(text))


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _fingerprint(message: Message) -> int:
    """A cheap fingerprint of the countable content (the cache key next to the id)."""
    items: list[Any] = [message.role]
    for part in message.content.parts:
        if isinstance(part, TextPart):
            items.append(part.text)
        elif isinstance(part, ToolInvocationPart):
            items.append((part.tool_call_id, part.tool_name, part.state, repr(part.args), repr(part.result)))
        elif isinstance(part, FilePart):
            items.append((part.mime_type, len(part.data or ""), part.url))
        else:
            items.append(part.type)
    return hash(tuple(items))


class TokenCounter:
    """Counts message tokens with per-message caching.

    Counts are cached by message id together with a fingerprint of the content (a hash of the
    text, tool and file parts), so a message is tokenised once per process unless its content
    changes, and a turn never recounts the whole history.

    Args:
        max_cached: Messages kept in the LRU cache (100,000).
    """

    message_overhead: float = MESSAGE_OVERHEAD
    conversation_overhead: int = CONVERSATION_OVERHEAD

    def __init__(self, max_cached: int = 100_000) -> None:
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def count_text(self, text: str) -> int:
        """Tokens of plain text."""
        return count_tokens(text)

    def _count_parts(self, message: Message) -> float:
        role = _ROLE_TOKENS.get(message.role)
        if role is None:
            role = _ROLE_TOKENS[message.role] = count_tokens(message.role)
        total: float = role + self.message_overhead
        for part in message.content.parts:
            if isinstance(part, TextPart):
                total += count_tokens(part.text)
            elif isinstance(part, ToolInvocationPart):
                total += count_tokens(part.tool_name) + count_tokens(_json_text(part.args))
                if part.state == "result":
                    total += count_tokens(_json_text(part.result)) + self.message_overhead
            elif isinstance(part, FilePart):
                if part.mime_type.startswith("image/"):
                    total += IMAGE_TOKENS
                elif part.data:
                    total += math.ceil(len(part.data) / 4)
                else:
                    total += MEDIA_URL_TOKENS
            elif isinstance(part, (ReasoningPart, RawPart)):
                continue  # reasoning and data-* parts count 0, as the original
        return total

    def count_message(self, message: Message) -> float:
        """Tokens of one message including its overhead (a float: the overhead is 3.8)."""
        fp = _fingerprint(message)
        with self._lock:
            hit = self._cache.get(message.id)
            if hit is not None and hit[0] == fp:
                self._cache.move_to_end(message.id)
                self.hits += 1
                return hit[1]
        tokens = self._count_parts(message)
        with self._lock:
            self.misses += 1
            self._cache[message.id] = (fp, tokens)
            self._cache.move_to_end(message.id)
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return tokens

    def count_messages(self, messages: Iterable[Message]) -> int:
        """Tokens of a conversation: the messages plus the per-conversation overhead (0 if empty)."""
        total = 0.0
        n = 0
        for m in messages:
            total += self.count_message(m)
            n += 1
        return 0 if n == 0 else math.ceil(total + self.conversation_overhead)

    def sum_messages(self, messages: Sequence[Message]) -> float:
        """Tokens of the messages without the conversation overhead (for running totals)."""
        return sum(self.count_message(m) for m in messages)


_default: TokenCounter | None = None


def default_counter() -> TokenCounter:
    """The process-wide shared :class:`TokenCounter`."""
    global _default
    if _default is None:
        _default = TokenCounter()
    return _default
