"""The storage side of the thread bridges, written once on :class:`~mastra_memory.AsyncMemory`.

The OpenAI Agents SDK session, the LlamaIndex chat store, the PydanticAI history and the
LangChain chat history keep a conversation in a thread of one resource. Their I/O is this
class; ``_thread_log.py`` (``ThreadLog`` on :class:`~mastra_memory.memory.Memory`) is generated
from this file by ``scripts/gen_sync.py``, so the sync and async faces of every bridge run the
same code. Converting to and from each framework's messages is the bridges' own (no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mastra_memory.memory_async import AsyncMemory
from mastra_memory.types import Message

__all__ = ["AsyncThreadLog"]


class AsyncThreadLog:
    """Threads of one resource as an append-only log with atomic pop, replace and clear.

    Args:
        memory: The memory whose storage holds the threads.
        resource_id: The owner of every thread used through this log; a thread of another
            resource raises :class:`~mastra_memory.errors.ResourceMismatchError`.
        title: Title of a thread this log creates.
        metadata: Metadata of a thread this log creates.
    """

    def __init__(
        self,
        memory: AsyncMemory,
        resource_id: str,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.memory = memory
        self.resource_id = resource_id
        self.title = title
        self.metadata = metadata

    async def check_owner(self, thread_id: str) -> None:
        """Raise :class:`~mastra_memory.errors.ResourceMismatchError` if another resource owns
        the thread (an unknown thread is fine: it is created on the first write)."""
        await self.memory.get_thread_by_id(thread_id, self.resource_id)

    async def messages(self, thread_id: str, newest: int | None = None) -> list[Message]:
        """The thread's messages, oldest first; with ``newest``, only the newest ``newest``
        (``[]`` for an unknown thread)."""
        per_page = False if newest is None else newest
        page = await self.memory.list_messages(thread_id, self.resource_id, per_page=per_page)
        return page.messages

    async def append(self, thread_id: str, messages: Sequence[Message]) -> list[Message]:
        """Save ``messages`` in one transaction after the thread's newest, creating the thread."""
        if not messages:
            return []
        await self.memory.get_or_create_thread(thread_id, self.resource_id, self.title, self.metadata)
        return await self.memory.save_messages(list(messages))

    async def pop(self, thread_id: str) -> Message | None:
        """Delete and return the newest message, atomically (``None`` for an empty thread)."""
        return await self.memory.pop_newest_message(thread_id, self.resource_id)

    async def replace(self, thread_id: str, messages: Sequence[Message]) -> list[Message]:
        """Replace the thread's messages in one transaction (creating the thread when
        ``messages`` is not empty)."""
        if not messages:
            return await self.clear(thread_id)
        await self.memory.get_or_create_thread(thread_id, self.resource_id, self.title, self.metadata)
        return await self.memory.replace_messages(thread_id, list(messages))

    async def clear(self, thread_id: str) -> list[Message]:
        """Delete every message of the thread in one transaction (the thread stays) and return
        what was there as read just before."""
        old = await self.messages(thread_id)
        if old:
            await self.memory.replace_messages(thread_id, [])
        return old

    async def delete(self, message_ids: Sequence[str]) -> None:
        """Delete messages by id (unknown ids are ignored)."""
        await self.memory.delete_messages(list(message_ids))

    async def thread_ids(self) -> list[str]:
        """The ids of the resource's threads."""
        page = await self.memory.list_threads(self.resource_id, per_page=False)
        return [t.id for t in page.threads]
