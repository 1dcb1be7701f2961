"""Token counting with tiktoken ``o200k_base``, offline, with per-message caching.

The encoding's BPE file is not downloaded: the official ``o200k_base.tiktoken`` (MIT, from
OpenAI's tiktoken) ships gzipped inside this package (``mastra_memory/data/``, 1.7 MB), and the
first :func:`get_encoding` builds a ``tiktoken.Encoding`` from it after checking the sha256 that
tiktoken itself expects. A user's own ``TIKTOKEN_CACHE_DIR``/``DATA_GYM_CACHE_DIR`` is respected
and tried first. If no encoding can be loaded at all, counting falls back to a
``ceil(len(text) / 4)`` estimate and logs one warning.

Message and conversation overheads follow Mastra's ``TokenCounter`` (``token-counter.ts``) and
``TokenLimiterProcessor``: 3.8 tokens per message (plus one more message overhead for each tool
result), 24 per conversation, images a flat 765 tokens, other files ``bytes / 4`` capped at 258
for URLs, and reasoning / ``data-*`` parts 0.
"""

from __future__ import annotations

import hashlib
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
_BUNDLED_BPE = Path(__file__).parent / "data" / "o200k_base.tiktoken.gz"
_O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken's expected_hash
# The split pattern of o200k_base, as in tiktoken_ext/openai_public.py (tiktoken, MIT).
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_load_lock = threading.Lock()
_encoding: Any = None
_encoding_failed = False


def _bundled_encoding() -> Any:
    """Build ``o200k_base`` from the BPE file shipped in ``mastra_memory/data/`` (sha256-checked).

    Raises:
        OSError: if the file is missing or unreadable.
        ValueError: if its sha256 or its content is wrong.
    """
    import base64
    import gzip

    import tiktoken

    raw = gzip.decompress(_BUNDLED_BPE.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _O200K_SHA256:
        raise ValueError(f"{_BUNDLED_BPE} has sha256 {digest}, expected {_O200K_SHA256}")
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name=_ENCODING_NAME,
        pat_str=_O200K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    )


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
        try:
            _encoding = _bundled_encoding()
        except Exception as exc:  # a damaged install
            logger.warning("could not load the bundled %s file: %s", _ENCODING_NAME, exc)
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
