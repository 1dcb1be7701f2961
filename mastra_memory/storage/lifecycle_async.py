"""Erasure and retention over the storage contract: the algorithms, written once.

:meth:`MemoryStorage.delete_resource <mastra_memory.storage.base.MemoryStorage.delete_resource>`
and the ``prune_*`` primitives call the functions here by default, so a backend that implements
only the ordinary hooks (``_list_threads``, ``_delete_thread``, ``_list_messages``,
``_delete_messages``, ``_om_delete`` and the one-line ``_delete_resource_row``) gets erasure and
retention for free. A backend with transactions overrides ``_delete_resource`` (and the
``_prune_*`` hooks) to run the same steps as one statement list in one transaction.

The generic erasure is *resumable* rather than atomic: every step is one atomic store call, and
the steps run in an order where a crash at any point leaves data that a second call finds and
finishes (clones before their sources, threads before the resource row).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mastra_memory.storage._base_shared import MessageQuery, ThreadQuery
from mastra_memory.storage.records import lookup_key
from mastra_memory.types import Thread

if TYPE_CHECKING:
    from mastra_memory.storage.base_async import AsyncMemoryStorage

__all__ = [
    "ResourceErasure",
    "clone_order",
    "clone_thread_ids",
    "generic_delete_resource",
    "generic_prune_messages",
    "generic_prune_resources",
    "generic_prune_threads",
    "resource_thread_ids",
]

logger = logging.getLogger(__name__)

ResourceErasure = dict[str, int]
"""Counts of what :meth:`MemoryStorage.delete_resource` removed: ``threads`` (the resource's own),
``clones`` (threads of other resources cloned from them, transitively), ``resources`` (0 or 1)."""

_PAGE = 500
_ONE_MS = timedelta(milliseconds=1)


async def _threads(store: AsyncMemoryStorage, resource_id: str | None, page: int, per_page: int) -> list[Thread]:
    threads, _ = await store._list_threads(ThreadQuery(resource_id, {}, page, per_page, "created_at", "ASC"))
    return threads


async def resource_thread_ids(store: AsyncMemoryStorage, resource_id: str) -> list[str]:
    """Ids of every thread owned by ``resource_id`` (paged reads)."""
    ids: list[str] = []
    page = 0
    while True:
        threads = await _threads(store, resource_id, page, _PAGE)
        ids.extend(t.id for t in threads)
        if len(threads) < _PAGE:
            return ids
        page += 1


def _clone_source(thread: Thread) -> str | None:
    meta = thread.metadata.get("clone")
    if isinstance(meta, dict) and isinstance(meta.get("sourceThreadId"), str):
        return str(meta["sourceThreadId"])
    return None


async def clone_thread_ids(store: AsyncMemoryStorage, sources: Iterable[str], resource_id: str) -> list[str]:
    """Threads of *other* resources cloned from ``sources``, transitively (clones of clones),
    deepest first so deleting them in order never leaves a clone whose source is gone.

    One pass over every thread's metadata (``metadata.clone.sourceThreadId``, as
    :meth:`mastra_memory.Memory.clone_thread` writes it), paged.
    """
    threads: list[Thread] = []
    page = 0
    while True:
        batch = await _threads(store, None, page, _PAGE)
        threads.extend(batch)
        if len(batch) < _PAGE:
            break
        page += 1
    return clone_order(threads, sources, resource_id)


def clone_order(threads: Iterable[Thread], sources: Iterable[str], resource_id: str) -> list[str]:
    """Of ``threads``, the ids of those in *other* resources cloned from ``sources``,
    transitively, deepest first (see :func:`clone_thread_ids`); no I/O."""
    children: dict[str, list[str]] = {}
    for t in threads:
        source = _clone_source(t)
        if source is not None and t.resource_id != resource_id:
            children.setdefault(source, []).append(t.id)
    order: list[str] = []
    seen: set[str] = set()
    frontier = list(sources)
    while frontier:
        nxt: list[str] = []
        for source in frontier:
            for child in children.get(source, ()):
                if child not in seen:
                    seen.add(child)
                    order.append(child)
                    nxt.append(child)
        frontier = nxt
    order.reverse()
    return order


async def generic_delete_resource(store: AsyncMemoryStorage, resource_id: str, clone_ids: list[str]) -> ResourceErasure:
    """Erase a resource with the ordinary hooks, step by step (resumable, see the module doc)."""
    for thread_id in clone_ids:
        await store._delete_thread(thread_id)
    own = 0
    while True:
        threads = await _threads(store, resource_id, 0, _PAGE)
        for t in threads:
            await store._delete_thread(t.id)
        own += len(threads)
        if len(threads) < _PAGE:
            break
    # Messages stamped with this resource in a thread of another owner (possible in a database
    # written by other tools): found through the resourceId column.
    while True:
        stray, _ = await store._list_messages_by_resource(resource_id, _PAGE, 0, "ASC")
        if not stray:
            break
        await store._delete_messages([m.id for m in stray])
    if store.supports_observational_memory:
        await store._om_delete(lookup_key("resource", None, resource_id))
    existed = await store._get_resource(resource_id) is not None
    await store._delete_resource_row(resource_id)
    return {"threads": own, "clones": len(clone_ids), "resources": int(existed)}


async def generic_prune_threads(store: AsyncMemoryStorage, updated_before: datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` threads last updated before ``updated_before`` (oldest first), each
    with its messages and observational memory; return their ids."""
    threads, _ = await store._list_threads(ThreadQuery(None, {}, 0, limit, "updated_at", "ASC"))
    gone = [t.id for t in threads if t.updated_at < updated_before]
    for thread_id in gone:
        await store._delete_thread(thread_id)
    return gone


async def generic_prune_messages(store: AsyncMemoryStorage, created_before: datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` messages created before ``created_before``; return their ids.

    Walks the threads (oldest-updated first) and each thread's oldest messages, so it reads
    every thread once per call: a fallback for backends that cannot select old messages across
    threads with one indexed query (the SQL stores and MongoDB override it)."""
    found: list[str] = []
    page = 0
    while len(found) < limit:
        threads = await _threads(store, None, page, _PAGE)
        for t in threads:
            need = limit - len(found)
            if need <= 0:
                break
            query = MessageQuery((t.id,), None, 0, need, "ASC", None, created_before - _ONE_MS)
            messages, _ = await store._list_messages(query)
            found.extend(m.id for m in messages if m.created_at < created_before)
        if len(threads) < _PAGE:
            break
        page += 1
    if found:
        await store._delete_messages(found)
    return found


async def generic_prune_resources(store: AsyncMemoryStorage, updated_before: datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` resource rows (working memory, metadata) last updated before
    ``updated_before``; return their ids. Finds resources through their threads' owners, so
    a resource row without any thread is not seen by this fallback."""
    found: list[str] = []
    seen: set[str] = set()
    page = 0
    while len(found) < limit:
        threads = await _threads(store, None, page, _PAGE)
        for t in threads:
            rid = t.resource_id
            if rid in seen:
                continue
            seen.add(rid)
            resource = await store._get_resource(rid)
            if resource is not None and resource.updated_at < updated_before:
                found.append(rid)
                if len(found) >= limit:
                    break
        if len(threads) < _PAGE:
            break
        page += 1
    for rid in found:
        await store._delete_resource_row(rid)
    return found
