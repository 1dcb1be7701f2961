"""``InMemoryStore``: a process-local store for unit tests and prototypes (nothing persists).

It implements the full :class:`~mastra_memory.storage.base.MemoryStorage` contract with the same
semantics as the SQL stores (validated by the same conformance suite), guarded by one lock.
Messages of each thread are kept sorted by ``(created_at, id)`` so windows and pages are
bisections, not scans.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from mastra_memory.errors import (
    MessageIdUnavailableError,
    ResourceMismatchError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage.base import Direction, MemoryStorage, MessageQuery, PerPage, ThreadQuery
from mastra_memory.storage.kv import KVModifier, KVRow, KVStats, prefix_upper_bound
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.storage.text_search import BM25Corpus
from mastra_memory.types import Message, Resource, SemanticHit, Thread, now_utc
from storage_adapters.inmemory_vector import InMemoryVector

_T = TypeVar("_T")

__all__ = ["InMemoryStore", "InMemoryVector"]


def _key(m: Message) -> tuple[datetime, str]:
    return (m.created_at, m.id)


def _page(items: list[Message], direction: Direction, per_page: PerPage, offset: int) -> list[Message]:
    ordered = items if direction == "ASC" else items[::-1]
    chosen = ordered[offset:] if per_page is False else ordered[offset : offset + per_page]
    return sorted(chosen, key=_key)


class InMemoryStore(MemoryStorage):
    """Everything in dicts, nothing on disk. Thread-safe within one process.

    Keyword search (:meth:`search_messages`) uses an incremental BM25 index updated with every
    save and delete (never rebuilt).

    Args:
        text_search_language: Snowball language of the keyword index (``"english"``).
    """

    is_embedded = True
    atomic_replace_messages = True
    keyword_search_native = True

    def __init__(self, text_search_language: str = "english") -> None:
        self.text_search_language = text_search_language
        self._keywords = BM25Corpus(language=text_search_language)
        self._lock = threading.RLock()
        self._threads: dict[str, Thread] = {}
        self._messages: dict[str, Message] = {}
        self._by_thread: dict[str, list[tuple[tuple[datetime, str], Message]]] = {}
        self._resources: dict[str, Resource] = {}
        self._om: dict[str, list[ObservationalMemoryRecord]] = {}  # generations, oldest first
        self._kv: dict[str, dict[str, KVRow]] = {}
        self._kv_keys: dict[str, list[str]] = {}  # per namespace, sorted (code-point order)

    @classmethod
    def from_url(cls, url: str = "memory://") -> InMemoryStore:
        """Build a store (``url`` is ignored; here for symmetry with the other backends)."""
        return cls()

    # -- threads --------------------------------------------------------------------------------

    def _get_thread(self, thread_id: str) -> Thread | None:
        with self._lock:
            return self._threads.get(thread_id)

    def _save_thread(self, thread: Thread) -> Thread:
        with self._lock:
            stored = self._threads.get(thread.id)
            if stored is not None and stored.resource_id != thread.resource_id:
                raise ResourceMismatchError(thread.id, stored.resource_id, thread.resource_id)
            self._threads[thread.id] = thread
            self._by_thread.setdefault(thread.id, [])
        return thread

    def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                raise ThreadNotFoundError(thread_id)
            updated = thread.model_copy(
                update={
                    "title": thread.title if title is None else title,
                    "metadata": {**thread.metadata, **(metadata or {})},
                    "updated_at": now,
                }
            )
            self._threads[thread_id] = updated
            return updated

    def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        with self._lock:  # the check and the write under one lock
            thread = self._threads.get(thread_id)
            if thread is None or thread.title:
                return False
            self._threads[thread_id] = thread.model_copy(update={"title": title, "updated_at": now})
            return True

    def _delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._threads.pop(thread_id, None)
            for _, m in self._by_thread.pop(thread_id, []):
                self._messages.pop(m.id, None)
                self._keywords.remove(m.id)
            self._om.pop(f"thread:{thread_id}", None)

    def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        with self._lock:
            found = [
                t
                for t in self._threads.values()
                if (query.resource_id is None or t.resource_id == query.resource_id)
                and all(k in t.metadata and t.metadata[k] == v for k, v in query.metadata.items())
            ]
        attr = query.order_by
        found.sort(key=lambda t: (getattr(t, attr), t.id), reverse=query.direction == "DESC")
        total = len(found)
        if query.per_page is not False:
            found = found[query.offset : query.offset + query.per_page]
        return found, total

    # -- messages -------------------------------------------------------------------------------

    def _remove(self, m: Message) -> None:
        bucket = self._by_thread.get(m.thread_id, [])
        i = bisect.bisect_left(bucket, _key(m), key=lambda e: e[0])
        if i < len(bucket) and bucket[i][1].id == m.id:
            bucket.pop(i)

    def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        with self._lock:
            stored: list[Message] = []
            for m in messages:  # validate everything before writing anything
                thread = self._threads.get(m.thread_id)
                if thread is None:
                    raise ThreadNotFoundError(m.thread_id)
                if m.resource_id is None:
                    m = m.model_copy(update={"resource_id": thread.resource_id})
                elif m.resource_id != thread.resource_id:
                    raise ResourceMismatchError(m.thread_id, thread.resource_id, m.resource_id)
                old = self._messages.get(m.id)
                if old is not None and old.thread_id != m.thread_id:
                    raise MessageIdUnavailableError(m.id)
                stored.append(m)
            owners = {m.thread_id: self._threads[m.thread_id].resource_id for m in stored}
            stored = _om.restamp_after_cursor(
                stored, {m.id for m in stored if m.id in self._messages}, self._om_floors(owners)
            )
            for m in stored:
                old = self._messages.get(m.id)
                if old is not None:
                    self._remove(old)
                self._messages[m.id] = m
                bisect.insort(self._by_thread.setdefault(m.thread_id, []), (_key(m), m), key=lambda e: e[0])
            for m in stored:
                self._index_keywords(m)
                bucket = self._by_thread[m.thread_id]
                i = bisect.bisect_right(bucket, _key(m), key=lambda e: e[0])
                if i < len(bucket):  # its successor's context is m's text
                    self._index_keywords(bucket[i][1])
            for tid in {m.thread_id for m in stored}:
                self._threads[tid] = self._threads[tid].model_copy(update={"updated_at": now})
            return stored

    def _thread_messages(self, query: MessageQuery) -> list[Message]:
        out: list[Message] = []
        for tid in query.thread_ids:
            out.extend(m for _, m in self._by_thread.get(tid, []))
        if len(query.thread_ids) > 1:
            out.sort(key=_key)
        if query.start is not None:
            out = [m for m in out if m.created_at >= query.start]
        if query.end is not None:
            out = [m for m in out if m.created_at <= query.end]
        return out

    def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        with self._lock:
            all_msgs = self._thread_messages(query)
            no_page = query.per_page is not False and query.per_page == 0
            chosen = [] if no_page else _page(all_msgs, query.direction, query.per_page, query.offset)
            result = {m.id: m for m in chosen}
            for spec in query.include:
                hit = self._messages.get(spec.id)
                if hit is None:
                    continue
                bucket = self._by_thread.get(hit.thread_id, [])
                i = bisect.bisect_left(bucket, _key(hit), key=lambda e: e[0])
                lo = max(0, i - spec.with_previous_messages)
                for _, m in bucket[lo : i + spec.with_next_messages + 1]:
                    result[m.id] = m
            return sorted(result.values(), key=_key), len(all_msgs)

    def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:
        with self._lock:
            msgs = sorted((m for m in self._messages.values() if m.resource_id == resource_id), key=_key)
        offset = 0 if per_page is False else page * per_page
        return _page(msgs, direction, per_page, offset), len(msgs)

    def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        with self._lock:
            return sorted((self._messages[i] for i in set(message_ids) if i in self._messages), key=_key)

    def _delete_messages(self, message_ids: list[str]) -> int:
        with self._lock:
            deleted = 0
            for mid in message_ids:
                m = self._messages.pop(mid, None)
                if m is not None:
                    deleted += 1
                    bucket = self._by_thread.get(m.thread_id, [])
                    i = bisect.bisect_left(bucket, _key(m), key=lambda e: e[0])
                    self._remove(m)
                    self._keywords.remove(mid)
                    if i < len(bucket):  # the next message's context was m's text
                        self._index_keywords(bucket[i][1])
            return deleted

    def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        with self._lock:  # re-entrant: the delete and the save run under this one hold
            for m in messages:
                old = self._messages.get(m.id)
                if old is not None and old.thread_id != m.thread_id:
                    raise MessageIdUnavailableError(m.id)
            if thread.id not in self._threads:
                raise ThreadNotFoundError(thread.id)
            self._delete_messages([m.id for _, m in self._by_thread.get(thread.id, [])])
            return self._save_messages(messages, now) if messages else []

    def _index_keywords(self, m: Message) -> None:
        """Index ``m`` with the previous message of its thread as context (as the SQL triggers)."""
        bucket = self._by_thread.get(m.thread_id, [])
        i = bisect.bisect_left(bucket, _key(m), key=lambda e: e[0])
        context = bucket[i - 1][1].text if i > 0 else ""
        self._keywords.add(m.id, m.thread_id, m.text, context)

    def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        def in_scope(mid: str) -> bool:
            m = self._messages.get(mid)
            if m is None:
                return False
            return m.resource_id == resource_id if resource_id is not None else m.thread_id == thread_id

        with self._lock:
            hits = self._keywords.search(" ".join(words), limit, in_scope)
        return [SemanticHit(message_id=mid, thread_id=tid, score=score) for mid, tid, score in hits]

    # -- resources ------------------------------------------------------------------------------

    def _get_resource(self, resource_id: str) -> Resource | None:
        with self._lock:
            return self._resources.get(resource_id)

    def _save_resource(self, resource: Resource) -> Resource:
        with self._lock:
            self._resources[resource.id] = resource
        return resource

    def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        with self._lock:
            current = self._resources.get(resource_id) or Resource(id=resource_id, created_at=now, updated_at=now)
            updated = current.model_copy(
                update={
                    "working_memory": current.working_memory if working_memory is None else working_memory,
                    "metadata": {**current.metadata, **(metadata or {})},
                    "updated_at": now,
                }
            )
            self._resources[resource_id] = updated
            return updated

    # -- erasure and retention ------------------------------------------------------------------

    def _delete_resource(self, resource_id: str, clone_thread_ids: list[str]) -> dict[str, int]:
        with self._lock:  # reentrant: the generic steps run as one atomic step here
            return super()._delete_resource(resource_id, clone_thread_ids)

    def _delete_resource_row(self, resource_id: str) -> None:
        with self._lock:
            self._resources.pop(resource_id, None)

    def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        with self._lock:
            old = sorted((m for m in self._messages.values() if m.created_at < created_before), key=_key)[:limit]
            ids = [m.id for m in old]
            self._delete_messages(ids)
        return ids

    def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        with self._lock:
            old = sorted((r for r in self._resources.values() if r.updated_at < updated_before), key=lambda r: r.id)
            ids = [r.id for r in old[:limit]]
            for rid in ids:
                del self._resources[rid]
        return ids

    def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        deleted = 0
        with self._lock:
            for key, generations in self._om.items():
                keep = []
                for g in generations[:-1]:
                    if g.created_at < created_before and deleted < limit:
                        deleted += 1
                    else:
                        keep.append(g)
                self._om[key] = [*keep, *generations[-1:]]
        return deleted

    # -- observational memory -------------------------------------------------------------------

    def _om_floors(self, owners: dict[str, str]) -> dict[str, datetime]:
        floors: dict[str, datetime] = {}
        for tid, rid in owners.items():
            times = [
                r.last_observed_at
                for key in (f"thread:{tid}", f"resource:{rid}")
                for r in self._om.get(key, [])[-1:]
                if r.last_observed_at is not None
            ]
            if times:
                floors[tid] = max(times)
        return floors

    def _refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        if thread_ids is not None:
            msgs = [m for tid in thread_ids for _, m in self._by_thread.get(tid, [])]
        else:
            msgs = [m for m in self._messages.values() if m.resource_id == resource_id]
        if after is not None:
            msgs = [m for m in msgs if m.created_at > after]
        msgs.sort(key=_key)
        if limit is not None:
            msgs = msgs[:limit]
        return [
            MessageRef(id=m.id, thread_id=m.thread_id, created_at=m.created_at, size=len(m.content.to_json()))
            for m in msgs
        ]

    def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        with self._lock:
            return self._refs(thread_ids, resource_id, after, limit)

    def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        with self._lock:
            gens = self._om.get(lookup_key)
            return gens[-1] if gens else None

    def _om_history(self, lookup_key: str, limit: int | Literal[False], offset: int) -> list[ObservationalMemoryRecord]:
        with self._lock:
            gens = list(reversed(self._om.get(lookup_key, [])))
        gens = gens[offset:]
        return gens if limit is False else gens[:limit]

    def _om_update(self, lookup_key: str, mutation: _om.Mutation[_T]) -> _T:
        scope, _, ident = lookup_key.partition(":")
        with self._lock:
            gens = self._om.setdefault(lookup_key, [])
            head = gens[-1] if gens else None

            def walk(after: datetime | None, limit: int) -> list[MessageRef]:
                if scope == "thread":
                    return self._refs((ident,), None, after, limit)
                return self._refs(None, ident, after, limit)

            records, result = mutation(_om.OMView(lookup_key, head, walk, now_utc()))
            for record in records:
                for i, existing in enumerate(gens):
                    if existing.id == record.id:
                        gens[i] = record
                        break
                else:
                    if any(g.generation_count == record.generation_count for g in gens):
                        raise ValidationError(f"generation {record.generation_count} of {lookup_key} exists")
                    gens.append(record)
            if not gens:
                self._om.pop(lookup_key, None)
            return result

    def _om_delete(self, lookup_key: str) -> None:
        with self._lock:
            self._om.pop(lookup_key, None)

    def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        with self._lock:  # the store's one lock: atomic against every other write
            return super()._update_working_memory_atomic(scope, key, fn, now)

    # -- clone ----------------------------------------------------------------------------------

    def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        with self._lock:
            if thread.id in self._threads:
                raise ThreadConflictError(thread.id)
            self._threads[thread.id] = thread
            bucket = self._by_thread.setdefault(thread.id, [])
            for m in messages:
                self._messages[m.id] = m
                bucket.append((_key(m), m))
            bucket.sort(key=lambda e: e[0])
            for m in messages:
                self._index_keywords(m)
        return thread

    # -- key-value memory -----------------------------------------------------------------------

    def _kv_live(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        row = self._kv.get(namespace, {}).get(key)
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            self._kv_remove(namespace, key)
            return None
        return row

    def _kv_remove(self, namespace: str, key: str) -> KVRow | None:
        rows = self._kv.get(namespace, {})
        row = rows.pop(key, None)
        if row is not None:
            keys = self._kv_keys[namespace]
            del keys[bisect.bisect_left(keys, key)]
        return row

    def _kv_put(self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime) -> None:
        rows = self._kv.setdefault(namespace, {})
        old = self._kv_live(namespace, key, now)
        if old is None:
            bisect.insort(self._kv_keys.setdefault(namespace, []), key)
        rows[key] = KVRow(value_json, expires_at, old.created_at if old else now, now)

    def _kv_set(self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime) -> None:
        with self._lock:
            self._kv_put(namespace, key, value_json, expires_at, now)

    def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        with self._lock:
            return self._kv_live(namespace, key, now)

    def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        with self._lock:
            row = self._kv_remove(namespace, key)
        return row is not None and (row.expires_at is None or row.expires_at > now)

    def _kv_list_keys(self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime) -> list[str]:
        with self._lock:
            keys = self._kv_keys.get(namespace, [])
            rows = self._kv.get(namespace, {})
            i = bisect.bisect_left(keys, prefix)
            if after_key is not None:
                i = max(i, bisect.bisect_right(keys, after_key))
            upper = prefix_upper_bound(prefix) if prefix else None
            out: list[str] = []
            while i < len(keys) and len(out) < limit:
                key = keys[i]
                i += 1
                if upper is not None and key >= upper:
                    break
                exp = rows[key].expires_at
                if exp is None or exp > now:
                    out.append(key)
            return out

    def _kv_clear(self, namespace: str) -> int:
        with self._lock:
            self._kv_keys.pop(namespace, None)
            return len(self._kv.pop(namespace, {}))

    def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        with self._lock:
            write = modify(self._kv_live(namespace, key, now))
            if write is not None:
                self._kv_put(namespace, key, write.value_json, write.expires_at, now)

    def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        with self._lock:
            live = [r for r in self._kv.get(namespace, {}).values() if r.expires_at is None or r.expires_at > now]
        return KVStats(len(live), sum(len(r.value_json.encode("utf-8")) for r in live))

    def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        with self._lock:
            expired = [
                (ns, key)
                for ns, rows in self._kv.items()
                for key, r in rows.items()
                if r.expires_at is not None and r.expires_at <= now
            ][:limit]
            for ns, key in expired:
                self._kv_remove(ns, key)
            return len(expired)
