"""``ScriptedModel``: a deterministic chat model double implementing the model protocol."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from mastra_memory.errors import ModelError
from mastra_memory.models.base import ModelResponse, ToolCall, Usage

__all__ = ["ScriptedModel"]

Reply = str | ModelResponse | Exception | Callable[[list[dict[str, Any]]], "str | ModelResponse"]


class ScriptedModel:
    """Replies from a script, in order, and records every call.

    Args:
        replies: Each item is a text reply, a :class:`ModelResponse` (e.g. with tool calls), an
            exception to raise, or a function of the messages returning either.
        default: Reply used once the script is exhausted; ``None`` raises ModelError instead.
        name: Model name.
        delay: Seconds every call waits before answering (0): ``time.sleep`` in
            :meth:`generate`/:meth:`stream`, ``asyncio.sleep`` in :meth:`agenerate`/:meth:`astream`
            (a stand-in for a provider's latency in benchmarks and concurrency tests).

    Attributes:
        calls: ``(messages, tools, settings)`` of every call, in order.
    """

    def __init__(
        self,
        replies: Sequence[Reply] = (),
        default: Reply | None = None,
        name: str = "scripted",
        *,
        delay: float = 0.0,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.name = name
        self.delay = delay
        self._replies = list(replies)
        self._default = default
        self._lock = threading.Lock()
        self.calls: list[tuple[list[dict[str, Any]], list[dict[str, Any]] | None, dict[str, Any]]] = []

    @staticmethod
    def tool_call(name: str, arguments: dict[str, Any] | None = None, call_id: str | None = None) -> ModelResponse:
        """A response that calls one tool."""
        return ModelResponse(tool_calls=[ToolCall(id=call_id or f"call_{name}", name=name, arguments=arguments or {})])

    def _next(self, messages: list[dict[str, Any]]) -> ModelResponse:
        with self._lock:
            reply = self._replies.pop(0) if self._replies else self._default
        if reply is None:
            raise ModelError("ScriptedModel: script exhausted")
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            reply = reply(messages)
        if isinstance(reply, str):
            words = sum(len(str(m.get("content") or "").split()) for m in messages)
            return ModelResponse(text=reply, usage=Usage(prompt_tokens=words, completion_tokens=len(reply.split())))
        return reply

    def _record(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, settings: dict[str, Any]
    ) -> None:
        with self._lock:
            self.calls.append(([dict(m) for m in messages], tools, settings))

    def generate(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        """The next scripted reply, after ``delay`` seconds (``time.sleep``)."""
        self._record(messages, tools, settings)
        if self.delay:
            time.sleep(self.delay)
        return self._next(messages)

    async def agenerate(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        """The next scripted reply, after ``delay`` seconds (``asyncio.sleep``: the loop is free)."""
        self._record(messages, tools, settings)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._next(messages)

    @staticmethod
    def _deltas(response: ModelResponse) -> list[str]:
        return re.findall(r"\s*\S+", response.text)

    def stream(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> Iterator[str | ModelResponse]:
        """The reply of :meth:`generate` as word deltas, then the response."""
        response = self.generate(messages, tools=tools, **settings)
        yield from self._deltas(response)
        yield response

    async def astream(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> AsyncIterator[str | ModelResponse]:
        """The reply of :meth:`agenerate` as word deltas, then the response."""
        response = await self.agenerate(messages, tools=tools, **settings)
        for delta in self._deltas(response):
            yield delta
        yield response
