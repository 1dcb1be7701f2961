"""The sync I/O shell: what the generated sync modules call where the two faces differ.

The library's logic is written once, in ``*_async.py`` modules; ``scripts/gen_sync.py`` turns them
into the sync modules, mapping ``_io_async`` onto this module. Only the operations whose sync and
async forms differ in more than ``await`` live here and in :mod:`mastra_memory._io_async`: calling
blocking code, calling models, embedders and tools, background work, locks and sleeping. The two
shells keep the same names and signatures (tests/test_codegen.py checks it).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

__all__ = [
    "IS_ASYNC",
    "Background",
    "Lock",
    "blocking_caller",
    "embed_many",
    "generate",
    "invoke",
    "run_blocking",
    "sleep",
    "stream",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

IS_ASYNC = False
"""True in the async face."""

Lock = threading.Lock


IS_ASYNC = False
"""True in the async face: for the rare setting that must differ (psycopg's async pool can only
open inside a running event loop, so the async store opens it on first use)."""


def blocking_caller(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` itself; in the async face, a blocking callable that runs the coroutine function
    ``fn`` on the running event loop from code that :func:`run_blocking` runs in a worker thread
    (pure code that calls back for I/O, such as an observational-memory mutation's ``walk``)."""
    return fn


def run_blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call blocking code: directly in the sync face (a worker thread in the async face)."""
    return fn(*args, **kwargs)


def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (``asyncio.sleep`` in the async face)."""
    time.sleep(seconds)


def generate(model: Any, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    """``model.generate(messages, **kwargs)`` (``agenerate`` in the async face)."""
    return model.generate(messages, **kwargs)


def stream(model: Any, messages: list[dict[str, Any]], **kwargs: Any) -> Iterator[Any]:
    """``model.stream(messages, **kwargs)``: text deltas, then the final response."""
    yield from model.stream(messages, **kwargs)


def embed_many(embedder: Any, texts: Sequence[str]) -> list[list[float]]:
    """``embedder.embed_many(texts)`` (``aembed_many`` in the async face)."""
    result: list[list[float]] = embedder.embed_many(texts)
    return result


def invoke(tool: Any, arguments: dict[str, Any]) -> Any:
    """Run a tool: ``tool.invoke(arguments)`` (``ainvoke`` in the async face)."""
    return tool.invoke(arguments)


class Background:
    """Background work of one owner: a small thread pool here, tasks on the running event loop
    in the async face. ``submit`` skips a name already running, so one piece of work per key
    (a thread's buffering, say) runs at a time.

    Args:
        max_workers: Threads of the pool (the async face ignores it).
        name: Prefix of the worker threads' names.
    """

    def __init__(self, max_workers: int = 2, name: str = "mastra-bg") -> None:
        self.max_workers = max_workers
        self.name = name
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: dict[str, Future[Any]] = {}
        self._closed = False

    def submit(self, key: str, fn: Callable[..., Any], /, *args: Any) -> bool:
        """Run ``fn(*args)`` in the background unless work under ``key`` is still running.

        Returns:
            True if the work was started.
        """
        with self._lock:
            if self._closed:
                return False
            running = self._inflight.get(key)
            if running is not None and not running.done():
                return False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix=self.name)
            future = self._executor.submit(fn, *args)
            self._inflight[key] = future
        future.add_done_callback(functools.partial(self._done, key))
        return True

    def _done(self, key: str, future: Future[Any]) -> None:
        with self._lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        if not future.cancelled() and future.exception() is not None:
            logger.warning("background work %r failed", key, exc_info=future.exception())

    def running(self, key: str) -> bool:
        """True while work under ``key`` runs."""
        with self._lock:
            future = self._inflight.get(key)
        return future is not None and not future.done()

    def wait(self, key: str, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the work under ``key``.

        Returns:
            True when no work under ``key`` is left running.
        """
        with self._lock:
            future = self._inflight.get(key)
        if future is None:
            return True
        wait_futures([future], timeout=timeout)
        return future.done()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the work running now.

        Returns:
            True when nothing is left running.
        """
        with self._lock:
            pending = list(self._inflight.values())
        if pending:
            wait_futures(pending, timeout=timeout)
        return all(f.done() for f in pending)

    def close(self) -> None:
        """Wait for running work, then stop the pool; later ``submit`` calls do nothing."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
