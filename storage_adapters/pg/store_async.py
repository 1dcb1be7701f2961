"""``PostgresStore``: threads, messages and resources in PostgreSQL (psycopg 3 + psycopg_pool).

Tables, columns and types are @mastra/pg's (``TIMESTAMP`` columns with a ``TIMESTAMPTZ`` twin
``<col>Z``, ``JSONB`` metadata, ``TEXT`` content), so a database shared with Mastra's TypeScript
store means the same thing on both sides. Everything lives in one PostgreSQL schema
(``schema_name``, ``public`` by default).

Design notes:

* Connections come from a ``psycopg_pool.ConnectionPool`` in autocommit mode; every write is one
  explicit transaction, retried with jittered backoff on serialization failures and deadlocks
  (SQLSTATE 40001/40P01). Reads take no transaction.
* ``save_messages`` is one statement in one transaction: a data-modifying CTE locks the touched
  threads and bumps their ``updatedAt`` (``UPDATE ... RETURNING`` their owners) and upserts the
  batch, which travels as eight arrays (``unnest``: the statement text and plan do not depend on
  the batch size). ``DO UPDATE ... WHERE thread_id = excluded.thread_id`` refuses to move a
  message to another thread; ownership and moves are checked from the returned owners and row
  count, and any violation raises, rolling the transaction back. A deadlock between batches
  spanning several threads is retried.
* A page and its total come back in one round trip (the count LEFT JOIN LATERAL the page).
* ``include`` windows for all requested messages are one query: the hits joined ``LATERAL`` to
  indexed range scans on ``(thread_id, "createdAt", id)`` on either side (never a
  ``ROW_NUMBER()`` over the table, the cause of the original's issue #11150).
* Migrations run under a transaction-scoped advisory lock, so many processes may call
  ``setup()`` at once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from mastra_memory import _io_async as _io
from mastra_memory.errors import (
    MastraMemoryError,
    MessageIdUnavailableError,
    MissingDependencyError,
    NoDataError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage.base_async import (
    MessageQuery,
    ThreadQuery,
    dumps,
    resolve_owners,
)
from mastra_memory.storage.kv import KVRow, KVStats, KVWrite, prefix_upper_bound
from mastra_memory.storage.records import MessageRef
from mastra_memory.storage.text_search import MATCH_BUDGET, bm25_idf, select_terms, tokenize
from mastra_memory.types import Message, Resource, SemanticHit, Thread
from storage_adapters import _sql
from storage_adapters._sql import MESSAGE_COLUMNS, MESSAGES, OBSERVATIONAL_MEMORY, RESOURCES, THREADS, Migration
from storage_adapters._sqlstore_async import AsyncTextSQLStore, owner_mismatch

__all__ = ["AsyncPostgresStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


class AsyncPostgresStore(AsyncTextSQLStore):
    """Storage on PostgreSQL.

    Args:
        connection_string: A libpq URL or DSN (``postgresql://user@host:5432/db``). Either this
            or ``pool``.
        pool: A ``psycopg_pool.ConnectionPool`` you own (the store does not close it). Its
            connections may be in autocommit mode or not.
        schema_name: PostgreSQL schema holding the tables (``"public"``); created if missing.
        min_pool_size: Connections kept open by the store's own pool (1).
        max_pool_size: Upper bound of the store's own pool (10).
        max_retries: Extra attempts of a write transaction after a serialization failure or
            deadlock, with jittered exponential backoff from 10 ms (5).
        connect_timeout: Seconds to wait for a connection (libpq's ``connect_timeout`` and the
            pool's wait); ``None``: libpq's default and the pool's 30 s. The CLI sets a few seconds.
        text_search_language: PostgreSQL text search configuration of the keyword index
            (``"english"``; ``"german"``, ``"simple"``...): its stemming and stop words. Fixed
            when the index is created (migration 11).

    Raises:
        MissingDependencyError: if psycopg / psycopg_pool are not installed (extra ``[pg]``).
        ValidationError: on an invalid schema name or both/neither of connection_string/pool.
    """

    backend_name = "PostgreSQL"
    retry_max_delay = 0.5
    keyword_search_native = True

    def __init__(
        self,
        connection_string: str | None = None,
        *,
        pool: Any = None,
        schema_name: str = "public",
        min_pool_size: int = 1,
        max_pool_size: int = 10,
        max_retries: int = 5,
        connect_timeout: float | None = None,
        text_search_language: str = "english",
    ) -> None:
        if (connection_string is None) == (pool is None):
            raise ValidationError("pass exactly one of connection_string or pool")
        if not _SCHEMA_NAME.match(schema_name):
            raise ValidationError(f"invalid schema name: {schema_name!r}")
        if not re.fullmatch(r"[a-z_]{1,63}", text_search_language):
            raise ValidationError(f"invalid text search configuration: {text_search_language!r}")
        self.text_search_language = text_search_language
        self._term_stats_cache: tuple[float, tuple[dict[str, float], float, float] | None] | None = None
        try:
            import psycopg  # noqa: F401
            import psycopg_pool
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("psycopg and psycopg_pool", "pg") from exc
        self.schema_name = schema_name
        self.dialect = _sql.postgres_dialect(schema_name)
        self.max_retries = max_retries
        self.lock_namespace = f"{schema_name}:"
        self._owns_pool = pool is None
        self.connect_timeout = connect_timeout
        self._conninfo = _sql_url(connection_string or "")
        if pool is None:
            connect_kwargs: dict[str, Any] = {"autocommit": True}
            pool_kwargs: dict[str, Any] = {}
            if connect_timeout is not None:
                connect_kwargs["connect_timeout"] = max(2, round(connect_timeout))  # libpq: whole seconds >= 2
                pool_kwargs["timeout"] = connect_timeout
            pool = psycopg_pool.AsyncConnectionPool(
                self._conninfo,
                min_size=min_pool_size,
                max_size=max_pool_size,
                kwargs=connect_kwargs,
                open=not _io.IS_ASYNC,  # an async pool opens inside the event loop: on first use
                name=f"mastra-memory-{schema_name}",
                **pool_kwargs,
            )
        self._pool = pool
        self._setup_lock = _io.Lock()
        self._ready = False
        self._pool_opened = False
        d = self.dialect
        self._threads, self._messages, self._resources = d.t(THREADS), d.t(MESSAGES), d.t(RESOURCES)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncPostgresStore:
        """Build a store from ``postgresql://...`` (``postgres://`` and
        ``postgresql+psycopg://`` are accepted too); ``kwargs`` as for the constructor."""
        return cls(url, **kwargs)

    # -- connections ----------------------------------------------------------------------------

    async def close(self) -> None:
        if self._owns_pool and not self._pool.closed:
            await self._pool.close()
        self._ready = False

    async def _open_pool(self) -> None:
        """Open the store's own pool on first use, on the async face only (psycopg's async pool
        starts its workers on the running event loop); the sync pool opens in the constructor."""
        if _io.IS_ASYNC and self._owns_pool and not self._pool_opened:
            await self._pool.open()
            self._pool_opened = True

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        """A pooled connection for reads (no explicit transaction); driver errors wrapped."""
        import psycopg

        await self._ensure_setup()
        try:
            async with self._pool.connection() as conn:
                yield conn
        except MastraMemoryError:
            raise
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL query failed: {exc}") from exc

    async def _read_with(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self._conn() as conn:
            return await work(conn)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        await self._open_pool()
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def _is_retryable(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in _RETRY_SQLSTATES

    async def _take_lock(self, conn: Any, name: str) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))

    # -- schema ---------------------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        """The numbered migrations this store applies (:func:`storage_adapters._sql.postgres_migrations`).

        Subclasses adding tables (observational memory = 3, key-value = 4, recall = 5) extend
        this list.
        """
        return [
            *_sql.postgres_migrations(self.dialect),
            _sql.postgres_text_search_migration(self.dialect, self.text_search_language),
        ]

    async def setup(self) -> None:
        """Create the schema, tables and indexes (idempotent, safe across processes)."""
        import psycopg

        async with self._setup_lock:
            if self._ready:
                return
            schema = _sql.quote_ident(self.schema_name)
            try:
                await self._open_pool()
                async with self._pool.connection() as conn, conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mastra_memory:{self.schema_name}",)
                    )
                    exists = await (
                        await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema_name,))
                    ).fetchone()
                    if not exists:
                        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    await self._apply_migrations(conn)
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL setup failed: {exc}") from exc
            self._ready = True

    async def connect(self, *, create: bool = True) -> None:
        """Connect now; with ``create=False`` only check that the schema holds mastra-memory data
        (a ``mastra_threads`` table), creating and migrating nothing (see
        :meth:`MemoryStorage.connect`). A server that can not be
        reached fails at once with the driver's reason (one direct connection, not the pool's
        retries)."""
        import psycopg

        if self._ready:
            return
        if self._owns_pool:
            timeout = max(2, round(self.connect_timeout)) if self.connect_timeout is not None else 30
            try:
                direct = await psycopg.AsyncConnection.connect(self._conninfo, connect_timeout=timeout, autocommit=True)
                await direct.close()
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())
                raise StorageError(f"could not connect to PostgreSQL: {reason}") from exc
        if create:
            await self.setup()
            return
        async with self._setup_lock:
            table = f"{_sql.quote_ident(self.schema_name)}.{THREADS}"
            try:
                await self._open_pool()
                async with self._pool.connection() as conn:
                    found = await (await conn.execute("SELECT to_regclass(%s)", (table,))).fetchone()
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL query failed: {' '.join(str(exc).split())}") from exc
            if found is None or found[0] is None:
                raise NoDataError(
                    f"no mastra-memory data in PostgreSQL schema {self.schema_name!r}: its tables do not exist"
                )
            self._ready = True

    # -- threads --------------------------------------------------------------------------------

    def _thread_select(self) -> str:
        return f"SELECT {_sql.thread_columns(self.dialect)} FROM {self._threads}"

    async def _get_thread(self, thread_id: str) -> Thread | None:
        async with self._conn() as conn:
            row = await (await conn.execute(f"{self._thread_select()} WHERE id = %s", (thread_id,))).fetchone()
        return _sql.row_to_thread(row) if row else None

    def _thread_values(self, thread: Thread) -> list[Any]:
        return [
            thread.id,
            thread.resource_id,
            thread.title,
            dumps(thread.metadata),
            _naive(thread.created_at),
            _naive(thread.updated_at),
            thread.created_at,
            thread.updated_at,
        ]

    _THREAD_INSERT = (
        'INSERT INTO {t} (id, "resourceId", title, metadata, "createdAt", "updatedAt", '
        '"createdAtZ", "updatedAtZ") VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s, %s)'
    )

    async def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace in one statement that never changes the owner: the update applies
        only when the stored ``resourceId`` is the thread's (the row stays locked either way)."""
        sql = self._THREAD_INSERT.replace("INSERT INTO {t}", "INSERT INTO {t} AS t").format(t=self._threads) + (
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title, metadata = excluded.metadata, "
            '"createdAt" = excluded."createdAt", "updatedAt" = excluded."updatedAt", '
            '"createdAtZ" = excluded."createdAtZ", "updatedAtZ" = excluded."updatedAtZ" '
            'WHERE t."resourceId" = excluded."resourceId" RETURNING 1'
        )

        async def work(conn: Any) -> None:
            if await (await conn.execute(sql, self._thread_values(thread))).fetchone() is None:
                row = await (
                    await conn.execute(f'SELECT "resourceId" FROM {self._threads} WHERE id = %s', (thread.id,))
                ).fetchone()
                raise owner_mismatch(thread, row[0] if row else None)

        await self._transact(work)
        return thread

    async def _create_thread(self, thread: Thread) -> Thread:
        """One statement: ``INSERT ... ON CONFLICT (id) DO NOTHING``; no row -> the id is taken."""
        sql = self._THREAD_INSERT.format(t=self._threads) + " ON CONFLICT (id) DO NOTHING RETURNING 1"

        async def work(conn: Any) -> Any:
            return await (await conn.execute(sql, self._thread_values(thread))).fetchone()

        if await self._transact(work) is None:
            raise ThreadConflictError(thread.id)
        return thread

    async def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        # One statement: the merge happens under the row lock, so concurrent updates compose.
        sql = (
            f"UPDATE {self._threads} AS t SET title = COALESCE(%s, t.title), "
            "metadata = COALESCE(t.metadata, '{}'::jsonb) || %s::jsonb, "
            '"updatedAt" = %s, "updatedAtZ" = %s WHERE id = %s '
            f"RETURNING {_sql.thread_columns(self.dialect)}"
        )

        async def work(conn: Any) -> Any:
            return await (
                await conn.execute(sql, (title, dumps(metadata or {}), _naive(now), now, thread_id))
            ).fetchone()

        row = await self._transact(work)
        if row is None:
            raise ThreadNotFoundError(thread_id)
        return _sql.row_to_thread(row)

    async def _delete_thread(self, thread_id: str) -> None:
        async def work(conn: Any) -> None:
            await conn.execute(f"DELETE FROM {self._messages} WHERE thread_id = %s", (thread_id,))
            await conn.execute(f"DELETE FROM {self._threads} WHERE id = %s", (thread_id,))
            await self._after_delete_thread(conn, thread_id)

        await self._transact(work)

    async def _after_delete_thread(self, conn: Any, thread_id: str) -> None:
        """Hook for tables that hang off a thread; runs inside the delete transaction. The
        thread's observational-memory generations go."""
        await conn.execute(
            f'DELETE FROM {self.dialect.t(OBSERVATIONAL_MEMORY)} WHERE "lookupKey" = %s', (f"thread:{thread_id}",)
        )

    async def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        sql, params, count_sql, count_params = _sql.select_threads_sql(self.dialect, query)
        async with self._conn() as conn:
            if query.per_page is False:
                rows = await (await conn.execute(sql, params)).fetchall()
                return [_sql.row_to_thread(r) for r in rows], len(rows)
            both = await (
                await conn.execute(
                    f"SELECT c.n, p.* FROM ({count_sql}) AS c(n) LEFT JOIN LATERAL ({sql}) AS p ON true",
                    [*count_params, *params],
                )
            ).fetchall()
        rows = [r[1:] for r in both if r[1] is not None]
        rows.sort(
            key=lambda r: (r[5] if query.order_by == "updated_at" else r[4], r[0]), reverse=query.direction == "DESC"
        )
        return [_sql.row_to_thread(r) for r in rows], int(both[0][0])

    # -- messages -------------------------------------------------------------------------------

    @staticmethod
    def _message_values(m: Message) -> tuple[Any, ...]:
        return (
            m.id,
            m.thread_id,
            m.content_json(),
            m.role,
            m.type or "v2",
            _naive(m.created_at),
            m.created_at,
            m.resource_id,
        )

    # %b: arrays travel in binary format (no per-element quoting/escaping on either side).
    _UNNEST = (
        "unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::timestamp[], "
        "%b::timestamptz[], %b::text[]) AS u(id, thread_id, content, role, type, ca, caz, rid)"
    )
    _UPSERT_TAIL = (
        " ON CONFLICT (id) DO UPDATE SET content = excluded.content, role = excluded.role, "
        'type = excluded.type, "createdAt" = excluded."createdAt", '
        '"createdAtZ" = excluded."createdAtZ", "resourceId" = excluded."resourceId" '
        "WHERE m.thread_id = excluded.thread_id"
    )

    def _columns(self, messages: Sequence[Message]) -> list[list[Any]]:
        """The eight unnest arrays (one per column) for ``messages``."""
        return [list(col) for col in zip(*(self._message_values(m) for m in messages), strict=True)]

    async def _insert_messages(self, conn: Any, messages: Sequence[Message]) -> None:
        """Insert (clone) in one statement: the rows travel as eight arrays (``unnest``), so the
        statement text and its plan do not depend on the batch size."""
        await conn.execute(
            f'INSERT INTO {self._messages} AS m (id, thread_id, content, role, type, "createdAt", '
            f'"createdAtZ", "resourceId") SELECT * FROM {self._UNNEST}{self._UPSERT_TAIL}',
            self._columns(messages),
        )

    async def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        # One statement in one transaction: lock the threads and bump updatedAt (RETURNING the
        # owners), insert/update every message whose resource matches its thread's owner. The
        # checks happen afterwards in Python; any violation raises, which rolls everything back.
        thread_ids = sorted({m.thread_id for m in messages})
        sql = (
            f"WITH u AS (SELECT * FROM {self._UNNEST}), "
            f'locked AS (UPDATE {self._threads} AS t SET "updatedAt" = %s, "updatedAtZ" = %s '
            'WHERE t.id = ANY(%s) RETURNING t.id, t."resourceId"), '
            f'ins AS (INSERT INTO {self._messages} AS m (id, thread_id, content, role, type, "createdAt", '
            '"createdAtZ", "resourceId") SELECT u.id, u.thread_id, u.content, u.role, u.type, u.ca, u.caz, '
            'l."resourceId" FROM u JOIN locked l ON l.id = u.thread_id '
            f'WHERE u.rid IS NULL OR u.rid = l."resourceId"{self._UPSERT_TAIL} RETURNING 1) '
            'SELECT l.id, l."resourceId", (SELECT count(*) FROM ins) FROM locked l'
        )

        async def work(conn: Any) -> list[Message]:
            batch = await self._restamp_after_cursor(conn, messages, thread_ids)
            rows = await (await conn.execute(sql, [*self._columns(batch), _naive(now), now, thread_ids])).fetchall()
            owners = {r[0]: r[1] for r in rows}
            written = rows[0][2] if rows else 0
            stored = resolve_owners(batch, owners)
            if written != len(stored):
                await self._raise_moved(conn, stored)
            return stored

        return await self._transact(work)

    async def _raise_moved(self, conn: Any, stored: list[Message]) -> None:
        wanted = {m.id: m.thread_id for m in stored}
        rows = await (
            await conn.execute(f"SELECT id, thread_id FROM {self._messages} WHERE id = ANY(%s)", (list(wanted),))
        ).fetchall()
        for mid, tid in rows:
            if wanted.get(mid) != tid:
                raise MessageIdUnavailableError(mid)
        raise StorageError("message upsert wrote fewer rows than expected")  # pragma: no cover

    def _include_sql(self) -> str:
        t, cid = self._messages, 'm.id COLLATE "C"'
        cols = ", ".join(f"m.{c.strip()}" for c in MESSAGE_COLUMNS.split(","))
        return (
            "WITH spec AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::int[]) AS s(id, prev, next)), "
            f"hit AS (SELECT {cols}, s.prev, s.next FROM spec s JOIN {t} m ON m.id = s.id) "
            f"SELECT {MESSAGE_COLUMNS} FROM hit "
            f"UNION ALL SELECT w.* FROM hit h CROSS JOIN LATERAL (SELECT {cols} FROM {t} m "
            f'WHERE m.thread_id = h.thread_id AND (m."createdAt", {cid}) < (h."createdAt", h.id) '
            f'ORDER BY m."createdAt" DESC, {cid} DESC LIMIT h.prev) w '
            f"UNION ALL SELECT w.* FROM hit h CROSS JOIN LATERAL (SELECT {cols} FROM {t} m "
            f'WHERE m.thread_id = h.thread_id AND (m."createdAt", {cid}) > (h."createdAt", h.id) '
            f'ORDER BY m."createdAt" ASC, {cid} ASC LIMIT h.next) w'
        )

    async def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        rows: list[Any] = []
        sql, params, count_sql, count_params = _sql.select_messages_sql(self.dialect, query)
        async with self._conn() as conn:
            if query.per_page is False:
                rows = await (await conn.execute(sql, params)).fetchall()
                total = len(rows)
            elif query.per_page > 0:
                # The page and its total in one round trip: the count row LEFT JOINs the page.
                both = await (
                    await conn.execute(
                        f"SELECT c.n, p.* FROM ({count_sql}) AS c(n) LEFT JOIN LATERAL ({sql}) AS p ON true",
                        [*count_params, *params],
                    )
                ).fetchall()
                total = int(both[0][0])
                rows = [r[1:] for r in both if r[1] is not None]
            else:
                total = int((await (await conn.execute(count_sql, count_params)).fetchone())[0])
            if query.include:
                spec = query.include
                rows += await (
                    await conn.execute(
                        self._include_sql(),
                        (
                            [s.id for s in spec],
                            [s.with_previous_messages for s in spec],
                            [s.with_next_messages for s in spec],
                        ),
                    )
                ).fetchall()
        return _sql.dedupe_sorted(rows), total

    async def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        async with self._conn() as conn:
            rows = await (
                await conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM {self._messages} WHERE id = ANY(%s)", (message_ids,))
            ).fetchall()
        return _sql.dedupe_sorted(rows)

    async def _delete_messages(self, message_ids: list[str]) -> int:
        async def work(conn: Any) -> int:
            cur = await conn.execute(f"DELETE FROM {self._messages} WHERE id = ANY(%s)", (message_ids,))
            return int(cur.rowcount)

        return await self._transact(work)

    async def _delete_thread_messages_in(self, conn: Any, thread_id: str) -> None:
        await conn.execute(f"DELETE FROM {self._messages} WHERE thread_id = %s", (thread_id,))

    # -- keyword search -------------------------------------------------------------------------

    async def _term_stats(self, conn: Any) -> tuple[dict[str, float], float, float] | None:
        """``(document frequency of each common lexeme, rows, frequency assumed for the others)``
        from the planner's statistics of the keyword index (``pg_stats.most_common_elems``, which
        ANALYZE and autovacuum keep), reused for a minute; ``None`` before the first ANALYZE."""
        now = time.monotonic()
        if self._term_stats_cache is not None and now - self._term_stats_cache[0] < 60.0:
            return self._term_stats_cache[1]
        row = await (await conn.execute(_sql.postgres_term_stats_sql(), (self.schema_name, _sql.SEARCH))).fetchone()
        stats: tuple[dict[str, float], float, float] | None = None
        if row is not None and row[0] and row[1] and row[2] and float(row[2]) > 0:
            rows = float(row[2])
            lexemes, shares = list(row[0]), list(row[1])
            freqs = {lex: share * rows for lex, share in zip(lexemes, shares[: len(lexemes)], strict=True)}
            rarest = shares[len(lexemes)] if len(shares) > len(lexemes) else min(shares)
            stats = (freqs, rows, max(1.0, rarest * rows / 2))  # a word not listed is rarer than any listed
        self._term_stats_cache = (now, stats)
        return stats

    async def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        """``tsvector @@ to_tsquery`` over the trigger-kept table (GIN index), ranked BM25-like.

        Each word's document frequency comes from the planner's statistics (words not among the
        most common lexemes count as rare); the rarest words that fit
        :data:`~mastra_memory.storage.text_search.MATCH_BUDGET` postings are matched, and each
        word's ``ts_rank_cd`` is weighted by its BM25 idf
        (:func:`_sql.postgres_weighted_search_sql`). Before the first ANALYZE every word is
        kept at weight 1.
        """
        scope = "resource" if resource_id is not None else "thread"
        scope_id = resource_id if resource_id is not None else thread_id
        language = self.text_search_language

        async def read(conn: Any) -> list[Any]:
            stats = await self._term_stats(conn)
            if stats is None:
                kept, weights = words, [1.0] * len(words)
            else:
                freqs, rows, unknown = stats
                stems = {w: next(iter(tokenize(w, language)), w) for w in words}
                df = {w: freqs.get(stems[w]) for w in words}
                kept = select_terms(((w, None if df[w] is None else round(df[w] or 0)) for w in words), MATCH_BUDGET)
                weights = [bm25_idf(rows, df[w] or unknown) for w in kept]
            if not kept:
                return []
            sql = _sql.postgres_weighted_search_sql(self.dialect, scope, language, len(kept))
            params: list[Any] = [p for w, idf in zip(kept, weights, strict=True) for p in (w, idf)]
            params += [scope_id, _sql.tsquery_text(kept), limit]
            result: list[Any] = await (await conn.execute(sql, params)).fetchall()
            return result

        rows = await self._read_with(read)
        return [SemanticHit(message_id=r[0], thread_id=r[1], score=float(r[2])) for r in rows]

    # -- resources ------------------------------------------------------------------------------

    async def _get_resource(self, resource_id: str) -> Resource | None:
        async with self._conn() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_sql.resource_columns(self.dialect)} FROM {self._resources} WHERE id = %s",
                    (resource_id,),
                )
            ).fetchone()
        return _sql.row_to_resource(row) if row else None

    _RESOURCE_INSERT = (
        'INSERT INTO {t} AS r (id, "workingMemory", metadata, "createdAt", "updatedAt", '
        '"createdAtZ", "updatedAtZ") VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s) '
    )

    async def _save_resource(self, resource: Resource) -> Resource:
        sql = self._RESOURCE_INSERT.format(t=self._resources) + (
            'ON CONFLICT (id) DO UPDATE SET "workingMemory" = excluded."workingMemory", '
            'metadata = excluded.metadata, "createdAt" = excluded."createdAt", '
            '"updatedAt" = excluded."updatedAt", "createdAtZ" = excluded."createdAtZ", '
            '"updatedAtZ" = excluded."updatedAtZ"'
        )
        params = (
            resource.id,
            resource.working_memory,
            dumps(resource.metadata),
            _naive(resource.created_at),
            _naive(resource.updated_at),
            resource.created_at,
            resource.updated_at,
        )
        await self._transact(lambda conn: conn.execute(sql, params))
        return resource

    async def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        # One upsert statement: create-or-merge happens atomically under the row lock.
        sql = self._RESOURCE_INSERT.format(t=self._resources) + (
            'ON CONFLICT (id) DO UPDATE SET "workingMemory" = '
            'COALESCE(excluded."workingMemory", r."workingMemory"), '
            "metadata = COALESCE(r.metadata, '{}'::jsonb) || excluded.metadata, "
            '"updatedAt" = excluded."updatedAt", "updatedAtZ" = excluded."updatedAtZ" '
            f"RETURNING {_sql.resource_columns(self.dialect)}"
        )
        params = (resource_id, working_memory, dumps(metadata or {}), _naive(now), _naive(now), now, now)

        async def work(conn: Any) -> Any:
            return await (await conn.execute(sql, params)).fetchone()

        row = await self._transact(work)
        return _sql.row_to_resource(row)

    # -- observational memory -------------------------------------------------------------------
    #
    # Serialization: an OM commit takes the transaction-scoped advisory lock of its lookup key
    # exclusively (pg_advisory_xact_lock); a message save takes the same locks of its threads'
    # and resources' keys in shared mode before reading their cursors, so a save and a commit of
    # one scope never interleave, while saves never block each other. A lock exists without a
    # row, which also covers the first record of a key (the original's #24923).

    @staticmethod
    def _om_lock_key(lookup_key: str) -> str:
        return f"mastra_om:{lookup_key}"

    async def _restamp_after_cursor(self, conn: Any, messages: list[Message], thread_ids: list[str]) -> list[Message]:
        om = self.dialect.t(OBSERVATIONAL_MEMORY)
        owners = dict(
            await (
                await conn.execute(f'SELECT id, "resourceId" FROM {self._threads} WHERE id = ANY(%s)', (thread_ids,))
            ).fetchall()
        )
        keys = sorted({f"thread:{t}" for t in owners} | {f"resource:{r}" for r in owners.values()})
        if not keys:
            return messages
        await conn.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtext(k)) FROM unnest(%s::text[]) AS k ORDER BY k",
            ([self._om_lock_key(k) for k in keys],),
        )
        found = dict(
            await (
                await conn.execute(
                    f'SELECT "lookupKey", max("lastObservedAt") FROM {om} WHERE "lookupKey" = ANY(%s) GROUP BY 1',
                    (keys,),
                )
            ).fetchall()
        )
        floors: dict[str, datetime] = {}
        for tid, rid in owners.items():
            stamps = [_sql.parse_ts(v) for v in (found.get(f"thread:{tid}"), found.get(f"resource:{rid}")) if v]
            if stamps:
                floors[tid] = max(stamps)
        if not floors:
            return messages
        existing = {
            r[0]
            for r in await (
                await conn.execute(f"SELECT id FROM {self._messages} WHERE id = ANY(%s)", ([m.id for m in messages],))
            ).fetchall()
        }
        return _om.restamp_after_cursor(messages, existing, floors)

    async def _refs(
        self,
        conn: Any,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        where = '"resourceId" = %s' if thread_ids is None else "thread_id = ANY(%s)"
        params: list[Any] = [resource_id if thread_ids is None else list(thread_ids)]
        if after is not None:
            where += ' AND "createdAt" > %s'
            params.append(_naive(after))
        sql = (
            f'SELECT id, thread_id, "createdAt", length(content) FROM {self._messages} WHERE {where} '
            f'ORDER BY "createdAt", {self.dialect.id_col}'
        )
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        parse = _sql.parse_ts
        return [
            MessageRef(r[0], r[1], parse(r[2]), int(r[3] or 0))
            for r in await (await conn.execute(sql, params)).fetchall()
        ]

    async def _message_refs_summary(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None
    ) -> tuple[int, int]:
        where = '"resourceId" = %s' if thread_ids is None else "thread_id = ANY(%s)"
        params: list[Any] = [resource_id if thread_ids is None else list(thread_ids)]
        if after is not None:
            where += ' AND "createdAt" > %s'
            params.append(_naive(after))
        async with self._conn() as conn:
            count, size = await (
                await conn.execute(
                    f"SELECT count(*), coalesce(sum(length(content)), 0) FROM {self._messages} WHERE {where}", params
                )
            ).fetchone()
        return int(count), int(size or 0)

    # -- working memory (read-modify-write in SQLStore) -----------------------------------------
    # The thread row is locked with SELECT ... FOR UPDATE; a resource, whose row may not exist
    # yet, with the transaction-scoped advisory lock SQLStore takes on its id first.

    async def _wm_read_thread(self, conn: Any, thread_id: str) -> dict[str, Any] | None:
        row = await (
            await conn.execute(f"SELECT metadata FROM {self._threads} WHERE id = %s FOR UPDATE", (thread_id,))
        ).fetchone()
        return None if row is None else (_sql.load_json(row[0]) or {})

    async def _wm_write_thread(self, conn: Any, thread_id: str, metadata: dict[str, Any], now: datetime) -> None:
        await conn.execute(
            f'UPDATE {self._threads} SET metadata = %s::jsonb, "updatedAt" = %s, "updatedAtZ" = %s WHERE id = %s',
            (dumps(metadata), _naive(now), now, thread_id),
        )

    async def _wm_read_resource(self, conn: Any, resource_id: str) -> tuple[bool, str | None]:
        row = await (
            await conn.execute(
                f'SELECT "workingMemory" FROM {self._resources} WHERE id = %s FOR UPDATE', (resource_id,)
            )
        ).fetchone()
        return (False, None) if row is None else (True, row[0])

    async def _wm_write_resource(
        self, conn: Any, resource_id: str, working_memory: str, now: datetime, exists: bool
    ) -> None:
        await conn.execute(
            self._RESOURCE_INSERT.format(t=self._resources)
            + 'ON CONFLICT (id) DO UPDATE SET "workingMemory" = excluded."workingMemory", '
            '"updatedAt" = excluded."updatedAt", "updatedAtZ" = excluded."updatedAtZ"',
            (resource_id, working_memory, "{}", _naive(now), _naive(now), now, now),
        )

    # -- clone ----------------------------------------------------------------------------------

    async def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        sql = self._THREAD_INSERT.format(t=self._threads) + " ON CONFLICT (id) DO NOTHING"

        async def work(conn: Any) -> None:
            if (await conn.execute(sql, self._thread_values(thread))).rowcount != 1:
                raise ThreadConflictError(thread.id)
            if messages:
                await self._insert_messages(conn, messages)

        await self._transact(work)
        return thread

    # -- key-value memory -----------------------------------------------------------------------
    # Table mastra_kv (migration 4): TIMESTAMPTZ times, keys in the "C" collation so that prefix
    # ranges and ordering are code-point order; every statement uses the primary key or the
    # partial index on "expiresAt".

    async def _kv_set(
        self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime
    ) -> None:
        sql = _sql.kv_upsert_sql(self.dialect)
        await self._transact(lambda conn: conn.execute(sql, (namespace, key, value_json, expires_at, now, now)))

    async def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        async with self._conn() as conn:
            row = await (await conn.execute(_sql.kv_select_sql(self.dialect), (namespace, key))).fetchone()
        if row is None:
            return None
        if row[1] is not None and row[1] <= now:
            sql = _sql.kv_delete_expired_one_sql(self.dialect)
            await self._transact(lambda conn: conn.execute(sql, (namespace, key, now)))
            return None
        return KVRow(row[0], row[1], row[2], row[3])

    async def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        async with self._conn() as conn:
            return (
                await (await conn.execute(_sql.kv_exists_sql(self.dialect), (namespace, key, now))).fetchone()
                is not None
            )

    async def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        sql = _sql.kv_delete_sql(self.dialect)

        async def work(conn: Any) -> list[Any]:
            rows: list[Any] = await (await conn.execute(sql, (namespace, key))).fetchall()
            return rows

        rows = await self._transact(work)
        return any(r[0] is None or r[0] > now for r in rows)

    async def _kv_list_keys(
        self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime
    ) -> list[str]:
        sql, params = _sql.kv_list_keys_sql(
            self.dialect, namespace, prefix, prefix_upper_bound(prefix), after_key, now, limit
        )
        async with self._conn() as conn:
            return [r[0] for r in await (await conn.execute(sql, params)).fetchall()]

    async def _kv_clear(self, namespace: str) -> int:
        sql = _sql.kv_clear_sql(self.dialect)

        async def work(conn: Any) -> int:
            return int((await conn.execute(sql, (namespace,))).rowcount)

        return await self._transact(work)

    async def _kv_read_locked(self, conn: Any, namespace: str, key: str) -> KVRow | None:
        row = await (await conn.execute(_sql.kv_select_sql(self.dialect, for_update=True), (namespace, key))).fetchone()
        return None if row is None else KVRow(row[0], row[1], row[2], row[3])

    async def _kv_write(
        self, conn: Any, namespace: str, key: str, existing: KVRow | None, write: KVWrite, now: datetime
    ) -> bool:
        t = self.dialect.t(_sql.KV)
        if existing is not None:
            await conn.execute(
                f'UPDATE {t} SET value = %s, "expiresAt" = %s, "updatedAt" = %s, "createdAt" = CASE '
                'WHEN "expiresAt" IS NOT NULL AND "expiresAt" <= %s THEN %s ELSE "createdAt" END '
                'WHERE namespace = %s AND "key" = %s',
                (write.value_json, write.expires_at, now, now, now, namespace, key),
            )
            return True
        inserted = await conn.execute(
            f'INSERT INTO {t} (namespace, "key", value, "expiresAt", "createdAt", "updatedAt") '
            'VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (namespace, "key") DO NOTHING RETURNING 1',
            (namespace, key, write.value_json, write.expires_at, now, now),
        )
        return await inserted.fetchone() is not None

    async def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        async with self._conn() as conn:
            keys, size = await (await conn.execute(_sql.kv_stats_sql(self.dialect), (namespace, now))).fetchone()
        return KVStats(int(keys), int(size))

    async def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        sql = _sql.kv_purge_sql(self.dialect)

        async def work(conn: Any) -> int:
            return int((await conn.execute(sql, (now, limit))).rowcount)

        return await self._transact(work)


def _sql_url(url: str) -> str:
    """Accept SQLAlchemy-style ``postgresql+psycopg://`` and ``postgres://`` spellings."""
    url = re.sub(r"^postgres(ql)?\+[a-z0-9_]+://", "postgresql://", url)
    return re.sub(r"^postgres://", "postgresql://", url)
