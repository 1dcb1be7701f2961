"""``SQLStore``: the algorithms the SQL backends (libSQL, PostgreSQL, SQLAlchemy) share.

The contract's read-modify-write operations are written here once; a backend brings only I/O:

* how to open a write transaction (:meth:`SQLStore._transaction`: a connection, ``BEGIN`` or
  ``BEGIN IMMEDIATE``, commit and rollback), which driver errors it raises
  (:meth:`SQLStore._driver_errors`) and which of them are worth another attempt
  (:meth:`SQLStore._is_retryable`: "database is locked", deadlocks, serialization failures);
* its lock statement (:meth:`SQLStore._take_lock`: a transaction-scoped advisory lock on PostgreSQL,
  nothing on SQLite, where ``BEGIN IMMEDIATE`` already excludes every other writer) and its
  row reads ``FOR UPDATE``;
* the few statements each algorithm runs (the ``_om_*``, ``_wm_*`` and ``_kv_*`` I/O hooks).

Written once here: the retry loop with jittered exponential backoff (:meth:`SQLStore._retry`,
:meth:`SQLStore._transact`), the observational-memory commit (:meth:`SQLStore._om_update`), the
atomic working-memory update (:meth:`SQLStore._update_working_memory_atomic`) and the atomic
key-value read-modify-write (:meth:`SQLStore._kv_modify`). :class:`TextSQLStore` adds the
observational-memory I/O of the backends that run :mod:`storage_adapters._sql`'s SQL text.
"""

from __future__ import annotations

import logging
import random
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from mastra_memory import _io_async as _io
from mastra_memory.errors import (
    ConcurrencyError,
    MastraMemoryError,
    ResourceMismatchError,
    StorageError,
    ThreadNotFoundError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage.base_async import AsyncMemoryStorage, Direction, PerPage
from mastra_memory.storage.kv import KVModifier, KVRow, KVWrite
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.types import Message, Thread, now_utc
from storage_adapters import _sql
from storage_adapters import _sql_lifecycle as lc

__all__ = ["AsyncSQLStore", "AsyncTextSQLStore", "owner_mismatch"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_JOINED: ContextVar[tuple[Any, Any] | None] = ContextVar("mastra_sql_joined_transaction", default=None)
"""``(store, connection)`` of the write transaction open in this context (see
:meth:`AsyncSQLStore._one_transaction`), which the store's own writes join."""

_KV_ATTEMPTS = 100
"""Rounds of read-then-insert a key-value update makes while concurrent inserts keep winning."""


def owner_mismatch(thread: Thread, stored_owner: str | None) -> MastraMemoryError:
    """The error of a ``save_thread`` whose guarded upsert wrote nothing: the id belongs to
    ``stored_owner`` (read in the same transaction), or vanished meanwhile (None)."""
    if stored_owner is None:
        return ConcurrencyError(f"thread {thread.id!r} changed while it was being saved")
    return ResourceMismatchError(thread.id, stored_owner, thread.resource_id)


class AsyncSQLStore(AsyncMemoryStorage):
    """Base of the SQL stores: one write transaction with retry, and the algorithms over it.

    Attributes:
        max_retries: Extra attempts after a retryable error (a lock held by another process, a
            deadlock, a serialization failure), with jittered exponential backoff.
        retry_delay: First backoff in seconds (doubled each attempt, with up to 100% jitter).
        retry_max_delay: Largest backoff in seconds.
        backend_name: How error messages name the database (``"libSQL"``, ``"PostgreSQL"``).
        lock_namespace: Prefix of the names given to :meth:`_take_lock` for working memory, so
            stores in different schemas of one server do not wait for each other.
    """

    max_retries: int = 8
    retry_delay: float = 0.01
    retry_max_delay: float = 1.0
    backend_name: str = "SQL"
    lock_namespace: str = ""
    conflict_message: ClassVar[str] = "write kept conflicting"
    atomic_replace_messages = True
    read_only: bool = False
    """When True (``open_async_storage(url, create=False)``), the first call checks that the
    schema exists (``connect(create=False)``) instead of creating or migrating it (``setup``)."""
    _ready: bool = False

    # -- the I/O a backend brings -----------------------------------------------------------------

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Any]:
        """A context manager that opens a write transaction and yields its connection: it
        starts it (with the backend's lock statement, e.g. ``BEGIN IMMEDIATE``), commits when
        the block ends and rolls back when it raises. Driver errors propagate unchanged."""

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        """The exception types of the driver that :meth:`_retry` wraps in ``StorageError``."""
        return (Exception,)

    def _is_retryable(self, exc: BaseException) -> bool:
        """True when ``exc`` (a driver error) means another writer was in the way and the whole
        transaction may simply run again: a lock, a deadlock, a serialization failure."""
        return False

    async def _take_lock(self, conn: Any, name: str) -> None:
        """Take an exclusive lock on ``name`` until the transaction ends (a lock exists without a
        row). Default: nothing, for databases whose write transaction already excludes every
        other writer (SQLite's ``BEGIN IMMEDIATE``)."""

    @abstractmethod
    async def _read_with(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(conn)`` on a connection for reads (no write transaction); driver errors
        arrive as ``StorageError``."""

    async def _ensure_setup(self) -> None:
        if not self._ready:
            if self.read_only:
                await self.connect(create=False)
            else:
                await self.setup()

    # -- the write transaction ----------------------------------------------------------------------

    async def _retry(self, action: Callable[[], Awaitable[T]], failure: str) -> T:
        """Run ``action``, again with jittered exponential backoff while it fails with a
        retryable driver error (see :meth:`_is_retryable`).

        Raises:
            MastraMemoryError: raised by ``action`` (never retried).
            ConcurrencyError: when the error was still retryable after :attr:`max_retries`.
            StorageError: on any other driver error, as ``"<failure>: <error>"``.
        """
        errors = self._driver_errors()
        delay = self.retry_delay
        for attempt in range(self.max_retries + 1):
            try:
                return await action()
            except MastraMemoryError:
                raise
            except errors as exc:
                if not self._is_retryable(exc):
                    raise StorageError(f"{failure}: {exc}") from exc
                if attempt == self.max_retries:
                    raise ConcurrencyError(f"{self.backend_name} {self.conflict_message}: {exc}") from exc
                logger.debug("%s: retrying in %.3fs after %s (attempt %d)", self.backend_name, delay, exc, attempt + 1)
                await _io.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, self.retry_max_delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _transact(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(conn)`` in one write transaction, all of it again on a retryable error
        (``work`` must be safe to call again: it only reads and writes through ``conn``).
        Inside :meth:`_one_transaction` it joins that transaction (the outer one retries)."""
        joined = _JOINED.get()
        if joined is not None and joined[0] is self:
            return await work(joined[1])
        await self._ensure_setup()

        async def attempt() -> T:
            async with self._transaction() as conn:
                return await work(conn)

        return await self._retry(attempt, f"{self.backend_name} write failed")

    async def _one_transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(conn)`` in one write transaction that the store's own write hooks called
        inside it (``_save_messages``, ``_delete_messages``, ...) join instead of opening their
        own, so several hooks commit or roll back together."""

        async def joined(conn: Any) -> T:
            token = _JOINED.set((self, conn))
            try:
                return await work(conn)
            finally:
                _JOINED.reset(token)

        return await self._transact(joined)

    def _joined_connection(self) -> Any:
        """The connection of the :meth:`_one_transaction` open in this context, or ``None``."""
        joined = _JOINED.get()
        return joined[1] if joined is not None and joined[0] is self else None

    # -- messages -------------------------------------------------------------------------------------

    @abstractmethod
    async def _delete_thread_messages_in(self, conn: Any, thread_id: str) -> None:
        """Delete every message of ``thread_id`` on ``conn`` (inside a write transaction)."""

    async def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        """The old messages deleted and the new ones saved in one write transaction (the save
        hook joins it: its ownership, id and cursor checks roll the delete back too)."""

        async def work(conn: Any) -> list[Message]:
            await self._delete_thread_messages_in(conn, thread.id)
            return await self._save_messages(messages, now) if messages else []

        return await self._one_transaction(work)

    # -- observational memory -----------------------------------------------------------------------

    async def _refs(
        self,
        conn: Any,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        """Message refs read through ``conn`` (see ``MemoryStorage._list_message_refs``)."""
        raise NotImplementedError

    async def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        return await self._read_with(lambda conn: self._refs(conn, thread_ids, resource_id, after, limit))

    async def _om_lock(self, conn: Any, lookup_key: str) -> None:
        """Exclude every other commit of ``lookup_key`` (and saves into its scope) until the
        transaction ends. Default: :meth:`_take_lock` on ``mastra_om:<lookup_key>``."""
        await self._take_lock(conn, f"mastra_om:{lookup_key}")

    async def _om_head_in(self, conn: Any, lookup_key: str) -> ObservationalMemoryRecord | None:
        """The newest generation of ``lookup_key`` read through ``conn``, or None."""
        raise NotImplementedError

    async def _om_history_in(
        self, conn: Any, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        """Generations of ``lookup_key`` read through ``conn``, newest first."""
        raise NotImplementedError

    async def _om_save(
        self, conn: Any, record: ObservationalMemoryRecord, head: ObservationalMemoryRecord | None
    ) -> None:
        """Write ``record``: only its changed columns when it is ``head`` (same id), else a new row."""
        raise NotImplementedError

    async def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        return await self._read_with(lambda conn: self._om_head_in(conn, lookup_key))

    async def _om_history(
        self, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        return await self._read_with(lambda conn: self._om_history_in(conn, lookup_key, limit, offset))

    async def _om_delete_in(self, conn: Any, lookup_key: str) -> None:
        """Delete every generation of ``lookup_key`` through ``conn``."""
        raise NotImplementedError

    async def _om_update(self, lookup_key: str, mutation: _om.Mutation[T]) -> T:
        scope, _, ident = lookup_key.partition(":")

        async def work(conn: Any) -> T:
            await self._om_lock(conn, lookup_key)
            head = await self._om_head_in(conn, lookup_key)

            # The mutation is pure code that reads refs through ``walk``: on the async face it runs
            # in a worker thread and each read runs on the event loop (blocking_caller); on the
            # sync face both are direct calls.
            refs = _io.blocking_caller(self._refs)

            def walk(after: datetime | None, limit: int) -> list[MessageRef]:
                if scope == "thread":
                    found: list[MessageRef] = refs(conn, (ident,), None, after, limit)
                else:
                    found = refs(conn, None, ident, after, limit)
                return found

            view = _om.OMView(lookup_key, head, walk, now_utc())
            records, result = await _io.run_blocking(mutation, view)
            for record in records:
                await self._om_save(conn, record, head)
            return result

        return await self._transact(work)

    async def _om_delete(self, lookup_key: str) -> None:
        async def work(conn: Any) -> None:
            await self._om_lock(conn, lookup_key)
            await self._om_delete_in(conn, lookup_key)

        await self._transact(work)

    # -- working memory -----------------------------------------------------------------------------

    async def _wm_read_thread(self, conn: Any, thread_id: str) -> dict[str, Any] | None:
        """The thread's metadata, its row locked until the transaction ends; None if missing."""
        raise NotImplementedError

    async def _wm_write_thread(self, conn: Any, thread_id: str, metadata: dict[str, Any], now: datetime) -> None:
        """Store the thread's whole ``metadata`` and set ``updatedAt=now``."""
        raise NotImplementedError

    async def _wm_read_resource(self, conn: Any, resource_id: str) -> tuple[bool, str | None]:
        """``(row exists, working memory)`` of the resource, the row locked when it exists."""
        raise NotImplementedError

    async def _wm_write_resource(
        self, conn: Any, resource_id: str, working_memory: str, now: datetime, exists: bool
    ) -> None:
        """Set the resource's working memory and ``updatedAt=now``, creating the row (empty
        metadata, ``createdAt=now``) when ``exists`` is False."""
        raise NotImplementedError

    async def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """Read, transform and write in one transaction that excludes every other writer of the
        key: the thread row is read ``FOR UPDATE`` (under ``BEGIN IMMEDIATE`` on SQLite); a
        resource, whose row may not exist yet, is locked by name first (:meth:`_take_lock`)."""

        async def work(conn: Any) -> str | None:
            if scope == "thread":
                metadata = await self._wm_read_thread(conn, key)
                if metadata is None:
                    raise ThreadNotFoundError(key)
                raw = metadata.get("workingMemory")
                current = raw if isinstance(raw, str) else None
                new = fn(current)
                if new is None or new == current:
                    return current
                await self._wm_write_thread(conn, key, {**metadata, "workingMemory": new}, now)
                return new
            await self._take_lock(conn, f"mastra_wm:{self.lock_namespace}{key}")
            exists, current = await self._wm_read_resource(conn, key)
            new = fn(current)
            if new is None or new == current:
                return current
            await self._wm_write_resource(conn, key, new, now, exists)
            return new

        return await self._transact(work)

    # -- key-value memory ---------------------------------------------------------------------------

    async def _kv_read_locked(self, conn: Any, namespace: str, key: str) -> KVRow | None:
        """The row of ``(namespace, key)``, expired or not, locked until the transaction ends
        (``FOR UPDATE``; nothing to add under ``BEGIN IMMEDIATE``); None if missing."""
        raise NotImplementedError

    async def _kv_write(
        self, conn: Any, namespace: str, key: str, existing: KVRow | None, write: KVWrite, now: datetime
    ) -> bool:
        """Write ``write`` over ``existing`` (the row read by :meth:`_kv_read_locked`; an
        expired one gets ``createdAt=now``) or insert a new row when it is None. Returns False,
        writing nothing, when a concurrent transaction inserted the key first."""
        raise NotImplementedError

    async def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        # An existing row is locked for the read-modify-write. A missing row can not be locked,
        # so it is inserted only if still absent; when a concurrent transaction inserted it
        # first, the loop reads (and locks) that row instead.
        async def work(conn: Any) -> None:
            for _ in range(_KV_ATTEMPTS):
                row = await self._kv_read_locked(conn, namespace, key)
                live = row is not None and (row.expires_at is None or row.expires_at > now)
                write = modify(row if live else None)
                if write is None or await self._kv_write(conn, namespace, key, row, write, now):
                    return
            raise ConcurrencyError(f"key {namespace}/{key} kept changing during an atomic update")

        await self._transact(work)


class AsyncTextSQLStore(AsyncSQLStore):
    """A :class:`SQLStore` whose statements are SQL text from :mod:`storage_adapters._sql` in
    its :attr:`dialect`, run as DB-API ``conn.execute(sql, params)`` (libSQL, PostgreSQL): the
    migrations runner, a resource's messages and the observational-memory I/O are written once
    here for both."""

    dialect: _sql.Dialect

    def migrations(self) -> list[_sql.Migration]:
        """The numbered migrations this store applies."""
        raise NotImplementedError

    async def _apply_migrations(self, conn: Any) -> None:
        """Create the migrations table if missing and apply, in version order, the migrations
        it does not list, each recorded as applied (one whose ``applies_if`` query returns no row
        is recorded without running its statements); in the caller's transaction, which holds the
        backend's setup lock."""
        d = self.dialect
        await conn.execute(_sql.migrations_table_sql(d))
        cursor = await conn.execute(f"SELECT version FROM {d.t(_sql.MIGRATIONS_TABLE)}")
        done = {r[0] for r in await cursor.fetchall()}
        for migration in sorted(self.migrations(), key=lambda m: m.version):
            if migration.version in done:
                continue
            if migration.applies_if is not None and not await (await conn.execute(migration.applies_if)).fetchall():
                logger.info("migration %d (%s) does not apply here: recorded only", migration.version, migration.name)
            else:
                logger.info("applying migration %d: %s", migration.version, migration.name)
                for statement in migration.statements:
                    await conn.execute(statement)
            await conn.execute(*_sql.record_migration_sql(d, migration))

    async def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:
        sql, count_sql = _sql.messages_by_resource_sql(self.dialect, direction, per_page is not False)
        params: list[Any] = [resource_id] if per_page is False else [resource_id, per_page, page * per_page]

        async def read(conn: Any) -> tuple[list[Any], int]:
            rows = await (await conn.execute(sql, params)).fetchall()
            return rows, int((await (await conn.execute(count_sql, (resource_id,))).fetchone())[0])

        rows, total = await self._read_with(read)
        return _sql.dedupe_sorted(rows), total

    async def _om_head_in(self, conn: Any, lookup_key: str) -> ObservationalMemoryRecord | None:
        row = await (await conn.execute(_sql.om_head_sql(self.dialect), (lookup_key,))).fetchone()
        return _sql.om_row_to_record(row) if row else None

    async def _om_history_in(
        self, conn: Any, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        if limit is False:
            rows = (await (await conn.execute(_sql.om_history_sql(self.dialect, False), (lookup_key,))).fetchall())[
                offset:
            ]
        else:
            cursor = await conn.execute(_sql.om_history_sql(self.dialect, True), (lookup_key, limit, offset))
            rows = await cursor.fetchall()
        return [_sql.om_row_to_record(r) for r in rows]

    async def _om_save(
        self, conn: Any, record: ObservationalMemoryRecord, head: ObservationalMemoryRecord | None
    ) -> None:
        for statement in _sql.om_writes(record, head, self.dialect):
            await conn.execute(*statement)

    async def _om_delete_in(self, conn: Any, lookup_key: str) -> None:
        await conn.execute(_sql.om_delete_sql(self.dialect), (lookup_key,))

    async def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        sql, params = _sql.title_if_empty_sql(self.dialect, title, now)

        async def work(conn: Any) -> bool:
            return await (await conn.execute(sql, [*params, thread_id])).fetchone() is not None

        return await self._transact(work)

    # -- erasure and retention: each call one transaction ---------------------------------------

    async def _delete_resource(self, resource_id: str, clone_thread_ids: list[str]) -> dict[str, int]:
        async def work(conn: Any) -> dict[str, int]:
            clones = 0
            for i in range(0, len(clone_thread_ids), 500):
                statements = lc.delete_threads_statements(self.dialect, clone_thread_ids[i : i + 500])
                for sql, params in statements[:-1]:
                    await conn.execute(sql, params)
                clones += max((await conn.execute(*statements[-1])).rowcount, 0)
            counts = {"clones": clones}
            for name, (sql, params) in lc.delete_resource_statements(self.dialect, resource_id).items():
                counts[name] = max((await conn.execute(sql, params)).rowcount, 0)
            if (
                self.dialect.name == "sqlite"
                and await (await conn.execute(_sql.sqlite_keyword_index_exists_sql(self.dialect))).fetchall()
            ):
                # FTS5 deletes only mark a term's old postings; 'optimize' merges the segments so
                # no word of the erased resource stays in the keyword index's shadow tables
                # (https://sqlite.org/fts5.html#the_optimize_command). Cost: one rewrite of the index.
                fts = self.dialect.t(_sql.SEARCH)
                await conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')", ())
            return {"threads": counts["threads"], "clones": counts["clones"], "resources": counts["resources"]}

        return await self._transact(work)

    async def _delete_resource_row(self, resource_id: str) -> None:
        sql, params = lc.delete_resource_statements(self.dialect, resource_id)["resources"]
        await self._transact(lambda conn: conn.execute(sql, params))

    async def _prune_threads(self, updated_before: datetime, limit: int) -> list[str]:
        async def work(conn: Any) -> list[str]:
            cursor = await conn.execute(*lc.stale_threads_sql(self.dialect, updated_before, limit))
            ids = [r[0] for r in await cursor.fetchall()]
            for sql, params in lc.delete_threads_statements(self.dialect, ids):
                await conn.execute(sql, params)
            return ids

        return await self._transact(work)

    async def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        sql, params = lc.prune_messages_sql(self.dialect, created_before, limit)

        async def work(conn: Any) -> list[str]:
            return [r[0] for r in await (await conn.execute(sql, params)).fetchall()]

        return await self._transact(work)

    async def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        sql, params = lc.prune_resources_sql(self.dialect, updated_before, limit)

        async def work(conn: Any) -> list[str]:
            return [r[0] for r in await (await conn.execute(sql, params)).fetchall()]

        return await self._transact(work)

    async def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        sql, params = lc.prune_om_history_sql(self.dialect, created_before, limit)

        async def work(conn: Any) -> int:
            return len(await (await conn.execute(sql, params)).fetchall())

        return await self._transact(work)
