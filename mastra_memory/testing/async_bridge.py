"""A sync view of an async store, so the sync conformance suites check the async face too.

:class:`SyncStorageView` wraps an :class:`~mastra_memory.storage.base_async.AsyncMemoryStorage`
(a native async store such as ``AsyncPostgresStore``, or a
:class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage`) and runs each coroutine it
returns on one event loop that the view keeps for its whole life (a test), in a thread of its
own, so pooled connections and locks bound to that loop stay usable from call to call, and calls
from several threads at once (the suites' race checks) run as concurrent tasks on that loop. Attributes that
are not coroutines (``max_message_bytes``, ``supports_observational_memory``) are read from and
written to the async store. Use it as a store fixture::

    class TestMyAsyncStore(MemoryStorageConformance):
        @pytest.fixture
        def store(self):
            with SyncStorageView(AsyncPostgresStore(url, schema_name="t")) as view:
                yield view
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable
from typing import Any, Self, TypeVar

__all__ = ["SyncStorageView"]

T = TypeVar("T")

_OWN = frozenset({"_store", "_loop", "_thread", "_close_store"})


class SyncStorageView:
    """Every method of ``store`` as a blocking call (coroutines run on the view's event loop).

    Args:
        store: The async store (or vector store); ``await store.setup()`` runs when the view is
            entered, if it has one.
        close_store: Whether :meth:`close` closes the store too (``await store.close()``);
            False when the store's owner closes it (a fixture that still cleans up through it).
    """

    def __init__(self, store: Any, *, close_store: bool = True) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="mastra-sync-view", daemon=True)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_thread", thread)
        object.__setattr__(self, "_close_store", close_store)
        thread.start()

    @property
    def async_store(self) -> Any:
        """The wrapped async store."""
        return self._store

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` to completion on the view's event loop and return its result."""

        async def wrapped() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _OWN:
            raise AttributeError(name)
        value = getattr(self._store, name)
        if not callable(value) or inspect.isclass(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return self.run(result) if inspect.isawaitable(result) else result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._store, name)

    def __enter__(self) -> Self:
        setup = getattr(self._store, "setup", None)  # a store has one, a vector store none
        if setup is not None:
            self.run(setup())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (``await store.close()``, unless ``close_store=False``), then the
        event loop."""
        loop: asyncio.AbstractEventLoop = self._loop
        if loop.is_closed():
            return
        try:
            if self._close_store:
                self.run(self._store.close())
        finally:
            self.run(self._shutdown())
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks(loop) if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await loop.shutdown_asyncgens()
        await loop.shutdown_default_executor()

    def __repr__(self) -> str:
        return f"SyncStorageView({self._store!r})"
