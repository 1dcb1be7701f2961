"""``LibSQLStore``: the embedded default store on the ``libsql`` package (and remote sqld by URL).

Local files open in WAL mode with ``synchronous=NORMAL`` (durable against process crashes; the
last commits may be lost on power loss, the original's setting) or ``FULL`` when asked, and a
busy timeout; write transactions start with ``BEGIN IMMEDIATE`` and are retried with backoff
when another process holds the write lock, so "database is locked" never reaches the caller
unless the lock stays taken for ``busy_timeout`` plus the retry budget.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

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
from mastra_memory.storage.base import (
    MessageQuery,
    ThreadQuery,
    dumps,
    place_after_newest,
    resolve_owners,
)
from mastra_memory.storage.kv import KVModifier, KVRow, KVStats, KVWrite, prefix_upper_bound
from mastra_memory.storage.records import MessageRef
from mastra_memory.storage.text_search import MATCH_BUDGET, select_terms
from mastra_memory.types import Message, Resource, SemanticHit, Thread, now_utc
from storage_adapters import _sql
from storage_adapters import _sql_lifecycle as lc
from storage_adapters._sql import MESSAGES, OBSERVATIONAL_MEMORY, RESOURCES, THREADS, Dialect, Migration
from storage_adapters._sqlstore import TextSQLStore, owner_mismatch
from storage_adapters.libsql.checkpoint import BackgroundCheckpointer
from storage_adapters.libsql.hrana_http import BatchResult, GuardFailed, HranaBatcher, guard_sql

__all__ = ["LibSQLStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CHUNK = 400  # ids per IN (...) list, under SQLite's parameter limit
_INSERT_ROWS = 500  # messages per multi-row upsert (3,500 parameters)
_T = TypeVar("_T")


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sqlite3_module() -> Any:
    """The DB-API module of ``driver="sqlite3"``: ``pysqlite3`` (PyPI ``pysqlite3-binary``,
    which bundles a recent SQLite) when installed, else the standard library's ``sqlite3``, if its
    SQLite has ``jsonb()`` (3.45+), which the original's schema uses."""
    try:
        import pysqlite3

        return pysqlite3
    except ImportError:
        if sqlite3.sqlite_version_info >= (3, 45, 0):
            return sqlite3
        raise MissingDependencyError("pysqlite3-binary", "sqlite") from None


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _stream_expired(exc: BaseException) -> bool:
    """Whether ``exc`` says that sqld dropped the connection's Hrana stream (``STREAM_EXPIRED``:
    idle for more than 10 s; ``Stream handle ... is expired``)."""
    text = str(exc)
    return "STREAM_EXPIRED" in text or ("tream" in text and "expired" in text)


def _interrupted(exc: BaseException) -> bool:
    """Whether sqld interrupted the statement (``SQLITE_INTERRUPT``; the statement was rolled
    back). Seen with sqld 0.24 on the first statements of a stream after another connection
    created or dropped an FTS5 table (the keyword index, built on first use): 4 of 15 rounds of
    create-index-then-search in ``tests/test_keyword_search.py``; run again, they succeed."""
    return "SQLITE_INTERRUPT" in str(exc)


class _HttpConnection:
    """The ``libsql`` package's connection to sqld over HTTP, reopened when sqld dropped its stream.

    The package keeps one Hrana stream (a "baton") per connection between statements, and sqld
    0.24 drops a stream that stayed idle for 10 s: the next statement then fails with
    ``STREAM_EXPIRED`` (measured: a read 12 s after the previous one failed). Outside a
    transaction the statement is run once more on a new connection; inside one the transaction
    died with the stream, so the error is raised (:meth:`LibSQLStore._is_retryable` makes
    :meth:`SQLStore._transact` run the whole transaction again) and the next statement starts a
    new connection.

    Args:
        connect: Opens a new ``libsql`` connection.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._conn: Any = connect()
        self._in_transaction = False

    def _reopen(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = self._connect()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        word = sql.lstrip()[:8].upper()
        try:
            cursor = self._conn.execute(sql, params)
        except Exception as exc:
            if not (_stream_expired(exc) or _interrupted(exc)):
                raise
            self._reopen()
            if self._in_transaction and not word.startswith("BEGIN"):
                self._in_transaction = False
                raise
            cursor = self._conn.execute(sql, params)
        if word.startswith("BEGIN"):
            self._in_transaction = True
        elif word.startswith(("COMMIT", "END", "ROLLBACK")):
            self._in_transaction = False
        return cursor

    def executemany(self, sql: str, seq_of_params: Any) -> Any:
        if self._in_transaction:
            return self._conn.executemany(sql, seq_of_params)
        rows = list(seq_of_params)
        try:
            return self._conn.executemany(sql, rows)
        except Exception as exc:
            if not (_stream_expired(exc) or _interrupted(exc)):
                raise
            self._reopen()
            return self._conn.executemany(sql, rows)

    def close(self) -> None:
        self._conn.close()


_OWNER_SQL = f'SELECT "resourceId" FROM {THREADS} WHERE id = ?'
"""A thread's owner: a column of the page statement of ``list_messages``, or read alone."""


def _check_owner(conn: Any, query: MessageQuery, rows: list[Any], column: int) -> None:
    """Raise ``ResourceMismatchError`` if the one thread of ``query`` belongs to another resource
    than ``query.resource_id``: its owner as column ``column`` of the page's first row, or read
    on its own when the page is empty (a missing thread has no owner to refuse)."""
    thread_id = query.thread_ids[0]
    if rows:
        owner = rows[0][column]
    else:
        row = conn.execute(_OWNER_SQL, (thread_id,)).fetchone()
        owner = None if row is None else row[0]
    expected = query.resource_id
    if owner is not None and expected is not None and owner != expected:
        raise ResourceMismatchError(thread_id, owner, expected)


class LibSQLStore(TextSQLStore):
    """Storage on libSQL: a local file, ``:memory:``, or a remote sqld server.

    Args:
        url: ``"file:./mastra.db"`` (default), a plain path, ``":memory:"``, or a remote URL
            served by sqld: ``http://``, ``https://``, ``libsql://`` through the ``libsql``
            package, ``ws://``/``wss://`` through ``libsql-client`` (extra ``[libsql-client]``).
        auth_token: Token for a remote server.
        synchronous: ``"NORMAL"`` (default) or ``"FULL"`` (survives power loss; slower).
        busy_timeout: Seconds a write waits for another process's lock before retrying (5.0).
        max_retries: Extra attempts after a busy timeout, with jittered exponential backoff (8).
        text_search_language: Language of the FTS5 keyword index (``"english"``: Porter
            stemming and English stop words; any other value: no stemming, no stop words). Fixed
            when the index is built (the first keyword search, or :meth:`ensure_keyword_index`).
        driver: The driver of a local file or ``:memory:``: ``"auto"`` (default: ``"sqlite3"``
            when available, else ``"libsql"``), ``"sqlite3"`` (the ``sqlite3`` DB-API module:
            ``pysqlite3`` from PyPI's ``pysqlite3-binary``, a dependency on Linux x86_64, which
            bundles SQLite 3.51, else the standard library's when its SQLite is 3.45 or newer,
            for ``jsonb()``), or ``"libsql"`` (the ``libsql`` package; the default until this release).
            Both read and write the same file: a libSQL file is an SQLite file, and this store
            uses no libSQL extension. ``sqlite3`` caches prepared statements (triggers included)
            where ``libsql`` prepares every statement anew, so it writes faster (a single-message
            save: about 140 us against 210 us, ``benchmarks/mastra_compare.py --driver``), and it
            releases the GIL while SQLite works where ``libsql`` does not (measured here: a 6.4 s
            statement on a worker thread let the main thread run once), so a worker thread does
            not stall the event loop of :class:`~mastra_memory.AsyncMemory`. ``sqlite3`` refuses writes to
            tables with a libSQL vector index; this store never writes those
            (:class:`~storage_adapters.libsql.LibSQLVector` has its own ``libsql``
            connection). Remote URLs always use their network driver.
        background_checkpoint: On a local file with the ``sqlite3`` driver, run WAL checkpoints
            (the copy of committed pages into the database file, and its ``fsync``) on a daemon
            thread every 16 write transactions (:mod:`storage_adapters.libsql.checkpoint`), so a
            write rarely waits for them (default ``True``; a single-message save about 45-70 us
            faster on the test machines, ``benchmarks/checkpoint.py``). SQLite's automatic
            checkpoint still runs in the writer and bounds the WAL as before. ``False``: only the
            automatic checkpoint. Ignored for ``:memory:``, remote URLs and ``driver="libsql"``
            (which holds the GIL while SQLite works).

    Raises:
        StorageError: if the database can not be opened.
        ValidationError: on an unknown ``synchronous`` or ``driver``.
    """

    dialect: Dialect = _sql.SQLITE
    backend_name = "libSQL"
    keyword_search_native = True
    list_checks_owner = True
    conflict_message = "database stayed locked"

    def __init__(
        self,
        url: str = "file:./mastra.db",
        *,
        auth_token: str | None = None,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        busy_timeout: float = 5.0,
        max_retries: int = 8,
        text_search_language: str = "english",
        driver: Literal["libsql", "sqlite3", "auto"] = "auto",
        background_checkpoint: bool = True,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValidationError("synchronous must be 'NORMAL' or 'FULL'")
        if driver not in ("libsql", "sqlite3", "auto"):
            raise ValidationError("driver must be 'libsql', 'sqlite3' or 'auto'")
        if driver == "auto":
            try:
                _sqlite3_module()
                driver = "sqlite3"
            except MissingDependencyError:
                driver = "libsql"
        self.driver: Literal["libsql", "sqlite3"] = driver
        self.url = url
        self.auth_token = auth_token
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.max_retries = max_retries
        self.text_search_language = text_search_language
        self.background_checkpoint = background_checkpoint
        self._checkpointer: BackgroundCheckpointer | None = None
        self._lock = threading.RLock()
        self._conn_obj: Any = None
        self._ready = False
        self.is_remote = url.startswith(("http://", "https://", "libsql://", "ws://", "wss://"))
        self.is_embedded = not self.is_remote
        # Over HTTP a write transaction is one request (see _batch): a client killed inside an
        # interactive one would leave sqld holding the write lock.
        self.batches_writes = url.startswith(("http://", "https://", "libsql://"))
        self._batcher: HranaBatcher | None = None
        self._keyword_index = False  # seen to exist (an index is never dropped by this package)
        self._retention_indexes = False  # created by this store (before its first prune)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> LibSQLStore:
        """Build a store from a URL (see the class arguments)."""
        return cls(url, **kwargs)

    # -- connection -----------------------------------------------------------------------------

    def _database(self) -> str:
        url = self.url
        if url in (":memory:", "file::memory:"):
            return ":memory:"
        if url.startswith("file:"):
            url = url[len("file:") :]
        if not self.is_remote:
            Path(url).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url

    def _conn(self) -> Any:
        if self._conn_obj is None:
            import libsql

            try:
                if self.url.startswith(("ws://", "wss://")):
                    from storage_adapters.libsql.hrana import HranaConnection

                    conn: Any = HranaConnection(self.url, self.auth_token)
                elif self.is_remote:
                    kwargs: dict[str, Any] = {"isolation_level": None}
                    if self.auth_token:
                        kwargs["auth_token"] = self.auth_token
                    url = self.url
                    conn = _HttpConnection(lambda: libsql.connect(url, **kwargs))
                else:
                    if self.driver == "sqlite3":
                        module = _sqlite3_module()
                        conn = module.connect(self._database(), isolation_level=None, check_same_thread=False)
                    else:
                        conn = libsql.connect(self._database(), isolation_level=None)
                    conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                    if self._database() != ":memory:":
                        conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute(f"PRAGMA synchronous = {self.synchronous}")
                    if self.driver == "sqlite3" and self.background_checkpoint and self._database() != ":memory:":
                        self._start_checkpointer(_sqlite3_module())
            except MastraMemoryError:
                raise
            except Exception as exc:
                raise StorageError(f"could not open libSQL database {self.url!r}: {exc}") from exc
            self._conn_obj = conn
        return self._conn_obj

    def _start_checkpointer(self, module: Any) -> None:
        """Attach a :class:`BackgroundCheckpointer` to this file (its connect function holds
        plain values, not the store, so a dropped store's finalizer can stop its thread)."""
        path, synchronous, busy_ms = self._database(), self.synchronous, int(self.busy_timeout * 1000)

        def connect() -> Any:
            conn = module.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            conn.execute(f"PRAGMA synchronous = {synchronous}")  # the syncs a checkpoint makes
            return conn

        if self._checkpointer is not None:  # one a store (a new connection keeps it)
            return
        try:  # opened now, beside this store's connection (see BackgroundCheckpointer's ``conn``)
            first: Any = connect()
        except Exception:
            first = None  # the thread opens one itself
        checkpointer = self._checkpointer = BackgroundCheckpointer(connect, conn=first)
        weakref.finalize(self, checkpointer.stop, None)

    def _stop_checkpointer(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()

    def close(self) -> None:
        with self._lock:
            self._stop_checkpointer()
            if self._batcher is not None:
                self._batcher.close()
                self._batcher = None
            if self._conn_obj is not None:
                try:
                    self._conn_obj.close()
                finally:
                    self._conn_obj = None
                    self._ready = False

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._lock:
            self._ensure_setup()
            try:
                yield self._conn()
            except MastraMemoryError:
                raise
            except Exception as exc:
                raise StorageError(f"libSQL read failed: {exc}") from exc

    def _read_with(self, work: Callable[[Any], T]) -> T:
        with self._read() as conn:
            return work(conn)

    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction (``BEGIN IMMEDIATE``, retried with backoff while another process
        holds the write lock), rolled back on any error, which arrives as ``StorageError``."""
        joined = self._joined_connection()
        if joined is not None:  # inside _one_transaction: its transaction, its error handling
            return contextlib.nullcontext(joined)
        return self._open(retry_begin=True, wrap=True)

    def _transaction(self) -> AbstractContextManager[Any]:
        """The write transaction of :meth:`SQLStore._transact` (which retries it whole):
        ``BEGIN IMMEDIATE`` takes the database write lock before the first read (``BEGIN`` on a
        remote server, which runs a transaction's statements one at a time), so a
        read-modify-write needs no other lock."""
        return self._open(retry_begin=False, wrap=False)

    @contextmanager
    def _open(self, retry_begin: bool, wrap: bool) -> Iterator[Any]:
        """``BEGIN`` (retried while busy when ``retry_begin``), the body, ``COMMIT``; ``ROLLBACK``
        on any error. ``wrap`` (:meth:`_write`): set the schema up first, and raise errors
        other than this package's as ``StorageError``. After a commit the background
        checkpointer counts one (:mod:`storage_adapters.libsql.checkpoint`)."""
        with self._lock:
            if wrap:
                self._ensure_setup()
            try:
                conn = self._conn()
                if retry_begin:
                    self._begin(conn)
                else:
                    conn.execute(self._begin_sql())
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):  # already rolled back by the driver
                        conn.execute("ROLLBACK")
                    raise
            except Exception as exc:
                if not wrap or isinstance(exc, MastraMemoryError):
                    raise
                raise StorageError(f"libSQL write failed: {exc}") from exc
            if self._checkpointer is not None:
                self._checkpointer.committed()

    def _is_retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, GuardFailed) or _is_busy(exc) or _stream_expired(exc) or _interrupted(exc)

    # -- single-request transactions over HTTP ----------------------------------------------------

    def _batch_once(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[BatchResult]:
        """Run ``statements`` as one transaction in one HTTP request (no retry).

        A request that times out is not sent again: sqld runs a batch it received to its end,
        so a second copy would only queue behind the first (and might apply twice).

        Raises:
            StorageError: when sqld did not answer within the request timeout (60 s); the
                batch may still be applied, entirely or not at all.
        """
        import httpx

        with self._lock:
            if self._batcher is None:
                self._batcher = HranaBatcher(self.url, self.auth_token)
            try:
                return self._batcher.transaction(statements)
            except httpx.TimeoutException as exc:
                raise StorageError(
                    f"sqld did not answer within {self._batcher.timeout:g} s; the write may still be "
                    f"applied, entirely or not at all ({exc})"
                ) from exc

    def _batching(self) -> bool:
        """Whether a write goes to sqld as one request: over HTTP, unless it runs inside an
        interactive transaction of :meth:`SQLStore._one_transaction` (``replace_messages``),
        which it must join (a second request would wait on that transaction's lock)."""
        return self.batches_writes and self._joined_connection() is None

    def _run_writes(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run write statements whose results decide nothing in one transaction: one request
        over HTTP (:class:`~storage_adapters.libsql.hrana_http.HranaBatcher`), else ``BEGIN
        IMMEDIATE`` on the connection. Retried while the database is locked.

        Returns:
            Each statement's affected row count.
        """
        if not self._batching():
            with self._write() as conn:
                return [int(conn.execute(sql, params).rowcount) for sql, params in statements]
        self._ensure_setup()
        results = self._retry(lambda: self._batch_once(statements), "libSQL write failed")
        return [r.rowcount for r in results]

    def _begin_sql(self) -> str:
        return "BEGIN" if self.is_remote else "BEGIN IMMEDIATE"

    def _begin(self, conn: Any) -> None:
        sql = self._begin_sql()
        try:  # the common case, without the retry loop's cost (about 2 us a save)
            conn.execute(sql)
        except Exception:  # busy, or another error: the retry loop runs it again and decides
            self._retry(lambda: conn.execute(sql), "could not start a transaction")

    def _write_one(self, sql: str, params: Sequence[Any]) -> tuple[list[Any], int]:
        """One write statement on its own: in autocommit mode it is atomic by itself, so it
        needs no BEGIN/COMMIT round trips. Returns ``(rows it returned, rowcount)``."""
        with self._lock:
            self._ensure_setup()
            conn = self._conn()

            def run() -> tuple[list[Any], int]:
                cursor = conn.execute(sql, params)
                return cursor.fetchall(), int(cursor.rowcount)

            result = self._retry(run, "libSQL write failed")
            if self._checkpointer is not None:
                self._checkpointer.committed()
            return result

    # -- read-modify-writes over HTTP: compare-and-set, no transaction across requests -------------
    # Each reads outside any transaction, computes in Python, then writes with one autocommit
    # statement that applies only if what it read is unchanged (or one batch whose guard checks
    # it): a client killed between the read and the write leaves nothing open on sqld. When
    # another writer came first, it reads again after a jittered backoff.

    def _cas(self, attempt: Callable[[], tuple[bool, T]], what: str) -> T:
        """Run ``attempt`` (read, then a conditional write; returns ``(applied, result)``) until
        its write applies.

        Raises:
            ConcurrencyError: when another writer came first ``_CAS_ATTEMPTS`` times.
        """
        self._ensure_setup()
        for round_ in range(_CAS_ATTEMPTS):
            applied, result = attempt()
            if applied:
                return result
            time.sleep(random.uniform(0, min(0.002 * 2**round_, 0.1)))
        raise ConcurrencyError(f"{what} kept changing during an atomic update")

    def _read_row(self, sql: str, params: Sequence[Any]) -> Any:
        return self._read_with(lambda conn: conn.execute(sql, params).fetchone())

    def _update_thread_cas(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        select = f"SELECT {_sql.thread_columns(self.dialect)} FROM {THREADS} WHERE id = ?"

        def attempt() -> tuple[bool, Thread]:
            row = self._read_row(select, (thread_id,))
            if row is None:
                raise ThreadNotFoundError(thread_id)
            thread = _sql.row_to_thread(row)
            merged = {**thread.metadata, **(metadata or {})}
            new_title = thread.title if title is None else title
            _, count = self._write_one(
                f'UPDATE {THREADS} SET title = ?, metadata = jsonb(?), "updatedAt" = ? '
                "WHERE id = ? AND title IS ? AND json(metadata) IS ?",
                (new_title, dumps(merged), _sql.format_ts(now), thread_id, row[2], row[3]),
            )
            return count == 1, thread.model_copy(update={"title": new_title, "metadata": merged, "updated_at": now})

        return self._cas(attempt, f"thread {thread_id}")

    def _update_resource_cas(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        select = f"SELECT {_sql.resource_columns(self.dialect)} FROM {RESOURCES} WHERE id = ?"
        stamp = _sql.format_ts(now)

        def attempt() -> tuple[bool, Resource]:
            row = self._read_row(select, (resource_id,))
            if row is None:
                current = Resource(id=resource_id, created_at=now, updated_at=now)
            else:
                current = _sql.row_to_resource(row)
            merged = {**current.metadata, **(metadata or {})}
            wm = current.working_memory if working_memory is None else working_memory
            if row is None:
                sql = (
                    f'INSERT INTO {RESOURCES} (id, "workingMemory", metadata, "createdAt", "updatedAt") '
                    "VALUES (?, ?, jsonb(?), ?, ?) ON CONFLICT (id) DO NOTHING"
                )
                params: tuple[Any, ...] = (resource_id, wm, dumps(merged), stamp, stamp)
            else:
                sql = (
                    f'UPDATE {RESOURCES} SET "workingMemory" = ?, metadata = jsonb(?), "updatedAt" = ? '
                    'WHERE id = ? AND "workingMemory" IS ? AND json(metadata) IS ?'
                )
                params = (wm, dumps(merged), stamp, resource_id, row[1], row[2])
            applied = self._write_one(sql, params)[1] == 1
            return applied, current.model_copy(update={"working_memory": wm, "metadata": merged, "updated_at": now})

        return self._cas(attempt, f"resource {resource_id}")

    def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """Over HTTP: read, ``fn``, then a compare-and-set of the thread's metadata (or the
        resource's working memory); ``fn`` runs again on the new value when another writer came
        first. Elsewhere: one ``BEGIN IMMEDIATE`` transaction (:class:`SQLStore`)."""
        if not self._batching():
            return super()._update_working_memory_atomic(scope, key, fn, now)
        stamp = _sql.format_ts(now)

        def attempt() -> tuple[bool, str | None]:
            if scope == "thread":
                row = self._read_row(f"SELECT json(metadata) FROM {THREADS} WHERE id = ?", (key,))
                if row is None:
                    raise ThreadNotFoundError(key)
                metadata = _sql.load_json(row[0]) or {}
                raw = metadata.get("workingMemory")
                current = raw if isinstance(raw, str) else None
                new = fn(current)
                if new is None or new == current:
                    return True, current
                sql = f'UPDATE {THREADS} SET metadata = jsonb(?), "updatedAt" = ? WHERE id = ? AND json(metadata) IS ?'
                params: tuple[Any, ...] = (dumps({**metadata, "workingMemory": new}), stamp, key, row[0])
            else:
                found = self._read_row(f'SELECT "workingMemory" FROM {RESOURCES} WHERE id = ?', (key,))
                current = None if found is None else found[0]
                new = fn(current)
                if new is None or new == current:
                    return True, current
                if found is None:
                    sql = (
                        f'INSERT INTO {RESOURCES} (id, "workingMemory", metadata, "createdAt", "updatedAt") '
                        "VALUES (?, ?, jsonb('{}'), ?, ?) ON CONFLICT (id) DO NOTHING"
                    )
                    params = (key, new, stamp, stamp)
                else:
                    sql = (
                        f'UPDATE {RESOURCES} SET "workingMemory" = ?, "updatedAt" = ? '
                        'WHERE id = ? AND "workingMemory" IS ?'
                    )
                    params = (new, stamp, key, current)
            return self._write_one(sql, params)[1] == 1, new

        return self._cas(attempt, f"working memory of {scope} {key}")

    def _om_update(self, lookup_key: str, mutation: _om.Mutation[T]) -> T:
        """Over HTTP: read the head (as one JSON row) and the scope's message summary, run the
        mutation (its message-ref reads outside any transaction), then one batch: guards that the
        head and the summary are unchanged, the record writes. A failed guard runs it all again
        (:meth:`_retry`), as :meth:`SQLStore._om_update` does after a lock error."""
        if not self._batching():
            return super()._om_update(lookup_key, mutation)
        self._ensure_setup()
        scope, _, ident = lookup_key.partition(":")
        head_sql = _om_head_json_sql()
        summary_sql = _scope_summary_sql(scope)

        def attempt() -> T:
            with self._read() as conn:
                head_json, summary = conn.execute(
                    f"SELECT ({head_sql}), ({summary_sql})", (lookup_key, ident)
                ).fetchone()
            head = None if head_json is None else _sql.om_row_to_record(json.loads(head_json))

            def walk(after: datetime | None, limit: int) -> list[MessageRef]:
                if scope == "thread":
                    return self._list_message_refs((ident,), None, after, limit)
                return self._list_message_refs(None, ident, after, limit)

            records, result = mutation(_om.OMView(lookup_key, head, walk, now_utc()))
            if not records:  # nothing to write (a refused commit, a lease held by another)
                return result
            statements: list[tuple[str, Sequence[Any]]] = [
                (guard_sql(f"({head_sql}) IS ? AND ({summary_sql}) IS ?"), (lookup_key, head_json, ident, summary))
            ]
            for record in records:
                statements += _sql.om_writes(record, head, self.dialect)
            self._batch_once(statements)
            return result

        return self._retry(attempt, "libSQL write failed")

    def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        """Over HTTP: one batch that deletes the thread's messages and saves the new ones
        (:meth:`_save_batched` with ``replace``). Elsewhere one ``BEGIN IMMEDIATE`` transaction."""
        if not self._batching():
            return super()._replace_messages(thread, messages, now)
        if not messages:
            self._run_writes([(f"DELETE FROM {MESSAGES} WHERE thread_id = ?", (thread.id,))])
            return []
        self._ensure_setup()
        return self._retry(
            lambda: self._save_batched(messages, now, frozenset(), replace=thread.id), "libSQL write failed"
        )

    def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        if not self._batching():
            return super()._set_thread_title_if_empty(thread_id, title, now)
        sql, params = _sql.title_if_empty_sql(self.dialect, title, now)
        return bool(self._write_one(sql, [*params, thread_id])[0])

    def _delete_resource_row(self, resource_id: str) -> None:
        if not self._batching():
            super()._delete_resource_row(resource_id)
            return
        self._write_one(*lc.delete_resource_statements(self.dialect, resource_id)["resources"])

    def _delete_resource(self, resource_id: str, clone_thread_ids: list[str]) -> dict[str, int]:
        """Over HTTP: its statements (which depend on nothing they read) as one batch."""
        if not self._batching():
            return super()._delete_resource(resource_id, clone_thread_ids)
        statements: list[tuple[str, Sequence[Any]]] = []
        clone_steps: list[int] = []
        for i in range(0, len(clone_thread_ids), 500):
            statements += lc.delete_threads_statements(self.dialect, clone_thread_ids[i : i + 500])
            clone_steps.append(len(statements) - 1)
        named = lc.delete_resource_statements(self.dialect, resource_id)
        first = len(statements)
        statements += named.values()
        if self._has_keyword_index():
            fts = self.dialect.t(_sql.SEARCH)
            statements.append((f"INSERT INTO {fts} ({fts}) VALUES ('optimize')", ()))
        counts = self._run_writes(statements)
        by_name = dict(zip(named, counts[first:], strict=False))
        return {
            "threads": max(by_name["threads"], 0),
            "clones": sum(max(counts[i], 0) for i in clone_steps),
            "resources": max(by_name["resources"], 0),
        }

    def _ensure_retention_indexes(self) -> None:
        """Create the retention indexes (:data:`storage_adapters._sql.RETENTION_INDEXES`) before
        the first prune of this store: a libSQL database that is never pruned does not keep
        indexes ordered by age, so a single-message save writes two B-tree pages fewer (one of
        ``mastra_messages``, one of the thread's ``updatedAt`` bump). ``CREATE INDEX IF NOT
        EXISTS`` in one write transaction: idempotent, and concurrent creators serialise on the
        write lock. A database migrated by an earlier release already has them."""
        if self._retention_indexes:
            return
        self._run_writes([(_sql.create_index_sql(spec, self.dialect), ()) for spec in _sql.RETENTION_INDEXES])
        self._retention_indexes = True

    def _prune_threads(self, updated_before: datetime, limit: int) -> list[str]:
        """Over HTTP: read the stale ids, then one batch that deletes them after a guard that
        they are all still stale (a thread written meanwhile is kept; read again)."""
        self._ensure_retention_indexes()
        if not self._batching():
            return super()._prune_threads(updated_before, limit)
        self._ensure_setup()
        stale_sql, stale_params = lc.stale_threads_sql(self.dialect, updated_before, limit)

        def attempt() -> list[str]:
            ids = [r[0] for r in self._read_with(lambda conn: conn.execute(stale_sql, stale_params).fetchall())]
            if not ids:
                return []
            still = (
                f'(SELECT count(*) FROM {THREADS} WHERE id IN (SELECT value FROM json_each(?)) AND "updatedAt" < ?) = ?'
            )
            guard = (guard_sql(still), (dumps(ids), self.dialect.ts(updated_before), len(ids)))
            self._batch_once([guard, *lc.delete_threads_statements(self.dialect, ids)])
            return ids

        return self._retry(attempt, "libSQL write failed")

    def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        self._ensure_retention_indexes()
        if not self._batching():
            return super()._prune_messages(created_before, limit)
        return [r[0] for r in self._write_one(*lc.prune_messages_sql(self.dialect, created_before, limit))[0]]

    def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        self._ensure_retention_indexes()
        if not self._batching():
            return super()._prune_resources(updated_before, limit)
        return [r[0] for r in self._write_one(*lc.prune_resources_sql(self.dialect, updated_before, limit))[0]]

    def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        self._ensure_retention_indexes()
        if not self._batching():
            return super()._prune_om_history(created_before, limit)
        return len(self._write_one(*lc.prune_om_history_sql(self.dialect, created_before, limit))[0])

    def _om_delete(self, lookup_key: str) -> None:
        if not self._batching():
            super()._om_delete(lookup_key)
            return
        self._write_one(_sql.om_delete_sql(self.dialect), (lookup_key,))

    # -- schema ---------------------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        """The numbered migrations this store applies (see :func:`storage_adapters._sql.sqlite_migrations`)."""
        on_first_use = Migration(
            _sql.RETENTION_VERSION, "indexes for retention: created before the first prune (no statements)", ()
        )
        return [
            *(on_first_use if m.version == _sql.RETENTION_VERSION else m for m in _sql.sqlite_migrations(self.dialect)),
            *_sql.sqlite_on_demand_search_migrations(self.dialect),
        ]

    def setup(self) -> None:
        with self._lock:
            if self._ready:
                return
            if self.batches_writes:
                self._retry(self._setup_batch_once, "libSQL setup failed")
                self._ready = True
                return
            conn = self._conn()
            self._begin(conn)
            try:
                self._apply_migrations(conn)
                conn.execute("COMMIT")
            except Exception as exc:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise StorageError(f"libSQL setup failed: {exc}") from exc
            self._ready = True

    def _setup_batch_once(self) -> None:
        """Over HTTP: read which migrations are applied, then apply the others in one batch
        (:class:`HranaBatcher`) after a guard that the applied set is still the one read, so no
        transaction outlives a request here either. A failed guard (another process migrated
        meanwhile) raises :class:`GuardFailed`, and :meth:`_retry` reads again."""
        d = self.dialect
        table = d.t(_sql.MIGRATIONS_TABLE)
        conn = self._conn()
        try:
            done = sorted(int(r[0]) for r in conn.execute(f"SELECT version FROM {table}").fetchall())
        except Exception as exc:
            if "no such table" not in str(exc):
                raise
            done = []
        pending = [m for m in sorted(self.migrations(), key=lambda m: m.version) if m.version not in done]
        if not pending:
            return
        applied = f"SELECT coalesce(group_concat(version), '') FROM (SELECT version FROM {table} ORDER BY version)"
        statements: list[tuple[str, Sequence[Any]]] = [
            (_sql.migrations_table_sql(d), ()),
            (guard_sql(f"({applied}) = ?"), (",".join(map(str, done)),)),
        ]
        for migration in pending:
            if migration.applies_if is not None and not conn.execute(migration.applies_if).fetchall():
                logger.info("migration %d (%s) does not apply here: recorded only", migration.version, migration.name)
            else:
                logger.info("applying migration %d: %s", migration.version, migration.name)
                statements += [(statement, ()) for statement in migration.statements]
            statements.append(_sql.record_migration_sql(d, migration))
        self._batch_once(statements)

    def connect(self, *, create: bool = True) -> None:
        """Open the database now; with ``create=False`` only check that it holds mastra-memory
        data (a ``mastra_threads`` table, ours or the TypeScript packages'), creating and migrating
        nothing (see :meth:`MemoryStorage.connect`)."""
        if create:
            self.setup()
            return
        with self._lock:
            if self._ready:
                return
            database = self.url if self.is_remote else self._database_path()
            if not self.is_remote and database != ":memory:" and not Path(database).expanduser().exists():
                raise NoDataError(f"no mastra-memory data at {self.url!r}: the file does not exist (nothing created)")
            try:
                if self.is_remote:
                    found = self._has_threads_table(self._conn())
                else:  # a bare connection: the store's own sets WAL mode, a write to a foreign file
                    import libsql

                    probe = libsql.connect(database, isolation_level=None)
                    try:
                        found = self._has_threads_table(probe)
                    finally:
                        probe.close()
            except MastraMemoryError:
                raise
            except Exception as exc:
                raise StorageError(f"could not read libSQL database {self.url!r}: {exc}") from exc
            if not found:
                raise NoDataError(f"no mastra-memory data at {self.url!r}: it has no mastra-memory tables")
            self.read_only = True  # opened to read: a later search never builds the keyword index
            self._ready = True

    @staticmethod
    def _has_threads_table(conn: Any) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(conn.execute(query, (THREADS,)).fetchall())

    def _database_path(self) -> str:
        """The local database path (or ``:memory:``), without creating its folder."""
        url = self.url
        if url in (":memory:", "file::memory:"):
            return ":memory:"
        return url[len("file:") :] if url.startswith("file:") else url

    # -- threads --------------------------------------------------------------------------------

    def _thread_row(self, conn: Any, thread_id: str) -> Thread | None:
        row = conn.execute(
            f"SELECT {_sql.thread_columns(self.dialect)} FROM {THREADS} WHERE id = ?", (thread_id,)
        ).fetchone()
        return _sql.row_to_thread(row) if row else None

    def _get_thread(self, thread_id: str) -> Thread | None:
        with self._read() as conn:
            return self._thread_row(conn, thread_id)

    def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace; never changes the owner (:func:`storage_adapters._sql.save_thread_sql`).
        Over HTTP the guarded upsert is one autocommit statement (atomic by itself), the owner
        read only when it wrote nothing."""
        if self._batching():
            if not self._write_one(_sql.save_thread_sql(self.dialect), _sql.thread_params(thread))[0]:
                row = self._read_row(f'SELECT "resourceId" FROM {THREADS} WHERE id = ?', (thread.id,))
                raise owner_mismatch(thread, row[0] if row else None)
            return thread

        def work(conn: Any) -> None:
            if conn.execute(_sql.save_thread_sql(self.dialect), _sql.thread_params(thread)).fetchone() is None:
                row = conn.execute(f'SELECT "resourceId" FROM {THREADS} WHERE id = ?', (thread.id,)).fetchone()
                raise owner_mismatch(thread, row[0] if row else None)

        self._transact(work)
        return thread

    def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        if self._batching():
            return self._update_thread_cas(thread_id, title, metadata, now)
        with self._write() as conn:
            thread = self._thread_row(conn, thread_id)
            if thread is None:
                raise ThreadNotFoundError(thread_id)
            merged = {**thread.metadata, **(metadata or {})}
            new_title = thread.title if title is None else title
            conn.execute(
                f'UPDATE {THREADS} SET title = ?, metadata = jsonb(?), "updatedAt" = ? WHERE id = ?',
                (new_title, dumps(merged), _sql.format_ts(now), thread_id),
            )
        return thread.model_copy(update={"title": new_title, "metadata": merged, "updated_at": now})

    def _delete_thread(self, thread_id: str) -> None:
        self._run_writes(
            [
                (f"DELETE FROM {MESSAGES} WHERE thread_id = ?", (thread_id,)),
                (f"DELETE FROM {THREADS} WHERE id = ?", (thread_id,)),
                (f"DELETE FROM {_sql.THREAD_STATS} WHERE thread_id = ?", (thread_id,)),
                *self._after_delete_thread(thread_id),
            ]
        )

    def _after_delete_thread(self, thread_id: str) -> list[tuple[str, Sequence[Any]]]:
        """Hook for tables that hang off a thread: its observational-memory generations go."""
        return [(f'DELETE FROM {OBSERVATIONAL_MEMORY} WHERE "lookupKey" = ?', (f"thread:{thread_id}",))]

    def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        sql, params, count_sql, count_params = _sql.select_threads_sql(self.dialect, query)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
            total = conn.execute(count_sql, count_params).fetchone()[0]
        return [_sql.row_to_thread(r) for r in rows], int(total)

    # -- messages -------------------------------------------------------------------------------

    def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        return self._save_prepared(messages, now, frozenset())

    def _save_prepared(self, messages: list[Message], now: datetime, after_newest: frozenset[str]) -> list[Message]:
        """Save in one ``BEGIN IMMEDIATE`` transaction of two statements, with no read before
        the write on the hot path:

        1. ``UPDATE mastra_threads SET "updatedAt" ... RETURNING`` (:func:`_sql.claim_threads_sql`)
           bumps the threads and returns their owners, their observation cursors and, for the
           threads in ``after_newest``, their newest stored ``createdAt``;
        2. one multi-row upsert (:func:`_sql.insert_messages_sql`) whose row count shows an id
           stored in another thread.

        A failed check raises inside the transaction, which rolls everything back. Only when an
        observation cursor exists is the batch's set of stored ids read first, as
        :func:`_om.restamp_after_cursor` moves new messages only. The thread message counts are
        kept by the triggers of migration 6 as the rows go in.

        Over HTTP the save is one request instead (:meth:`_save_batched`).
        """
        if self._batching():
            self._ensure_setup()
            return self._retry(lambda: self._save_batched(messages, now, after_newest), "libSQL write failed")
        sql = self._write_sql
        first = messages[0].thread_id
        if len(messages) == 1 or all(m.thread_id == first for m in messages):
            thread_ids: list[str] = [first]
        else:
            thread_ids = sorted({m.thread_id for m in messages})
        stamp = _sql.format_ts(now)
        with self._write() as conn:
            if len(thread_ids) == 1:
                claimed = conn.execute(sql("claim", 1, bool(after_newest)), (stamp, first)).fetchall()
            else:
                claimed = []
                for chunk in _chunks(thread_ids):
                    claimed += conn.execute(sql("claim", len(chunk), bool(after_newest)), [stamp, *chunk]).fetchall()
            owners: dict[str, str] = {}
            floors: dict[str, datetime] = {}
            newest: dict[str, datetime] = {}
            for row in claimed:
                tid = row[0]
                owners[tid] = row[1]
                if row[2] is not None:
                    floors[tid] = _sql.parse_ts(row[2])
                if after_newest and row[3] is not None and tid in after_newest:
                    newest[tid] = _sql.parse_ts(row[3])
            stored = resolve_owners(messages, owners)
            if newest:
                stored = place_after_newest(stored, newest)
            if floors:
                stored = _om.restamp_after_cursor(stored, self._stored_ids(conn, stored), floors)
            fmt = _sql.format_ts
            for start in range(0, len(stored), _INSERT_ROWS):
                chunk = stored[start : start + _INSERT_ROWS]
                values: list[Any] = []
                for m in chunk:  # _sql.message_params of each row, flattened
                    values += (
                        m.id,
                        m.thread_id,
                        m.content_json(),
                        m.role,
                        m.type or "v2",
                        fmt(m.created_at),
                        m.resource_id,
                    )
                if conn.execute(sql("insert", len(chunk), False), values).rowcount != len(chunk):
                    self._stored_ids(conn, chunk)  # raises: some id belongs to another thread
                    raise StorageError("message upsert wrote fewer rows than it was given")
        return stored

    def _save_batched(
        self,
        messages: list[Message],
        now: datetime,
        after_newest: frozenset[str],
        replace: str | None = None,
    ) -> list[Message]:
        """One attempt of a save over HTTP as one single-request transaction (no Python between
        its statements), so a client killed mid-save never leaves a transaction open on sqld.

        1. Read, outside the transaction, the threads' owners and observation cursors as one
           JSON text (:func:`_threads_snapshot_sql`); check and fill owners
           (:func:`resolve_owners`) and move new messages after a cursor in Python
           (:func:`_om.restamp_after_cursor`, which also reads which ids are stored).
        2. Send ``BEGIN IMMEDIATE``; a guard that the snapshot (and the stored-id count) is
           unchanged; the ``updatedAt`` bump (never backwards); one upsert of the whole batch
           from one JSON parameter whose ``createdAt`` places auto-stamped messages after the
           thread's newest stored one in SQL (:func:`place_after_newest` as a formula: message
           ``k`` of a thread gets at least newest + ``k`` ms), ``RETURNING`` the stored times; a
           guard that every row was written (an id stored in another thread is left alone by
           the upsert); ``COMMIT``.

        A failed guard rolls the batch back and raises :class:`GuardFailed`, which
        :meth:`_retry` answers with a new attempt (reading again); a row-count guard that
        failed because an id belongs to another thread raises ``MessageIdUnavailableError``.

        With ``replace`` (a thread id, ``replace_messages``), the batch first deletes that
        thread's messages, so none of them counts as already stored.
        """
        thread_ids = sorted({m.thread_id for m in messages})
        ids_json = dumps(thread_ids)
        snapshot_sql = _threads_snapshot_sql()
        with self._read() as conn:
            snapshot = conn.execute(snapshot_sql, (ids_json,)).fetchone()[0]
        owners: dict[str, str] = {}
        floors: dict[str, datetime] = {}
        for tid, owner, cursor in json.loads(snapshot):
            owners[tid] = owner
            if cursor is not None:
                floors[tid] = _sql.parse_ts(cursor)
        stored = resolve_owners(messages, owners)
        statements: list[tuple[str, Sequence[Any]]] = [(guard_sql(f"({snapshot_sql}) = ?"), (ids_json, snapshot))]
        if replace is not None:
            statements.append((f"DELETE FROM {MESSAGES} WHERE thread_id = ?", (replace,)))
        if floors:
            with self._read() as conn:
                existing = self._stored_ids(conn, stored)  # raises for an id of another thread
            if replace is not None:
                existing = set()  # deleted by the batch before the messages go in
            stored = _om.restamp_after_cursor(stored, existing, floors)
            count = f"(SELECT count(*) FROM {MESSAGES} WHERE id IN (SELECT value FROM json_each(?))) = ?"
            statements.append((guard_sql(count), (dumps([m.id for m in stored]), len(existing))))
        stamp = _sql.format_ts(now)
        statements.append(
            (
                f'UPDATE {THREADS} SET "updatedAt" = CASE WHEN "updatedAt" IS NULL OR "updatedAt" < ? THEN ? '
                'ELSE "updatedAt" END WHERE id IN (SELECT value FROM json_each(?))',
                (stamp, stamp, ids_json),
            )
        )
        rows: list[list[Any]] = []
        position: dict[str, int] = {}
        fmt = _sql.format_ts
        for m in stored:
            place = None
            if m.thread_id in after_newest:
                place = position[m.thread_id] = position.get(m.thread_id, 0) + 1
            rows.append(
                [m.id, m.thread_id, m.content_json(), m.role, m.type or "v2", fmt(m.created_at), m.resource_id, place]
            )
        insert = len(statements)
        statements.append((_BATCH_INSERT_SQL, (dumps(rows),)))
        statements.append((guard_sql("changes() = ?"), (len(stored),)))
        try:
            results = self._batch_once(statements)
        except GuardFailed as exc:
            if exc.step == insert + 1:  # not every row written: an id of another thread?
                with self._read() as conn:
                    self._stored_ids(conn, stored)  # raises MessageIdUnavailableError
            raise
        times = dict(results[insert].rows)
        out: list[Message] = []
        for m in stored:
            written = times.get(m.id)
            if written is not None and written != fmt(m.created_at):
                m = m.model_copy(update={"created_at": _sql.parse_ts(written)})
            out.append(m)
        return out

    def _write_sql(self, kind: Literal["create", "claim", "insert"], n: int, newest: bool) -> str:
        """The save's statements for ``n`` threads or rows; those for up to 128 are cached on the
        store (a dict lookup: hashing the dialect for ``lru_cache`` costs more)."""
        if n > 128:
            if kind == "claim":
                return _sql.claim_threads_sql(self.dialect, n, newest)
            return _sql.insert_messages_sql(self.dialect, n)
        cache: dict[tuple[str, int, bool], str] | None = self.__dict__.get("_write_sql_cache")
        if cache is None:
            cache = self.__dict__["_write_sql_cache"] = {}
        key = (kind, n, newest)
        text = cache.get(key)
        if text is None:
            if kind == "create":
                text = _sql.create_thread_sql(self.dialect)
            elif kind == "claim":
                text = _sql.claim_threads_sql(self.dialect, n, newest)
            else:
                text = _sql.insert_messages_sql(self.dialect, n)
            cache[key] = text
        return text

    def _stored_ids(self, conn: Any, messages: Sequence[Message]) -> set[str]:
        """Ids of ``messages`` already stored (in their own thread).

        Raises:
            ValidationError: if one of the ids is stored in another thread.
        """
        wanted = {m.id: m.thread_id for m in messages}
        existing: set[str] = set()
        for chunk in _chunks(list(wanted)):
            marks = ", ".join("?" for _ in chunk)
            for mid, tid in conn.execute(
                f"SELECT id, thread_id FROM {MESSAGES} WHERE id IN ({marks})", list(chunk)
            ).fetchall():
                if tid != wanted[mid]:
                    raise MessageIdUnavailableError(mid)
                existing.add(mid)
        return existing

    def _include_rows(self, conn: Any, query: MessageQuery) -> list[Any]:
        rows: list[Any] = []
        before_sql = _sql.neighbour_sql(self.dialect, before=True)
        after_sql = _sql.neighbour_sql(self.dialect, before=False)
        for spec in query.include:
            hit = conn.execute(f"SELECT {_sql.MESSAGE_COLUMNS} FROM {MESSAGES} WHERE id = ?", (spec.id,)).fetchone()
            if hit is None:
                continue
            rows.append(hit)
            tid, created, mid = hit[1], hit[4], hit[0]
            if spec.with_previous_messages:
                rows += conn.execute(before_sql, (tid, created, created, mid, spec.with_previous_messages)).fetchall()
            if spec.with_next_messages:
                rows += conn.execute(after_sql, (tid, created, created, mid, spec.with_next_messages)).fetchall()
        return rows

    def _count(self, conn: Any, query: MessageQuery, count_sql: str, count_params: list[Any]) -> int:
        if query.start is None and query.end is None:
            # per-thread counts kept by triggers (migration 6): no row counting on the hot path
            row = conn.execute(_sql.stats_count_sql(len(query.thread_ids)), list(query.thread_ids)).fetchone()
            return int(row[0] or 0) if row is not None else 0  # no stats row yet: no messages
        return int(conn.execute(count_sql, count_params).fetchone()[0])

    def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        """One statement for a page: the trigger-kept count and, for a one-thread query with a
        ``resource_id``, the thread's owner ride along as extra columns (``list_checks_owner``:
        no separate read of the thread row). An empty page reads the owner on its own."""
        rows: list[Any] = []
        sql, params, count_sql, count_params = _sql.select_messages_sql(self.dialect, query)
        stats_count = query.start is None and query.end is None
        paged = query.per_page is False or query.per_page > 0
        check_owner = query.resource_id is not None and len(query.thread_ids) == 1
        extra: list[str] = []
        extra_params: list[Any] = []
        if stats_count and query.per_page is not False and query.per_page > 0:
            extra.append(_sql.stats_count_sql(len(query.thread_ids)))  # column 7
            extra_params += query.thread_ids
        owner_column = 0
        if check_owner and paged:
            owner_column = 7 + len(extra)  # after the 7 of MESSAGE_COLUMNS (and the count)
            extra.append(_OWNER_SQL)
            extra_params.append(query.thread_ids[0])
        if extra:
            sql = sql.replace(" FROM ", "".join(f", ({column})" for column in extra) + " FROM ", 1)
            params = [*extra_params, *params]
        with self._read() as conn:
            if paged:
                rows = conn.execute(sql, params).fetchall()
                if check_owner:
                    _check_owner(conn, query, rows, owner_column)
                if query.page == 0 and (query.per_page is False or len(rows) < query.per_page):
                    total = len(rows)  # the whole result fits the first page
                elif rows and stats_count:
                    total = int(rows[0][7] or 0)
                else:
                    total = self._count(conn, query, count_sql, count_params)
            else:
                if check_owner:
                    _check_owner(conn, query, [], owner_column)
                total = self._count(conn, query, count_sql, count_params)
            if query.include:
                rows += self._include_rows(conn, query)
        if not query.include:  # one ordered page: no duplicates, no sort needed
            if query.direction == "DESC":
                rows.reverse()
            return _sql.rows_to_messages(rows), total
        return _dedupe_sorted(rows), total

    def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        rows: list[Any] = []
        with self._read() as conn:
            for chunk in _chunks(message_ids):
                marks = ", ".join("?" for _ in chunk)
                rows += conn.execute(
                    f"SELECT {_sql.MESSAGE_COLUMNS} FROM {MESSAGES} WHERE id IN ({marks})", list(chunk)
                ).fetchall()
        return _dedupe_sorted(rows)

    def _delete_messages(self, message_ids: list[str]) -> int:
        statements: list[tuple[str, Sequence[Any]]] = []
        for chunk in _chunks(message_ids):
            marks = ", ".join("?" for _ in chunk)
            statements.append((f"DELETE FROM {MESSAGES} WHERE id IN ({marks})", list(chunk)))
        return sum(self._run_writes(statements))  # one request to sqld; the rows it removed

    def _delete_thread_messages_in(self, conn: Any, thread_id: str) -> None:
        conn.execute(f"DELETE FROM {MESSAGES} WHERE thread_id = ?", (thread_id,))

    # -- keyword search -------------------------------------------------------------------------

    def _has_keyword_index(self) -> bool:
        """Whether the FTS5 index exists (a catalog read until it has been seen once)."""
        if not self._keyword_index:
            self._keyword_index = self._read_row(_sql.sqlite_keyword_index_exists_sql(self.dialect), ()) is not None
        return self._keyword_index

    def ensure_keyword_index(self) -> bool:
        """Build the FTS5 keyword index if the database has none (see
        :meth:`MemoryStorage.ensure_keyword_index`): in one ``BEGIN IMMEDIATE`` transaction that
        checks again that there is none (locally), or over HTTP one batch guarded by "there is
        none" (a process that built it meanwhile makes the guard fail; read again)."""
        return self._ensure_keyword_index()

    def _ensure_keyword_index(self) -> bool:
        if self._has_keyword_index():
            return False
        exists = _sql.sqlite_keyword_index_exists_sql(self.dialect)
        build = _sql.sqlite_keyword_index_statements(self.dialect, self.text_search_language)
        if self._batching():

            def attempt() -> bool:
                if self._read_row(exists, ()) is not None:
                    return False
                self._batch_once([(guard_sql(f"NOT EXISTS ({exists})"), ()), *((sql, ()) for sql in build)])
                return True

            self._ensure_setup()
            built = self._retry(attempt, "could not build the keyword index")
        else:
            with self._write() as conn:
                built = not conn.execute(exists).fetchall()
                if built:
                    for sql in build:
                        conn.execute(sql)
        self._keyword_index = True
        if built:
            logger.info("built the keyword index of %s", self.url)
        return built

    def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        """FTS5 ``MATCH`` with ``bm25()`` over the trigger-kept index, filtered to the scope.

        A database without the index gets it built first (:meth:`ensure_keyword_index`), except
        one opened read-only (``connect(create=False)``, the CLI's read commands), which is
        searched with BM25 in Python instead and left unchanged.

        The query's words' document frequencies are counted first (each only up to
        :data:`~mastra_memory.storage.text_search.MATCH_BUDGET`) and only the rarest that fit
        that many postings are matched, so a common word does not make FTS5 score most of the
        index (:func:`~mastra_memory.storage.text_search.select_terms`). When even the rarest
        word is commoner than that, only its newest ``MATCH_BUDGET`` documents are ranked.
        """
        if not self._has_keyword_index():
            if self.read_only:
                return super()._search_messages(words, resource_id, thread_id, limit)
            self._ensure_keyword_index()
        scope_kind = "resource" if resource_id is not None else "thread"
        counts_sql = _sql.sqlite_term_counts_sql(self.dialect, len(words))
        counts_params = [p for w in words for p in (_sql.fts5_match([w]), MATCH_BUDGET + 1)]
        scope = resource_id if resource_id is not None else thread_id

        def read(conn: Any) -> list[Any]:
            freqs = conn.execute(counts_sql, counts_params).fetchone()
            kept = select_terms(zip(words, freqs, strict=True), MATCH_BUDGET)
            if not kept:
                return []
            match = _sql.fts5_match(kept)
            if sum(f for w, f in zip(words, freqs, strict=True) if w in kept) <= MATCH_BUDGET:
                return list(
                    conn.execute(_sql.sqlite_search_sql(self.dialect, scope_kind), (match, scope, limit)).fetchall()
                )
            lowest = conn.execute(_sql.sqlite_window_sql(self.dialect), (match, MATCH_BUDGET - 1)).fetchone()
            params = (match, lowest[0] if lowest else 0, scope, limit)
            return list(
                conn.execute(_sql.sqlite_search_sql(self.dialect, scope_kind, windowed=True), params).fetchall()
            )

        rows = self._read_with(read)
        return [SemanticHit(message_id=r[0], thread_id=r[1], score=float(r[2])) for r in rows]

    # -- resources ------------------------------------------------------------------------------

    def _resource_row(self, conn: Any, resource_id: str) -> Resource | None:
        row = conn.execute(
            f"SELECT {_sql.resource_columns(self.dialect)} FROM {RESOURCES} WHERE id = ?", (resource_id,)
        ).fetchone()
        return _sql.row_to_resource(row) if row else None

    def _get_resource(self, resource_id: str) -> Resource | None:
        with self._read() as conn:
            return self._resource_row(conn, resource_id)

    def _save_resource(self, resource: Resource) -> Resource:
        self._write_one(
            f'INSERT INTO {RESOURCES} (id, "workingMemory", metadata, "createdAt", "updatedAt") '
            "VALUES (?, ?, jsonb(?), ?, ?) ON CONFLICT (id) DO UPDATE SET "
            '"workingMemory" = excluded."workingMemory", metadata = excluded.metadata, '
            '"createdAt" = excluded."createdAt", "updatedAt" = excluded."updatedAt"',
            (
                resource.id,
                resource.working_memory,
                dumps(resource.metadata),
                _sql.format_ts(resource.created_at),
                _sql.format_ts(resource.updated_at),
            ),
        )
        return resource

    def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        if self._batching():
            return self._update_resource_cas(resource_id, working_memory, metadata, now)
        with self._write() as conn:
            current = self._resource_row(conn, resource_id)
            if current is None:
                current = Resource(id=resource_id, created_at=now, updated_at=now)
            merged = {**current.metadata, **(metadata or {})}
            wm = current.working_memory if working_memory is None else working_memory
            stamp = _sql.format_ts(now)
            conn.execute(
                f'INSERT INTO {RESOURCES} (id, "workingMemory", metadata, "createdAt", "updatedAt") '
                "VALUES (?, ?, jsonb(?), ?, ?) ON CONFLICT (id) DO UPDATE SET "
                '"workingMemory" = excluded."workingMemory", metadata = excluded.metadata, '
                '"updatedAt" = excluded."updatedAt"',
                (resource_id, wm, dumps(merged), _sql.format_ts(current.created_at), stamp),
            )
        return current.model_copy(update={"working_memory": wm, "metadata": merged, "updated_at": now})

    # -- observational memory -------------------------------------------------------------------

    def _refs(
        self,
        conn: Any,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        params: list[Any] = list(thread_ids) if thread_ids is not None else [resource_id]
        if after is not None:
            params.append(self.dialect.ts(after))
        if limit is not None:
            params.append(limit)
        sql = _sql.message_refs_sql(
            self.dialect, None if thread_ids is None else len(thread_ids), after is not None, limit is not None
        )
        build = MessageRef
        parse = _sql.parse_ts
        return [
            build(id=r[0], thread_id=r[1], created_at=parse(r[2]), size=int(r[3] or 0))
            for r in conn.execute(sql, params).fetchall()
        ]

    def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        with self._read() as conn:
            if thread_ids is None or len(thread_ids) <= _CHUNK:
                return self._refs(conn, thread_ids, resource_id, after, limit)
            refs = [r for c in _chunks(thread_ids) for r in self._refs(conn, tuple(c), None, after, limit)]
        refs.sort(key=lambda r: (r.created_at, r.id))
        return refs[:limit] if limit is not None else refs

    def _message_refs_summary(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None
    ) -> tuple[int, int]:
        if thread_ids is not None and len(thread_ids) > _CHUNK:
            return super()._message_refs_summary(thread_ids, resource_id, after)
        if thread_ids == ():
            return 0, 0
        params: list[Any] = list(thread_ids) if thread_ids is not None else [resource_id]
        if after is not None:
            params.append(self.dialect.ts(after))
        sql = _sql.message_refs_summary_sql(
            self.dialect, None if thread_ids is None else len(thread_ids), after is not None
        )
        with self._read() as conn:
            count, size = conn.execute(sql, params).fetchone()
        return int(count), int(size or 0)

    # -- working memory (read-modify-write in SQLStore, under BEGIN IMMEDIATE) --------------------

    def _wm_read_thread(self, conn: Any, thread_id: str) -> dict[str, Any] | None:
        thread = self._thread_row(conn, thread_id)
        return None if thread is None else thread.metadata

    def _wm_write_thread(self, conn: Any, thread_id: str, metadata: dict[str, Any], now: datetime) -> None:
        conn.execute(
            f'UPDATE {THREADS} SET metadata = jsonb(?), "updatedAt" = ? WHERE id = ?',
            (dumps(metadata), _sql.format_ts(now), thread_id),
        )

    def _wm_read_resource(self, conn: Any, resource_id: str) -> tuple[bool, str | None]:
        resource = self._resource_row(conn, resource_id)
        return (False, None) if resource is None else (True, resource.working_memory)

    def _wm_write_resource(self, conn: Any, resource_id: str, working_memory: str, now: datetime, exists: bool) -> None:
        stamp = _sql.format_ts(now)
        conn.execute(
            f'INSERT INTO {RESOURCES} (id, "workingMemory", metadata, "createdAt", "updatedAt") '
            "VALUES (?, ?, jsonb('{}'), ?, ?) ON CONFLICT (id) DO UPDATE SET "
            '"workingMemory" = excluded."workingMemory", "updatedAt" = excluded."updatedAt"',
            (resource_id, working_memory, stamp, stamp),
        )

    def _create_thread(self, thread: Thread) -> Thread:
        """One autocommit ``INSERT ... ON CONFLICT (id) DO NOTHING``: atomic by itself, so no
        ``BEGIN``/``COMMIT`` and no read first; a row count of 0 means the id was taken."""
        created = _sql.format_ts(thread.created_at)
        updated = created if thread.updated_at == thread.created_at else _sql.format_ts(thread.updated_at)
        metadata = dumps(thread.metadata) if thread.metadata else "{}"
        params = (thread.id, thread.resource_id, thread.title, metadata, created, updated)
        if self._write_one(self._write_sql("create", 1, False), params)[1] == 0:
            raise ThreadConflictError(thread.id)
        return thread

    # -- clone ----------------------------------------------------------------------------------

    def _insert_new_thread_batch(self, thread: Thread, statements: list[tuple[str, Sequence[Any]]]) -> Thread:
        """Over HTTP: one batch that inserts ``thread`` (nothing if its id is taken: a guard then
        fails and raises ``ThreadConflictError``) and runs ``statements``."""
        insert = _sql.insert_thread_sql(self.dialect) + " ON CONFLICT (id) DO NOTHING"
        batch = [(insert, _sql.thread_params(thread)), (guard_sql("changes() = 1"), ()), *statements]

        def attempt() -> Thread:
            try:
                self._batch_once(batch)
            except GuardFailed as exc:
                if exc.step == 1:
                    raise ThreadConflictError(thread.id) from exc
                raise
            return thread

        self._ensure_setup()
        return self._retry(attempt, "libSQL write failed")

    def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        if self._batching():
            sql = _sql.upsert_message_sql(self.dialect)
            return self._insert_new_thread_batch(thread, [(sql, _sql.message_params(m)) for m in messages])
        with self._write() as conn:
            if self._thread_row(conn, thread.id) is not None:
                raise ThreadConflictError(thread.id)
            conn.execute(_sql.insert_thread_sql(self.dialect), _sql.thread_params(thread))
            if messages:
                conn.executemany(_sql.upsert_message_sql(self.dialect), [_sql.message_params(m) for m in messages])
        return thread

    def _clone_into(self, thread: Thread, copies: list[Message], id_map: dict[str, str]) -> Thread:
        """Copy the rows inside the database: one ``INSERT ... SELECT`` joined to the id map passed
        as one JSON parameter (``json_each``), instead of binding every row from Python; over
        HTTP in one batch."""
        copy_sql = (
            f'INSERT INTO {MESSAGES} (id, thread_id, content, role, type, "createdAt", "resourceId") '
            'SELECT j.value ->> 1, ?, m.content, m.role, m.type, m."createdAt", ? '
            f"FROM json_each(?) AS j JOIN {MESSAGES} AS m ON m.id = j.value ->> 0"
        )
        copy_params = (thread.id, thread.resource_id, dumps([[old, new] for old, new in id_map.items()]))
        if self._batching():
            return self._insert_new_thread_batch(thread, [(copy_sql, copy_params)] if id_map else [])
        with self._write() as conn:
            if self._thread_row(conn, thread.id) is not None:
                raise ThreadConflictError(thread.id)
            conn.execute(_sql.insert_thread_sql(self.dialect), _sql.thread_params(thread))
            if id_map:
                conn.execute(copy_sql, copy_params)
        return thread

    # -- key-value memory -----------------------------------------------------------------------
    # Timestamps are ISO text in one fixed format, so "is it live" is a text comparison that the
    # primary key and the partial index on "expiresAt" answer.

    def _kv_set(self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime) -> None:
        stamp = _sql.format_ts(now)
        expires = None if expires_at is None else _sql.format_ts(expires_at)
        self._write_one(_sql.kv_upsert_sql(self.dialect), (namespace, key, value_json, expires, stamp, stamp))

    def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        stamp = _sql.format_ts(now)
        with self._read() as conn:
            row = conn.execute(_sql.kv_select_sql(self.dialect), (namespace, key)).fetchone()
        if row is None:
            return None
        if not _live(row, stamp):  # lazy purge; deletes only if still expired
            self._write_one(_sql.kv_delete_expired_one_sql(self.dialect), (namespace, key, stamp))
            return None
        return _kv_row(row)

    def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        with self._read() as conn:
            row = conn.execute(_sql.kv_exists_sql(self.dialect), (namespace, key, _sql.format_ts(now))).fetchone()
        return row is not None

    def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        rows, _ = self._write_one(_sql.kv_delete_sql(self.dialect), (namespace, key))
        stamp = _sql.format_ts(now)
        return any(r[0] is None or r[0] > stamp for r in rows)

    def _kv_list_keys(self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime) -> list[str]:
        sql, params = _sql.kv_list_keys_sql(
            self.dialect, namespace, prefix, prefix_upper_bound(prefix), after_key, _sql.format_ts(now), limit
        )
        with self._read() as conn:
            return [r[0] for r in conn.execute(sql, params).fetchall()]

    def _kv_clear(self, namespace: str) -> int:
        return self._write_one(_sql.kv_clear_sql(self.dialect), (namespace,))[1]

    def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        """Over HTTP: read, then one compare-and-set statement (autocommit, atomic by itself)
        that writes only if the row is still exactly the one read (an insert only if the key is
        still absent), read again with jittered backoff when another writer came first. No
        transaction stays open between the read and the write. Elsewhere the read-modify-write
        runs under ``BEGIN IMMEDIATE`` (:meth:`SQLStore._kv_modify`).

        Raises:
            ConcurrencyError: when the row kept changing for ``_CAS_ATTEMPTS`` rounds.
        """
        if not self._batching():
            super()._kv_modify(namespace, key, now, modify)
            return
        stamp = _sql.format_ts(now)
        select = _sql.kv_select_sql(self.dialect)

        def attempt() -> tuple[bool, None]:
            row = self._read_row(select, (namespace, key))
            existing = None if row is None else _kv_row(row)
            live = existing is not None and (existing.expires_at is None or existing.expires_at > now)
            write: KVWrite | None = modify(existing if live else None)
            if write is None:
                return True, None
            expires = None if write.expires_at is None else _sql.format_ts(write.expires_at)
            params: tuple[Any, ...]
            if row is None:
                sql, params = _KV_INSERT_IF_ABSENT_SQL, (namespace, key, write.value_json, expires, stamp, stamp)
            else:
                created = row[2] if live else stamp  # an expired entry starts again
                sql = _KV_COMPARE_AND_SET_SQL
                params = (write.value_json, expires, created, stamp, namespace, key, row[0], row[1], row[2], row[3])
            return self._write_one(sql, params)[1] == 1, None

        self._cas(attempt, f"key {namespace}/{key}")

    def _kv_read_locked(self, conn: Any, namespace: str, key: str) -> KVRow | None:
        # BEGIN IMMEDIATE took the database write lock before this read: no other process can
        # write between it and the write.
        row = conn.execute(_sql.kv_select_sql(self.dialect), (namespace, key)).fetchone()
        return None if row is None else _kv_row(row)

    def _kv_write(
        self, conn: Any, namespace: str, key: str, existing: KVRow | None, write: KVWrite, now: datetime
    ) -> bool:
        stamp = _sql.format_ts(now)
        expires = None if write.expires_at is None else _sql.format_ts(write.expires_at)
        conn.execute(_sql.kv_upsert_sql(self.dialect), (namespace, key, write.value_json, expires, stamp, stamp))
        return True

    def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        with self._read() as conn:
            keys, size = conn.execute(_sql.kv_stats_sql(self.dialect), (namespace, _sql.format_ts(now))).fetchone()
        return KVStats(int(keys), int(size))

    def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        return self._write_one(_sql.kv_purge_sql(self.dialect), (_sql.format_ts(now), limit))[1]


_dedupe_sorted = _sql.dedupe_sorted

_KV_INSERT_IF_ABSENT_SQL = (
    f'INSERT INTO {_sql.KV} (namespace, "key", value, "expiresAt", "createdAt", "updatedAt") '
    'VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, "key") DO NOTHING'
)
_KV_COMPARE_AND_SET_SQL = (
    f'UPDATE {_sql.KV} SET value = ?, "expiresAt" = ?, "createdAt" = ?, "updatedAt" = ? '
    'WHERE namespace = ? AND "key" = ? AND value IS ? AND "expiresAt" IS ? AND "createdAt" IS ? AND "updatedAt" IS ?'
)


_CAS_ATTEMPTS = 200
"""Rounds of read-then-compare-and-set an update over HTTP (a key-value entry, a thread, a
resource, working memory) makes while other writers win."""


def _om_head_json_sql() -> str:
    """The head generation of a lookup key (parameter) as one JSON array of its columns in
    :data:`_sql.OM_COLUMNS` order (JSON columns as text), or NULL: what an observational-memory
    commit over HTTP reads before its batch and, as a guard, checks unchanged inside it."""
    columns = ", ".join(
        f"('' || json(\"{name}\"))" if kind == "json" else f'"{name}"' for name, _, kind in _sql.OM_COLUMNS
    )
    return (
        f'SELECT json_array({columns}) FROM {OBSERVATIONAL_MEMORY} WHERE "lookupKey" = ? '
        'ORDER BY "generationCount" DESC LIMIT 1'
    )


def _scope_summary_sql(scope: str) -> str:
    """``[count, newest createdAt]`` of the messages of a thread or a resource (parameter) as
    JSON text: a message saved into the scope while an observational-memory commit was being
    computed changes it."""
    column = "thread_id" if scope == "thread" else '"resourceId"'
    return f'SELECT json_array(count(*), max("createdAt")) FROM {MESSAGES} WHERE {column} = ?'


def _threads_snapshot_sql() -> str:
    """One JSON text ``[[id, resourceId, observation cursor], ...]`` (ordered by id) of the
    threads whose ids are the JSON array parameter: what a batched save reads before its
    transaction and, as a guard, checks unchanged inside it. The cursor is the latest
    ``lastObservedAt`` of the thread's and its resource's observational-memory records."""
    return (
        'SELECT json_group_array(json_array(id, "resourceId", c)) FROM ('
        f'SELECT t.id, t."resourceId", (SELECT max("lastObservedAt") FROM {OBSERVATIONAL_MEMORY} '
        "WHERE \"lookupKey\" IN ('thread:' || t.id, 'resource:' || t.\"resourceId\")) AS c "
        f"FROM {THREADS} AS t WHERE t.id IN (SELECT value FROM json_each(?)) ORDER BY t.id)"
    )


# The messages of a batched save, from one JSON parameter of rows [id, thread_id, content JSON,
# role, type, createdAt, resourceId, k]: k (1-based position in its thread) when the message is
# placed after its thread's newest stored one, which takes createdAt to at least newest + k ms
# (the batch is already strictly increasing by >= 1 ms per thread, so this is
# place_after_newest). SQLite evaluates the SELECT, which reads the table, before inserting.
# An id stored in another thread is left alone (the row count shows it).
_BATCH_INSERT_SQL = (
    f'INSERT INTO {MESSAGES} (id, thread_id, content, role, type, "createdAt", "resourceId") '
    "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, "
    "CASE WHEN j.value ->> 7 IS NULL THEN j.value ->> 5 ELSE max(j.value ->> 5, coalesce(strftime("
    "'%Y-%m-%dT%H:%M:%fZ', (SELECT m.\"createdAt\" FROM "
    f'{MESSAGES} AS m WHERE m.thread_id = j.value ->> 1 ORDER BY m."createdAt" DESC LIMIT 1), '
    "printf('+%d.%03d seconds', (j.value ->> 7) / 1000, (j.value ->> 7) % 1000)), '')) END, "
    "j.value ->> 6 FROM json_each(?) AS j WHERE true "
    "ON CONFLICT (id) DO UPDATE SET content = excluded.content, role = excluded.role, type = excluded.type, "
    '"createdAt" = excluded."createdAt", "resourceId" = excluded."resourceId" '
    f'WHERE {MESSAGES}.thread_id = excluded.thread_id RETURNING id, "createdAt"'
)


def _kv_row(row: Any) -> KVRow:
    return KVRow(
        value_json=row[0],
        expires_at=None if row[1] is None else _sql.parse_ts(row[1]),
        created_at=_sql.parse_ts(row[2]),
        updated_at=_sql.parse_ts(row[3]),
    )


def _live(row: Any, now_text: str) -> bool:
    return row[1] is None or row[1] > now_text
