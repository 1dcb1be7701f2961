"""Retention and erasure for :class:`mastra_memory.Memory`: ``retention=`` config,
:func:`prune` and :func:`delete_resource` (what ``Memory.prune`` and ``Memory.delete_resource``
run). The storage primitives are :meth:`MemoryStorage.delete_resource` and the
``MemoryStorage.prune_*`` methods; this module adds the vectors and the batching.

Kinds and what their ``max_age`` (seconds) is measured against:

* ``messages``: a message's ``created_at``; its vectors go with it.
* ``threads``: a thread's ``updated_at`` (bumped by every saved message); the thread goes with
  its messages, observational memory and vectors.
* ``resources``: a resource row's ``updated_at`` (working memory, metadata); threads stay.
* ``observational_memory``: superseded observational-memory generations (history) by their
  ``created_at``; the current generation of every record is kept.
* ``vectors``: semantic-recall embeddings by the ``created_at`` of the message they index (in
  their metadata); the messages stay, so this bounds the index and stops recalling old content
  while the history keeps it.

Vectors also go with the messages and threads that the other kinds delete.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mastra_memory.config import RetentionConfig, RetentionRule
from mastra_memory.errors import ValidationError
from mastra_memory.storage import lifecycle_async
from mastra_memory.types import Thread, now_utc, validate_id

if TYPE_CHECKING:
    from mastra_memory.memory_async import AsyncMemory

__all__ = ["RetentionConfig", "RetentionRule", "delete_resource", "prune"]

logger = logging.getLogger(__name__)


async def prune(
    memory: AsyncMemory,
    batch_size: int = 500,
    max_rows: int | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Delete what is older than the configured ``retention`` ages, in small batches.

    Each batch is one store transaction (on SQL stores) of at most ``batch_size`` rows, followed
    by the deletion of the batch's vectors, so a long prune never holds a lock for long and can
    be stopped and resumed at any point. Threads go before messages (a thread's messages go
    with it), messages before vectors (whose own batches are a filtered query and a delete by
    id per ``memory_messages*`` index).

    Args:
        memory: The memory whose ``config.retention`` applies.
        batch_size: Rows per batch (default 500, >= 1).
        max_rows: Stop after about this many rows in total (per call); ``None`` for no limit.
        now: The reference time (default: now, UTC); ages are measured back from it.

    Returns:
        Rows deleted per kind: ``{"threads": n, "messages": n, "vectors": n, "resources": n,
        "observational_memory": n}`` (only the configured kinds; ``vectors`` counts vectors,
        chunks included, and is 0 without a vector store).

    Raises:
        ValidationError: on a bad ``batch_size`` or ``max_rows`` (nothing is deleted).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"batch_size must be a positive integer, got {batch_size!r}")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise ValidationError(f"max_rows must be a positive integer or None, got {max_rows!r}")
    config: RetentionConfig = memory.config.retention
    reference = now or now_utc()
    store, semantic = memory.storage, memory._semantic
    budget = [max_rows if max_rows is not None else -1]

    def take() -> int:
        return batch_size if budget[0] < 0 else min(batch_size, budget[0])

    def spend(n: int) -> None:
        if budget[0] >= 0:
            budget[0] -= n

    deleted: dict[str, int] = {}
    for kind in ("threads", "messages", "vectors", "resources", "observational_memory"):
        rule: RetentionRule | None = getattr(config, kind)
        if rule is None:
            continue
        cutoff = reference - timedelta(seconds=rule.max_age)
        deleted[kind] = 0
        while budget[0] != 0:
            n = take()
            if kind == "threads":
                ids = await store.prune_threads(cutoff, n)
                if semantic is not None:
                    for thread_id in ids:
                        await semantic.delete_thread(thread_id)
                count = len(ids)
            elif kind == "messages":
                ids = await store.prune_messages(cutoff, n)
                if semantic is not None:
                    await semantic.delete_messages(ids)
                count = len(ids)
            elif kind == "vectors":
                count = 0 if semantic is None else await semantic.prune_vectors(cutoff, n)
            elif kind == "resources":
                count = len(await store.prune_resources(cutoff, n))
            else:
                count = await store.prune_observational_memory_history(cutoff, n)
            deleted[kind] += count
            spend(count)
            if count < n:
                break
        logger.info("retention: deleted %d %s older than %s", deleted[kind], kind, cutoff.isoformat())
    return deleted


async def delete_resource(memory: AsyncMemory, resource_id: str) -> dict[str, int]:
    """Erase a resource from the store and its vectors from the vector store.

    Vectors go first (by the resource and by the clones' thread ids), then the store
    (:meth:`MemoryStorage.delete_resource`), then the resource's vectors once more in case a
    turn embedded messages meanwhile; every step is idempotent, so calling again after a
    failure finishes the erasure.

    Args:
        memory: The memory to erase from.
        resource_id: The resource (user).

    Returns:
        The store's counts: ``{"threads": n, "clones": n, "resources": 0 | 1}``.

    Raises:
        ValidationError: if ``resource_id`` is not a valid id (nothing is deleted).
    """
    validate_id(resource_id, "resource_id")
    semantic: Any = memory._semantic
    if semantic is not None:
        threads = await _all_threads(memory.storage)
        own = [t.id for t in threads if t.resource_id == resource_id]
        for clone in lifecycle_async.clone_order(threads, own, resource_id):
            await semantic.delete_thread(clone)
        await _delete_resource_vectors(semantic, resource_id)
    counts: dict[str, int] = await memory.storage.delete_resource(resource_id)
    if semantic is not None:
        await _delete_resource_vectors(semantic, resource_id)
    return counts


async def _all_threads(store: Any) -> list[Thread]:
    """Every stored thread, oldest first, in pages of 500 (public ``list_threads``)."""
    threads: list[Thread] = []
    page = 0
    while True:
        batch = await store.list_threads(None, None, page, 500, "created_at", "ASC")
        threads.extend(batch.threads)
        if not batch.has_more:
            return threads
        page += 1


async def _delete_resource_vectors(semantic: Any, resource_id: str) -> None:
    for name in await semantic._memory_indexes():
        await semantic.vector.delete_vectors(name, filter={"resource_id": resource_id})
