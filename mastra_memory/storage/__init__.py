"""The storage contract: what every backend implements, and the registry that opens one by URL.

Backends live apart in :mod:`storage_adapters` and import this package, never the other way round
(import-linter checks it in the tests). Modules:

* :mod:`.base_async`: :class:`AsyncMemoryStorage`, the source of the contract (coroutines);
  :mod:`.base`, generated from it, :class:`MemoryStorage` (threads, messages, resources, working memory, clones,
  observational-memory and key-value primitives); public methods validate once, backends
  implement ``_``-prefixed I/O hooks.
* :mod:`.vector`: :class:`VectorStore` and its result types; :mod:`._filter` the filter language.
* :mod:`.kv`: key-value value encoding and validation; :mod:`.om` and :mod:`.records`: the
  observational-memory record and its sans-I/O mutations.
* :mod:`.registry`: :func:`open_storage` / :func:`open_vector` (URL scheme -> backend),
  :func:`open_async_storage` / :func:`open_async_vector` (the native async store, or the sync one
  in worker threads),
  :func:`resolve_storage_url` (``--db``, ``$MASTRA_MEMORY_DB``, default) and :func:`redact_url`.
"""

from __future__ import annotations

from mastra_memory.storage.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Direction,
    MemoryStorage,
    MessageQuery,
    PerPage,
    ThreadOrder,
    ThreadQuery,
)
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.kv import KV_MISSING, KVEntry, KVKeyPage, KVStats
from mastra_memory.storage.registry import (
    DEFAULT_STORAGE_URL,
    STORAGE_URL_ENV,
    UnknownSchemeError,
    backend_class,
    open_async_storage,
    open_async_vector,
    open_storage,
    open_vector,
    redact_url,
    resolve_storage_url,
    supported_schemes,
)
from mastra_memory.storage.vector import IndexStats, QueryResult, VectorStore

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_STORAGE_URL",
    "KV_MISSING",
    "STORAGE_URL_ENV",
    "AsyncMemoryStorage",
    "Direction",
    "IndexStats",
    "KVEntry",
    "KVKeyPage",
    "KVStats",
    "MemoryStorage",
    "MessageQuery",
    "PerPage",
    "QueryResult",
    "ThreadOrder",
    "ThreadQuery",
    "UnknownSchemeError",
    "VectorStore",
    "backend_class",
    "open_async_storage",
    "open_async_vector",
    "open_storage",
    "open_vector",
    "redact_url",
    "resolve_storage_url",
    "supported_schemes",
]
