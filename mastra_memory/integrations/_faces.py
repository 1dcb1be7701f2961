"""What a bridge is given (a ``Memory``, an ``AsyncMemory`` or a storage URL), as its two faces.

Framework classes have sync and async methods (LlamaIndex's ``get_messages`` and
``aget_messages``, LangGraph's ``batch`` and ``abatch``) or async ones only (the OpenAI Agents
SDK session). :class:`MemoryFaces` gives the sync methods a :class:`~mastra_memory.memory.Memory`
and the async ones an :class:`~mastra_memory.memory_async.AsyncMemory`:

* an ``AsyncMemory``: the async face is it (a native async store such as PostgreSQL, MongoDB
  or Redis runs on the event loop, no worker thread); the sync methods raise
  :class:`~mastra_memory.errors.ConfigurationError` naming the async one;
* a ``Memory``: the sync face is it; the async face is an ``AsyncMemory`` over the same store,
  vector store, embedder and options (a sync store's calls run in worker threads, as
  ``AsyncMemory`` runs any sync store);
* a URL (or ``None``, the default store): each face opens its own store on first use, the
  async one through :func:`~mastra_memory.storage.registry.open_async_storage` (native async
  where the backend has it).
"""

from __future__ import annotations

from typing import Any

from mastra_memory.errors import ConfigurationError
from mastra_memory.memory import Memory
from mastra_memory.memory_async import AsyncMemory

__all__ = ["MemoryFaces"]


class MemoryFaces:
    """The sync and async memory of a bridge (see the module docstring).

    Args:
        memory: A :class:`Memory`, an :class:`AsyncMemory`, a storage URL or ``None``.

    Raises:
        ConfigurationError: on anything else.
    """

    def __init__(self, memory: Any) -> None:
        self.given = memory
        self._url: str | None = None
        self._from_url = False
        self._sync: Memory | None = None
        self._async: AsyncMemory | None = None
        if isinstance(memory, AsyncMemory):
            self._async = memory
        elif isinstance(memory, Memory):
            self._sync = memory
        elif memory is None or isinstance(memory, str):
            self._url = memory
            self._from_url = True
        else:
            raise ConfigurationError(f"expected a Memory, an AsyncMemory or a storage URL, got {type(memory).__name__}")

    @property
    def has_sync(self) -> bool:
        """True when the sync face was given (so a constructor may check ownership now)."""
        return self._sync is not None

    def sync(self, async_name: str) -> Memory:
        """The sync face.

        Args:
            async_name: The async method to name when there is no sync face.

        Raises:
            ConfigurationError: when built from an ``AsyncMemory``.
        """
        if self._sync is None:
            if not self._from_url:
                raise ConfigurationError(f"this bridge runs on an AsyncMemory: use `await ...{async_name}(...)`")
            self._sync = Memory(storage=self._url)
        return self._sync

    def async_(self) -> AsyncMemory:
        """The async face (created on first use when not given)."""
        if self._async is None:
            if self._sync is not None:
                s = self._sync
                self._async = AsyncMemory(
                    storage=s.storage, vector=s.vector, embedder=s.embedder, options=s.config, processors=s.processors
                )
            else:
                self._async = AsyncMemory(storage=self._url)
        return self._async
