"""An OpenAI Agents SDK ``Session`` kept in a mastra-memory thread.

``MastraSession`` implements the SDK's session protocol (``get_items``, ``add_items``,
``pop_item``, ``clear_session``) over one thread, so ``Runner.run(agent, text, session=...)``
keeps its conversation in any mastra-memory store, where semantic recall, observational memory,
the HTTP server and the CLI see it too::

    from agents import Agent, Runner
    from mastra_memory import Memory
    from mastra_memory.integrations.openai_agents import MastraSession

    session = MastraSession(Memory(), thread_id="t-1", resource_id="user-ana")
    result = await Runner.run(Agent(name="a", instructions="Be brief."), "Hi, I am Ana.", session=session)

Each Responses-API item becomes one message: a user or assistant ``message`` its text (and
images as file parts), a ``function_call`` an assistant tool invocation (``state="call"``), a
``function_call_output`` a ``role="tool"`` message holding the result (``state="result"``),
anything else (reasoning, web search calls, ...) an assistant message with a ``raw`` part. The
item itself is kept in the message's ``content.metadata["openai_item"]``, so the SDK gets back
exactly what it stored; messages written by others (``Agent``, the HTTP API, LangChain) are
converted from their parts into items. System and developer items are refused
(:class:`~mastra_memory.errors.ValidationError`): as in Mastra, system messages are not stored.

The protocol's methods are ``async`` and run on :class:`~mastra_memory.AsyncMemory`: given an
``AsyncMemory`` (or a URL) on PostgreSQL, MongoDB or Redis they make no worker-thread call; given
a sync ``Memory`` they run on an ``AsyncMemory`` over its store (a sync store's calls in worker
threads). The ``*_sync`` twins run on the sync ``Memory``. Both faces are one implementation,
:class:`~mastra_memory.integrations._thread_log_async.AsyncThreadLog` (its sync face generated).
``pop_item`` is atomic (the store's ``pop_newest_message``): concurrent pops return distinct
items; ``clear_session`` empties the thread in one transaction.
The ``openai-agents`` package is not needed to use this class (the protocol is structural);
install it with ``pip install "mastra-memory[openai-agents]"`` to run agents.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from mastra_memory.errors import ValidationError
from mastra_memory.integrations._faces import MemoryFaces
from mastra_memory.integrations._thread_log import ThreadLog
from mastra_memory.integrations._thread_log_async import AsyncThreadLog
from mastra_memory.types import FilePart, Message, MessageContent, RawPart, TextPart, ToolInvocationPart

__all__ = ["MastraSession", "from_response_items", "to_response_items"]

ITEM_KEY = "openai_item"
"""The ``content.metadata`` key that keeps the original Responses-API item."""


def _text_and_files(content: Any) -> tuple[str, list[FilePart]]:
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    files: list[FilePart] = []
    for part in content or []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        elif kind == "input_image" and part.get("image_url"):
            files.append(FilePart(url=str(part["image_url"]), mime_type="image/*"))
        elif kind == "input_file":
            files.append(
                FilePart(
                    data=part.get("file_data"),
                    url=part.get("file_url"),
                    filename=part.get("filename"),
                    mime_type="application/octet-stream",
                )
            )
    return "".join(texts), files


def _one(item: Any, thread_id: str, resource_id: str | None) -> Message:
    if not isinstance(item, dict):
        raise ValidationError(f"a Responses-API item must be a dict, got {type(item).__name__}")
    kind = item.get("type", "message")
    role = item.get("role")
    parts: list[Any]
    if kind == "message" or (kind is None and role):
        if role in ("system", "developer"):
            raise ValidationError(f"{role} items are not stored (as in Mastra); pass instructions to the agent")
        if role not in ("user", "assistant"):
            raise ValidationError(f"unsupported message role {role!r}")
        text, files = _text_and_files(item.get("content"))
        parts = [TextPart(text=text)] if text else []
        parts.extend(files)
        msg_role = role
    elif kind == "function_call":
        raw_args = item.get("arguments") or "{}"
        try:
            args = json.loads(raw_args) if isinstance(raw_args, str) else raw_args
        except json.JSONDecodeError:
            args = {"_raw": raw_args}
        parts = [
            ToolInvocationPart(
                tool_call_id=str(item.get("call_id", "")), tool_name=str(item.get("name", "")), args=args
            )
        ]
        msg_role = "assistant"
    elif kind == "function_call_output":
        parts = [
            ToolInvocationPart(
                tool_call_id=str(item.get("call_id", "")), tool_name="", result=item.get("output"), state="result"
            )
        ]
        msg_role = "tool"
    else:
        parts = [RawPart(type=str(kind), data={})]
        msg_role = "assistant"
    try:
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"a Responses-API item must be JSON: {exc}") from exc
    content = MessageContent(parts=parts, metadata={ITEM_KEY: copy.deepcopy(item)})
    return Message(role=msg_role, thread_id=thread_id, resource_id=resource_id, content=content)


def from_response_items(items: Sequence[Any], thread_id: str, resource_id: str | None = None) -> list[Message]:
    """Convert Responses-API input items into messages of ``thread_id`` (one message per item).

    Raises:
        ValidationError: on a system/developer item, an unknown role, or a non-JSON item.
    """
    return [_one(item, thread_id, resource_id) for item in items]


def to_response_items(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Convert stored messages into Responses-API input items, oldest first.

    A message that came from an item returns that item; other messages are converted from their
    parts: text to a ``message`` item, each tool invocation to a ``function_call`` and, once it
    has a result, a ``function_call_output``. Reasoning and unknown parts are not sent.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        kept = msg.content.metadata.get(ITEM_KEY)
        if isinstance(kept, dict):
            out.append(copy.deepcopy(kept))
            continue
        texts = [p.text for p in msg.content.parts if isinstance(p, TextPart)]
        if texts and msg.role in ("user", "assistant"):
            out.append({"role": msg.role, "content": "".join(texts)})
        for part in msg.content.parts:
            if not isinstance(part, ToolInvocationPart):
                continue
            if part.tool_name and msg.role != "tool":
                arguments = part.args if isinstance(part.args, str) else json.dumps(part.args, ensure_ascii=False)
                out.append(
                    {
                        "type": "function_call",
                        "call_id": part.tool_call_id,
                        "name": part.tool_name,
                        "arguments": arguments,
                    }
                )
            if part.state == "result":
                output = part.result if isinstance(part.result, str) else json.dumps(part.result, ensure_ascii=False)
                out.append({"type": "function_call_output", "call_id": part.tool_call_id, "output": output})
    return out


class MastraSession:
    """The OpenAI Agents SDK session protocol over one mastra-memory thread.

    Args:
        memory: An :class:`~mastra_memory.AsyncMemory` (the async methods use it directly), a
            :class:`~mastra_memory.memory.Memory`, or a storage URL (see
            :mod:`mastra_memory.integrations._faces`).
        thread_id: The thread, used as the SDK's ``session_id``; created on the first write.
        resource_id: The owning resource (user); a thread of another resource raises
            :class:`~mastra_memory.errors.ResourceMismatchError` (in the constructor when given
            a ``Memory``, else on the first call).
        title: Title of a new thread.
        session_settings: The SDK's ``SessionSettings`` (its ``limit`` is the default of
            :meth:`get_items`), or ``None``.
    """

    def __init__(
        self,
        memory: Any,
        thread_id: str,
        resource_id: str,
        *,
        title: str | None = None,
        session_settings: Any = None,
    ) -> None:
        self._faces = MemoryFaces(memory)
        self.memory = memory
        self.session_id = thread_id
        self.thread_id = thread_id
        self.resource_id = resource_id
        self.title = title
        self.session_settings = session_settings
        self._log: ThreadLog | None = None
        self._alog: AsyncThreadLog | None = None
        self._checked = False
        if self._faces.has_sync:
            self._sync_log("get_items").check_owner(thread_id)  # ownership check up front
            self._checked = True

    def _sync_log(self, async_name: str) -> ThreadLog:
        if self._log is None:
            self._log = ThreadLog(self._faces.sync(async_name), self.resource_id, self.title)
        return self._log

    async def _async_log(self) -> AsyncThreadLog:
        if self._alog is None:
            self._alog = AsyncThreadLog(self._faces.async_(), self.resource_id, self.title)
        if not self._checked:
            await self._alog.check_owner(self.thread_id)
            self._checked = True
        return self._alog

    def _limit(self, limit: int | None) -> int | None:
        if limit is None and self.session_settings is not None:
            limit = getattr(self.session_settings, "limit", None)
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValidationError(f"limit must be >= 0, got {limit!r}")
        return limit

    @staticmethod
    def _last(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
        return items if limit is None else items[-limit:]

    @staticmethod
    def _popped(message: Message | None) -> dict[str, Any] | None:
        items = to_response_items([message]) if message is not None else []
        return items[-1] if items else None

    async def get_items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The thread as items, oldest first; with ``limit``, the newest ``limit`` items.

        Raises:
            ValidationError: if ``limit`` is negative.
        """
        limit = self._limit(limit)
        if limit == 0:
            return []
        log = await self._async_log()
        return self._last(to_response_items(await log.messages(self.thread_id, limit)), limit)

    async def add_items(self, items: list[Any]) -> None:
        """Append items in one transaction (creating the thread on first use); storage orders
        them after the thread's newest message.

        Raises:
            ValidationError: on an item that can not be stored (nothing is written).
        """
        if not items:
            return
        messages = from_response_items(list(items), self.thread_id, self.resource_id)
        await (await self._async_log()).append(self.thread_id, messages)

    async def pop_item(self) -> dict[str, Any] | None:
        """Delete the newest message and return its (last) item, or ``None`` for an empty
        session; atomic, so concurrent pops return distinct items.

        A message written by someone else may convert into several items (a tool call and its
        result); popping removes the whole message and returns the last of them.
        """
        return self._popped(await (await self._async_log()).pop(self.thread_id))

    async def clear_session(self) -> None:
        """Delete every message of the thread in one transaction (the thread and its metadata stay)."""
        await (await self._async_log()).clear(self.thread_id)

    def get_items_sync(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Sync :meth:`get_items` (needs a ``Memory`` or a URL)."""
        limit = self._limit(limit)
        if limit == 0:
            return []
        log = self._sync_log("get_items")
        return self._last(to_response_items(log.messages(self.thread_id, limit)), limit)

    def add_items_sync(self, items: Sequence[Any]) -> None:
        """Sync :meth:`add_items`."""
        if not items:
            return
        messages = from_response_items(items, self.thread_id, self.resource_id)
        self._sync_log("add_items").append(self.thread_id, messages)

    def pop_item_sync(self) -> dict[str, Any] | None:
        """Sync :meth:`pop_item`."""
        return self._popped(self._sync_log("pop_item").pop(self.thread_id))

    def clear_session_sync(self) -> None:
        """Sync :meth:`clear_session`."""
        self._sync_log("clear_session").clear(self.thread_id)
