"""``SQLAlchemyStore``: threads, messages and resources on any SQLAlchemy 2 dialect (Core only).

Tested on SQLite, PostgreSQL (psycopg 3) and MariaDB (PyMySQL). ``AsyncSQLAlchemyStore`` (in
``store_async.py``, the source ``store.py`` is generated from) is its async face on SQLAlchemy's
asyncio extension (``create_async_engine``): the same statements, transactions, locks and retries
on an async driver (aiosqlite, psycopg 3, aiomysql; a sync URL is mapped onto it). Tables and
columns are the original's; column types are each dialect's natural ones:

============  ===========================  ==============================  ======================
column        SQLite                       PostgreSQL                      MySQL / MariaDB
============  ===========================  ==============================  ======================
ids           TEXT                         TEXT (ordered ``COLLATE "C"``)  VARCHAR(255) utf8mb4_bin
timestamps    ISO-8601 text ``...123Z``    TIMESTAMP + TIMESTAMPTZ ``*Z``  DATETIME(3)
metadata      JSON text                    JSONB                           JSON (LONGTEXT)
content       TEXT                         TEXT                            LONGTEXT
============  ===========================  ==============================  ======================

so on SQLite the file has the libSQL store's timestamp format and on PostgreSQL the tables are
the ones :class:`~storage_adapters.pg.PostgresStore` (and @mastra/pg) create. Case-sensitive,
code-point ordering of ids is kept on every dialect (binary collations).

Metadata filters compile to each dialect's JSON operators (``->`` on SQLite and PostgreSQL,
``JSON_EQUALS(JSON_EXTRACT(...))`` on MariaDB/MySQL); other dialects filter in Python after an
indexed ``resourceId`` query. Writes are one transaction each, retried with backoff on
"database is locked", deadlocks and serialization failures.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

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
    Direction,
    MessageQuery,
    PerPage,
    ThreadQuery,
    dumps,
    resolve_owners,
)
from mastra_memory.storage.kv import KVRow, KVStats, KVWrite, prefix_upper_bound
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.types import Message, Resource, SemanticHit, Thread
from storage_adapters import _sql
from storage_adapters._sql import MIGRATIONS_TABLE
from storage_adapters._sqlstore_async import AsyncSQLStore, owner_mismatch
from storage_adapters.sqlalchemy import _io_async as _saio

__all__ = ["AsyncSQLAlchemyStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CHUNK = 500  # ids per IN (...) list
_RETRY_MARKERS = ("database is locked", "deadlock", "could not serialize", "lock wait timeout")


def _is_retryable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _RETRY_MARKERS)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class AsyncSQLAlchemyStore(AsyncSQLStore):
    """Storage on any database SQLAlchemy 2 supports.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path.db``, ``postgresql+psycopg://user@host/db``,
            ``mysql+pymysql://user@host/db``, ... Either this or ``engine``. The async face
            (``AsyncSQLAlchemyStore``) runs the dialect's async driver in place of a sync one:
            ``sqlite+aiosqlite``, ``postgresql+psycopg``, ``mysql+aiomysql`` / ``mariadb+aiomysql``.
        engine: An ``sqlalchemy.Engine`` you own (the store does not dispose it); an
            ``sqlalchemy.ext.asyncio.AsyncEngine`` on the async face.
        schema: Schema (PostgreSQL) holding the tables; ``None`` = the default.
        max_retries: Extra attempts of a write after a lock/deadlock/serialization error (8).
        engine_options: Extra ``create_engine`` keyword arguments (pool sizes, echo, ...).
        text_search_language: Language of the keyword index (``"english"``): on SQLite the FTS5
            tokenizer (Porter stemming for English), on PostgreSQL the text search configuration.
            Other dialects (MySQL/MariaDB) keep no index: :meth:`search_messages` falls back to
            ranking the scope's messages with BM25 in Python.

    Raises:
        MissingDependencyError: if SQLAlchemy (or the URL's driver; on the async face also
            greenlet) is not installed (extra ``[sqlalchemy]``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Any = None,
        schema: str | None = None,
        max_retries: int = 8,
        engine_options: dict[str, Any] | None = None,
        text_search_language: str = "english",
    ) -> None:
        if (url is None) == (engine is None):
            raise ValidationError("pass exactly one of url or engine")
        try:
            import sqlalchemy as sa
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("sqlalchemy", "sqlalchemy") from exc
        self._owns_engine = engine is None
        if engine is None:
            options: dict[str, Any] = {
                "json_serializer": dumps,
                "json_deserializer": json.loads,
                **(engine_options or {}),
            }
            if str(url).startswith("sqlite"):
                options.setdefault("connect_args", {"timeout": 30})
            elif str(url).startswith(("mysql", "mariadb")):
                options.setdefault("pool_recycle", 3600)  # servers drop idle connections (wait_timeout)
            try:
                engine = _saio.create_engine(str(url), **options)
            except ImportError as exc:
                missing = exc.name or (str(exc).split("'")[1] if "'" in str(exc) else "driver")
                raise MissingDependencyError(missing, "sqlalchemy") from exc
            if engine.dialect.name == "sqlite":
                _sqlite_pragmas(engine)
        self.engine = engine
        self.schema = schema
        self.max_retries = max_retries
        self.dialect_name: str = engine.dialect.name
        self.backend_name = self.dialect_name
        self.lock_namespace = f"{schema or 'public'}:"
        self._t = _Tables(self.dialect_name, schema, text_search_language)
        self.text_search_language = text_search_language
        self.keyword_search_native = self.dialect_name in ("sqlite", "postgresql")
        self._statements: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._setup_lock = _io.Lock()
        self._ready = False
        # one connection shared by every caller (StaticPool: the async face's in-memory SQLite):
        # callers take turns, one transaction or read at a time
        shared = isinstance(_saio.sync_engine(engine).pool, sa.pool.StaticPool)
        self._turns: Any = _io.Lock() if shared else None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncSQLAlchemyStore:
        """Build a store from a SQLAlchemy URL (on the async face a sync driver is replaced by
        the dialect's async one: ``sqlite:///x.db`` runs on ``sqlite+aiosqlite``); ``kwargs`` as
        for the constructor."""
        return cls(url, **kwargs)

    # -- plumbing -------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()
        self._ready = False

    async def _read(self, work: Callable[[Any], Awaitable[T]]) -> T:
        import sqlalchemy as sa

        await self._ensure_setup()
        try:
            async with self._turn(), self.engine.connect() as conn:
                return await work(conn)
        except MastraMemoryError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"{self.dialect_name} query failed: {exc}") from exc

    async def _read_with(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self._read(work)

    async def _first(self, statement: Any) -> Any:
        """The first row of ``statement`` (a read), or None."""

        async def read(conn: Any) -> Any:
            return (await conn.execute(statement)).first()

        return await self._read(read)

    async def _all(self, statement: Any) -> list[Any]:
        """Every row of ``statement`` (a read)."""

        async def read(conn: Any) -> list[Any]:
            return list((await conn.execute(statement)).all())

        return await self._read(read)

    async def _one(self, statement: Any) -> Any:
        """The one row of ``statement`` (a read; an aggregate)."""

        async def read(conn: Any) -> Any:
            return (await conn.execute(statement)).one()

        return await self._read(read)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._turn(), self.engine.begin() as conn:
            if self.dialect_name == "sqlite":
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _turn(self) -> AbstractAsyncContextManager[Any]:
        """The shared connection's lock when the pool has one connection for every caller, else
        nothing to wait for."""
        return self._turns if self._turns is not None else nullcontext()

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import sqlalchemy as sa

        return (sa.exc.SQLAlchemyError,)

    def _is_retryable(self, exc: BaseException) -> bool:
        return _is_retryable(exc)

    async def _take_lock(self, conn: Any, name: str) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; nothing elsewhere (SQLite's
        ``BEGIN IMMEDIATE`` excludes other writers; MySQL locks rows ``FOR UPDATE``)."""
        import sqlalchemy as sa

        if self._t.is_pg:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": name})

    # -- schema ---------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the tables and indexes through the numbered migrations list (idempotent;
        serialised across processes with an advisory lock on PostgreSQL/MySQL)."""
        import sqlalchemy as sa

        async with self._setup_lock:
            if self._ready:
                return
            t = self._t
            try:
                async with self._turn(), self.engine.begin() as conn:
                    if self.dialect_name == "sqlite":
                        await conn.exec_driver_sql("BEGIN IMMEDIATE")
                    elif self.dialect_name == "postgresql":
                        await conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                            {"k": f"mastra_memory:{self.schema or 'public'}"},
                        )
                        if self.schema:
                            await conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
                    elif self.dialect_name in ("mysql", "mariadb"):
                        await conn.execute(sa.text("SELECT GET_LOCK('mastra_memory_setup', 60)"))
                    await _saio.run_sync(conn, t.migrations.create, checkfirst=True)
                    done = {r[0] for r in await conn.execute(sa.select(t.migrations.c.version))}
                    for version, name, step in t.steps():
                        if version in done:
                            continue
                        logger.info("applying migration %d: %s", version, name)
                        await _saio.run_sync(conn, step)
                        await conn.execute(
                            t.migrations.insert().values(
                                version=version, name=name, applied_at=_sql.format_ts(datetime.now(UTC))
                            )
                        )
                    if t.is_sqlite:
                        await _saio.run_sync(conn, t.ensure_sqlite_indexes)
                    if self.dialect_name in ("mysql", "mariadb"):
                        await conn.execute(sa.text("SELECT RELEASE_LOCK('mastra_memory_setup')"))
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"{self.dialect_name} setup failed: {exc}") from exc
            self._ready = True

    async def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        """The dialect's full-text search (SQLite FTS5, PostgreSQL tsvector); elsewhere BM25 in
        Python over the scope's messages (the base class's fallback)."""
        t = self._t
        if not (t.is_sqlite or t.is_pg):
            return await super()._search_messages(words, resource_id, thread_id, limit)
        scope = "resource" if resource_id is not None else "thread"
        if t.is_pg:
            sql = _sql.postgres_search_sql(t.sql_dialect(), scope, self.text_search_language)
            match = _sql.tsquery_text(words)
        else:
            sql, match = _sql.sqlite_search_sql(_sql.SQLITE, scope), _sql.fts5_match(words)
        params = (match, resource_id if resource_id is not None else thread_id, limit)

        async def read(conn: Any) -> list[Any]:
            return list((await conn.exec_driver_sql(sql, params)).fetchall())

        rows = await self._read(read)
        return [SemanticHit(message_id=r[0], thread_id=r[1], score=float(r[2])) for r in rows]

    async def connect(self, *, create: bool = True) -> None:
        """Connect now; with ``create=False`` only check that the database holds mastra-memory
        data (a ``mastra_threads`` table), creating and migrating nothing (see
        :meth:`MemoryStorage.connect`)."""
        import sqlalchemy as sa

        if self._ready:
            return
        try:
            async with self._turn(), self.engine.connect() as conn:
                found = create or await _saio.run_sync(conn, _has_threads_table, self.schema)
        except sa.exc.SQLAlchemyError as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise StorageError(f"could not connect to {self.dialect_name}: {reason}") from exc
        if create:
            await self.setup()
            return
        if not found:
            raise NoDataError(f"no mastra-memory data in this {self.dialect_name} database: its tables do not exist")
        async with self._setup_lock:
            self._ready = True

    # -- threads --------------------------------------------------------------------------------

    async def _get_thread(self, thread_id: str) -> Thread | None:
        t = self._t
        row = await self._first(t.thread_select().where(t.threads.c.id == thread_id))
        return _sql.row_to_thread(row) if row else None

    async def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace; never changes the owner. PostgreSQL and SQLite: one
        ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE resourceId = excluded.resourceId``;
        elsewhere the row read ``FOR UPDATE``, then an insert that skips an existing id or an
        update guarded by the owner."""
        import sqlalchemy as sa

        t = self._t
        th = t.threads
        values = t.thread_values(thread)

        async def work(conn: Any) -> None:
            upsert = t.upsert_thread_same_owner(values)
            if upsert is not None:
                written = (await conn.execute(upsert)).first() is not None
            else:
                # the row locked first: INSERT IGNORE on an existing id takes a shared lock, and
                # writers that each hold one and then update the row deadlock (MySQL/MariaDB)
                locked = sa.select(th.c.id).where(th.c.id == thread.id).with_for_update()
                exists = (await conn.execute(locked)).first() is not None
                written = False if exists else await self._insert_absent(conn, th, values)
                if not written:
                    update = th.update().where(th.c.id == thread.id, th.c.resourceId == thread.resource_id)
                    written = int((await conn.execute(update.values(values))).rowcount) == 1
            if not written:
                owner = (await conn.execute(sa.select(th.c.resourceId).where(th.c.id == thread.id))).scalar()
                raise owner_mismatch(thread, owner)

        await self._transact(work)
        return thread

    async def _insert_absent(self, conn: Any, table: Any, values: dict[str, Any]) -> bool:
        """Insert the row unless its primary key exists; True if inserted (one statement where
        the dialect has one, else a savepoint that swallows the duplicate key)."""
        import sqlalchemy as sa

        insert = self._t.insert_if_absent(table)
        if insert is not None:
            if self._t.is_mysql:
                return int((await conn.execute(insert.values(values))).rowcount) == 1
            # RETURNING, not rowcount: SQLAlchemy reports -1 for this statement on psycopg
            key = next(iter(table.primary_key.columns))
            return (await conn.execute(insert.values(values).returning(key))).first() is not None
        try:
            async with conn.begin_nested():
                await conn.execute(table.insert().values(values))
        except sa.exc.IntegrityError:
            return False
        return True

    async def _create_thread(self, thread: Thread) -> Thread:
        """One statement: ``INSERT ... ON CONFLICT DO NOTHING`` (``INSERT IGNORE`` on MySQL)."""
        t = self._t
        if not await self._transact(lambda conn: self._insert_absent(conn, t.threads, t.thread_values(thread))):
            raise ThreadConflictError(thread.id)
        return thread

    async def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        t = self._t

        async def work(conn: Any) -> Thread:
            row = (await conn.execute(t.thread_select().where(t.threads.c.id == thread_id).with_for_update())).first()
            if row is None:
                raise ThreadNotFoundError(thread_id)
            thread = _sql.row_to_thread(row)
            merged = {**thread.metadata, **(metadata or {})}
            new_title = thread.title if title is None else title
            await conn.execute(
                t.threads.update()
                .where(t.threads.c.id == thread_id)
                .values(title=new_title, metadata=merged, **t.ts_values("updatedAt", now))
            )
            return thread.model_copy(update={"title": new_title, "metadata": merged, "updated_at": now})

        return await self._transact(work)

    async def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        """One ``UPDATE ... WHERE title IS NULL OR title = ''``: atomic on every dialect."""
        import sqlalchemy as sa

        t = self._t
        statement = (
            t.threads.update()
            .where(t.threads.c.id == thread_id, sa.or_(t.threads.c.title.is_(None), t.threads.c.title == ""))
            .values(title=title, **t.ts_values("updatedAt", now))
        )

        async def work(conn: Any) -> bool:
            return bool((await conn.execute(statement)).rowcount)

        return await self._transact(work)

    async def _delete_thread(self, thread_id: str) -> None:
        t = self._t

        async def work(conn: Any) -> None:
            await conn.execute(t.messages.delete().where(t.messages.c.thread_id == thread_id))
            await conn.execute(t.threads.delete().where(t.threads.c.id == thread_id))
            await self._after_delete_thread(conn, thread_id)

        await self._transact(work)

    async def _after_delete_thread(self, conn: Any, thread_id: str) -> None:
        """Hook for tables that hang off a thread; runs inside the delete transaction. The
        thread's observational-memory generations go."""
        om = self._t.om
        await conn.execute(om.delete().where(om.c.lookupKey == f"thread:{thread_id}"))

    async def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        import sqlalchemy as sa

        t = self._t
        cond = []
        if query.resource_id is not None:
            cond.append(t.threads.c.resourceId == query.resource_id)
        python_filter = bool(query.metadata) and not t.has_json_match
        if query.metadata and t.has_json_match:
            cond += [t.meta_match(k, v) for k, v in query.metadata.items()]
        col = t.threads.c.createdAt if query.order_by == "created_at" else t.threads.c.updatedAt
        desc = query.direction == "DESC"
        stmt = (
            t.thread_select()
            .where(*cond)
            .order_by(
                col.desc() if desc else col.asc(), t.order_id(t.threads).desc() if desc else t.order_id(t.threads).asc()
            )
        )
        if python_filter:
            rows = [r for r in await self._all(stmt) if _meta_matches(_sql.load_json(r[3]), query.metadata)]
            chosen = rows if query.per_page is False else rows[query.offset : query.offset + query.per_page]
            return [_sql.row_to_thread(r) for r in chosen], len(rows)
        page = stmt if query.per_page is False else stmt.limit(query.per_page).offset(query.offset)

        async def work(conn: Any) -> tuple[list[Any], int]:
            rows = (await conn.execute(page)).all()
            if query.per_page is False or (query.page == 0 and len(rows) < query.per_page):
                return rows, len(rows)
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t.threads).where(*cond))).scalar_one()
            return rows, int(total)

        rows, total = await self._read(work)
        return [_sql.row_to_thread(r) for r in rows], total

    # -- messages -------------------------------------------------------------------------------

    async def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        import sqlalchemy as sa

        t = self._t
        thread_ids = sorted({m.thread_id for m in messages})

        async def work(conn: Any) -> list[Message]:
            owners: dict[str, str] = {}
            for chunk in _chunks(thread_ids):
                stmt = (
                    t.threads.select()
                    .with_only_columns(t.threads.c.id, t.threads.c.resourceId)
                    .where(t.threads.c.id.in_(chunk))
                    .order_by(t.threads.c.id)
                    .with_for_update()
                )
                owners.update({r[0]: r[1] for r in await conn.execute(stmt)})
            stored = resolve_owners(messages, owners)
            wanted = {m.id: m.thread_id for m in stored}
            existing: set[str] = set()
            for chunk in _chunks(list(wanted)):
                stmt = (
                    t.messages.select()
                    .with_only_columns(t.messages.c.id, t.messages.c.thread_id)
                    .where(t.messages.c.id.in_(chunk))
                )
                for mid, tid in await conn.execute(stmt):
                    if tid != wanted[mid]:
                        raise MessageIdUnavailableError(mid)
                    existing.add(mid)
            stored = _om.restamp_after_cursor(stored, existing, await self._om_floors(conn, owners))
            new = [t.message_values(m) for m in stored if m.id not in existing]
            if new:
                await conn.execute(t.messages.insert(), new)
            for m in stored:
                if m.id in existing:
                    values = t.message_values(m)
                    values.pop("id")
                    await conn.execute(t.messages.update().where(t.messages.c.id == m.id).values(values))
            # never move updatedAt back: a writer whose `now` was taken before it waited for the
            # lock can commit after a writer with a later `now`
            touched = {
                name: sa.case((t.threads.c[name] < value, value), else_=t.threads.c[name])
                for name, value in t.ts_values("updatedAt", now).items()
            }
            for chunk in _chunks(thread_ids):
                await conn.execute(t.threads.update().where(t.threads.c.id.in_(chunk)).values(touched))
            return stored

        return await self._transact(work)

    async def _include_rows(self, conn: Any, query: MessageQuery) -> list[Any]:
        import sqlalchemy as sa

        t = self._t
        m = t.messages
        rows: list[Any] = []
        hits = (await conn.execute(t.message_select().where(m.c.id.in_([s.id for s in query.include])))).all()
        by_id = {r[0]: r for r in hits}
        rows += hits
        for spec in query.include:
            hit = by_id.get(spec.id)
            if hit is None:
                continue
            tid, mid = hit[1], hit[0]
            at = hit[4]
            oid = t.order_id(m)
            if spec.with_previous_messages:
                rows += (
                    await conn.execute(
                        t.message_select()
                        .where(
                            m.c.thread_id == tid,
                            sa.or_(m.c.createdAt < at, sa.and_(m.c.createdAt == at, oid < mid)),
                        )
                        .order_by(m.c.createdAt.desc(), oid.desc())
                        .limit(spec.with_previous_messages)
                    )
                ).all()
            if spec.with_next_messages:
                rows += (
                    await conn.execute(
                        t.message_select()
                        .where(
                            m.c.thread_id == tid,
                            sa.or_(m.c.createdAt > at, sa.and_(m.c.createdAt == at, oid > mid)),
                        )
                        .order_by(m.c.createdAt.asc(), oid.asc())
                        .limit(spec.with_next_messages)
                    )
                ).all()
        return rows

    def _page_statements(self, query: MessageQuery) -> tuple[Any, Any]:
        """``(page, count)`` statements for the shape of ``query``, built once and cached; values
        are bound at execution (``tid``/``tids``, ``start``, ``end``, ``lim``, ``off``)."""
        import sqlalchemy as sa

        key = (
            len(query.thread_ids) == 1,
            query.direction,
            query.start is not None,
            query.end is not None,
            query.per_page is False,
        )
        cached = self._statements.get(key)
        if cached is not None:
            return cached
        t = self._t
        m = t.messages
        one = len(query.thread_ids) == 1
        cond = [
            m.c.thread_id == sa.bindparam("tid") if one else m.c.thread_id.in_(sa.bindparam("tids", expanding=True))
        ]
        if query.start is not None:
            cond.append(m.c.createdAt >= sa.bindparam("start", type_=m.c.createdAt.type))
        if query.end is not None:
            cond.append(m.c.createdAt <= sa.bindparam("end", type_=m.c.createdAt.type))
        desc = query.direction == "DESC"
        oid = t.order_id(m)
        page = (
            t.message_select()
            .where(*cond)
            .order_by(m.c.createdAt.desc() if desc else m.c.createdAt.asc(), oid.desc() if desc else oid.asc())
        )
        if query.per_page is not False:
            page = page.limit(sa.bindparam("lim", type_=sa.Integer())).offset(sa.bindparam("off", type_=sa.Integer()))
        count = sa.select(sa.func.count()).select_from(m).where(*cond)
        self._statements[key] = (page, count)
        return page, count

    async def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        page, count = self._page_statements(query)
        params: dict[str, Any] = {"start": query.start, "end": query.end}
        if len(query.thread_ids) == 1:
            params["tid"] = query.thread_ids[0]
        else:
            params["tids"] = list(query.thread_ids)
        if query.per_page is not False:
            params.update(lim=query.per_page, off=query.offset)
        count_params = {k: v for k, v in params.items() if k not in ("lim", "off")}

        async def work(conn: Any) -> tuple[list[Any], int]:
            rows: list[Any] = []
            if query.per_page is False or query.per_page > 0:
                rows = list((await conn.execute(page, params)).all())
                if query.per_page is False or (query.page == 0 and len(rows) < query.per_page):
                    total = len(rows)
                else:
                    total = int((await conn.execute(count, count_params)).scalar_one())
            else:
                total = int((await conn.execute(count, count_params)).scalar_one())
            if query.include:
                rows += await self._include_rows(conn, query)
            return rows, total

        rows, total = await self._read(work)
        return self._messages_from(rows), total

    def _messages_from(self, rows: list[Any]) -> list[Message]:
        return _sql.dedupe_sorted([tuple(r) for r in rows])

    async def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:
        import sqlalchemy as sa

        t = self._t
        m = t.messages
        oid = t.order_id(m)
        desc = direction == "DESC"
        stmt = (
            t.message_select()
            .where(m.c.resourceId == resource_id)
            .order_by(m.c.createdAt.desc() if desc else m.c.createdAt.asc(), oid.desc() if desc else oid.asc())
        )
        if per_page is not False:
            stmt = stmt.limit(per_page).offset(page * per_page)

        async def work(conn: Any) -> tuple[list[Any], int]:
            rows = list((await conn.execute(stmt)).all())
            total = await conn.execute(sa.select(sa.func.count()).select_from(m).where(m.c.resourceId == resource_id))
            return rows, int(total.scalar_one())

        rows, total = await self._read(work)
        return self._messages_from(rows), total

    async def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        t = self._t

        async def work(conn: Any) -> list[Any]:
            rows: list[Any] = []
            for chunk in _chunks(message_ids):
                rows += (await conn.execute(t.message_select().where(t.messages.c.id.in_(chunk)))).all()
            return rows

        return self._messages_from(await self._read(work))

    async def _delete_messages(self, message_ids: list[str]) -> int:
        t = self._t

        async def work(conn: Any) -> int:
            deleted = 0
            for chunk in _chunks(message_ids):
                deleted += (await conn.execute(t.messages.delete().where(t.messages.c.id.in_(chunk)))).rowcount
            return deleted

        return await self._transact(work)

    async def _delete_thread_messages_in(self, conn: Any, thread_id: str) -> None:
        t = self._t
        await conn.execute(t.messages.delete().where(t.messages.c.thread_id == thread_id))

    # -- erasure and retention (the algorithms are the base class's; indexed reads here) -------

    async def _delete_resource_row(self, resource_id: str) -> None:
        """The last step of an erasure: the resource row; on SQLite also FTS5 ``optimize``, which
        merges the keyword index's segments so no word of the erased messages stays in its
        shadow tables (FTS5 deletes only mark old postings; https://sqlite.org/fts5.html)."""
        t = self._t

        async def work(conn: Any) -> None:
            await conn.execute(t.resources.delete().where(t.resources.c.id == resource_id))
            exists = _sql.sqlite_keyword_index_exists_sql(_sql.SQLITE)
            if self.dialect_name == "sqlite" and (await conn.exec_driver_sql(exists)).first():
                await conn.exec_driver_sql(f"INSERT INTO {_sql.SEARCH} ({_sql.SEARCH}) VALUES ('optimize')")

        await self._transact(work)

    async def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        import sqlalchemy as sa

        m = self._t.messages

        async def work(conn: Any) -> list[str]:
            query = sa.select(m.c.id).where(m.c.createdAt < created_before).order_by(m.c.createdAt, m.c.id)
            ids = [r[0] for r in (await conn.execute(query.limit(limit))).all()]
            for chunk in _chunks(ids):
                await conn.execute(m.delete().where(m.c.id.in_(chunk)))
            return ids

        return await self._transact(work)

    async def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        import sqlalchemy as sa

        r = self._t.resources

        async def work(conn: Any) -> list[str]:
            query = sa.select(r.c.id).where(r.c.updatedAt < updated_before).order_by(r.c.updatedAt, r.c.id)
            ids = [row[0] for row in (await conn.execute(query.limit(limit))).all()]
            for chunk in _chunks(ids):
                await conn.execute(r.delete().where(r.c.id.in_(chunk)))
            return ids

        return await self._transact(work)

    async def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        import sqlalchemy as sa

        om = self._t.om
        newer = om.alias("newer")

        async def work(conn: Any) -> int:
            superseded = sa.exists().where(
                newer.c.lookupKey == om.c.lookupKey, newer.c.generationCount > om.c.generationCount
            )
            created = sa.type_coerce(om.c.createdAt, sa.String)  # ISO text on every dialect
            query = sa.select(om.c.id).where(created < _sql.format_ts(created_before), superseded).limit(limit)
            ids = [row[0] for row in (await conn.execute(query)).all()]
            for chunk in _chunks(ids):
                await conn.execute(om.delete().where(om.c.id.in_(chunk)))
            return len(ids)

        return await self._transact(work)

    # -- resources ------------------------------------------------------------------------------

    async def _get_resource(self, resource_id: str) -> Resource | None:
        t = self._t
        row = await self._first(t.resource_select().where(t.resources.c.id == resource_id))
        return _sql.row_to_resource(row) if row else None

    async def _put_resource(self, conn: Any, resource: Resource, exists: bool) -> None:
        t = self._t
        values = {
            "id": resource.id,
            "workingMemory": resource.working_memory,
            "metadata": resource.metadata,
            **t.ts_values("createdAt", resource.created_at),
            **t.ts_values("updatedAt", resource.updated_at),
        }
        if exists:
            await conn.execute(t.resources.update().where(t.resources.c.id == resource.id).values(values))
        else:
            await conn.execute(t.resources.insert().values(values))

    async def _save_resource(self, resource: Resource) -> Resource:
        t = self._t

        async def work(conn: Any) -> None:
            exists = (await conn.execute(t.resource_select().where(t.resources.c.id == resource.id))).first()
            await self._put_resource(conn, resource, exists is not None)

        await self._transact(work)
        return resource

    async def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        t = self._t

        async def work(conn: Any) -> Resource:
            row = (
                await conn.execute(t.resource_select().where(t.resources.c.id == resource_id).with_for_update())
            ).first()
            current = _sql.row_to_resource(row) if row else Resource(id=resource_id, created_at=now, updated_at=now)
            updated = current.model_copy(
                update={
                    "working_memory": current.working_memory if working_memory is None else working_memory,
                    "metadata": {**current.metadata, **(metadata or {})},
                    "updated_at": now,
                }
            )
            await self._put_resource(conn, updated, row is not None)
            return updated

        return await self._transact(work)

    # -- observational memory -------------------------------------------------------------------
    #
    # Serialization per dialect: SQLite writes start with BEGIN IMMEDIATE (one writer); on
    # PostgreSQL commits take the transaction advisory lock of their lookup key exclusively and
    # saves take their keys' locks shared (as PostgresStore); on MySQL/MariaDB commits lock the
    # scope's thread rows FOR UPDATE, the rows every save locks first.

    async def _om_lock(self, conn: Any, lookup_key: str) -> None:
        import sqlalchemy as sa

        t = self._t
        if t.is_mysql:
            scope, _, ident = lookup_key.partition(":")
            col = t.threads.c.id if scope == "thread" else t.threads.c.resourceId
            await conn.execute(sa.select(t.threads.c.id).where(col == ident).order_by(t.threads.c.id).with_for_update())
        else:
            await super()._om_lock(conn, lookup_key)

    async def _om_floors(self, conn: Any, owners: dict[str, str]) -> dict[str, datetime]:
        import sqlalchemy as sa

        t = self._t
        keys = sorted({f"thread:{tid}" for tid in owners} | {f"resource:{rid}" for rid in owners.values()})
        if not keys:
            return {}
        if t.is_pg:
            for key in keys:
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock_shared(hashtext(:k))"), {"k": f"mastra_om:{key}"}
                )
        om = t.om
        found: dict[str, datetime] = {}
        for chunk in _chunks(keys):
            stmt = (
                sa.select(om.c.lookupKey, sa.func.max(om.c.lastObservedAt))
                .where(om.c.lookupKey.in_(chunk))
                .group_by(om.c.lookupKey)
            )
            for key, ts in await conn.execute(stmt):
                if ts is not None:
                    found[key] = _sql.parse_ts(ts)
        floors: dict[str, datetime] = {}
        for tid, rid in owners.items():
            stamps = [v for v in (found.get(f"thread:{tid}"), found.get(f"resource:{rid}")) if v is not None]
            if stamps:
                floors[tid] = max(stamps)
        return floors

    def _refs_stmt(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None
    ) -> tuple[Any, Any]:
        import sqlalchemy as sa

        t = self._t
        m = t.messages.c
        size = sa.func.char_length(m.content) if t.is_mysql else sa.func.length(m.content)
        cond: list[Any] = [m.resourceId == resource_id] if thread_ids is None else [m.thread_id.in_(thread_ids)]
        if after is not None:
            cond.append(m.createdAt > after)
        return sa.select(m.id, m.thread_id, m.createdAt, size).where(*cond), sa.and_(*cond)

    async def _refs(
        self,
        conn: Any,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        stmt, _ = self._refs_stmt(thread_ids, resource_id, after)
        stmt = stmt.order_by(self._t.messages.c.createdAt, self._t.order_id(self._t.messages))
        if limit is not None:
            stmt = stmt.limit(limit)
        parse = _sql.parse_ts
        return [MessageRef(r[0], r[1], parse(r[2]), int(r[3] or 0)) for r in await conn.execute(stmt)]

    async def _message_refs_summary(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None
    ) -> tuple[int, int]:
        import sqlalchemy as sa

        m = self._t.messages.c
        _, cond = self._refs_stmt(thread_ids, resource_id, after)
        size = sa.func.char_length(m.content) if self._t.is_mysql else sa.func.length(m.content)
        stmt = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(size), 0)).where(cond)
        count, total = await self._one(stmt)
        return int(count), int(total or 0)

    def _om_select(self) -> Any:
        import sqlalchemy as sa

        om = self._t.om
        return sa.select(*(om.c[name] for name, _, _ in _sql.OM_COLUMNS))

    def _om_values(self, record: ObservationalMemoryRecord) -> dict[str, Any]:
        return dict(zip((name for name, _, _ in _sql.OM_COLUMNS), _sql.om_record_params(record), strict=True))

    async def _om_head_row(self, conn: Any, lookup_key: str) -> Any:
        om = self._t.om
        return (
            await conn.execute(
                self._om_select().where(om.c.lookupKey == lookup_key).order_by(om.c.generationCount.desc()).limit(1)
            )
        ).first()

    async def _om_history_in(
        self, conn: Any, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        om = self._t.om
        stmt = self._om_select().where(om.c.lookupKey == lookup_key).order_by(om.c.generationCount.desc())
        if limit is not False:
            stmt = stmt.limit(limit)
        stmt = stmt.offset(offset) if offset else stmt
        return [_sql.om_row_to_record(r) for r in (await conn.execute(stmt)).all()]

    async def _om_head_in(self, conn: Any, lookup_key: str) -> ObservationalMemoryRecord | None:
        row = await self._om_head_row(conn, lookup_key)
        return _sql.om_row_to_record(row) if row else None

    async def _om_save(
        self, conn: Any, record: ObservationalMemoryRecord, head: ObservationalMemoryRecord | None
    ) -> None:
        om = self._t.om
        values = self._om_values(record)
        if head is not None and record.id == head.id:
            before = self._om_values(head)
            changed = {k: v for k, v in values.items() if v != before[k] and k != "id"}
            if changed:
                await conn.execute(om.update().where(om.c.id == record.id).values(changed))
        else:
            await conn.execute(om.insert().values(values))

    async def _om_delete_in(self, conn: Any, lookup_key: str) -> None:
        om = self._t.om
        await conn.execute(om.delete().where(om.c.lookupKey == lookup_key))

    # -- working memory (read-modify-write in SQLStore, rows read FOR UPDATE) ---------------------

    async def _wm_read_thread(self, conn: Any, thread_id: str) -> dict[str, Any] | None:
        t = self._t
        row = (await conn.execute(t.thread_select().where(t.threads.c.id == thread_id).with_for_update())).first()
        return None if row is None else _sql.row_to_thread(row).metadata

    async def _wm_write_thread(self, conn: Any, thread_id: str, metadata: dict[str, Any], now: datetime) -> None:
        t = self._t
        await conn.execute(
            t.threads.update()
            .where(t.threads.c.id == thread_id)
            .values(metadata=metadata, **t.ts_values("updatedAt", now))
        )

    async def _wm_read_resource(self, conn: Any, resource_id: str) -> tuple[bool, str | None]:
        t = self._t
        row = (
            await conn.execute(
                t.resources.select()
                .with_only_columns(t.resources.c.workingMemory)
                .where(t.resources.c.id == resource_id)
                .with_for_update()
            )
        ).first()
        return (False, None) if row is None else (True, row[0])

    async def _wm_write_resource(
        self, conn: Any, resource_id: str, working_memory: str, now: datetime, exists: bool
    ) -> None:
        t = self._t
        if exists:
            await conn.execute(
                t.resources.update()
                .where(t.resources.c.id == resource_id)
                .values(workingMemory=working_memory, **t.ts_values("updatedAt", now))
            )
        else:
            await self._put_resource(
                conn, Resource(id=resource_id, working_memory=working_memory, created_at=now, updated_at=now), False
            )

    async def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """As :meth:`SQLStore._update_working_memory_atomic`; two processes creating the same
        resource row at once where nothing locked the missing row (MySQL without gap locks):
        the loser's insert hits the primary key and the whole update runs again, now finding
        (and locking) the winner's row."""
        import sqlalchemy as sa

        for attempt in range(3):
            try:
                return await super()._update_working_memory_atomic(scope, key, fn, now)
            except StorageError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, sa.exc.IntegrityError):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- clone ----------------------------------------------------------------------------------

    async def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        import sqlalchemy as sa

        t = self._t

        async def work(conn: Any) -> None:
            if (await conn.execute(t.thread_select().where(t.threads.c.id == thread.id))).first() is not None:
                raise ThreadConflictError(thread.id)
            try:
                await conn.execute(t.threads.insert().values(t.thread_values(thread)))
            except sa.exc.IntegrityError as exc:  # a concurrent creator committed first
                raise ThreadConflictError(thread.id) from exc
            if messages:
                await conn.execute(t.messages.insert(), [t.message_values(m) for m in messages])

        await self._transact(work)
        return thread

    # -- key-value memory -----------------------------------------------------------------------
    # Table mastra_kv (migration 4). Writes are read-modify-write transactions: the row is read
    # with SELECT ... FOR UPDATE (PostgreSQL, MySQL) or under SQLite's BEGIN IMMEDIATE write
    # lock; a missing row is inserted under a savepoint, and if a concurrent transaction
    # inserted it first, the loop reads (and locks) that row instead.

    def _kv_live(self, now: datetime) -> Any:
        import sqlalchemy as sa

        c = self._t.kv.c
        return sa.or_(c.expiresAt.is_(None), c.expiresAt > now)

    def _kv_where(self, namespace: str, key: str) -> Any:
        import sqlalchemy as sa

        c = self._t.kv.c
        return sa.and_(c.namespace == namespace, c.key == key)

    def _kv_select(self, namespace: str, key: str, lock: bool) -> Any:
        import sqlalchemy as sa

        c = self._t.kv.c
        query = sa.select(c.value, c.expiresAt, c.createdAt, c.updatedAt).where(self._kv_where(namespace, key))
        return query.with_for_update() if lock and not self._t.is_sqlite else query

    @staticmethod
    def _kv_expired(row: Any, now: datetime) -> bool:
        return row is not None and row[1] is not None and _sql.parse_ts(row[1]) <= now

    @staticmethod
    def _kv_row(row: Any) -> KVRow:
        return KVRow(
            row[0], None if row[1] is None else _sql.parse_ts(row[1]), _sql.parse_ts(row[2]), _sql.parse_ts(row[3])
        )

    async def _kv_read_locked(self, conn: Any, namespace: str, key: str) -> KVRow | None:
        row = (await conn.execute(self._kv_select(namespace, key, lock=True))).first()
        return None if row is None else self._kv_row(row)

    async def _kv_write(
        self, conn: Any, namespace: str, key: str, existing: KVRow | None, write: KVWrite, now: datetime
    ) -> bool:
        """Update the locked row or insert a new one; False if a concurrent insert won."""

        kv = self._t.kv
        values = {"value": write.value_json, "expiresAt": write.expires_at, "updatedAt": now}
        if existing is not None:
            if existing.expires_at is not None and existing.expires_at <= now:
                values["createdAt"] = now
            await conn.execute(kv.update().where(self._kv_where(namespace, key)).values(values))
            return True
        return await self._insert_absent(conn, kv, {"namespace": namespace, "key": key, "createdAt": now, **values})

    async def _kv_set(
        self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime
    ) -> None:
        await self._kv_modify(namespace, key, now, lambda _row: KVWrite(value_json, expires_at))

    async def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        row = await self._first(self._kv_select(namespace, key, lock=False))
        if row is None:
            return None
        if self._kv_expired(row, now):
            kv = self._t.kv
            await self._transact(
                lambda c: c.execute(kv.delete().where(self._kv_where(namespace, key), kv.c.expiresAt <= now))
            )
            return None
        return self._kv_row(row)

    async def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        import sqlalchemy as sa

        query = (
            sa.select(sa.literal(1)).select_from(self._t.kv).where(self._kv_where(namespace, key), self._kv_live(now))
        )
        return await self._first(query) is not None

    async def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        kv = self._t.kv

        async def work(conn: Any) -> bool:
            row = (await conn.execute(self._kv_select(namespace, key, lock=True))).first()
            if row is None:
                return False
            await conn.execute(kv.delete().where(self._kv_where(namespace, key)))
            return not self._kv_expired(row, now)

        return await self._transact(work)

    async def _kv_list_keys(
        self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime
    ) -> list[str]:
        import sqlalchemy as sa

        c = self._t.kv.c
        conditions = [c.namespace == namespace, self._kv_live(now)]
        if prefix:
            conditions.append(c.key >= prefix)
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                conditions.append(c.key < upper)
        if after_key is not None:
            conditions.append(c.key > after_key)
        query = sa.select(c.key).where(*conditions).order_by(c.key).limit(limit)
        return [r[0] for r in await self._all(query)]

    async def _kv_clear(self, namespace: str) -> int:
        kv = self._t.kv

        async def work(conn: Any) -> int:
            return int((await conn.execute(kv.delete().where(kv.c.namespace == namespace))).rowcount)

        return await self._transact(work)

    async def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        import sqlalchemy as sa

        c = self._t.kv.c
        if self._t.is_sqlite:
            size: Any = sa.func.length(sa.cast(c.value, sa.LargeBinary()))
        elif self._t.is_pg:
            size = sa.func.octet_length(c.value)
        else:  # MySQL/MariaDB LENGTH() counts bytes
            size = sa.func.length(c.value)
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(size), 0)).where(
            c.namespace == namespace, self._kv_live(now)
        )
        keys, total = await self._one(query)
        return KVStats(int(keys), int(total))

    async def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        import sqlalchemy as sa

        kv = self._t.kv

        async def work(conn: Any) -> int:
            pairs = (
                await conn.execute(sa.select(kv.c.namespace, kv.c.key).where(kv.c.expiresAt <= now).limit(limit))
            ).all()
            if not pairs:
                return 0
            return int(
                (
                    await conn.execute(
                        kv.delete().where(
                            sa.tuple_(kv.c.namespace, kv.c.key).in_([tuple(p) for p in pairs]), kv.c.expiresAt <= now
                        )
                    )
                ).rowcount
            )

        return await self._transact(work)


def _meta_matches(stored: Any, wanted: dict[str, Any]) -> bool:
    return isinstance(stored, dict) and all(k in stored and stored[k] == v for k, v in wanted.items())


def _has_threads_table(conn: Any, schema: str | None) -> bool:
    """True if the database has the threads table (``conn``: a sync ``Connection``)."""
    import sqlalchemy as sa

    return bool(sa.inspect(conn).has_table(_sql.THREADS, schema=schema))


def _sqlite_pragmas(engine: Any) -> None:
    """WAL + synchronous=NORMAL (the libSQL store's defaults) and no implicit BEGIN from the
    driver: reads run in autocommit, writes start with ``BEGIN IMMEDIATE`` (see ``_write``)."""
    import sqlalchemy as sa

    @sa.event.listens_for(_saio.sync_engine(engine), "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN (or ours) start transactions
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()


class _Tables:
    """The tables of ``storage_adapters._sql.TABLES`` (and the migrations table) for one
    dialect and schema, generated from their specs."""

    def __init__(self, dialect: str, schema: str | None, text_search_language: str = "english") -> None:
        import sqlalchemy as sa

        self.text_search_language = text_search_language
        self.dialect = dialect
        self.is_pg = dialect == "postgresql"
        self.is_mysql = dialect in ("mysql", "mariadb")
        self.is_sqlite = dialect == "sqlite"
        self.has_json_match = self.is_pg or self.is_mysql or self.is_sqlite
        md = sa.MetaData(schema=schema)
        self.md = md
        self.threads = self.table(_sql.THREADS_TABLE)
        self.messages = self.table(_sql.MESSAGES_TABLE)
        self.resources = self.table(_sql.RESOURCES_TABLE)
        self.om = self.table(_sql.OM_TABLE)
        self.kv = self.table(_sql.KV_TABLE)
        self.migrations = sa.Table(
            MIGRATIONS_TABLE,
            md,
            sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("applied_at", sa.Text(), nullable=False),
        )

    def column_type(self, logical: str) -> Any:
        """The SQLAlchemy type of a logical column type (see ``storage_adapters._sql.LOGICAL_TYPES``)
        on this dialect: binary collations for ids and keys (code-point order), ``LONGTEXT`` for
        long text on MySQL, JSONB and ``TIMESTAMP`` on PostgreSQL, ISO text for SQLite times."""
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql, postgresql

        iso_text, utc_datetime = _types()
        ts: Any = iso_text() if self.is_sqlite else utc_datetime()
        if logical == "id":
            return sa.String(255, collation="utf8mb4_bin") if self.is_mysql else sa.Text()
        if logical == "long":
            return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
        if logical == "json":
            return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
        if logical == "ts":
            return ts
        if logical == "tstz":
            return sa.DateTime(timezone=True) if self.is_pg else ts
        if logical == "kvkey":
            return (
                sa.Text()
                .with_variant(postgresql.TEXT(collation="C"), "postgresql")
                .with_variant(sa.String(512, collation="utf8mb4_bin"), "mysql", "mariadb")
            )
        if logical == "omkey":
            return sa.String(300, collation="utf8mb4_bin") if self.is_mysql else sa.Text()
        if logical == "int":
            return sa.Integer()
        return sa.Text()  # text, iso

    def table(self, spec: _sql.TableSpec) -> Any:
        """The ``sa.Table`` of a table spec; on PostgreSQL every ``ts`` column gets its
        ``TIMESTAMPTZ`` twin ``<name>Z`` (default ``now()``), as @mastra/pg creates it."""
        import sqlalchemy as sa

        columns = [
            sa.Column(
                c.name,
                self.column_type(c.type),
                primary_key=c.name in spec.primary_key,
                nullable=c.nullable and c.name not in spec.primary_key,
            )
            for c in spec.columns
        ]
        if self.is_pg:
            columns += [
                sa.Column(f"{n}Z", sa.DateTime(timezone=True), server_default=sa.func.now()) for n in spec.twins()
            ]
        return sa.Table(spec.name, self.md, *columns)

    def steps(self) -> list[tuple[int, str, Callable[[Any], None]]]:
        """The numbered migrations (never edited once released; 3-5 are reserved), built from
        the table and index specs of ``storage_adapters._sql``."""

        def tables(conn: Any) -> None:
            for table in (self.threads, self.messages, self.resources):
                table.create(conn, checkfirst=True)

        def indexes(conn: Any) -> None:
            for spec in _sql.HOT_INDEXES:
                self.index(spec).create(conn, checkfirst=True)

        def observational_memory(conn: Any) -> None:
            self.om.create(conn, checkfirst=True)
            for spec in _sql.OM_INDEXES:
                self.index(spec).create(conn, checkfirst=True)

        def kv(conn: Any) -> None:
            self.kv.create(conn, checkfirst=True)
            for spec in _sql.KV_INDEXES:
                self.index(spec).create(conn, checkfirst=True)

        def retention(conn: Any) -> None:
            for spec in _sql.RETENTION_INDEXES:
                self.index(spec).create(conn, checkfirst=True)

        steps: list[tuple[int, str, Callable[[Any], None]]] = [
            (1, "core tables", tables),
            (2, "indexes for the hot paths", indexes),
            (3, "observational memory (one row per generation)", observational_memory),
            (4, "key-value memory", kv),
            (_sql.RETENTION_VERSION, "indexes for retention (oldest rows first)", retention),
        ]
        for search in self.text_search_migrations():

            def keyword_search(conn: Any, search: _sql.Migration = search) -> None:
                for statement in search.statements:
                    conn.exec_driver_sql(statement)

            steps.append((search.version, search.name, keyword_search))
        return steps

    def ensure_sqlite_indexes(self, conn: Any) -> None:
        """On a SQLite file that :class:`~storage_adapters.libsql.LibSQLStore` set up, build what
        it leaves for first use and this store expects from setup: the FTS5 keyword index
        (libSQL builds it at its first keyword search) and the retention indexes (libSQL: before
        its first prune). Both migrations are recorded there, so they would not run here."""
        if conn.exec_driver_sql(_sql.sqlite_keyword_index_exists_sql(_sql.SQLITE)).first() is None:
            logger.info("building the keyword index of a database set up by LibSQLStore")
            for statement in _sql.sqlite_keyword_index_statements(_sql.SQLITE, self.text_search_language):
                conn.exec_driver_sql(statement)
        for spec in _sql.RETENTION_INDEXES:
            self.index(spec).create(conn, checkfirst=True)

    def sql_dialect(self) -> _sql.Dialect:
        """The :class:`storage_adapters._sql.Dialect` whose SQL text runs on this engine."""
        return _sql.postgres_dialect(self.md.schema or "public") if self.is_pg else _sql.SQLITE

    def text_search_migrations(self) -> list[_sql.Migration]:
        """The keyword-index migrations of this dialect (SQLite FTS5: 11 and 13, PostgreSQL
        tsvector: 11), none where the dialect has no full-text search we use (MySQL/MariaDB:
        Python fallback)."""
        if self.is_sqlite:
            return [
                _sql.sqlite_text_search_migration(_sql.SQLITE, self.text_search_language),
                _sql.sqlite_search_rowid_migration(_sql.SQLITE),
            ]
        if self.is_pg:
            return [_sql.postgres_text_search_migration(self.sql_dialect(), self.text_search_language)]
        return []

    def index(self, spec: _sql.IndexSpec) -> Any:
        """The ``sa.Index`` of an index spec (ids ordered by code point: :meth:`order_id`)."""
        import sqlalchemy as sa

        table = self.md.tables[f"{self.md.schema}.{spec.table.name}" if self.md.schema else spec.table.name]
        columns = [self.order_id(table) if c == "id" else table.c[c] for c in spec.columns]
        where: dict[str, Any] = {}
        if spec.where_not_null is not None:
            cond = table.c[spec.where_not_null].isnot(None)
            where = {"sqlite_where": cond, "postgresql_where": cond}
        if self.is_mysql:  # MySQL indexes TEXT by a prefix: an ISO timestamp's 24 characters
            iso = {c.name for c in spec.table.columns if c.type == "iso"} & set(spec.columns)
            if iso:
                where["mysql_length"] = dict.fromkeys(iso, 32)
        return sa.Index(spec.name, *columns, unique=spec.unique, **where)

    # -- expressions ------------------------------------------------------------------------------

    def upsert_thread_same_owner(self, values: dict[str, Any]) -> Any:
        """``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE resourceId = excluded.resourceId
        RETURNING id`` (no row back: the id belongs to another resource), or None on dialects
        without ``ON CONFLICT`` (MySQL: callers insert-if-absent, then update by owner)."""
        from sqlalchemy.dialects import postgresql, sqlite

        if not (self.is_pg or self.is_sqlite):
            return None
        stmt: Any = (postgresql.insert if self.is_pg else sqlite.insert)(self.threads).values(values)
        updates = {k: stmt.excluded[k] for k in values if k not in ("id", "resourceId")}
        return stmt.on_conflict_do_update(
            index_elements=[self.threads.c.id],
            set_=updates,
            where=self.threads.c.resourceId == stmt.excluded.resourceId,
        ).returning(self.threads.c.id)

    def insert_if_absent(self, table: Any) -> Any:
        """An INSERT that skips a row whose primary key exists (no error, rowcount 0), or None on
        dialects without one (callers fall back to a savepoint). Not a savepoint on MySQL: a
        deadlock there rolls back the whole transaction, savepoint included."""
        if self.is_pg:
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table).on_conflict_do_nothing()
        if self.is_sqlite:
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table).on_conflict_do_nothing()
        if self.is_mysql:
            return table.insert().prefix_with("IGNORE")
        return None

    def order_id(self, table: Any) -> Any:
        """The id column as ordered: code point order on every dialect."""
        return table.c.id.collate("C") if self.is_pg else table.c.id

    def meta_match(self, key: str, value: Any) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql

        col = self.threads.c.metadata
        encoded = dumps(value)
        if self.is_pg:
            return col.op("->")(sa.literal(key, sa.Text())) == sa.cast(
                sa.literal(encoded, sa.Text()), postgresql.JSONB()
            )
        if self.is_mysql:
            path = sa.literal(f'$."{key}"', sa.Text())
            return sa.func.JSON_EQUALS(sa.func.JSON_EXTRACT(col, path), sa.literal(encoded, sa.Text())) == 1
        return sa.literal_column(f"{col.name}").op("->")(sa.literal(f"$.{key}", sa.Text())) == sa.func.json(
            sa.literal(encoded, sa.Text())
        )

    def ts_values(self, column: str, value: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {column: value}
        if self.is_pg:
            out[f"{column}Z"] = value
        return out

    def thread_values(self, thread: Thread) -> dict[str, Any]:
        return {
            "id": thread.id,
            "resourceId": thread.resource_id,
            "title": thread.title,
            "metadata": thread.metadata,
            **self.ts_values("createdAt", thread.created_at),
            **self.ts_values("updatedAt", thread.updated_at),
        }

    def message_values(self, m: Message) -> dict[str, Any]:
        return {
            "id": m.id,
            "thread_id": m.thread_id,
            "content": m.content_json(),
            "role": m.role,
            "type": m.type or "v2",
            "resourceId": m.resource_id,
            **self.ts_values("createdAt", m.created_at),
        }

    def thread_select(self) -> Any:
        import sqlalchemy as sa

        c = self.threads.c
        return sa.select(c.id, c.resourceId, c.title, c.metadata, c.createdAt, c.updatedAt)

    def message_select(self) -> Any:
        import sqlalchemy as sa

        c = self.messages.c
        return sa.select(c.id, c.thread_id, c.resourceId, c.role, c.createdAt, c.content, c.type)

    def resource_select(self) -> Any:
        import sqlalchemy as sa

        c = self.resources.c
        return sa.select(c.id, c.workingMemory, c.metadata, c.createdAt, c.updatedAt)


@functools.cache
def _types() -> tuple[Any, Any]:
    """``(IsoText, UtcDateTime)``: the timestamp column types, built on first use so importing
    this module does not need SQLAlchemy."""
    import sqlalchemy as sa

    class IsoText(sa.types.TypeDecorator[datetime]):
        """UTC datetimes stored as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` text (the libSQL format)."""

        impl = sa.Text
        cache_ok = True

        def process_bind_param(self, value: Any, dialect: Any) -> str | None:
            if value is None or isinstance(value, str):
                return value
            return _sql.format_ts(value)

        def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
            return None if value is None else _sql.parse_ts(value)

    class UtcDateTime(sa.types.TypeDecorator[datetime]):
        """Aware UTC datetimes stored in a timezone-less column as naive UTC."""

        impl = sa.DateTime
        cache_ok = True

        def load_dialect_impl(self, dialect: Any) -> Any:
            if dialect.name in ("mysql", "mariadb"):
                from sqlalchemy.dialects import mysql

                return dialect.type_descriptor(mysql.DATETIME(fsp=3))
            return dialect.type_descriptor(sa.DateTime(timezone=False))

        def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
            if value is None:
                return None
            return _naive(value) if value.tzinfo else value

        def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
            return None if value is None else _sql.parse_ts(value)

    return IsoText, UtcDateTime
