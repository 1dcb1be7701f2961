"""The model seam: the small protocol every chat model implements.

A model takes OpenAI-style chat messages (``[{"role": ..., "content": ...}, ...]``) and optional
tool definitions (OpenAI function-tool JSON schemas) and returns a :class:`ModelResponse`.
litellm-backed models, the offline llama.cpp model and test doubles all implement it, so the
agent, the Observer and the Reflector never care which one they hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatModel", "ModelResponse", "ToolCall", "Usage", "iterate_in_thread"]

T = TypeVar("T")

_DONE: Any = object()


class ToolCall(BaseModel):
    """A tool call requested by the model.

    Attributes:
        id: The provider's call id (echoed back with the result).
        name: The tool name.
        arguments: The decoded JSON object of arguments.
        arguments_error: Set when the model's arguments could not be decoded into an object
            (``arguments`` is then ``{}``); the agent answers such a call with an error result
            instead of running the tool.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_error: str | None = None


class Usage(BaseModel):
    """Token usage reported by the model (tokens)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ModelResponse(BaseModel):
    """One model step: text and/or tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """What a chat model must provide.

    ``generate`` runs one step. ``stream`` yields text deltas (``str``) and then, as its last
    item, the complete :class:`ModelResponse` of the step. ``settings`` are provider options
    (temperature, max_tokens, response_format, ...) merged over the model's own.

    The async face (``AsyncMemory``, ``Agent.agenerate``/``astream``) also uses, when a model
    has them, ``async def agenerate(messages, *, tools=None, **settings) -> ModelResponse`` and
    ``astream(...)``, an async iterator of the same items as ``stream``. They are optional (not
    part of this runtime check): a model without them has ``generate``/``stream`` run in a worker
    thread. The built-in models have both: :class:`~mastra_memory.models.litellm_model.LiteLLMModel`
    through ``litellm.acompletion``, the local llama.cpp model in a worker thread, and the
    scripted test models.
    """

    name: str

    def generate(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse: ...

    def stream(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> Iterator[str | ModelResponse]: ...


async def iterate_in_thread(iterator: Iterator[T]) -> AsyncGenerator[T, None]:
    """Step a blocking iterator (a local model's ``stream``) in worker threads, one item per
    :func:`asyncio.to_thread`, so the event loop is free while it computes. Closing the async
    iterator early closes the blocking one (releasing what it holds, such as a model lock)."""
    try:
        while True:
            item = await asyncio.to_thread(next, iterator, _DONE)
            if item is _DONE:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # still running in a cancelled worker thread
                close()
