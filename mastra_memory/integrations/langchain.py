"""LangChain chat history stored in mastra-memory threads.

``MastraChatMessageHistory`` implements ``langchain_core.chat_history.BaseChatMessageHistory``
over one thread, so ``RunnableWithMessageHistory`` and anything else that takes a LangChain
history keeps its conversation in any mastra-memory store (embedded libSQL by default)::

    from mastra_memory import Memory
    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    history = MastraChatMessageHistory(Memory(), thread_id="t-1", resource_id="user-ana")
    history.add_user_message("My name is Ana.")
    history.messages  # [HumanMessage("My name is Ana.")]

Messages cross over as OpenAI-style chat messages, with LangChain's own converters on one side
(``convert_to_openai_messages`` / ``convert_to_messages``) and mastra-memory's on the other
(:func:`~mastra_memory.types.from_chat_messages` / :func:`~mastra_memory.types.to_chat_messages`),
so tool calls and their results survive the round trip. As in Mastra, system messages are not
stored. The sync methods run on a :class:`~mastra_memory.memory.Memory`, LangChain's async ones
(``aget_messages``, ``aadd_messages``, ``aclear``) on an :class:`~mastra_memory.AsyncMemory`
(native async I/O on PostgreSQL, MongoDB and Redis, no executor thread), both through
:class:`~mastra_memory.integrations._thread_log_async.AsyncThreadLog` and its generated sync face;
``memory`` may be either, or a storage URL. ``clear`` is one transaction. Any LangChain
``Embeddings`` is accepted as an embedder (``Memory(embedder=...)``, through
:class:`~mastra_memory.embedders.langchain.LangChainEmbedder`, re-exported here).
``langchain-core`` is imported when this module is; a missing install raises
:class:`~mastra_memory.errors.MissingDependencyError` naming ``pip install "mastra-memory[langchain]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mastra_memory.chat import from_chat_messages, to_chat_messages
from mastra_memory.embedders.langchain import LangChainEmbedder
from mastra_memory.errors import MissingDependencyError
from mastra_memory.integrations._faces import MemoryFaces
from mastra_memory.integrations._thread_log import ThreadLog
from mastra_memory.integrations._thread_log_async import AsyncThreadLog
from mastra_memory.types import Message

if TYPE_CHECKING:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage
else:
    try:
        from langchain_core.chat_history import BaseChatMessageHistory
    except ImportError:  # the class below raises MissingDependencyError when constructed
        BaseChatMessageHistory = object

__all__ = ["LangChainEmbedder", "MastraChatMessageHistory", "from_langchain_messages", "to_langchain_messages"]


def _langchain_messages_module() -> Any:
    try:
        import langchain_core.messages as module
    except ImportError as exc:
        raise MissingDependencyError("langchain-core", "langchain") from exc
    return module


def from_langchain_messages(
    messages: Sequence[BaseMessage], thread_id: str, resource_id: str | None = None, start: datetime | None = None
) -> list[Message]:
    """Convert LangChain messages into mastra-memory messages of ``thread_id``.

    A tool message that answers a preceding AI tool call becomes that call's result (one
    assistant message holds the call and its result, as Mastra stores them). Timestamps are
    ``start`` plus 1 ms per message, or left to storage (after the thread's newest message).

    Raises:
        MissingDependencyError: if langchain-core is not installed.
    """
    lc = _langchain_messages_module()
    return from_chat_messages(lc.convert_to_openai_messages(list(messages)), thread_id, resource_id, start)


def to_langchain_messages(messages: Sequence[Message]) -> list[BaseMessage]:
    """Convert stored messages into LangChain messages (Human, AI with ``tool_calls``, Tool).

    Raises:
        MissingDependencyError: if langchain-core is not installed.
    """
    lc = _langchain_messages_module()
    result: list[BaseMessage] = lc.convert_to_messages(to_chat_messages(messages))
    return result


class MastraChatMessageHistory(BaseChatMessageHistory):
    """A LangChain chat history kept in one mastra-memory thread.

    Args:
        memory: A :class:`~mastra_memory.memory.Memory` (sync methods), an
            :class:`~mastra_memory.AsyncMemory` (async methods), or a storage URL (both).
        thread_id: The thread; created on the first write with ``title`` and ``metadata``.
        resource_id: The owning resource (user); an existing thread of another resource raises
            :class:`~mastra_memory.errors.ResourceMismatchError` (in the constructor when given
            a ``Memory``, else on the first call).
        title: Title of a new thread.
        metadata: Metadata of a new thread.
        last_messages: Return only the newest N messages from :attr:`messages` (``None``: all).

    Raises:
        MissingDependencyError: if langchain-core is not installed.
    """

    def __init__(
        self,
        memory: Any,
        thread_id: str,
        resource_id: str,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        last_messages: int | None = None,
    ) -> None:
        if BaseChatMessageHistory is object:
            raise MissingDependencyError("langchain-core", "langchain")
        self._faces = MemoryFaces(memory)
        self.memory = memory
        self.thread_id = thread_id
        self.resource_id = resource_id
        self.title = title
        self.thread_metadata = metadata
        self.last_messages = last_messages
        self._log: ThreadLog | None = None
        self._alog: AsyncThreadLog | None = None
        if self._faces.has_sync:
            self._sync_log("aget_messages").check_owner(thread_id)  # ownership check up front

    def _sync_log(self, async_name: str) -> ThreadLog:
        if self._log is None:
            memory = self._faces.sync(async_name)
            self._log = ThreadLog(memory, self.resource_id, self.title, self.thread_metadata)
        return self._log

    def _async_log(self) -> AsyncThreadLog:
        if self._alog is None:
            self._alog = AsyncThreadLog(self._faces.async_(), self.resource_id, self.title, self.thread_metadata)
        return self._alog

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The thread's messages, oldest first (the newest ``last_messages`` if set)."""
        return to_langchain_messages(self._sync_log("aget_messages").messages(self.thread_id, self.last_messages))

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages in one transaction (creating the thread on first use). Storage stamps
        them after the thread's newest message, so order holds across calls."""
        if not messages:
            return
        converted = from_langchain_messages(messages, self.thread_id, self.resource_id)
        self._sync_log("aadd_messages").append(self.thread_id, converted)

    def clear(self) -> None:
        """Delete the thread's messages in one transaction (the thread and its metadata stay)."""
        self._sync_log("aclear").clear(self.thread_id)

    async def aget_messages(self) -> list[BaseMessage]:
        """Async :attr:`messages`."""
        return to_langchain_messages(await self._async_log().messages(self.thread_id, self.last_messages))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async :meth:`add_messages`."""
        if not messages:
            return
        converted = from_langchain_messages(messages, self.thread_id, self.resource_id)
        await self._async_log().append(self.thread_id, converted)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self._async_log().clear(self.thread_id)
