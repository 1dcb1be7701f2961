"""A LangGraph ``BaseStore`` over mastra-memory's key-value and vector storage.

``MastraStore`` gives LangGraph agents long-term memory (``store.put`` / ``get`` / ``search`` /
``delete`` / ``list_namespaces``, TTLs, semantic search) in any mastra-memory backend: the
embedded libSQL file by default, PostgreSQL, MongoDB, SQLAlchemy, in-memory::

    from langgraph.graph import StateGraph
    from mastra_memory.integrations.langgraph import MastraStore

    store = MastraStore(storage=LibSQLStore("file:./mastra.db"), vector=LibSQLVector("file:./mastra.db"),
                        embedder="openai/text-embedding-3-small")
    graph = builder.compile(store=store)

Layout: every item is one key-value entry in the KV namespace ``kv_namespace`` (``"langgraph"``)
under the key ``<label>/<label>/.../<label>//<key>`` (each part percent-encoded; LangGraph
forbids empty labels, so ``//`` marks where the item key starts). A namespace-prefix search is
therefore a key-range scan in the database. The stored value is
``{"value": ..., "updated_at": ISO-8601, "ttl": minutes | null}``; ``created_at`` is the KV
entry's own.

Semantic search (``embedder`` and ``vector`` given): each put embeds the item's indexed fields
(LangGraph's JSON paths, ``["$"]`` = the whole value, by default) through the
:class:`~mastra_memory.embedders.base.CachedEmbedder` and upserts them into the vector index
``langgraph_store_<dimension>`` with the namespace labels as metadata (``p0``, ``p1``, ...), so
the namespace prefix is a metadata filter inside the vector store's query. An item's score is the
best score of its fields. Vectors are written before the entry and deleted after it, and search
only returns items whose entry is live, so a crash between the two never shows a stale item.

TTL: ``ttl`` is in minutes (LangGraph's unit); by default a read refreshes it
(``TTLConfig.refresh_on_read``), atomically (a compare-and-set that leaves a concurrent write
alone). Expired items are invisible everywhere and purged by the store's own KV purge.

``batch`` (and LangGraph's ``get``/``put``/``search``/...) runs on the sync storage contract,
``abatch`` (``aget``, ``aput``, ``asearch``, ...) on the async one: a native async store
(``AsyncPostgresStore``, ``AsyncMongoDBStore``, ``AsyncRedisStore``, or their URLs) makes no
worker-thread call; a sync store given to ``abatch`` runs in worker threads
(:class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage`). Both faces are one
implementation, :class:`~mastra_memory.integrations._lg_ops_async.AsyncStoreOps` and its
generated sync twin.
``langgraph`` is imported when this module is; a missing install raises
:class:`~mastra_memory.errors.MissingDependencyError` naming ``pip install "mastra-memory[langgraph]"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mastra_memory.embedders import CachedEmbedder, resolve_embedder
from mastra_memory.errors import ConfigurationError, MissingDependencyError
from mastra_memory.integrations._lg_ops import StoreOps
from mastra_memory.integrations._lg_ops_async import AsyncStoreOps
from mastra_memory.memory import Memory
from mastra_memory.memory_async import AsyncMemory
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.threaded import ThreadedAsyncStorage, ThreadedAsyncVector, as_async_storage, as_async_vector
from mastra_memory.storage.vector import VectorStore

try:
    from langgraph.store.base import BaseStore, Op, Result, TTLConfig
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("langgraph", "langgraph") from exc

__all__ = ["MastraStore"]


class MastraStore(BaseStore):
    """LangGraph's ``BaseStore`` on mastra-memory storage (see the module docstring).

    Args:
        storage: A sync :class:`~mastra_memory.storage.base.MemoryStorage`, an async
            :class:`~mastra_memory.storage.base_async.AsyncMemoryStorage` (then only the async
            methods work), a storage URL (each face opens its own store on first use, the async
            one native where the backend has it), a ``Memory`` or ``AsyncMemory`` (its store);
            default: libSQL at ``$MASTRA_MEMORY_DB`` or ``file:./mastra.db`` (as ``Memory()``).
        vector: A vector store for semantic search (required with ``embedder``), sync or async.
        embedder: What ``Memory(embedder=...)`` accepts: a model string, an embedder, or a
            LangChain ``Embeddings``.
        fields: JSON paths embedded by default (``["$"]``, the whole value); a put's ``index``
            argument overrides them per item.
        kv_namespace: The KV namespace holding the items (``"langgraph"``).
        ttl: LangGraph's ``TTLConfig``: ``default_ttl`` (minutes), ``refresh_on_read`` (True).

    Raises:
        ConfigurationError: if only one of ``vector`` and ``embedder`` is given.
    """

    supports_ttl = True

    def __init__(
        self,
        storage: Any = None,
        *,
        vector: Any = None,
        embedder: Any = None,
        fields: Sequence[str] | None = None,
        kv_namespace: str = "langgraph",
        ttl: TTLConfig | None = None,
    ) -> None:
        if (vector is None) != (embedder is None):
            raise ConfigurationError("semantic search needs both `vector` and `embedder` (or neither)")
        if isinstance(storage, Memory | AsyncMemory):
            storage = storage.storage
        if isinstance(storage, ThreadedAsyncStorage):
            storage = storage.sync
        if storage is None:
            from mastra_memory.storage.registry import open_storage

            storage = open_storage()
        self.storage = storage
        self.vector = vector
        self.embedder: CachedEmbedder | None = resolve_embedder(embedder) if embedder is not None else None
        self.fields = list(fields) if fields is not None else ["$"]
        self.kv_namespace = kv_namespace
        self.ttl_config = ttl
        self._ops: StoreOps | None = None
        self._aops: AsyncStoreOps | None = None

    def _sync_ops(self) -> StoreOps:
        if self._ops is None:
            storage = self.storage
            if isinstance(storage, str):
                from mastra_memory.storage.registry import open_storage

                storage = open_storage(storage)
            vector = self.vector.sync if isinstance(self.vector, ThreadedAsyncVector) else self.vector
            if isinstance(storage, AsyncMemoryStorage) or not (vector is None or isinstance(vector, VectorStore)):
                raise ConfigurationError(
                    "this store runs on async storage: use `await store.abatch(...)` (aget, aput, ...)"
                )
            self._ops = StoreOps(storage, vector, self.embedder, self.fields, self.kv_namespace, self.ttl_config)
        return self._ops

    def _async_ops(self) -> AsyncStoreOps:
        if self._aops is None:
            storage = as_async_storage(self.storage)
            vector = as_async_vector(self.vector)
            self._aops = AsyncStoreOps(storage, vector, self.embedder, self.fields, self.kv_namespace, self.ttl_config)
        return self._aops

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run LangGraph store operations in order on the sync storage.

        Raises:
            ValidationError: on a bad key, value or filter (nothing of that operation is written).
            StorageError: if the backend fails.
            ConfigurationError: when the store was given async storage only.
        """
        return self._sync_ops().batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` on the async storage (native async I/O where the backend has it)."""
        return await self._async_ops().batch(ops)
