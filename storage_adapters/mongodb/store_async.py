"""``MongoDBStore``: threads, messages and resources in MongoDB (pymongo).

Collections are named like the original's tables (``mastra_threads``, ``mastra_messages``,
``mastra_resources``) and documents use @mastra/mongodb's field names (``id``, ``thread_id``,
``resourceId``, ``createdAt`` as BSON dates, ``metadata`` as an embedded document, ``content``
as format-2 JSON text), so both sides read each other's data.

Design notes:

* ``setup()`` creates the indexes every hot path uses: unique ``id`` on each collection,
  ``(thread_id, createdAt, id)`` and ``(resourceId, createdAt, id)`` on messages,
  ``(resourceId, createdAt)`` / ``(resourceId, updatedAt)`` on threads. Pages are
  ``sort + skip + limit`` on those indexes; include windows are two bounded range queries per
  requested message; nothing on a hot path scans a collection.
* ``save_messages`` runs without a multi-document transaction on every deployment, so
  concurrent savers of one thread never meet a commit-time write conflict: every check happens
  before the first write, messages are idempotent upserts keyed by a unique ``id`` index (a
  retry completes a cut-off batch; a batch refused mid-way by a racing writer's id removes the
  documents it inserted), a message can never move to another thread because its upsert filter
  includes ``thread_id``, and the thread's ``updatedAt`` is a commutative ``$max``.
* Other writes that touch several documents (``delete_thread``, clone) run in a
  multi-document transaction when the deployment supports them (replica sets, sharded
  clusters, the mongoeco test server); on a standalone server they use the same careful
  ordering.
* Metadata merges are single pipeline updates (``$mergeObjects``), atomic per document.
* Keyword search: MongoDB's ``$text`` index is not BM25, allows one per collection and the
  mongoeco test server lacks it, so each message gets a document in ``mm_message_terms``
  (``id``, ``thread_id``, ``resourceId``, ``terms``: its stemmed tokens), written right after the
  message (an idempotent upsert), with multikey indexes ``(resourceId, terms)`` and
  ``(thread_id, terms)``. A query fetches the scope's documents holding any query term (an
  index range per term), which gives exact document frequencies within the scope, and scores
  them with BM25 (:func:`~mastra_memory.storage.text_search.bm25_rank`; the mean length is the
  candidates'). Mastra's message documents are not touched, so messages written by the
  TypeScript packages are not indexed until :meth:`MongoDBStore.rebuild_keyword_index` runs;
  hits whose message is gone are dropped.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from mastra_memory import _io_async as _io
from mastra_memory.errors import (
    ConcurrencyError,
    MastraMemoryError,
    MessageIdUnavailableError,
    MissingDependencyError,
    NoDataError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage._rows import message_from_row
from mastra_memory.storage.base_async import (
    AsyncMemoryStorage,
    Direction,
    MessageQuery,
    PerPage,
    ThreadQuery,
    resolve_owners,
)
from mastra_memory.storage.kv import KVModifier, KVRow, KVStats, prefix_upper_bound
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.storage.text_search import bm25_rank, tokenize
from mastra_memory.types import Message, Resource, SemanticHit, Thread, construct, gc_paused, now_utc
from storage_adapters._sql import BULK_ROWS, KV, MESSAGES, OBSERVATIONAL_MEMORY, RESOURCES, THREADS

__all__ = ["AsyncMongoDBStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_ORDER_FIELDS = {"created_at": "createdAt", "updated_at": "updatedAt"}
_WRITE_CONFLICT = 112
_NO_TXN_CODES = {20, 263}  # IllegalOperation (standalone), OperationNotSupportedInTransaction
_PROJECTION = {"_id": 0}
TERMS = "mm_message_terms"
_MAX_TERMS = 4000  # stemmed tokens kept per message


def _terms_doc(m: Message, language: str) -> dict[str, Any]:
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "resourceId": m.resource_id,
        "terms": tokenize(m.text, language)[:_MAX_TERMS] if m.role != "system" else [],
    }


def _is_write_conflict(exc: Any) -> bool:
    labels = getattr(exc, "_error_labels", None) or set()
    return (
        getattr(exc, "code", None) == _WRITE_CONFLICT
        or "TransientTransactionError" in labels
        or "write conflict" in str(exc).lower()
    )


class _Conflict(Exception):
    """A compare-and-set on an observational-memory record lost."""


_OM_TIMES = ("lastObservedAt", "lastReflectionAt", "lastBufferedAtTime", "createdAt", "updatedAt")


def _om_doc(record: ObservationalMemoryRecord) -> dict[str, Any]:
    """A record as a document: the original's field names, times as BSON dates."""
    doc = record.model_dump(by_alias=True, mode="json")
    for name in _OM_TIMES:
        value = getattr(record, _SNAKE[name])
        doc[name] = value
    return doc


def _doc_to_om(doc: dict[str, Any]) -> ObservationalMemoryRecord:
    doc = dict(doc)
    for name in _OM_TIMES:
        if doc.get(name) is not None:
            doc[name] = _utc(doc[name])
    return ObservationalMemoryRecord.model_validate(doc)


_SNAKE = {
    "lastObservedAt": "last_observed_at",
    "lastReflectionAt": "last_reflection_at",
    "lastBufferedAtTime": "last_buffered_at_time",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    from storage_adapters._sql import parse_ts

    return parse_ts(value)


def _doc_to_thread(doc: dict[str, Any]) -> Thread:
    return construct(
        Thread,
        id=doc["id"],
        resource_id=doc["resourceId"],
        title=doc.get("title") or "",
        metadata=doc.get("metadata") or {},
        created_at=_utc(doc["createdAt"]),
        updated_at=_utc(doc.get("updatedAt", doc["createdAt"])),
    )


def _doc_to_message(doc: dict[str, Any]) -> Message:
    return message_from_row(
        (
            doc["id"],
            doc["thread_id"],
            doc.get("resourceId"),
            doc["role"],
            _utc(doc["createdAt"]),
            doc["content"],
            doc.get("type"),
        )
    )


def _doc_to_resource(doc: dict[str, Any]) -> Resource:
    return construct(
        Resource,
        id=doc["id"],
        working_memory=doc.get("workingMemory"),
        metadata=doc.get("metadata") or {},
        created_at=_utc(doc["createdAt"]),
        updated_at=_utc(doc.get("updatedAt", doc["createdAt"])),
    )


def _message_doc(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "content": m.content_json(),
        "role": m.role,
        "type": m.type or "v2",
        "createdAt": m.created_at,
        "resourceId": m.resource_id,
    }


def _thread_doc(t: Thread) -> dict[str, Any]:
    return {
        "id": t.id,
        "resourceId": t.resource_id,
        "title": t.title,
        "metadata": t.metadata,
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
    }


def _sorted_messages(docs: list[dict[str, Any]]) -> list[Message]:
    seen: dict[str, dict[str, Any]] = {}
    for d in docs:
        seen.setdefault(d["id"], d)
    ordered = sorted(seen.values(), key=lambda d: (_utc(d["createdAt"]), d["id"]))
    if len(ordered) < BULK_ROWS:
        return [_doc_to_message(d) for d in ordered]
    with gc_paused():
        return [_doc_to_message(d) for d in ordered]


async def _page(
    coll: Any, flt: dict[str, Any], field: str, direction: str, per_page: PerPage, page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``coll`` sorted by ``(field, id)`` (an index range scan) and the filter's
    total; the count is skipped when the first page is not full."""
    order = 1 if direction == "ASC" else -1
    cursor = coll.find(flt, _PROJECTION).sort([(field, order), ("id", order)])
    if per_page is not False:
        cursor = cursor.skip(page * per_page).limit(per_page)
    docs = [d async for d in cursor]
    if per_page is False or (page == 0 and len(docs) < per_page):
        return docs, len(docs)
    return docs, int(await coll.count_documents(flt))


def _merge_pipeline(field: str, values: dict[str, Any]) -> dict[str, Any]:
    """A pipeline ``$set`` merging ``values`` into the embedded document ``field`` (keys taken
    literally, so dots and dollars in metadata keys are safe)."""
    return {field: {"$mergeObjects": [{"$ifNull": [f"${field}", {}]}, {"$literal": values}]}}


class AsyncMongoDBStore(AsyncMemoryStorage):
    """Storage on MongoDB.

    Args:
        url: A MongoDB connection string (``mongodb://host:27017``). Either this or ``client``.
        db_name: The database holding the collections (``"mastra"``).
        client: A pymongo client you own (the store does not close it): a
            ``pymongo.AsyncMongoClient`` for ``AsyncMongoDBStore``, a ``pymongo.MongoClient``
            for ``MongoDBStore``. The async store binds to the event loop of its first call.
        transactions: ``True`` always use multi-document transactions, ``False`` never,
            ``None`` (default) use them when the server accepts them (detected on first write).
        timeout_ms: Server selection and socket timeout in milliseconds (10000).
        max_pool_size: Upper bound of the store's own client's connection pool (``None``:
            the URL's ``maxPoolSize``, else pymongo's 100); tasks or threads beyond it wait.
        max_retries: Extra attempts of a transaction that lost a write conflict (8), with
            jittered exponential backoff from 10 ms to 1 s.
        text_search_language: Snowball language of the keyword index's stemming (``"english"``,
            which also drops English stop words).

    Raises:
        MissingDependencyError: if pymongo is not installed (extra ``[mongodb]``).
        ValidationError: on both/neither of url/client or an empty db_name.
    """

    read_only: bool = False
    """When True (``open_async_storage(url, create=False)``), the first call checks that the
    collections exist (``connect(create=False)``) instead of creating indexes (``setup``)."""

    def __init__(
        self,
        url: str | None = None,
        db_name: str = "mastra",
        *,
        client: Any = None,
        transactions: bool | None = None,
        timeout_ms: int = 10_000,
        max_pool_size: int | None = None,
        max_retries: int = 8,
        text_search_language: str = "english",
    ) -> None:
        if (url is None) == (client is None):
            raise ValidationError("pass exactly one of url or client")
        if not db_name or not isinstance(db_name, str):
            raise ValidationError("db_name must be a non-empty string")
        try:
            import pymongo
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("pymongo", "mongodb") from exc
        self._owns_client = client is None
        if client is None:
            pool: dict[str, Any] = {} if max_pool_size is None else {"maxPoolSize": max_pool_size}
            client = pymongo.AsyncMongoClient(
                url,
                **pool,
                tz_aware=True,
                serverSelectionTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms,
                appname="mastra-memory",
            )
        self._client = client
        self.db_name = db_name
        self._db = client[db_name]
        self._threads = self._db[THREADS]
        self._messages = self._db[MESSAGES]
        self._resources = self._db[RESOURCES]
        self._om = self._db[OBSERVATIONAL_MEMORY]
        self._kv = self._db[KV]
        self._terms = self._db[TERMS]
        self.text_search_language = text_search_language
        self._transactions = transactions
        self.max_retries = max_retries
        self._setup_lock = _io.Lock()
        self._ready = False

    @property
    def atomic_replace_messages(self) -> bool:  # type: ignore[override]
        """True unless the server has no transactions (``transactions=False`` or detected)."""
        return self._transactions is not False

    @classmethod
    def from_url(cls, url: str, db_name: str | None = None, **kwargs: Any) -> AsyncMongoDBStore:
        """Build a store from a ``mongodb://`` URL; the database is ``db_name``, else the URL's
        path (``mongodb://host/mydb``), else ``mastra``. ``kwargs`` as for the constructor."""
        from urllib.parse import urlsplit

        return cls(url=url, db_name=db_name or urlsplit(url).path.strip("/") or "mastra", **kwargs)

    # -- lifecycle ------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the indexes (idempotent; ``createIndex`` of an existing index is a no-op)."""
        import pymongo

        async with self._setup_lock:
            if self._ready:
                return
            delay = 0.01
            for attempt in range(8):
                try:
                    await self._create_indexes()
                    break
                except pymongo.errors.PyMongoError as exc:
                    # other processes setting up the same database at once: createIndex is
                    # idempotent, so a write conflict on the catalog is retried, never an error
                    if not _is_write_conflict(exc) or attempt == 7:
                        raise StorageError(f"MongoDB setup failed: {exc}") from exc
                    await _io.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.5)
            self._ready = True
        await self._fill_keyword_index()

    async def _create_indexes(self) -> None:
        """Every index of the store (``createIndex`` of an existing index is a no-op)."""
        import pymongo

        asc = pymongo.ASCENDING
        await self._threads.create_index([("id", asc)], unique=True)
        await self._threads.create_index([("resourceId", asc), ("createdAt", asc), ("id", asc)])
        await self._threads.create_index([("resourceId", asc), ("updatedAt", asc), ("id", asc)])
        await self._messages.create_index([("id", asc)], unique=True)
        await self._messages.create_index([("thread_id", asc), ("createdAt", asc), ("id", asc)])
        await self._messages.create_index([("resourceId", asc), ("createdAt", asc), ("id", asc)])
        await self._resources.create_index([("id", asc)], unique=True)
        await self._om.create_index([("id", asc)], unique=True)
        await self._om.create_index([("lookupKey", asc), ("generationCount", asc)], unique=True)
        # retention: each prune selects the oldest documents before a cutoff
        await self._messages.create_index([("createdAt", asc), ("id", asc)])
        await self._threads.create_index([("updatedAt", asc), ("id", asc)])
        await self._resources.create_index([("updatedAt", asc), ("id", asc)])
        await self._om.create_index([("createdAt", asc)])
        await self._kv_indexes()
        await self._terms.create_index([("id", asc)], unique=True)
        await self._terms.create_index([("resourceId", asc), ("terms", asc)])
        await self._terms.create_index([("thread_id", asc), ("terms", asc)])
        await self._after_setup(self._db)

    async def _fill_keyword_index(self) -> None:
        """Migration 11: index the messages stored before keyword search existed (once)."""
        import pymongo

        marker = {"_id": "keyword_search_11"}
        async with self._errors():
            migrations = self._db["mastra_memory_migrations"]
            if await migrations.find_one(marker) is not None:
                return
            if (
                await self._terms.estimated_document_count() == 0
                and await self._messages.estimated_document_count() > 0
            ):
                await self.rebuild_keyword_index()
            with contextlib.suppress(pymongo.errors.DuplicateKeyError):  # another process marked it first
                await migrations.update_one(marker, {"$set": {"applied_at": now_utc()}}, upsert=True)

    async def rebuild_keyword_index(self, batch_size: int = BULK_ROWS) -> int:
        """(Re)index every stored message's terms (e.g. after writes by Mastra's TypeScript
        packages, which do not maintain ``mm_message_terms``). Returns messages indexed."""
        import pymongo

        done = 0
        async with self._errors():
            batch: list[Any] = []
            async for doc in self._messages.find({}, _PROJECTION):
                m = _doc_to_message(doc)
                batch.append(pymongo.ReplaceOne({"id": m.id}, _terms_doc(m, self.text_search_language), upsert=True))
                if len(batch) >= batch_size:
                    await self._terms.bulk_write(batch, ordered=False)
                    done += len(batch)
                    batch = []
            if batch:
                await self._terms.bulk_write(batch, ordered=False)
                done += len(batch)
        return done

    async def _after_setup(self, db: Any) -> None:
        """Hook for collections owned by other features (observational memory, key-value)."""

    async def close(self) -> None:
        if self._owns_client:
            await self._client.close()
        self._ready = False

    async def drop_database(self) -> None:
        """Delete the whole database (every collection of ``db_name``). For tests."""
        await self._client.drop_database(self.db_name)
        self._ready = False

    # -- plumbing -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        import pymongo

        await self._ensure_setup()
        try:
            yield
        except MastraMemoryError:
            raise
        except pymongo.errors.PyMongoError as exc:
            raise StorageError(f"MongoDB operation failed: {exc}") from exc

    async def connect(self, *, create: bool = True) -> None:
        """Reach the server now (within ``timeout_ms``); with ``create=False`` only check that the
        database holds mastra-memory collections, creating nothing (no collection, no index; see
        :meth:`MemoryStorage.connect`)."""
        import pymongo

        if self._ready:
            return
        try:
            await self._client.admin.command("ping")
            names = set(await self._db.list_collection_names()) if not create else set()
        except pymongo.errors.PyMongoError as exc:
            reason = str(exc).split(", Timeout:")[0].split(" (configured timeouts:")[0]  # drop the topology dump
            reason = " ".join(reason.split())
            raise StorageError(f"could not reach MongoDB: {reason}") from exc
        if create:
            await self.setup()
            return
        if THREADS not in names:
            raise NoDataError(
                f"no mastra-memory data in MongoDB database {self.db_name!r}: its collections do not exist"
            )
        async with self._setup_lock:
            self._ready = True

    async def _ensure_setup(self) -> None:
        if not self._ready:
            if self.read_only:
                await self.connect(create=False)
            else:
                await self.setup()

    async def _write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(session)`` in a transaction when the server supports them, else with
        ``session=None`` (see the module notes for the ordering that keeps that safe)."""
        import pymongo

        async with self._errors():
            delay = 0.01
            for attempt in range(self.max_retries + 1):
                if self._transactions is False:
                    return await work(None)
                try:
                    async with self._client.start_session() as session:
                        return await session.with_transaction(work)  # type: ignore[no-any-return]
                except pymongo.errors.OperationFailure as exc:
                    if _is_write_conflict(exc) and attempt < self.max_retries:
                        # with_transaction retries errors labelled transient; servers that do not
                        # label a commit-time write conflict get the same treatment here.
                        logger.debug("MongoDB write conflict, retrying (attempt %d)", attempt + 1)
                        await _io.sleep(delay * (1 + random.random()))
                        delay = min(delay * 2, 1.0)
                        continue
                    if self._transactions is True or (
                        exc.code not in _NO_TXN_CODES and "Transaction numbers" not in str(exc)
                    ):
                        raise
                    logger.info("MongoDB server does not support transactions; using ordered writes")
                    self._transactions = False
            raise AssertionError("unreachable")  # pragma: no cover

    # -- threads --------------------------------------------------------------------------------

    async def _get_thread(self, thread_id: str) -> Thread | None:
        async with self._errors():
            doc = await self._threads.find_one({"id": thread_id}, _PROJECTION)
        return _doc_to_thread(doc) if doc else None

    async def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace; never changes the owner: the replace matches ``{id, resourceId}``,
        so a thread of another resource makes its upsert insert a second ``id``, which the
        unique index refuses."""
        import pymongo

        async with self._errors():
            try:
                await self._threads.replace_one(
                    {"id": thread.id, "resourceId": thread.resource_id}, _thread_doc(thread), upsert=True
                )
            except pymongo.errors.DuplicateKeyError as exc:
                doc = await self._threads.find_one({"id": thread.id}, {"resourceId": 1})
                if doc is None or doc["resourceId"] == thread.resource_id:  # deleted or recreated meanwhile
                    raise ConcurrencyError(f"thread {thread.id!r} changed while it was being saved") from exc
                raise ResourceMismatchError(thread.id, doc["resourceId"], thread.resource_id) from exc
        return thread

    async def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        import pymongo

        changes: dict[str, Any] = {"updatedAt": now}
        if title is not None:
            changes["title"] = {"$literal": title}
        if metadata:
            changes.update(_merge_pipeline("metadata", metadata))
        async with self._errors():
            doc = await self._threads.find_one_and_update(
                {"id": thread_id},
                [{"$set": changes}],
                projection=_PROJECTION,
                return_document=pymongo.ReturnDocument.AFTER,
            )
        if doc is None:
            raise ThreadNotFoundError(thread_id)
        return _doc_to_thread(doc)

    async def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        """One ``update_one`` whose filter holds the condition (``title`` null, missing or "")."""
        async with self._errors():
            result = await self._threads.update_one(
                {"id": thread_id, "title": {"$in": [None, ""]}}, {"$set": {"title": title, "updatedAt": now}}
            )
        return bool(result.matched_count)

    async def _delete_thread(self, thread_id: str) -> None:
        async def work(session: Any) -> None:
            # Messages first: a cut-off delete leaves an empty thread, never orphans.
            await self._messages.delete_many({"thread_id": thread_id}, session=session)
            await self._terms.delete_many({"thread_id": thread_id}, session=session)
            await self._threads.delete_one({"id": thread_id}, session=session)
            await self._after_delete_thread(session, thread_id)

        await self._write(work)

    async def _after_delete_thread(self, session: Any, thread_id: str) -> None:
        """Hook for collections that hang off a thread; runs in the delete's session (``None``
        without transactions). The thread's observational-memory generations go."""
        await self._om.delete_many({"lookupKey": f"thread:{thread_id}"}, session=session)

    async def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:

        flt: dict[str, Any] = {}
        if query.resource_id is not None:
            flt["resourceId"] = query.resource_id
        for key, value in query.metadata.items():
            flt[f"metadata.{key}"] = value
        async with self._errors():
            docs, total = await _page(
                self._threads, flt, _ORDER_FIELDS[query.order_by], query.direction, query.per_page, query.page
            )
        return [_doc_to_thread(d) for d in docs], total

    # -- messages -------------------------------------------------------------------------------

    async def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        import pymongo

        thread_ids = sorted({m.thread_id for m in messages})

        async def work(session: Any) -> list[Message]:
            owners = {
                d["id"]: d["resourceId"]
                async for d in self._threads.find(
                    {"id": {"$in": thread_ids}}, {"_id": 0, "id": 1, "resourceId": 1}, session=session
                )
            }
            stored = resolve_owners(messages, owners)
            wanted = {m.id: m.thread_id for m in stored}
            existing: set[str] = set()
            async for d in self._messages.find(
                {"id": {"$in": list(wanted)}}, {"_id": 0, "id": 1, "thread_id": 1}, session=session
            ):
                if d["thread_id"] != wanted[d["id"]]:
                    raise MessageIdUnavailableError(d["id"])
                existing.add(d["id"])
            new_ids.clear()
            new_ids.update(wanted.keys() - existing)
            # cursors read outside the transaction: OM records stay out of its read set (no conflict
            # with a concurrent commit); _settle_after_cursor re-checks after the write
            stored = _om.restamp_after_cursor(stored, existing, await self._om_floors(owners))
            owner_map.update(owners)
            ops = [
                pymongo.ReplaceOne({"id": m.id, "thread_id": m.thread_id}, _message_doc(m), upsert=True) for m in stored
            ]
            try:
                await self._messages.bulk_write(ops, ordered=True, session=session)
            except pymongo.errors.BulkWriteError as exc:
                # a racing writer took an id between the check and the write: remove what this
                # call inserted (its upserts are known by _id), so nothing of the batch is left
                inserted = [u["_id"] for u in exc.details.get("upserted", [])]
                if inserted:
                    await self._messages.delete_many({"_id": {"$in": inserted}}, session=session)
                errors = exc.details.get("writeErrors", [])
                if errors and errors[0].get("code") == 11000:
                    mid = stored[errors[0]["index"]].id
                    raise MessageIdUnavailableError(mid) from exc
                raise
            language = self.text_search_language
            await self._terms.bulk_write(
                [pymongo.ReplaceOne({"id": m.id}, _terms_doc(m, language), upsert=True) for m in stored],
                ordered=False,
                session=session,
            )
            # commutative: of concurrent savers the latest time wins, whatever the commit order
            await self._threads.update_many({"id": {"$in": thread_ids}}, {"$max": {"updatedAt": now}}, session=session)
            return stored

        new_ids: set[str] = set()
        owner_map: dict[str, str] = {}
        async with self._errors():
            # No multi-document transaction: every writer of a thread would touch the thread's
            # document, so 8 concurrent savers conflicted at commit. Checks come first, messages
            # are idempotent upserts keyed by the unique id (with thread_id in the filter, so a
            # message never moves), updatedAt is a $max: writers commute and none can conflict.
            stored = await work(None)
        return await self._settle_after_cursor(stored, new_ids, owner_map)

    def _message_filter(self, query: MessageQuery) -> dict[str, Any]:
        ids = list(query.thread_ids)
        flt: dict[str, Any] = {"thread_id": ids[0] if len(ids) == 1 else {"$in": ids}}
        created: dict[str, Any] = {}
        if query.start is not None:
            created["$gte"] = query.start
        if query.end is not None:
            created["$lte"] = query.end
        if created:
            flt["createdAt"] = created
        return flt

    async def _include_docs(self, query: MessageQuery) -> list[dict[str, Any]]:
        import pymongo

        hits = {
            d["id"]: d async for d in self._messages.find({"id": {"$in": [s.id for s in query.include]}}, _PROJECTION)
        }
        docs: list[dict[str, Any]] = list(hits.values())
        for spec in query.include:
            hit = hits.get(spec.id)
            if hit is None:
                continue
            tid, at, mid = hit["thread_id"], hit["createdAt"], hit["id"]
            if spec.with_previous_messages:
                docs += [
                    d
                    async for d in self._messages.find(
                        {"thread_id": tid, "$or": [{"createdAt": {"$lt": at}}, {"createdAt": at, "id": {"$lt": mid}}]},
                        _PROJECTION,
                    )
                    .sort([("createdAt", pymongo.DESCENDING), ("id", pymongo.DESCENDING)])
                    .limit(spec.with_previous_messages)
                ]
            if spec.with_next_messages:
                docs += [
                    d
                    async for d in self._messages.find(
                        {"thread_id": tid, "$or": [{"createdAt": {"$gt": at}}, {"createdAt": at, "id": {"$gt": mid}}]},
                        _PROJECTION,
                    )
                    .sort([("createdAt", pymongo.ASCENDING), ("id", pymongo.ASCENDING)])
                    .limit(spec.with_next_messages)
                ]
        return docs

    async def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:

        flt = self._message_filter(query)
        docs: list[dict[str, Any]] = []
        async with self._errors():
            if query.per_page is False or query.per_page > 0:
                docs, total = await _page(self._messages, flt, "createdAt", query.direction, query.per_page, query.page)
            else:
                total = await self._messages.count_documents(flt)
            if query.include:
                docs += await self._include_docs(query)
        return _sorted_messages(docs), total

    async def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:

        async with self._errors():
            docs, total = await _page(
                self._messages, {"resourceId": resource_id}, "createdAt", direction, per_page, page
            )
        return _sorted_messages(docs), total

    async def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        async with self._errors():
            docs = [d async for d in self._messages.find({"id": {"$in": message_ids}}, _PROJECTION)]
        return _sorted_messages(docs)

    async def _delete_messages(self, message_ids: list[str]) -> int:
        async def work(session: Any) -> int:
            result = await self._messages.delete_many({"id": {"$in": message_ids}}, session=session)
            await self._terms.delete_many({"id": {"$in": message_ids}}, session=session)
            return int(result.deleted_count)

        return await self._write(work)

    async def _pop_newest_message(self, thread_id: str) -> Message | None:
        """One ``find_one_and_delete`` (atomic on one document, no transaction to conflict),
        then the keyword document (a leftover one is never returned: search drops messages
        that are gone)."""
        import pymongo

        async with self._errors():
            doc = await self._messages.find_one_and_delete(
                {"thread_id": thread_id},
                projection=_PROJECTION,
                sort=[("createdAt", pymongo.DESCENDING), ("id", pymongo.DESCENDING)],
            )
            if doc is None:
                return None
            await self._terms.delete_one({"id": doc["id"]})
        return _doc_to_message(doc)

    async def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        """One multi-document transaction: refuse ids of other threads, delete the thread's
        messages and their keyword documents, insert the new ones, bump ``updatedAt`` (on a
        server without transactions the same writes run in that order, not atomically)."""
        floors = await self._om_floors({thread.id: thread.resource_id}) if messages else {}
        stored = _om.restamp_after_cursor(messages, set(), floors) if floors else messages
        language = self.text_search_language

        async def work(session: Any) -> list[Message]:
            if stored:
                async for d in self._messages.find(
                    {"id": {"$in": [m.id for m in stored]}, "thread_id": {"$ne": thread.id}},
                    {"_id": 0, "id": 1},
                    session=session,
                ):
                    raise MessageIdUnavailableError(d["id"])
            await self._messages.delete_many({"thread_id": thread.id}, session=session)
            await self._terms.delete_many({"thread_id": thread.id}, session=session)
            if stored:
                await self._messages.insert_many([_message_doc(m) for m in stored], ordered=True, session=session)
                await self._terms.insert_many([_terms_doc(m, language) for m in stored], session=session)
                await self._threads.update_one({"id": thread.id}, {"$max": {"updatedAt": now}}, session=session)
            return stored

        return await self._write(work)

    async def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        """Candidates by the multikey ``terms`` index, BM25 over them, dead messages dropped."""
        await self._ensure_setup()
        terms = sorted(set(tokenize(" ".join(words), self.text_search_language)))
        if not terms:
            return []
        scope: dict[str, Any] = {"resourceId": resource_id} if resource_id is not None else {"thread_id": thread_id}
        async with self._errors():
            n_docs = await self._terms.count_documents(scope)
            docs = [
                d
                async for d in self._terms.find(
                    {**scope, "terms": {"$in": terms}}, {"_id": 0, "id": 1, "thread_id": 1, "terms": 1}
                )
            ]
        if not docs:
            return []
        avg_len = sum(len(d["terms"]) for d in docs) / len(docs)
        ranked = bm25_rank(terms, ((d["id"], d["thread_id"], d["terms"]) for d in docs), n_docs, avg_len, 2 * limit)
        async with self._errors():
            alive = {
                d["id"] async for d in self._messages.find({"id": {"$in": [r[0] for r in ranked]}}, {"_id": 0, "id": 1})
            }
        return [SemanticHit(message_id=i, thread_id=t, score=sc) for i, t, sc in ranked if i in alive][:limit]

    # -- erasure and retention (the algorithms are the base class's; indexed reads here) -------

    async def _delete_resource_row(self, resource_id: str) -> None:
        async with self._errors():
            await self._resources.delete_one({"id": resource_id})

    async def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        async with self._errors():
            docs = self._messages.find({"createdAt": {"$lt": created_before}}, {"_id": 0, "id": 1})
            ids = [d["id"] async for d in docs.sort([("createdAt", 1), ("id", 1)]).limit(limit)]
            if ids:
                await self._messages.delete_many({"id": {"$in": ids}})
        return ids

    async def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        async with self._errors():
            docs = self._resources.find({"updatedAt": {"$lt": updated_before}}, {"_id": 0, "id": 1})
            ids = [d["id"] async for d in docs.sort([("updatedAt", 1), ("id", 1)]).limit(limit)]
            if ids:
                await self._resources.delete_many({"id": {"$in": ids}, "updatedAt": {"$lt": updated_before}})
        return ids

    async def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        deleted = 0
        async with self._errors():
            for key in await self._om.distinct("lookupKey", {"createdAt": {"$lt": created_before}}):
                head = await self._om.find_one(
                    {"lookupKey": key}, {"_id": 0, "generationCount": 1}, sort=[("generationCount", -1)]
                )
                if head is None:
                    continue
                old = self._om.find(
                    {
                        "lookupKey": key,
                        "createdAt": {"$lt": created_before},
                        "generationCount": {"$lt": head["generationCount"]},
                    },
                    {"_id": 0, "id": 1},
                ).limit(limit - deleted)
                ids = [d["id"] async for d in old]
                if ids:
                    deleted += (await self._om.delete_many({"id": {"$in": ids}})).deleted_count
                if deleted >= limit:
                    break
        return deleted

    # -- resources ------------------------------------------------------------------------------

    async def _get_resource(self, resource_id: str) -> Resource | None:
        async with self._errors():
            doc = await self._resources.find_one({"id": resource_id}, _PROJECTION)
        return _doc_to_resource(doc) if doc else None

    async def _save_resource(self, resource: Resource) -> Resource:
        doc = {
            "id": resource.id,
            "workingMemory": resource.working_memory,
            "metadata": resource.metadata,
            "createdAt": resource.created_at,
            "updatedAt": resource.updated_at,
        }
        async with self._errors():
            await self._resources.replace_one({"id": resource.id}, doc, upsert=True)
        return resource

    async def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        import pymongo

        changes: dict[str, Any] = {
            "updatedAt": now,
            "createdAt": {"$ifNull": ["$createdAt", now]},
            **_merge_pipeline("metadata", metadata or {}),
        }
        if working_memory is not None:
            changes["workingMemory"] = {"$literal": working_memory}
        async with self._errors():
            doc = await self._resources.find_one_and_update(
                {"id": resource_id},
                [{"$set": changes}],
                projection=_PROJECTION,
                upsert=True,
                return_document=pymongo.ReturnDocument.AFTER,
            )
        return _doc_to_resource(doc)

    # -- observational memory -------------------------------------------------------------------
    #
    # No locks: every OM write is a compare-and-set on ``metadata.version`` (updates) or on the
    # unique ``(lookupKey, generationCount)`` index (new generations), re-run on conflict. A
    # message save moves new messages behind a cursor forward inside its write, then re-checks
    # the cursors after the write and moves them again while a concurrent commit passed them
    # (a commit that runs after the message is visible stops the cursor before it).

    async def _om_floors(self, owners: dict[str, str], session: Any = None) -> dict[str, datetime]:
        keys = [f"thread:{t}" for t in owners] + [f"resource:{r}" for r in set(owners.values())]
        found: dict[str, datetime] = {}
        async for d in self._om.find(
            {"lookupKey": {"$in": keys}, "lastObservedAt": {"$ne": None}},
            {"_id": 0, "lookupKey": 1, "lastObservedAt": 1},
            session=session,
        ):
            ts = _utc(d["lastObservedAt"])
            if d["lookupKey"] not in found or ts > found[d["lookupKey"]]:
                found[d["lookupKey"]] = ts
        floors: dict[str, datetime] = {}
        for tid, rid in owners.items():
            stamps = [t for t in (found.get(f"thread:{tid}"), found.get(f"resource:{rid}")) if t is not None]
            if stamps:
                floors[tid] = max(stamps)
        return floors

    async def _settle_after_cursor(
        self, stored: list[Message], new_ids: set[str], owners: dict[str, str]
    ) -> list[Message]:
        import pymongo

        for _ in range(20):
            async with self._errors():
                floors = await self._om_floors({t: owners[t] for t in {m.thread_id for m in stored} if t in owners})
            fixed = _om.restamp_after_cursor(stored, {m.id for m in stored} - new_ids, floors)
            moved = [m for m, before in zip(fixed, stored, strict=True) if m.created_at != before.created_at]
            if not moved:
                return fixed
            async with self._errors():
                await self._messages.bulk_write(
                    [pymongo.UpdateOne({"id": m.id}, {"$set": {"createdAt": m.created_at}}) for m in moved]
                )
            stored = fixed
        raise ConcurrencyError("observation cursors kept moving past a saved message")  # pragma: no cover

    async def _refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
        session: Any = None,
    ) -> list[MessageRef]:
        import pymongo

        flt: dict[str, Any] = (
            {"resourceId": resource_id}
            if thread_ids is None
            else {"thread_id": thread_ids[0] if len(thread_ids) == 1 else {"$in": list(thread_ids)}}
        )
        if after is not None:
            flt["createdAt"] = {"$gt": after}
        cursor = self._messages.find(
            flt, {"_id": 0, "id": 1, "thread_id": 1, "createdAt": 1, "content": 1}, session=session
        ).sort([("createdAt", pymongo.ASCENDING), ("id", pymongo.ASCENDING)])
        if limit is not None:
            cursor = cursor.limit(limit)
        return [
            MessageRef(d["id"], d["thread_id"], _utc(d["createdAt"]), len(d.get("content") or "")) async for d in cursor
        ]

    async def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        async with self._errors():
            return await self._refs(thread_ids, resource_id, after, limit)

    async def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        import pymongo

        async with self._errors():
            doc = await self._om.find_one(
                {"lookupKey": lookup_key}, {"_id": 0}, sort=[("generationCount", pymongo.DESCENDING)]
            )
        return _doc_to_om(doc) if doc else None

    async def _om_history(
        self, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        import pymongo

        async with self._errors():
            cursor = self._om.find({"lookupKey": lookup_key}, {"_id": 0}).sort("generationCount", pymongo.DESCENDING)
            cursor = cursor.skip(offset)
            if limit is not False:
                cursor = cursor.limit(limit)
            return [_doc_to_om(d) async for d in cursor]

    async def _om_update(self, lookup_key: str, mutation: _om.Mutation[T]) -> T:
        import pymongo

        scope, _, ident = lookup_key.partition(":")

        # The mutation is pure code that reads refs through ``walk``: on the async face it runs in
        # a worker thread and each read runs on the event loop (blocking_caller); on the sync face
        # both are direct calls.
        refs = _io.blocking_caller(self._refs)

        def walk(after: datetime | None, limit: int) -> list[MessageRef]:
            if scope == "thread":
                found: list[MessageRef] = refs((ident,), None, after, limit)
            else:
                found = refs(None, ident, after, limit)
            return found

        delay = 0.005
        async with self._errors():
            for attempt in range(self.max_retries * 4 + 1):
                head_doc = await self._om.find_one(
                    {"lookupKey": lookup_key}, {"_id": 0}, sort=[("generationCount", pymongo.DESCENDING)]
                )
                head = _doc_to_om(head_doc) if head_doc else None
                records, result = await _io.run_blocking(mutation, _om.OMView(lookup_key, head, walk, now_utc()))
                try:
                    for record in records:
                        doc = _om_doc(record)
                        if head is not None and record.id == head.id:
                            done = await self._om.replace_one({"id": record.id, "metadata.version": head.version}, doc)
                            if done.matched_count == 0:
                                raise _Conflict
                        else:
                            await self._om.insert_one(doc)
                    return result
                except (_Conflict, pymongo.errors.DuplicateKeyError):
                    logger.debug("observational memory compare-and-set lost (attempt %d)", attempt + 1)
                    await _io.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.2)
        raise ConcurrencyError(f"observational memory record {lookup_key!r} kept changing")

    async def _om_delete(self, lookup_key: str) -> None:
        async with self._errors():
            await self._om.delete_many({"lookupKey": lookup_key})

    async def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """Compare-and-set on the stored value: read it, compute, then update only where the
        field still holds what was read (a resource is inserted only where none exists, the
        unique index on ``id`` rejecting a concurrent creator); on a lost race, read again.
        Works on standalone servers too (no transactions needed)."""
        import pymongo

        coll = self._threads if scope == "thread" else self._resources
        field = "metadata.workingMemory" if scope == "thread" else "workingMemory"
        delay = 0.005
        async with self._errors():
            for _ in range(100):
                doc = await coll.find_one({"id": key}, {"_id": 0, "metadata": 1, "workingMemory": 1})
                if doc is None and scope == "thread":
                    raise ThreadNotFoundError(key)
                holder = (doc or {}).get("metadata") if scope == "thread" else doc
                raw = (holder or {}).get("workingMemory")
                current = raw if isinstance(raw, str) else None
                new = fn(current)
                if new is None or new == current:
                    return current
                update: dict[str, Any] = {"$set": {field: new, "updatedAt": now}}
                if scope == "resource":
                    update["$setOnInsert"] = {"metadata": {}, "createdAt": now}
                try:
                    result = await coll.update_one({"id": key, field: raw}, update, upsert=doc is None)
                except pymongo.errors.DuplicateKeyError:
                    result = None  # another process created the resource first
                except pymongo.errors.OperationFailure as exc:
                    if not _is_write_conflict(exc):  # a concurrent writer won this document: read again
                        raise
                    result = None
                if result is not None and (result.matched_count or result.upserted_id is not None):
                    return new
                await _io.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.2)
        raise ConcurrencyError(f"working memory of {scope} {key!r} kept changing; gave up after 100 attempts")

    # -- key-value memory -----------------------------------------------------------------------
    # Collection mastra_kv: {namespace, key, value (JSON text), size (its bytes), expiresAt,
    # createdAt, updatedAt, rev}. A unique (namespace, key) index serves lookups, prefix ranges
    # and ordering (MongoDB compares strings by their UTF-8 bytes, i.e. code-point order); a TTL
    # index on expiresAt lets the server delete expired documents by itself, and every read
    # filters them anyway. Atomic updates are optimistic: write only if ``rev`` is unchanged.

    _KV_PROJECTION: ClassVar[dict[str, int]] = {
        "_id": 0,
        "value": 1,
        "expiresAt": 1,
        "createdAt": 1,
        "updatedAt": 1,
        "rev": 1,
    }

    async def _kv_indexes(self) -> None:
        import pymongo

        asc = pymongo.ASCENDING
        await self._kv.create_index([("namespace", asc), ("key", asc)], unique=True)
        try:
            await self._kv.create_index([("expiresAt", asc)], expireAfterSeconds=0)
        except pymongo.errors.OperationFailure:  # servers without TTL indexes: a plain index
            await self._kv.create_index([("expiresAt", asc)])

    @staticmethod
    def _kv_live(now: datetime) -> dict[str, Any]:
        return {"$or": [{"expiresAt": None}, {"expiresAt": {"$gt": now}}]}

    @staticmethod
    def _kv_expired_filter(now: datetime) -> dict[str, Any]:
        # "$ne": None keeps null expiries out on servers whose $lte matches null (MongoDB's
        # type bracketing already does; the mongoeco test server does not)
        return {"expiresAt": {"$ne": None, "$lte": now}}

    @staticmethod
    def _kv_expired(doc: dict[str, Any], now: datetime) -> bool:
        return doc.get("expiresAt") is not None and _utc(doc["expiresAt"]) <= now

    @staticmethod
    def _kv_row(doc: dict[str, Any]) -> KVRow:
        expires = doc.get("expiresAt")
        return KVRow(
            doc["value"], None if expires is None else _utc(expires), _utc(doc["createdAt"]), _utc(doc["updatedAt"])
        )

    async def _kv_set(
        self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime
    ) -> None:
        import pymongo

        ident = {"namespace": namespace, "key": key}
        update = {
            "$set": {
                "value": value_json,
                "size": len(value_json.encode("utf-8")),
                "expiresAt": expires_at,
                "updatedAt": now,
            },
            "$setOnInsert": {"createdAt": now},
            "$inc": {"rev": 1},
        }
        async with self._errors():
            await self._kv.delete_one({**ident, **self._kv_expired_filter(now)})  # an expired entry starts afresh
            try:
                await self._kv.update_one(ident, update, upsert=True)
            except pymongo.errors.DuplicateKeyError:  # two upserts raced to insert: now it exists
                await self._kv.update_one(ident, update, upsert=True)

    async def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        async with self._errors():
            doc = await self._kv.find_one({"namespace": namespace, "key": key}, self._KV_PROJECTION)
            if doc is None:
                return None
            if self._kv_expired(doc, now):
                await self._kv.delete_one({"namespace": namespace, "key": key, **self._kv_expired_filter(now)})
                return None
        return self._kv_row(doc)

    async def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        async with self._errors():
            return bool(
                await self._kv.count_documents({"namespace": namespace, "key": key, **self._kv_live(now)}, limit=1)
            )

    async def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        async with self._errors():
            doc = await self._kv.find_one_and_delete({"namespace": namespace, "key": key}, projection={"expiresAt": 1})
        return doc is not None and not self._kv_expired(doc, now)

    async def _kv_list_keys(
        self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime
    ) -> list[str]:
        bounds: dict[str, Any] = {}
        if prefix:
            bounds["$gte"] = prefix
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                bounds["$lt"] = upper
        if after_key is not None:
            bounds["$gt"] = after_key
        query: dict[str, Any] = {"namespace": namespace, **self._kv_live(now)}
        if bounds:
            query["key"] = bounds
        async with self._errors():
            docs = self._kv.find(query, {"_id": 0, "key": 1}).sort([("key", 1)]).limit(limit)
            return [d["key"] async for d in docs]

    async def _kv_clear(self, namespace: str) -> int:
        async with self._errors():
            return int((await self._kv.delete_many({"namespace": namespace})).deleted_count)

    async def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        import pymongo

        ident = {"namespace": namespace, "key": key}
        async with self._errors():
            for _ in range(1000):
                doc = await self._kv.find_one(ident, self._KV_PROJECTION)
                live = doc is not None and not self._kv_expired(doc, now)
                write = modify(self._kv_row(doc) if doc is not None and live else None)
                if write is None:
                    return
                fields = {
                    "value": write.value_json,
                    "size": len(write.value_json.encode("utf-8")),
                    "expiresAt": write.expires_at,
                    "updatedAt": now,
                }
                if doc is None:
                    try:
                        await self._kv.insert_one({**ident, **fields, "createdAt": now, "rev": 1})
                        return
                    except pymongo.errors.DuplicateKeyError:
                        continue  # inserted concurrently: read it and try again
                if not live:
                    fields["createdAt"] = now
                done = await self._kv.update_one({**ident, "rev": doc.get("rev")}, {"$set": fields, "$inc": {"rev": 1}})
                if done.matched_count:
                    return
        raise ConcurrencyError(f"key {namespace}/{key} kept changing during an atomic update")

    async def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        async with self._errors():
            rows = [
                row
                async for row in await self._kv.aggregate(
                    [
                        {"$match": {"namespace": namespace, **self._kv_live(now)}},
                        {"$group": {"_id": None, "keys": {"$sum": 1}, "size": {"$sum": "$size"}}},
                    ]
                )
            ]
        return KVStats(int(rows[0]["keys"]), int(rows[0]["size"])) if rows else KVStats(0, 0)

    async def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        async with self._errors():
            expired = self._kv_expired_filter(now)
            ids = [d["_id"] async for d in self._kv.find(expired, {"_id": 1}).limit(limit)]
            if not ids:
                return 0
            return int((await self._kv.delete_many({"_id": {"$in": ids}, **expired})).deleted_count)

    # -- clone ----------------------------------------------------------------------------------

    async def _create_thread(self, thread: Thread) -> Thread:
        """One ``insert_one`` outside any transaction (a single document is written atomically):
        the unique ``id`` index refuses a second one. Inside a transaction a duplicate could be
        reported against another transaction's insert that then aborts, leaving neither."""
        import pymongo

        async with self._errors():
            try:
                await self._threads.insert_one(_thread_doc(thread))
            except pymongo.errors.DuplicateKeyError as exc:
                raise ThreadConflictError(thread.id) from exc
        return thread

    async def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        import pymongo

        async def work(session: Any) -> None:
            try:
                await self._threads.insert_one(_thread_doc(thread), session=session)
            except pymongo.errors.DuplicateKeyError as exc:
                raise ThreadConflictError(thread.id) from exc
            if messages:
                await self._messages.insert_many([_message_doc(m) for m in messages], ordered=True, session=session)
                language = self.text_search_language
                await self._terms.insert_many(
                    [_terms_doc(m, language) for m in messages], ordered=False, session=session
                )

        await self._write(work)
        return thread
