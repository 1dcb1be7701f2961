"""The async face of a store or vector store whose driver blocks.

The embedded libSQL driver, boto3 (DynamoDB), SQLAlchemy dialects without an async driver here
(``mssql``, ``oracle``) and the in-process stores have no async I/O. :class:`ThreadedAsyncStorage`
and :class:`ThreadedAsyncVector` give them the async face of the contract by running each
primitive, whole, in a worker thread (:func:`asyncio.to_thread`, the event loop's default
executor): the event loop never waits on their I/O, and the primitive keeps its atomicity because
it is the same call. Stores with a native async driver (PostgreSQL through psycopg's async pool,
MongoDB, Redis, SQLAlchemy's asyncio engine) do not need it.

:func:`as_storage` / :func:`as_async_storage` are what :class:`~mastra_memory.memory.Memory`
and :class:`~mastra_memory.memory_async.AsyncMemory` call on their ``storage`` argument (the
generated sync module maps one onto the other).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mastra_memory.errors import ConfigurationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.registry import open_storage
from mastra_memory.storage.vector import VectorStore
from mastra_memory.storage.vector_async import AsyncVectorStore

__all__ = [
    "EMBEDDED_MAX_WORKERS",
    "ThreadedAsyncStorage",
    "ThreadedAsyncVector",
    "as_async_storage",
    "as_async_vector",
    "as_storage",
    "as_vector",
    "public_methods",
]

T = TypeVar("T")

EMBEDDED_MAX_WORKERS = 1
"""Worker threads :func:`~mastra_memory.storage.open_async_storage` gives an embedded store (a
local libSQL file, ``:memory:``): it runs one call at a time on one connection, so more threads
would only wait on its lock and compete with the event loop for the GIL. Measured with
``benchmarks/async_concurrency.py`` (200 conversations x 10 turns, libSQL file, ``sqlite3``
driver, under load with ``nice -n -15``): event-loop lag p99 22.6 ms with one thread against
76 ms with the default executor; with the rest of the changes, on a quieter machine, p99 3.8
and 5.2 ms at 592 and 488 turns/s."""

_LIFECYCLE = {"close", "connect", "setup"}


def public_methods(cls: type) -> list[str]:
    """Names of the public methods of ``cls`` (functions not starting with ``_``), sorted."""
    return sorted(
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.isfunction(value) or inspect.ismethod(value))
    )


def _delegate(sync_cls: type, name: str) -> Callable[..., Any]:
    original = getattr(sync_cls, name)
    if name == "close":
        return _delegate_close(original)

    @functools.wraps(original)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._run(getattr(self._sync, name), *args, **kwargs)

    return method


def _delegate_close(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def close(self: Any) -> None:  # then stop the worker threads of its own, if any
        try:
            await self._run(self._sync.close)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False)

    return close


class _Threaded:
    """Attributes the sync object has and the async face does not define are read from it."""

    _sync: Any
    _executor: ThreadPoolExecutor | None = None

    def _use_threads(self, max_workers: int | None) -> None:
        if max_workers is not None:
            if max_workers < 1:
                raise ConfigurationError(f"max_workers must be at least 1, not {max_workers}")
            self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="mastra-memory-storage")

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._executor is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        ctx = contextvars.copy_context()  # as asyncio.to_thread: tracing spans follow the call
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(ctx.run, fn, *args, **kwargs)
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._sync, name)

    @property
    def sync(self) -> Any:
        """The wrapped sync object."""
        return self._sync

    async def __aenter__(self) -> Any:
        await self.setup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ThreadedAsyncStorage(_Threaded):
    """The async face of a blocking :class:`~mastra_memory.storage.base.MemoryStorage`: every
    public method of the store as a coroutine with the same signature, run in a worker thread.

    Args:
        store: The sync store (any backend).
        max_workers: Run the calls in a pool of this many threads of the store's own instead of
            the event loop's default executor (``min(32, CPUs + 4)`` threads, shared with every
            other ``asyncio.to_thread`` call). Fewer threads mean less competition with the event
            loop for the GIL, so a lower event-loop lag; more threads mean more calls at once for
            a store that waits on a network. ``open_async_storage`` uses
            :data:`EMBEDDED_MAX_WORKERS` for an embedded libSQL file. Default ``None``: the
            default executor.

    Raises:
        ConfigurationError: if ``store`` is not a ``MemoryStorage`` or ``max_workers`` < 1.
    """

    def __init__(self, store: MemoryStorage, *, max_workers: int | None = None) -> None:
        if not isinstance(store, MemoryStorage):
            raise ConfigurationError(f"not a MemoryStorage: {type(store).__name__}")
        self._sync = store
        self._use_threads(max_workers)

    @property
    def max_message_bytes(self) -> int:
        """The wrapped store's largest accepted message content, in bytes."""
        return self._sync.max_message_bytes  # type: ignore[no-any-return]

    @max_message_bytes.setter
    def max_message_bytes(self, value: int) -> None:
        self._sync.max_message_bytes = value

    def __repr__(self) -> str:
        return f"ThreadedAsyncStorage({self._sync!r})"


class ThreadedAsyncVector(_Threaded):
    """The async face of a blocking :class:`~mastra_memory.storage.vector.VectorStore`.

    Args:
        vector: The sync vector store.
        max_workers: As for :class:`ThreadedAsyncStorage` (default: the default executor).
    """

    def __init__(self, vector: VectorStore, *, max_workers: int | None = None) -> None:
        self._sync = vector
        self._use_threads(max_workers)

    def __repr__(self) -> str:
        return f"ThreadedAsyncVector({self._sync!r})"


for _name in public_methods(MemoryStorage):
    setattr(ThreadedAsyncStorage, _name, _delegate(MemoryStorage, _name))
# A ThreadedAsyncStorage is an AsyncMemoryStorage (same coroutines, same signatures: the parity
# test checks it), registered rather than subclassed so that every call goes to the wrapped store.
AsyncMemoryStorage.register(ThreadedAsyncStorage)
AsyncVectorStore.register(ThreadedAsyncVector)
for _name in public_methods(VectorStore):
    setattr(ThreadedAsyncVector, _name, _delegate(VectorStore, _name))


def as_storage(storage: Any = None) -> MemoryStorage:
    """The sync store a :class:`~mastra_memory.memory.Memory` uses: ``storage`` itself, the
    store a URL names (:func:`~mastra_memory.storage.registry.open_storage`), or the default
    store when it is ``None``.

    Raises:
        ConfigurationError: for an async-only store (use ``AsyncMemory``).
    """
    if storage is None:
        return open_storage()
    if isinstance(storage, str):
        return open_storage(storage)
    if isinstance(storage, ThreadedAsyncStorage):
        return storage.sync  # type: ignore[no-any-return]
    if isinstance(storage, AsyncMemoryStorage):
        raise ConfigurationError(
            f"Memory needs a sync store, not the async {type(storage).__name__} (use AsyncMemory for an async store)"
        )
    sync: MemoryStorage = storage  # a MemoryStorage, or an object with its methods (a test double, a view)
    return sync


def as_async_storage(storage: Any = None) -> Any:
    """The async store an ``AsyncMemory`` uses: an async store as given, a sync store wrapped in
    :class:`ThreadedAsyncStorage`, the store a URL names (native async where the backend has
    it), the default store when ``None``."""
    if storage is None or isinstance(storage, str):
        from mastra_memory.storage import registry

        return registry.open_async_storage(storage)
    if isinstance(storage, AsyncMemoryStorage):
        return storage
    if isinstance(storage, MemoryStorage):
        return ThreadedAsyncStorage(storage)
    return storage


def as_vector(vector: Any) -> Any:
    """The sync vector store a ``Memory`` uses (``None`` stays ``None``)."""
    if isinstance(vector, ThreadedAsyncVector):
        return vector.sync
    return vector


def as_async_vector(vector: Any) -> Any:
    """The async vector store an ``AsyncMemory`` uses: a sync one wrapped in
    :class:`ThreadedAsyncVector` (``None`` stays ``None``)."""
    if isinstance(vector, VectorStore):
        return ThreadedAsyncVector(vector)
    return vector  # None, or an async vector store (AsyncPgVector, a ThreadedAsyncVector)
