"""``LiteLLMModel``: any provider litellm supports, behind the :class:`ChatModel` protocol.

``model`` is a litellm model string (``"openai/gpt-4o-mini"``, ``"anthropic/claude-..."``, or
``"openai/<alias>"`` with ``api_base=...`` for any OpenAI-compatible server such as vLLM,
llama.cpp's server or Ollama). ``model_settings`` (``temperature``, ``max_tokens``,
``api_base``, ``api_key``, ...) are passed to ``litellm.completion`` unchanged.

The async face (``agenerate``/``astream``) calls ``litellm.acompletion``: one implementation of
the request and of the response parsing, only the call differs.

litellm is imported lazily on the first call (the import takes seconds; the async methods
import it in a worker thread so the event loop is not blocked). Every litellm or
provider exception is wrapped in :class:`~mastra_memory.errors.ModelError` with the original as
``__cause__``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from mastra_memory.errors import ModelError
from mastra_memory.models.base import ModelResponse, ToolCall, Usage

__all__ = ["LiteLLMModel", "parse_tool_arguments"]

logger = logging.getLogger(__name__)


def _litellm() -> Any:
    """Import litellm with offline-friendly defaults (respecting the user's own settings)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if "litellm" not in sys.modules:
        logger.info("importing litellm for the first model call (takes a few seconds)...")
    import litellm

    # litellm prints provider lists and "give feedback" banners to stdout on every error.
    litellm.suppress_debug_info = True
    return litellm


async def _alitellm() -> Any:
    """:func:`_litellm` for the async face: the first import runs in a worker thread."""
    if "litellm" in sys.modules:
        return _litellm()
    return await asyncio.to_thread(_litellm)


def parse_tool_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Decode a tool call's ``arguments`` into a dict.

    Models return arguments as a JSON string. Empty strings mean ``{}``; a string that holds a
    JSON object followed by junk (a common small-model failure) is repaired by keeping the first
    complete object; a Markdown code fence around the JSON is removed.

    Args:
        raw: The ``function.arguments`` value (a JSON string, a dict or None).

    Returns:
        ``(arguments, error)``: ``error`` is None on success, otherwise a description of why the
        arguments could not be decoded (``arguments`` is then ``{}``).
    """
    if raw is None:
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return {}, f"arguments must be a JSON object, got {type(raw).__name__}"
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`").strip()
        if text.lower().startswith("json"):
            text = text[4:].strip()
    if not text:
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        start = text.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else (None, 0)
        except json.JSONDecodeError as exc:
            return {}, f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {raw[:200]!r}"
        if value is None:
            return {}, f"arguments are not a JSON object: {raw[:200]!r}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _to_response(raw: Any) -> ModelResponse:
    """Convert a litellm ``ModelResponse`` (or its dict form) to ours."""
    choices = _get(raw, "choices") or []
    if not choices:
        raise ModelError("the model returned no choices")
    choice = choices[0]
    message = _get(choice, "message") or {}
    calls: list[ToolCall] = []
    for i, call in enumerate(_get(message, "tool_calls") or []):
        fn = _get(call, "function") or {}
        name = _get(fn, "name")
        if not name:
            raise ModelError(f"the model returned a tool call without a name: {call!r}")
        args, error = parse_tool_arguments(_get(fn, "arguments"))
        if error:
            logger.debug("tool call %s: %s", name, error)
        calls.append(ToolCall(id=_get(call, "id") or f"call_{i}", name=name, arguments=args, arguments_error=error))
    usage = _get(raw, "usage")
    content = _get(message, "content")
    return ModelResponse(
        text=content if isinstance(content, str) else "",
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=int(_get(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(_get(usage, "completion_tokens", 0) or 0),
        ),
        finish_reason=_get(choice, "finish_reason"),
    )


def _delta_text(chunk: Any) -> str | None:
    """The text delta of a stream chunk, if any."""
    choices = _get(chunk, "choices") or []
    delta = _get(choices[0], "delta") if choices else None
    text = _get(delta, "content") if delta is not None else None
    return text if isinstance(text, str) else None


class LiteLLMModel:
    """A chat model served through litellm.

    Args:
        model: litellm model string, e.g. ``"openai/gpt-4o-mini"`` or ``"openai/<alias>"``.
        **model_settings: Default keyword arguments for ``litellm.completion`` (``temperature``,
            ``max_tokens``, ``api_base``, ``api_key``, ``timeout`` in seconds, ...). Per-call
            settings override them.

    Example:
        >>> model = LiteLLMModel("openai/x", mock_response="hi")  # offline, no key needed
        >>> model.generate([{"role": "user", "content": "hello"}]).text
        'hi'
    """

    def __init__(self, model: str, **model_settings: Any) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ModelError("model must be a non-empty litellm model string")
        self.name = model
        self.model_settings = dict(model_settings)

    def __repr__(self) -> str:
        return f"LiteLLMModel({self.name!r})"

    def _kwargs(self, tools: list[dict[str, Any]] | None, settings: dict[str, Any]) -> dict[str, Any]:
        kwargs = {**self.model_settings, **settings}
        if tools:
            kwargs["tools"] = tools
        return kwargs

    def _request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        """The keyword arguments of ``litellm.completion``/``acompletion`` for one step."""
        return {**self._kwargs(tools, settings), "model": self.name, "messages": messages}

    def _stream_request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        request = self._request(messages, tools, settings)
        request["stream"] = True
        request.setdefault("stream_options", {"include_usage": True})
        return request

    def _error(self, exc: Exception) -> ModelError:
        return exc if isinstance(exc, ModelError) else ModelError(f"{self.name}: {exc}")

    def _finish_stream(self, litellm: Any, chunks: list[Any], messages: list[dict[str, Any]]) -> ModelResponse:
        """The complete response of a stream from its chunks."""
        try:
            built = litellm.stream_chunk_builder(chunks, messages=messages) if chunks else None
        except Exception as exc:
            raise self._error(exc) from exc
        if built is None:
            raise ModelError(f"{self.name}: the stream ended without any chunk")
        return _to_response(built)

    def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one completion step.

        Raises:
            ModelError: if litellm or the provider fails, or the response has no choices.
        """
        litellm = _litellm()
        try:
            raw = litellm.completion(**self._request(messages, tools, settings))
        except Exception as exc:
            raise self._error(exc) from exc
        return _to_response(raw)

    async def agenerate(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one completion step without blocking the event loop (``litellm.acompletion``).

        Raises:
            ModelError: if litellm or the provider fails, or the response has no choices.
        """
        litellm = await _alitellm()
        try:
            raw = await litellm.acompletion(**self._request(messages, tools, settings))
        except Exception as exc:
            raise self._error(exc) from exc
        return _to_response(raw)

    def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> Iterator[str | ModelResponse]:
        """Stream one completion step: text deltas, then the complete :class:`ModelResponse`.

        Tool-call deltas are accumulated (``litellm.stream_chunk_builder``); usage is requested
        with ``stream_options={"include_usage": True}`` unless ``stream_options`` is given.

        Raises:
            ModelError: if litellm or the provider fails, also in the middle of the stream.
        """
        litellm = _litellm()
        chunks: list[Any] = []
        try:
            for chunk in litellm.completion(**self._stream_request(messages, tools, settings)):
                chunks.append(chunk)
                text = _delta_text(chunk)
                if text:
                    yield text
        except Exception as exc:
            raise self._error(exc) from exc
        yield self._finish_stream(litellm, chunks, messages)

    async def astream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[str | ModelResponse]:
        """:meth:`stream` without blocking the event loop (``litellm.acompletion(stream=True)``):
        text deltas, then the complete :class:`ModelResponse`.

        Raises:
            ModelError: if litellm or the provider fails, also in the middle of the stream.
        """
        litellm = await _alitellm()
        chunks: list[Any] = []
        try:
            async for chunk in await litellm.acompletion(**self._stream_request(messages, tools, settings)):
                chunks.append(chunk)
                text = _delta_text(chunk)
                if text:
                    yield text
        except Exception as exc:
            raise self._error(exc) from exc
        yield self._finish_stream(litellm, chunks, messages)
