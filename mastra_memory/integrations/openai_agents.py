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

The methods are ``async`` as the protocol requires; they run the sync :class:`Memory` in a
worker thread (``asyncio.to_thread``), an interim until mastra-memory's ``AsyncMemory`` exists.
The ``openai-agents`` package is not needed to use this class (the protocol is structural);
install it with ``pip install "mastra-memory[openai-agents]"`` to run agents.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Sequence
from typing import Any

from mastra_memory.errors import ValidationError
from mastra_memory.memory import Memory
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
        memory: The :class:`~mastra_memory.memory.Memory` (its storage holds the thread).
        thread_id: The thread, used as the SDK's ``session_id``; created on the first write.
        resource_id: The owning resource (user); a thread of another resource raises
            :class:`~mastra_memory.errors.ResourceMismatchError`.
        title: Title of a new thread.
        session_settings: The SDK's ``SessionSettings`` (its ``limit`` is the default of
            :meth:`get_items`), or ``None``.
    """

    def __init__(
        self,
        memory: Memory,
        thread_id: str,
        resource_id: str,
        *,
        title: str | None = None,
        session_settings: Any = None,
    ) -> None:
        self.memory = memory
        self.session_id = thread_id
        self.thread_id = thread_id
        self.resource_id = resource_id
        self.title = title
        self.session_settings = session_settings
        memory.get_thread_by_id(thread_id, resource_id)  # ownership check up front

    def _messages(self, newest: int | None) -> list[Message]:
        if self.memory.get_thread_by_id(self.thread_id, self.resource_id) is None:
            return []
        per_page = False if newest is None else newest
        return self.memory.list_messages(self.thread_id, self.resource_id, per_page=per_page).messages

    def get_items_sync(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The thread as items, oldest first; with ``limit``, the newest ``limit`` items.

        Raises:
            ValidationError: if ``limit`` is negative.
        """
        if limit is None and self.session_settings is not None:
            limit = getattr(self.session_settings, "limit", None)
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValidationError(f"limit must be >= 0, got {limit!r}")
        if limit == 0:
            return []
        items = to_response_items(self._messages(limit))
        return items if limit is None else items[-limit:]

    def add_items_sync(self, items: Sequence[Any]) -> None:
        """Append items in one transaction (creating the thread on first use); storage orders
        them after the thread's newest message.

        Raises:
            ValidationError: on an item that can not be stored (nothing is written).
        """
        if not items:
            return
        messages = from_response_items(items, self.thread_id, self.resource_id)
        self.memory.get_or_create_thread(self.thread_id, self.resource_id, self.title)
        self.memory.save_messages(messages)

    def pop_item_sync(self) -> dict[str, Any] | None:
        """Delete the newest message and return its (last) item, or ``None`` for an empty session.

        A message written by someone else may convert into several items (a tool call and its
        result); popping removes the whole message and returns the last of them.
        """
        newest = self._messages(1)
        if not newest:
            return None
        items = to_response_items(newest)
        self.memory.delete_messages([newest[-1].id])
        return items[-1] if items else None

    def clear_session_sync(self) -> None:
        """Delete every message of the thread (the thread and its metadata stay)."""
        messages = self._messages(None)
        if messages:
            self.memory.delete_messages([m.id for m in messages])

    async def get_items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Async :meth:`get_items_sync` (a worker thread; interim until ``AsyncMemory``)."""
        return await asyncio.to_thread(self.get_items_sync, limit)

    async def add_items(self, items: list[Any]) -> None:
        """Async :meth:`add_items_sync`."""
        await asyncio.to_thread(self.add_items_sync, list(items))

    async def pop_item(self) -> dict[str, Any] | None:
        """Async :meth:`pop_item_sync`."""
        return await asyncio.to_thread(self.pop_item_sync)

    async def clear_session(self) -> None:
        """Async :meth:`clear_session_sync`."""
        await asyncio.to_thread(self.clear_session_sync)
