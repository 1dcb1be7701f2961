"""The model seam: the small protocol every chat model implements.

A model takes OpenAI-style chat messages (``[{"role": ..., "content": ...}, ...]``) and optional
tool definitions (OpenAI function-tool JSON schemas) and returns a :class:`ModelResponse`.
litellm-backed models, the offline llama.cpp model and test doubles all implement it, so the
agent, the Observer and the Reflector never care which one they hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatModel", "ModelResponse", "ToolCall", "Usage"]


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
    """

    name: str

    def generate(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse: ...

    def stream(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> Iterator[str | ModelResponse]: ...
