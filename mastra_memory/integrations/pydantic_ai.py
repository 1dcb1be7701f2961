"""PydanticAI conversations kept in a mastra-memory thread.

PydanticAI passes history explicitly: ``agent.run(..., message_history=...)`` in,
``result.new_messages()`` out. ``MastraMessageHistory`` is those two ends over one thread::

    from pydantic_ai import Agent
    from mastra_memory import Memory
    from mastra_memory.integrations.pydantic_ai import MastraMessageHistory

    history = MastraMessageHistory(Memory(), thread_id="t-1", resource_id="user-ana")
    result = agent.run_sync("Hi, I am Ana.", message_history=history.messages())
    history.save(result.new_messages())

    # in async code, on an AsyncMemory (native async I/O on PostgreSQL, MongoDB, Redis):
    history = MastraMessageHistory(AsyncMemory("postgresql://..."), thread_id="t-1", resource_id="user-ana")
    result = await agent.run("Hi, I am Ana.", message_history=await history.amessages())
    await history.asave(result.new_messages())

One ``ModelMessage`` is one message: a ``ModelRequest`` with a user prompt a ``user`` message
(its text and, for tool returns, ``tool`` results), a ``ModelResponse`` an ``assistant`` message
with its text and tool calls. The message itself, serialised with PydanticAI's
``ModelMessagesTypeAdapter``, is kept in ``content.metadata["pydantic_ai_message"]``, so PydanticAI
reads back exactly what it wrote (system prompt parts included, which mastra-memory does not
store as messages of their own); messages written by others are converted from their parts.
``messages``/``save`` run on a :class:`~mastra_memory.memory.Memory`, ``amessages``/``asave`` on an
:class:`~mastra_memory.AsyncMemory`, both through one implementation
(:class:`~mastra_memory.integrations._thread_log_async.AsyncThreadLog` and its generated sync face).
``pydantic-ai-slim`` is imported when this module is; a missing install raises
:class:`~mastra_memory.errors.MissingDependencyError` naming ``pip install "mastra-memory[pydantic-ai]"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mastra_memory.errors import MissingDependencyError, ValidationError
from mastra_memory.integrations._faces import MemoryFaces
from mastra_memory.integrations._thread_log import ThreadLog
from mastra_memory.integrations._thread_log_async import AsyncThreadLog
from mastra_memory.types import Message, MessageContent, ReasoningPart, Role, TextPart, ToolInvocationPart

try:
    from pydantic_ai import messages as pai
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("pydantic-ai-slim", "pydantic-ai") from exc

__all__ = ["MastraMessageHistory", "from_model_messages", "to_model_messages"]

ITEM_KEY = "pydantic_ai_message"
"""The ``content.metadata`` key that keeps the original ``ModelMessage`` (as JSON)."""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c for c in content if isinstance(c, str))
    return ""


def _one(dumped: dict[str, Any], thread_id: str, resource_id: str) -> Message:
    parts: list[Any] = []
    role: Role
    if dumped.get("kind") == "response":
        role = "assistant"
        for part in dumped.get("parts", []):
            kind = part.get("part_kind")
            if kind == "text" and part.get("content"):
                parts.append(TextPart(text=part["content"]))
            elif kind == "thinking" and part.get("content"):
                parts.append(ReasoningPart(text=part["content"]))
            elif kind == "tool-call":
                args = part.get("args")
                if isinstance(args, str):
                    try:
                        args = json.loads(args) if args else {}
                    except json.JSONDecodeError:
                        args = {"_raw": args}
                parts.append(
                    ToolInvocationPart(
                        tool_call_id=str(part.get("tool_call_id", "")),
                        tool_name=str(part.get("tool_name", "")),
                        args=args or {},
                    )
                )
    else:
        texts: list[str] = []
        for part in dumped.get("parts", []):
            kind = part.get("part_kind")
            if kind == "user-prompt":
                texts.append(_text(part.get("content")))
            elif kind in ("tool-return", "retry-prompt"):
                parts.append(
                    ToolInvocationPart(
                        tool_call_id=str(part.get("tool_call_id", "")),
                        tool_name=str(part.get("tool_name") or ""),
                        result=part.get("content"),
                        state="result",
                    )
                )
        role = "user" if texts or not parts else "tool"
        if "".join(texts):
            parts.insert(0, TextPart(text="".join(texts)))
    content = MessageContent(parts=parts, metadata={ITEM_KEY: dumped})
    return Message(role=role, thread_id=thread_id, resource_id=resource_id, content=content)


def from_model_messages(messages: Sequence[Any], thread_id: str, resource_id: str) -> list[Message]:
    """Convert PydanticAI ``ModelMessage`` objects into messages of ``thread_id``, one each.

    Raises:
        ValidationError: if an item is not a ``ModelMessage`` PydanticAI can serialise.
    """
    for message in messages:
        if not isinstance(message, pai.ModelRequest | pai.ModelResponse):
            raise ValidationError(f"expected PydanticAI ModelRequest/ModelResponse, got {type(message).__name__}")
    try:
        dumped = pai.ModelMessagesTypeAdapter.dump_python(list(messages), mode="json")
    except Exception as exc:
        raise ValidationError(f"not PydanticAI model messages: {exc}") from exc
    return [_one(d, thread_id, resource_id) for d in dumped]


def to_model_messages(messages: Sequence[Message]) -> list[Any]:
    """Convert stored messages into PydanticAI ``ModelMessage`` objects, oldest first."""
    out: list[Any] = []
    for msg in messages:
        kept = msg.content.metadata.get(ITEM_KEY)
        if isinstance(kept, dict):
            out.extend(pai.ModelMessagesTypeAdapter.validate_python([kept]))
            continue
        calls = [p for p in msg.content.parts if isinstance(p, ToolInvocationPart)]
        if msg.role == "user" and msg.text:
            out.append(pai.ModelRequest(parts=[pai.UserPromptPart(content=msg.text)]))
        elif msg.role == "assistant":
            response_parts: list[Any] = [pai.TextPart(content=msg.text)] if msg.text else []
            response_parts += [
                pai.ToolCallPart(tool_name=p.tool_name, args=p.args, tool_call_id=p.tool_call_id)
                for p in calls
                if p.tool_name
            ]
            if response_parts:
                out.append(pai.ModelResponse(parts=response_parts))
        returns = [
            pai.ToolReturnPart(tool_name=p.tool_name, content=p.result, tool_call_id=p.tool_call_id)
            for p in calls
            if p.state == "result"
        ]
        if returns:
            out.append(pai.ModelRequest(parts=returns))
    return out


class MastraMessageHistory:
    """PydanticAI ``message_history`` in and ``new_messages()`` out, over one thread.

    Args:
        memory: A :class:`~mastra_memory.memory.Memory` (for :meth:`messages` / :meth:`save`),
            an :class:`~mastra_memory.AsyncMemory` (for :meth:`amessages` / :meth:`asave`), or a
            storage URL (both; see :mod:`mastra_memory.integrations._faces`).
        thread_id: The thread; created on the first save.
        resource_id: The owning resource (user); a thread of another resource raises
            :class:`~mastra_memory.errors.ResourceMismatchError` (in the constructor when given
            a ``Memory``, else on the first call).
        title: Title of a new thread.
    """

    def __init__(self, memory: Any, thread_id: str, resource_id: str, *, title: str | None = None) -> None:
        self._faces = MemoryFaces(memory)
        self.memory = memory
        self.thread_id = thread_id
        self.resource_id = resource_id
        self.title = title
        self._log: ThreadLog | None = None
        self._alog: AsyncThreadLog | None = None
        if self._faces.has_sync:
            self._sync_log("amessages").check_owner(thread_id)  # ownership check up front

    def _sync_log(self, async_name: str) -> ThreadLog:
        if self._log is None:
            self._log = ThreadLog(self._faces.sync(async_name), self.resource_id, self.title)
        return self._log

    def _async_log(self) -> AsyncThreadLog:
        if self._alog is None:
            self._alog = AsyncThreadLog(self._faces.async_(), self.resource_id, self.title)
        return self._alog

    @staticmethod
    def _history(stored: list[Message], last: int | None) -> list[Any]:
        while last is not None and stored and stored[0].role == "tool":
            stored = stored[1:]
        return to_model_messages(stored)

    def messages(self, last: int | None = None) -> list[Any]:
        """The thread as PydanticAI messages for ``message_history`` (oldest first).

        Args:
            last: Only the newest ``last`` stored messages (``None``: all). A cut never starts
                inside a tool exchange: leading tool returns are dropped, as providers reject a
                tool result without its call.
        """
        return self._history(self._sync_log("amessages").messages(self.thread_id, last), last)

    def save(self, new_messages: Sequence[Any]) -> None:
        """Append a run's ``result.new_messages()`` in one transaction (creating the thread).

        Raises:
            ValidationError: if the items are not PydanticAI messages (nothing is written).
        """
        if not new_messages:
            return
        stored = from_model_messages(new_messages, self.thread_id, self.resource_id)
        self._sync_log("asave").append(self.thread_id, stored)

    async def amessages(self, last: int | None = None) -> list[Any]:
        """Async :meth:`messages`."""
        return self._history(await self._async_log().messages(self.thread_id, last), last)

    async def asave(self, new_messages: Sequence[Any]) -> None:
        """Async :meth:`save`."""
        if not new_messages:
            return
        stored = from_model_messages(new_messages, self.thread_id, self.resource_id)
        await self._async_log().append(self.thread_id, stored)
