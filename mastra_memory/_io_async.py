"""The async I/O shell: what the async modules call where the two faces differ.

See :mod:`mastra_memory._io_sync`, its sync twin with the same names. Blocking code (the
embedded libSQL driver, a local model, a model or embedder without an async method) runs in a
worker thread (:func:`asyncio.to_thread`); background work runs as tasks on the running loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
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

IS_ASYNC = True
"""True in the async face."""

Lock = asyncio.Lock

_DONE = object()


IS_ASYNC = True
"""True in the async face (False in the sync face)."""


def blocking_caller(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A blocking callable for code that :func:`run_blocking` runs in a worker thread: each call
    runs the coroutine function ``fn`` on the event loop running now (the loop is free while it
    awaits that worker) and waits for its result. Call this on the loop; use the result in the
    worker. (The sync face returns ``fn`` itself.)"""
    loop = asyncio.get_running_loop()

    def call(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), loop).result()

    return call


async def run_blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call blocking code in a worker thread (:func:`asyncio.to_thread`)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def sleep(seconds: float) -> None:
    """``asyncio.sleep(seconds)``."""
    await asyncio.sleep(seconds)


async def generate(model: Any, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    """``await model.agenerate(...)`` when the model has it, else ``model.generate`` in a
    worker thread."""
    agenerate = getattr(model, "agenerate", None)
    if agenerate is not None:
        return await agenerate(messages, **kwargs)
    return await asyncio.to_thread(model.generate, messages, **kwargs)


async def stream(model: Any, messages: list[dict[str, Any]], **kwargs: Any) -> AsyncIterator[Any]:
    """``model.astream(...)`` when the model has it, else ``model.stream`` stepped in a worker
    thread: text deltas, then the final response."""
    astream = getattr(model, "astream", None)
    if astream is not None:
        async for item in astream(messages, **kwargs):
            yield item
        return
    iterator = iter(await asyncio.to_thread(model.stream, messages, **kwargs))
    while True:
        item = await asyncio.to_thread(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item


async def embed_many(embedder: Any, texts: Sequence[str]) -> list[list[float]]:
    """``await embedder.aembed_many(texts)`` when it has it, else ``embed_many`` in a thread."""
    aembed = getattr(embedder, "aembed_many", None)
    if aembed is not None:
        result: list[list[float]] = await aembed(texts)
        return result
    vectors: list[list[float]] = await asyncio.to_thread(embedder.embed_many, texts)
    return vectors


async def invoke(tool: Any, arguments: dict[str, Any]) -> Any:
    """Run a tool: ``await tool.ainvoke(arguments)``."""
    return await tool.ainvoke(arguments)


class Background:
    """Background work of one owner as tasks on the running event loop (the sync face uses a
    thread pool). ``submit`` skips a key whose work is still running.

    Args:
        max_workers: Ignored (tasks need no pool); kept for the same signature.
        name: Prefix of the tasks' names.
    """

    def __init__(self, max_workers: int = 2, name: str = "mastra-bg") -> None:
        self.max_workers = max_workers
        self.name = name
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._closed = False

    def submit(self, key: str, fn: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any) -> bool:
        """Start ``fn(*args)`` as a task unless work under ``key`` is still running.

        Returns:
            True if the work was started.
        """
        if self._closed:
            return False
        running = self._inflight.get(key)
        if running is not None and not running.done():
            return False
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(fn(*args), name=f"{self.name}:{key}")
        self._inflight[key] = task
        task.add_done_callback(functools.partial(self._done, key))
        return True

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled() and task.exception() is not None:
            logger.warning("background work %r failed", key, exc_info=task.exception())

    def running(self, key: str) -> bool:
        """True while work under ``key`` runs."""
        task = self._inflight.get(key)
        return task is not None and not task.done()

    async def wait(self, key: str, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the task under ``key``.

        Returns:
            True when no task under ``key`` is left running.
        """
        task = self._inflight.get(key)
        if task is None:
            return True
        await asyncio.wait([task], timeout=timeout)
        return task.done()

    async def settle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the tasks running now.

        Returns:
            True when nothing is left running.
        """
        pending = list(self._inflight.values())
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return all(t.done() for t in pending)

    async def close(self) -> None:
        """Wait for running tasks; later ``submit`` calls do nothing."""
        self._closed = True
        await self.settle()
