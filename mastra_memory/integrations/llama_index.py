"""A LlamaIndex chat store kept in mastra-memory threads.

``MastraChatStore`` implements ``llama_index.core.storage.chat_store.BaseChatStore``: each chat
store key is a thread of one resource (user), so ``ChatMemoryBuffer``, ``Memory`` and chat engines
keep their history in any mastra-memory store::

    from llama_index.core.memory import ChatMemoryBuffer
    from mastra_memory import Memory
    from mastra_memory.integrations.llama_index import MastraChatStore

    chat_store = MastraChatStore(memory=Memory(), resource_id="user-ana")
    buffer = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key="t-1")

One ``ChatMessage`` is one message: its text blocks become a text part, ``tool_calls`` in
``additional_kwargs`` (OpenAI style) tool invocations, a ``tool`` message a tool result; the
whole ``ChatMessage`` (its JSON dump) is kept in ``content.metadata["llama_index_message"]``
so LlamaIndex gets back exactly what it stored. System messages are refused with
:class:`~mastra_memory.errors.ValidationError` (as in Mastra, they are not stored).
``set_messages`` replaces the thread's messages in one transaction (the store's
``replace_messages``): a reader sees the old history or the new one, and a failure changes
nothing. ``delete_last_message`` is an atomic pop.

The sync methods run on a :class:`~mastra_memory.memory.Memory`, the async ones (``aget_messages``,
``aset_messages``, ...) on an :class:`~mastra_memory.AsyncMemory` (native async I/O on
PostgreSQL, MongoDB and Redis); both are one implementation,
:class:`~mastra_memory.integrations._thread_log_async.AsyncThreadLog` and its generated sync face.
``memory`` may be a ``Memory``, an ``AsyncMemory`` (then only the async methods work) or a URL.
``llama-index-core`` is imported when this module is; a missing install raises
:class:`~mastra_memory.errors.MissingDependencyError` naming ``pip install "mastra-memory[llama-index]"``.
"""

from __future__ import annotations

import json
from typing import Any

from mastra_memory.errors import MissingDependencyError, ValidationError
from mastra_memory.integrations._faces import MemoryFaces
from mastra_memory.integrations._thread_log import ThreadLog
from mastra_memory.integrations._thread_log_async import AsyncThreadLog
from mastra_memory.types import Message, MessageContent, Role, TextPart, ToolInvocationPart

try:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.storage.chat_store.base import BaseChatStore
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("llama-index-core", "llama-index") from exc

__all__ = ["MastraChatStore", "from_llama_messages", "to_llama_messages"]

ITEM_KEY = "llama_index_message"
"""The ``content.metadata`` key that keeps the original ``ChatMessage``."""


_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "tool": "tool"}


def _one(message: Any, thread_id: str, resource_id: str) -> Message:
    if not isinstance(message, ChatMessage):
        raise ValidationError(f"expected a llama_index ChatMessage, got {type(message).__name__}")
    value = message.role.value
    if value in ("system", "developer"):
        raise ValidationError("system messages are not stored (as in Mastra); give them to the chat engine")
    dumped = message.model_dump(mode="json")
    try:
        json.dumps(dumped, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the ChatMessage is not JSON: {exc}") from exc
    parts: list[Any] = []
    text = "".join(getattr(b, "text", "") for b in message.blocks if getattr(b, "block_type", None) == "text")
    if text:
        parts.append(TextPart(text=text))
    kwargs = message.additional_kwargs
    if value == "tool":  # the text is the result
        tool_call_id, name = str(kwargs.get("tool_call_id", "")), str(kwargs.get("name", ""))
        parts = [ToolInvocationPart(tool_call_id=tool_call_id, tool_name=name, result=text, state="result")]
    for call in kwargs.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments") or "{}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError:
            args = {"_raw": arguments}
        parts.append(
            ToolInvocationPart(tool_call_id=str(call.get("id", "")), tool_name=str(function.get("name", "")), args=args)
        )
    role = _ROLES.get(value, "assistant")  # chatbot/model/function roles: the model's side
    return Message(
        role=role,
        thread_id=thread_id,
        resource_id=resource_id,
        content=MessageContent(parts=parts, metadata={ITEM_KEY: dumped}),
    )


def from_llama_messages(messages: list[Any], thread_id: str, resource_id: str) -> list[Message]:
    """Convert LlamaIndex ``ChatMessage`` objects into messages of ``thread_id``, one each.

    Raises:
        ValidationError: on a system message or a message that is not JSON.
    """
    return [_one(m, thread_id, resource_id) for m in messages]


def to_llama_messages(messages: list[Message]) -> list[Any]:
    """Convert stored messages into ``ChatMessage`` objects (the kept original when there is one,
    otherwise the text with tool calls and results in OpenAI style)."""
    out: list[Any] = []
    for msg in messages:
        kept = msg.content.metadata.get(ITEM_KEY)
        if isinstance(kept, dict):
            out.append(ChatMessage.model_validate(kept))
            continue
        calls = [p for p in msg.content.parts if isinstance(p, ToolInvocationPart)]
        tool_calls = [
            {
                "id": p.tool_call_id,
                "type": "function",
                "function": {"name": p.tool_name, "arguments": json.dumps(p.args)},
            }
            for p in calls
            if p.tool_name and msg.role != "tool"
        ]
        kwargs: dict[str, Any] = {"tool_calls": tool_calls} if tool_calls else {}
        out.append(ChatMessage(role=msg.role, content=msg.text, additional_kwargs=kwargs))
        for p in calls:
            if p.state == "result":
                result = p.result if isinstance(p.result, str) else json.dumps(p.result)
                out.append(ChatMessage(role="tool", content=result, additional_kwargs={"tool_call_id": p.tool_call_id}))
    return out


class MastraChatStore(BaseChatStore):
    """LlamaIndex's ``BaseChatStore`` over the threads of one resource.

    Args:
        memory: A :class:`~mastra_memory.memory.Memory`, an :class:`~mastra_memory.AsyncMemory`
            or a storage URL (see :mod:`mastra_memory.integrations._faces`).
        resource_id: The user owning every thread of this store; a key naming a thread of
            another resource raises :class:`~mastra_memory.errors.ResourceMismatchError`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(exclude=True)
    resource_id: str
    _faces: MemoryFaces = PrivateAttr()
    _log: ThreadLog | None = PrivateAttr(default=None)
    _alog: AsyncThreadLog | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        self._faces = MemoryFaces(self.memory)

    @classmethod
    def class_name(cls) -> str:
        return "MastraChatStore"

    def _sync(self, async_name: str) -> ThreadLog:
        if self._log is None:
            self._log = ThreadLog(self._faces.sync(async_name), self.resource_id)
        return self._log

    def _async(self) -> AsyncThreadLog:
        if self._alog is None:
            self._alog = AsyncThreadLog(self._faces.async_(), self.resource_id)
        return self._alog

    def _new(self, key: str, messages: list[ChatMessage]) -> list[Message]:
        return from_llama_messages(list(messages), key, self.resource_id)

    @staticmethod
    def _inserted(current: list[ChatMessage], message: ChatMessage, idx: int) -> list[ChatMessage]:
        current.insert(idx, message)
        return current

    @staticmethod
    def _one(message: Message | None) -> ChatMessage | None:
        return to_llama_messages([message])[0] if message is not None else None

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the thread's messages in one transaction.

        Raises:
            ValidationError: on a message that can not be stored (nothing changes).
        """
        new = self._new(key, messages)
        self._sync("aset_messages").replace(key, new)

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The thread's messages, oldest first (``[]`` for an unknown key)."""
        return to_llama_messages(self._sync("aget_messages").messages(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append a message (creating the thread on first use); with ``idx``, insert it there
        (the whole history is rewritten in one transaction).

        Raises:
            ValidationError: on a message that can not be stored.
        """
        new = self._new(key, [message])
        if idx is not None:
            self.set_messages(key, self._inserted(self.get_messages(key), message, idx))
            return
        self._sync("async_add_message").append(key, new)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete the thread's messages in one transaction and return them (``None`` if there
        were none)."""
        old = self._sync("adelete_messages").clear(key)
        return to_llama_messages(old) if old else None

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the ``idx``-th message (``None`` if out of range)."""
        log = self._sync("adelete_message")
        old = log.messages(key)
        if not -len(old) <= idx < len(old):
            return None
        log.delete([old[idx].id])
        return self._one(old[idx])

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete the newest message and return it, atomically (``None`` for an empty thread)."""
        return self._one(self._sync("adelete_last_message").pop(key))

    def get_keys(self) -> list[str]:
        """The ids of the resource's threads."""
        return self._sync("aget_keys").thread_ids()

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Async :meth:`set_messages`."""
        new = self._new(key, messages)
        await self._async().replace(key, new)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Async :meth:`get_messages`."""
        return to_llama_messages(await self._async().messages(key))

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Async :meth:`add_message`."""
        new = self._new(key, [message])
        if idx is not None:
            await self.aset_messages(key, self._inserted(await self.aget_messages(key), message, idx))
            return
        await self._async().append(key, new)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Async :meth:`delete_messages`."""
        old = await self._async().clear(key)
        return to_llama_messages(old) if old else None

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Async :meth:`delete_message`."""
        log = self._async()
        old = await log.messages(key)
        if not -len(old) <= idx < len(old):
            return None
        await log.delete([old[idx].id])
        return self._one(old[idx])

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Async :meth:`delete_last_message`."""
        return self._one(await self._async().pop(key))

    async def aget_keys(self) -> list[str]:
        """Async :meth:`get_keys`."""
        return await self._async().thread_ids()
