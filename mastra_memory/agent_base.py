"""The I/O-free parts of :class:`~mastra_memory.agent.Agent`: its arguments, the input messages,
the result and the stream wrappers. The turn loop is in ``agent_loop_async.py`` (generated into
``agent_loop.py``)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mastra_memory.chat import from_chat_messages
from mastra_memory.context import TurnContext
from mastra_memory.errors import ConfigurationError, ModelError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.memory_async import AsyncMemory
from mastra_memory.models import resolve_model
from mastra_memory.models.base import ChatModel, ModelResponse, Usage
from mastra_memory.tools import Tool, as_tool
from mastra_memory.types import (
    Message,
    Part,
    Thread,
    new_id,
    validate_id,
)

__all__ = ["AgentBase", "AgentInput", "AgentStream", "AsyncAgentStream", "GenerateResult", "ThreadArg"]

logger = logging.getLogger(__name__)

AgentInput = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]
ThreadArg = str | Mapping[str, Any] | Thread | None


class GenerateResult(BaseModel):
    """The outcome of one agent turn.

    Attributes:
        text: The text of the final model step (as the AI SDK's ``result.text``); text the
            model wrote before calling tools is in ``messages`` and ``steps``.
        messages: The new messages of the turn, as saved: the input message(s) without system
            messages, then one assistant message with every step's parts (none if the model
            returned nothing at all).
        usage: Tokens summed over all model steps.
        thread_id: The thread of the turn (``None`` when stateless).
        resource_id: The owning resource (``None`` when stateless).
        steps: Every model step, in order.
        finish_reason: The last step's finish reason, or ``"max_steps"`` when the loop stopped
            at ``max_steps`` with tool calls still pending.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    messages: list[Message]
    usage: Usage = Field(default_factory=Usage)
    thread_id: str | None = None
    resource_id: str | None = None
    steps: list[ModelResponse] = Field(default_factory=list)
    finish_reason: str | None = None


class AgentStream:
    """Iterator over the text deltas of a streamed turn; the :class:`GenerateResult` is
    available as :attr:`result` once the iterator is exhausted.

    The turn runs while you iterate; it is saved when the last delta has been consumed. If you
    stop early (``break`` and :meth:`close`, or leave a ``with`` block), nothing is saved.

    Example::

        stream = agent.stream("Hello", thread="t-1", resource="user-1")
        for delta in stream:
            print(delta, end="", flush=True)
        print(stream.result.usage)
    """

    def __init__(self, gen: Iterator[str], turn: _Turn) -> None:
        self._gen = gen
        self._turn = turn
        self._done = False

    def __iter__(self) -> AgentStream:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        try:
            return next(self._gen)
        except BaseException:
            self._done = True
            raise

    @property
    def result(self) -> GenerateResult:
        """The turn's result; consumes the remaining deltas first if needed.

        Raises:
            RuntimeError: if the stream was closed early or failed.
        """
        for _ in self:
            pass
        if self._turn.result is None:
            raise RuntimeError("the stream was closed or failed before the turn finished")
        return self._turn.result

    @property
    def text(self) -> str:
        """Shortcut for ``result.text``."""
        return self.result.text

    def close(self) -> None:
        """Stop the turn without saving it."""
        self._done = True
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> AgentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._turn.result is None:
            self.close()


class AsyncAgentStream:
    """Async iterator over the text deltas of a turn streamed by :meth:`Agent.astream`: the
    same items :class:`AgentStream` yields; :attr:`result` is set once it is exhausted.

    If you stop early (``break`` and :meth:`aclose`, or leave an ``async with`` block), nothing
    is saved.

    Example::

        stream = agent.astream("Hello", thread="t-1", resource="user-1")
        async for delta in stream:
            print(delta, end="", flush=True)
        print(stream.result.usage)
    """

    def __init__(self, gen: AsyncIterator[str], turn: _Turn) -> None:
        self._gen = gen
        self._turn = turn
        self._done = False

    def __aiter__(self) -> AsyncAgentStream:
        return self

    async def __anext__(self) -> str:
        if self._done:
            raise StopAsyncIteration
        try:
            return await anext(self._gen)
        except BaseException:
            self._done = True
            raise

    @property
    def result(self) -> GenerateResult:
        """The turn's result, once the stream is exhausted (``await stream.get_result()``
        consumes what is left first).

        Raises:
            RuntimeError: if the stream is not exhausted yet, was closed early or failed.
        """
        if self._turn.result is None:
            raise RuntimeError("the stream is not finished (iterate it to the end), or was closed or failed")
        return self._turn.result

    async def get_result(self) -> GenerateResult:
        """Consume the remaining deltas and return the turn's result.

        Raises:
            RuntimeError: if the stream was closed early or failed.
        """
        async for _ in self:
            pass
        return self.result

    async def aclose(self) -> None:
        """Stop the turn without saving it."""
        self._done = True
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncAgentStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._turn.result is None:
            await self.aclose()


@dataclass
class _Turn:
    """State of one running turn."""

    thread_id: str | None
    resource_id: str | None
    inputs: list[Message]
    chat: list[dict[str, Any]]
    tools: dict[str, Tool]
    context: TurnContext | None = None
    parts: list[Part] = field(default_factory=list)
    steps: list[ModelResponse] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    result: GenerateResult | None = None

    @property
    def tool_specs(self) -> list[dict[str, Any]] | None:
        return [t.to_openai() for t in self.tools.values()] or None


def _jsonable(value: Any) -> Any:
    """A JSON-storable form of a tool result (pydantic models dumped, others via ``str``)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        try:
            return json.loads(json.dumps(value, default=str, allow_nan=False))
        except (TypeError, ValueError):
            return str(value)


class AgentBase:
    """The arguments and I/O-free steps of :class:`~mastra_memory.agent.Agent` (arguments,
    defaults and errors are documented there); the turn loops build on it."""

    def __init__(
        self,
        name: str,
        instructions: str,
        model: str | ChatModel,
        memory: Memory | AsyncMemory | None = None,
        tools: Sequence[Tool | Any] = (),
        model_settings: dict[str, Any] | None = None,
        max_steps: int = 8,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("agent name must be a non-empty string")
        if not isinstance(instructions, str):
            raise ConfigurationError("instructions must be a string")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ConfigurationError("max_steps must be an integer >= 1")
        if memory is not None and not isinstance(memory, Memory | AsyncMemory):
            raise ConfigurationError(f"memory must be a Memory or an AsyncMemory, not {type(memory).__name__}")
        self.name = name
        self.instructions = instructions
        self.model_settings = dict(model_settings or {})
        self.model: ChatModel = resolve_model(model, self.model_settings)
        # A model built from a string holds the settings; an object gets them on every call.
        self._call_settings = {} if isinstance(model, str) else dict(self.model_settings)
        self.memory = memory
        self.max_steps = max_steps
        self.tools: dict[str, Tool] = {}
        for item in tools:
            tool = as_tool(item)
            if tool.name in self.tools:
                raise ConfigurationError(f"duplicate tool name {tool.name!r}")
            self.tools[tool.name] = tool

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, model={getattr(self.model, 'name', self.model)!r})"

    # -- public API ---------------------------------------------------------------------------

    def _begin(self, input: AgentInput, thread: ThreadArg, resource: str | None, is_async: bool) -> _Turn:
        """Validate the arguments and build the input messages (no I/O); ``is_async`` tells
        which face runs the turn (its memory must be the same face)."""
        self._check_face(is_async)
        thread_id: str | None = None
        if isinstance(thread, Thread):
            thread_id = thread.id
        elif isinstance(thread, Mapping):
            unknown = set(thread) - {"id", "title", "metadata"}
            if unknown or "id" not in thread:
                raise ValidationError("thread must be an id or a dict with 'id' and optional 'title', 'metadata'")
            thread_id = validate_id(thread["id"], "thread id")
        elif thread is not None:
            thread_id = validate_id(thread, "thread id")
        if resource is not None:
            validate_id(resource, "resource id")
        if self.memory is not None:
            if thread_id is not None and resource is None:
                raise ValidationError("a resource is required when a thread is given to an agent with memory")
            if thread_id is None and resource is not None:
                thread_id = new_id()
        elif thread_id is not None or resource is not None:
            logger.debug("agent %s has no memory: thread/resource are not stored", self.name)
        stateful = self.memory is not None and thread_id is not None
        inputs = self._input_messages(input, thread_id or new_id(), resource if stateful else None)
        return _Turn(
            thread_id=thread_id,
            resource_id=resource if stateful else None,
            inputs=inputs,
            chat=[],
            tools=dict(self.tools),
        )

    @staticmethod
    def _input_messages(input: AgentInput, thread_id: str, resource_id: str | None) -> list[Message]:
        if isinstance(input, str):
            if not input.strip():
                raise ValidationError("input is empty")
            return [Message.user(input, thread_id, resource_id=resource_id)]
        items: list[Any] = [input] if isinstance(input, Message | Mapping) else list(input)
        if not items:
            raise ValidationError("input is empty")
        out: list[Message] = []
        run: list[dict[str, Any]] = []

        def flush() -> None:
            if run:
                out.extend(from_chat_messages(run, thread_id, resource_id))
                run.clear()

        for item in items:
            if isinstance(item, Message):
                flush()
                out.append(item.model_copy(update={"thread_id": thread_id, "resource_id": resource_id}))
            elif isinstance(item, Mapping):
                run.append(dict(item))
            else:
                raise ValidationError(f"input items must be Message or chat message dicts, not {type(item).__name__}")
        flush()
        return out

    def _check_face(self, is_async: bool) -> None:
        if self.memory is None:
            return
        memory_async = not isinstance(self.memory, Memory)
        if memory_async and not is_async:
            raise ConfigurationError(
                "this agent's memory is an AsyncMemory: use `await agent.agenerate(...)` or `agent.astream(...)`"
            )
        if is_async and not memory_async:
            raise ConfigurationError(
                "this agent's memory is a Memory (sync): use AsyncMemory with agenerate()/astream(), "
                "or generate()/stream()"
            )

    def _model_error(self, exc: Exception) -> ModelError:
        return ModelError(f"{getattr(self.model, 'name', 'model')}: {exc}")
