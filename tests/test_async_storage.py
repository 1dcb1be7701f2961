"""The async face of the storage layer (issue 13), against the real servers.

The sync conformance suites run unchanged on the async stores through
:class:`~mastra_memory.testing.async_bridge.SyncStorageView` (each call's coroutine runs on one
event loop kept for the test):

* the native :class:`~storage_adapters.pg.AsyncPostgresStore` and
  :class:`~storage_adapters.mongodb.AsyncMongoDBStore` (with and without multi-document
  transactions), :class:`~storage_adapters.redis.AsyncRedisStore` and
  :class:`~storage_adapters.sqlalchemy.AsyncSQLAlchemyStore` (SQLite file, PostgreSQL, MariaDB):
  every suite (storage, key-value, observational memory, keyword search);
* :class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage` over embedded libSQL (what
  ``open_async_storage`` gives a file: the ``sqlite3`` driver, one worker thread), and over one
  factory of every other backend of :data:`tests.servers.FACTORIES` (in-memory, sqld, DynamoDB):
  every suite too.

Plus the concurrency checks of each native store: many tasks on one event loop lose nothing and
never change a thread's owner, and get-or-create races create each thread once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.errors import ResourceMismatchError, ThreadConflictError
from mastra_memory.storage import AsyncMemoryStorage, open_async_storage
from mastra_memory.storage.threaded import ThreadedAsyncStorage, as_async_storage, as_storage
from mastra_memory.testing.async_bridge import SyncStorageView
from mastra_memory.testing.conformance import MemoryStorageConformance
from mastra_memory.testing.keyword_conformance import KeywordSearchConformance
from mastra_memory.testing.kv_conformance import KeyValueConformance, _Clock
from mastra_memory.testing.om_conformance import ObservationalMemoryConformance
from mastra_memory.testing.vector_conformance import VectorStoreConformance
from mastra_memory.types import Message, Thread
from tests.servers import FACTORIES, MARIADB, MONGODB, PG, REDIS, drop_pg_schema, unique, url_or_skip

FULL = [
    "native-postgres",
    "native-mongodb",
    "native-mongodb-no-transactions",
    "native-redis",
    "native-sqlalchemy-sqlite",
    "native-sqlalchemy-postgres",
    "native-sqlalchemy-mariadb",
    "threaded-libsql-file",
]
"""Stores every suite runs on."""
THREADED_ONE_PER_BACKEND = ["inmemory", "libsql-sqld-http", "dynamodb"]
"""The async face of each other backend (worker threads): one factory per backend, since the
wrapper runs the very same sync call whatever the variant (the variants of a backend, such as
MongoDB without transactions or sqld over WebSocket, run the sync suites in tests/test_conformance.py)."""
CORE = FULL + [f"threaded-{name}" for name in THREADED_ONE_PER_BACKEND]
"""Every backend's async face: every suite (storage, key-value, observational memory, keyword
search) runs on each."""
assert set(THREADED_ONE_PER_BACKEND) <= set(FACTORIES)


@contextmanager
def native_postgres(**kwargs: Any) -> Iterator[SyncStorageView]:
    """An AsyncPostgresStore in a schema of its own (dropped afterwards), seen through the bridge."""
    url = url_or_skip(PG)
    from storage_adapters.pg import AsyncPostgresStore

    schema = unique("mmasync")
    try:
        with SyncStorageView(AsyncPostgresStore(url, schema_name=schema, **kwargs)) as view:
            yield view
    finally:
        drop_pg_schema(url, schema)


@contextmanager
def native_mongodb(**kwargs: Any) -> Iterator[SyncStorageView]:
    """An AsyncMongoDBStore on a database of its own (dropped afterwards), seen through the bridge."""
    url = url_or_skip(MONGODB)
    from storage_adapters.mongodb import AsyncMongoDBStore

    with SyncStorageView(AsyncMongoDBStore(url=url, db_name=unique("mmasync"), **kwargs)) as view:
        try:
            yield view
        finally:
            view.drop_database()


@contextmanager
def native_redis(**kwargs: Any) -> Iterator[SyncStorageView]:
    """An AsyncRedisStore under a key prefix of its own (its keys deleted afterwards), seen
    through the bridge."""
    url = url_or_skip(REDIS)
    pytest.importorskip("redis", reason="redis-py not installed ([redis])")
    from storage_adapters.redis import AsyncRedisStore

    with SyncStorageView(AsyncRedisStore(url, key_prefix=unique("mmasync") + ":", **kwargs)) as view:
        try:
            yield view
        finally:
            view.run(view.async_store.drop_keys())


_SA_SHARED: dict[str, tuple[str, str | None]] = {}
"""target -> (URL, schema) of this process's MariaDB database or PostgreSQL schema for the native
SQLAlchemy store: created and migrated once per pytest worker (dropped at exit), each test's
store starting on emptied tables (creating a database and migrating it costs MariaDB about 1.5 s,
a few minutes over the suites)."""


def _sa_shared(target: str) -> tuple[str, str | None]:
    if target in _SA_SHARED:
        return _SA_SHARED[target]
    import atexit

    import sqlalchemy as sa

    if target == "postgres":
        url = url_or_skip(PG)
        schema = unique("mmasa")
        atexit.register(drop_pg_schema, url, schema)
        _SA_SHARED[target] = (url.replace("postgresql://", "postgresql+psycopg://", 1), schema)
    else:
        url = url_or_skip(MARIADB)
        db = unique("mmasa")
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        admin.dispose()

        def drop() -> None:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{db}`")
            engine.dispose()

        atexit.register(drop)
        _SA_SHARED[target] = (url.rsplit("/", 1)[0] + f"/{db}", None)
    return _SA_SHARED[target]


async def _empty_tables(store: Any) -> None:
    """Delete every row of the store's tables but the migrations list (the schema stays)."""
    import sqlalchemy as sa

    from storage_adapters._sql import MIGRATIONS_TABLE

    await store.setup()
    async with store.engine.begin() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names(schema=store.schema))
        for name in sorted(names):
            if name != MIGRATIONS_TABLE:
                await conn.execute(sa.delete(sa.table(name, schema=store.schema)))


@contextmanager
def native_sqlalchemy(target: str, max_pool_size: int | None = None) -> Iterator[SyncStorageView]:
    """An AsyncSQLAlchemyStore, seen through the bridge, given the sync URL a user writes (the
    store maps it onto the async driver): a SQLite file in a directory of its own, or PostgreSQL
    / MariaDB on this worker's schema / database, emptied first (see :data:`_SA_SHARED`)."""
    pytest.importorskip("sqlalchemy")
    import tempfile

    from storage_adapters.sqlalchemy import AsyncSQLAlchemyStore

    options: dict[str, Any] = {}
    if max_pool_size is not None:
        options["engine_options"] = {"pool_size": max_pool_size, "max_overflow": 0}
    if target == "sqlite":
        with (
            tempfile.TemporaryDirectory() as tmp,
            SyncStorageView(AsyncSQLAlchemyStore.from_url(f"sqlite:///{tmp}/sa.db", **options)) as view,
        ):
            yield view
        return
    url, schema = _sa_shared(target)
    store = AsyncSQLAlchemyStore.from_url(url, schema=schema, **options)
    with SyncStorageView(store) as view:
        view.run(_empty_tables(store))
        yield view


NATIVE = {
    "native-postgres": native_postgres,
    "native-mongodb": native_mongodb,
    "native-mongodb-no-transactions": lambda **kw: native_mongodb(transactions=False, **kw),
    "native-redis": native_redis,
    "native-sqlalchemy-sqlite": lambda **kw: native_sqlalchemy("sqlite", **kw),
    "native-sqlalchemy-postgres": lambda **kw: native_sqlalchemy("postgres", **kw),
    "native-sqlalchemy-mariadb": lambda **kw: native_sqlalchemy("mariadb", **kw),
}
"""The native async stores, each as a factory of a bridged view."""
POOL_OPTION = {
    "native-postgres": "max_pool_size",
    "native-mongodb": "max_pool_size",
    "native-mongodb-no-transactions": "max_pool_size",
    "native-redis": "max_connections",
    "native-sqlalchemy-sqlite": "max_pool_size",
    "native-sqlalchemy-postgres": "max_pool_size",
    "native-sqlalchemy-mariadb": "max_pool_size",
}
"""The pool-size keyword of each native store."""


@contextmanager
def async_view(name: str, tmp_path: Path) -> Iterator[SyncStorageView]:
    if name in NATIVE:
        with NATIVE[name]() as view:
            yield view
        return
    if name == "threaded-libsql-file":  # what open_async_storage gives: the sqlite3 driver, one worker thread
        from mastra_memory.storage import open_async_storage

        store = open_async_storage(f"file:{tmp_path}/async.db")
        assert store.sync.driver == "sqlite3", store.sync.driver
        with SyncStorageView(store) as view:
            yield view
        return
    with FACTORIES[name.removeprefix("threaded-")](tmp_path) as sync_store:
        view = SyncStorageView(ThreadedAsyncStorage(sync_store), close_store=False)
        try:
            yield view
        finally:
            view.close()  # the factory closes the store (after dropping what it created)


class TestAsyncConformance(MemoryStorageConformance):
    @pytest.fixture(params=CORE)
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
        with async_view(request.param, tmp_path) as view:
            yield view


class TestAsyncKeyValueConformance(KeyValueConformance):
    # key-value writes never use MongoDB transactions (one variant is enough)
    @pytest.fixture(params=[name for name in CORE if name != "native-mongodb-no-transactions"])
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
        if request.param == "native-mongodb" or request.param.startswith(("native-sqlalchemy", "threaded-")):
            # fewer keys: the mongoeco server's inserts slow down with the collection, and the
            # SQLAlchemy listing is the generated twin of the one tests/test_kv_storage.py runs
            # with 1,500 keys on the sync store, as a worker-thread store runs the very same call
            self.many_keys, self.page_size = 150, 100
        with async_view(request.param, tmp_path) as view:
            yield view

    @pytest.fixture
    def clock(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Clock]:
        """The storage layer's time on both faces (the native store reads base_async's)."""
        fake = _Clock(datetime.now(UTC).replace(microsecond=0))
        monkeypatch.setattr("mastra_memory.storage.base.now_utc", fake)
        monkeypatch.setattr("mastra_memory.storage.base_async.now_utc", fake)
        yield fake


class TestAsyncObservationalMemoryConformance(ObservationalMemoryConformance):
    @pytest.fixture(params=CORE)
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
        with async_view(request.param, tmp_path) as view:
            yield view


class TestAsyncKeywordSearch(KeywordSearchConformance):
    @pytest.fixture(params=CORE)
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
        with async_view(request.param, tmp_path) as view:
            yield view


class TestAsyncPgVector(VectorStoreConformance):
    """The native async pgvector store (AsyncPgVector) on the vector conformance suite."""

    @pytest.fixture
    def vector(self) -> Iterator[Any]:
        url = url_or_skip(PG)
        from storage_adapters.pg import AsyncPgVector

        schema = unique("mmavec")
        try:
            with SyncStorageView(AsyncPgVector(url, schema_name=schema)) as view:
                yield view
        finally:
            drop_pg_schema(url, schema)


class TestAsyncMongoDBVector(VectorStoreConformance):
    """The native async MongoDB vector store (AsyncMongoDBVector, exact search: no Atlas here)."""

    @pytest.fixture
    def vector(self) -> Iterator[Any]:
        url = url_or_skip(MONGODB)
        from storage_adapters.mongodb import AsyncMongoDBVector

        db = unique("mmavec")
        store = AsyncMongoDBVector(url, db_name=db)
        with SyncStorageView(store) as view:
            try:
                yield view
            finally:
                view.run(store._client.drop_database(db))

    def test_mode_falls_back_to_exact(self, vector: Any, index: str) -> None:
        assert vector.search_mode == "exact"


class TestAsyncRedisVector(VectorStoreConformance):
    """The native async Redis vector store (AsyncRedisVector, redis.asyncio)."""

    @pytest.fixture
    def vector(self) -> Iterator[Any]:
        url = url_or_skip(REDIS)
        pytest.importorskip("redis", reason="redis-py not installed ([redis])")
        from storage_adapters.redis import AsyncRedisVector

        prefix = unique("mmavec") + ":"
        store = AsyncRedisVector(url, key_prefix=prefix)
        with SyncStorageView(store) as view:
            try:
                yield view
            finally:

                async def drop() -> None:
                    keys = [k async for k in store._r.scan_iter(match=prefix + "*")]
                    if keys:
                        await store._r.delete(*keys)

                view.run(drop())

    def test_search_mode_is_exact_and_detected_on_demand(self, vector: Any) -> None:
        assert vector.search_mode == "exact"  # not asked yet: a property can not await
        assert vector.detect_search_mode().startswith("exact")
        assert vector.search_mode.startswith("exact")


# -- open_async_storage and the wrappers -------------------------------------------------------


def test_open_async_storage_picks_native_postgres_and_threads_for_the_rest(tmp_path: Path) -> None:
    from storage_adapters.pg import AsyncPostgresStore

    native = open_async_storage("postgresql://nobody@127.0.0.1:1/db?schema=s1")
    assert isinstance(native, AsyncPostgresStore) and isinstance(native, AsyncMemoryStorage)
    assert native.schema_name == "s1"
    for url in ("memory://", f"file:{tmp_path}/a.db"):
        threaded = open_async_storage(url)
        assert isinstance(threaded, ThreadedAsyncStorage) and isinstance(threaded, AsyncMemoryStorage)
        assert as_storage(threaded) is threaded.sync
        assert as_async_storage(threaded) is threaded
    assert as_async_storage(native) is native
    with pytest.raises(Exception, match="AsyncMemory"):
        as_storage(native)


def test_open_async_storage_picks_native_sqlalchemy(tmp_path: Path) -> None:
    """The SQLAlchemy URLs a user writes for the sync store open the native async store on the
    dialect's async driver; options from the URL and ``connect_timeout`` reach it as for the sync one."""
    pytest.importorskip("sqlalchemy")
    from storage_adapters.sqlalchemy import AsyncSQLAlchemyStore

    cases = {
        f"sqlite:///{tmp_path}/b.db": "sqlite+aiosqlite",
        "mysql+pymysql://u:pw@127.0.0.1:1/db": "mysql+aiomysql",
        "mariadb://u@127.0.0.1:1/db": "mariadb+aiomysql",
        "postgresql+psycopg://u@127.0.0.1:1/db?schema=s1": "postgresql+psycopg",
    }
    for url, driver in cases.items():
        native = open_async_storage(url, connect_timeout=3)
        try:
            assert isinstance(native, AsyncSQLAlchemyStore) and isinstance(native, AsyncMemoryStorage)
            assert native.engine.url.drivername == driver  # type: ignore[attr-defined]
            assert as_async_storage(native) is native
            if driver.startswith("postgresql"):
                assert native.schema == "s1"  # type: ignore[attr-defined]
        finally:
            asyncio.run(native.close())


def test_open_async_vector_picks_the_native_twins() -> None:
    from mastra_memory.storage import open_async_vector
    from mastra_memory.storage.threaded import ThreadedAsyncVector
    from mastra_memory.storage.vector_async import AsyncVectorStore

    pytest.importorskip("redis", reason="redis-py not installed ([redis])")
    from storage_adapters.mongodb import AsyncMongoDBVector
    from storage_adapters.pg import AsyncPgVector
    from storage_adapters.redis import AsyncRedisVector

    redis_vector = open_async_vector("redis://127.0.0.1:1/3?key_prefix=p1:")
    assert isinstance(redis_vector, AsyncRedisVector) and redis_vector._p == "p1:"
    pg_vector = open_async_vector("postgresql://nobody@127.0.0.1:1/db?schema=s1")
    assert isinstance(pg_vector, AsyncPgVector) and pg_vector.schema == "s1"
    mongo_vector = open_async_vector("mongodb://127.0.0.1:1/appdb")
    assert isinstance(mongo_vector, AsyncMongoDBVector)
    threaded = open_async_vector("memory://")
    assert isinstance(threaded, ThreadedAsyncVector)
    for vector in (redis_vector, pg_vector, mongo_vector, threaded):
        assert isinstance(vector, AsyncVectorStore)
        asyncio.run(vector.close())


def test_async_sqlalchemy_url_mapping() -> None:
    from storage_adapters.sqlalchemy._io_async import engine_url

    assert engine_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert engine_url("sqlite+pysqlite:////abs/x.db?timeout=5") == "sqlite+aiosqlite:////abs/x.db?timeout=5"
    assert engine_url("sqlite://") == "sqlite+aiosqlite://"
    assert engine_url("mysql+pymysql://u:p@h/db?charset=utf8mb4") == "mysql+aiomysql://u:p@h/db?charset=utf8mb4"
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
    for unchanged in (
        "postgresql+psycopg://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "mysql+asyncmy://u@h/db",
        "sqlite+aiosqlite:///x.db",
        "mssql+pyodbc://h/db",
    ):
        assert engine_url(unchanged) == unchanged


def test_async_sqlalchemy_missing_async_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sqlalchemy")
    import sys

    from mastra_memory.errors import MissingDependencyError
    from storage_adapters.sqlalchemy import AsyncSQLAlchemyStore

    monkeypatch.setitem(sys.modules, "aiomysql", None)  # import aiomysql -> ImportError
    with pytest.raises(MissingDependencyError, match=r"aiomysql is not installed.*mastra-memory\[sqlalchemy\]"):
        AsyncSQLAlchemyStore("mysql+pymysql://u@127.0.0.1:1/db")


def test_native_sqlalchemy_read_only_creates_nothing(tmp_path: Path) -> None:
    """``create=False`` on a missing SQLite file raises at once; on a database without the
    tables it raises on the first call and creates no table."""
    pytest.importorskip("sqlalchemy")
    import sqlite3

    from mastra_memory.errors import NoDataError

    with pytest.raises(NoDataError):
        open_async_storage(f"sqlite:///{tmp_path}/missing.db", create=False)
    sqlite3.connect(tmp_path / "empty.db").close()

    async def main() -> None:
        store = open_async_storage(f"sqlite:///{tmp_path}/empty.db", create=False)
        try:
            with pytest.raises(NoDataError, match="no mastra-memory data"):
                await store.list_threads()
        finally:
            await store.close()
        async with open_async_storage(f"sqlite:///{tmp_path}/full.db") as store:
            await store.save_thread(Thread(id="t1", resource_id="r1"))
        again = open_async_storage(f"sqlite:///{tmp_path}/full.db", create=False)
        try:
            assert (await again.get_thread_by_id("t1")) is not None
        finally:
            await again.close()

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "empty.db") as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_native_sqlalchemy_in_memory_sqlite_takes_turns() -> None:
    """``sqlite://`` on the async face is one in-memory database on one shared connection
    (SQLAlchemy's StaticPool): concurrent tasks take turns instead of failing with "cannot start
    a transaction within a transaction"."""
    pytest.importorskip("sqlalchemy")
    from storage_adapters.sqlalchemy import AsyncSQLAlchemyStore

    async def main() -> int:
        async with AsyncSQLAlchemyStore("sqlite://") as store:
            await store.save_thread(Thread(id="t1", resource_id="r1"))
            await asyncio.gather(*(store.save_messages([_message(i, "t1", "r1")]) for i in range(20)))
            return (await store.list_messages("t1", per_page=False)).total

    assert asyncio.run(main()) == 20


def test_open_async_storage_picks_native_mongodb() -> None:
    from storage_adapters.mongodb import AsyncMongoDBStore

    for url in ("mongodb://127.0.0.1:1/appdb", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"):
        native = open_async_storage(url)
        assert isinstance(native, AsyncMongoDBStore) and isinstance(native, AsyncMemoryStorage)
        assert as_async_storage(native) is native
    assert open_async_storage("mongodb://127.0.0.1:1/appdb").db_name == "appdb"


def test_native_mongodb_open_setup_close_in_asyncio_run() -> None:
    """Created outside any loop, used in one ``asyncio.run``; ``create=False`` on an empty
    database creates nothing."""
    url = url_or_skip(MONGODB)
    db = unique("mmasync")
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    db_url = urlunsplit(parts._replace(path=f"/{db}"))
    empty_url = urlunsplit(parts._replace(path=f"/{db}_empty"))

    async def main() -> int:
        store = open_async_storage(db_url)
        await store.setup()
        try:
            await store.save_thread(Thread(id="t1", resource_id="r1"))
            return (await store.list_threads()).total
        finally:
            await store.drop_database()  # type: ignore[attr-defined]
            await store.close()

    async def read_only() -> list[str]:
        store = open_async_storage(empty_url, create=False)
        try:
            with pytest.raises(Exception, match="no mastra-memory data"):
                await store.list_threads()
            return await store._client.list_database_names()  # type: ignore[attr-defined,no-any-return]
        finally:
            await store.close()

    assert asyncio.run(main()) == 1
    assert f"{db}_empty" not in asyncio.run(read_only())


def test_open_async_storage_picks_native_redis() -> None:
    pytest.importorskip("redis", reason="redis-py not installed ([redis])")
    from storage_adapters.redis import AsyncRedisStore

    native = open_async_storage("redis://127.0.0.1:1/3?key_prefix=p1:")
    assert isinstance(native, AsyncRedisStore) and isinstance(native, AsyncMemoryStorage)
    assert native.key_prefix == "p1:"
    assert as_async_storage(native) is native
    asyncio.run(native.close())


def test_native_redis_read_only_creates_nothing_then_reads() -> None:
    url = url_or_skip(REDIS)
    pytest.importorskip("redis", reason="redis-py not installed ([redis])")
    import redis

    prefix = unique("mmasync") + ":"
    store_url = f"{url}?key_prefix={prefix}"

    async def read_empty() -> None:
        empty = open_async_storage(store_url, create=False)
        try:
            with pytest.raises(Exception, match="no mastra-memory data"):
                await empty.list_threads()
            with pytest.raises(Exception, match="no mastra-memory data"):
                await empty.setup()
        finally:
            await empty.close()

    async def write_then_read() -> None:
        async with open_async_storage(store_url) as store:
            await store.create_thread(Thread(id="t", resource_id="r"))
        again = open_async_storage(store_url, create=False)
        try:
            assert (await again.get_thread_by_id("t")) is not None
        finally:
            await again.close()

    client = redis.Redis.from_url(url)
    try:
        asyncio.run(read_empty())
        assert list(client.scan_iter(match=prefix + "*")) == []  # nothing created
        asyncio.run(write_then_read())
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_threaded_store_is_an_async_context_manager(tmp_path: Path) -> None:
    async def main() -> list[str]:
        async with open_async_storage(f"file:{tmp_path}/c.db") as store:
            await store.save_thread(Thread(id="t1", resource_id="r1"))
            return [t.id for t in (await store.list_threads()).threads]

    assert asyncio.run(main()) == ["t1"]


def test_native_store_open_setup_close_in_asyncio_run() -> None:
    url = url_or_skip(PG)
    schema = unique("mmasync")

    async def main() -> int:
        store = open_async_storage(f"{url}?schema={schema}")
        await store.setup()
        try:
            await store.save_thread(Thread(id="t1", resource_id="r1"))
            return (await store.list_threads()).total
        finally:
            await store.close()

    try:
        assert asyncio.run(main()) == 1
    finally:
        drop_pg_schema(url, schema)


def test_native_store_read_only_creates_nothing() -> None:
    url = url_or_skip(PG)
    schema = unique("mmasync")

    async def main() -> None:
        store = open_async_storage(f"{url}?schema={schema}", create=False)
        try:
            with pytest.raises(Exception, match="no mastra-memory data"):
                await store.list_threads()
        finally:
            await store.close()

    asyncio.run(main())
    import psycopg

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


# -- concurrency on the native store -----------------------------------------------------------


def _message(i: int, thread_id: str, resource_id: str) -> Message:
    return Message.model_validate(
        {"id": f"m{i}", "thread_id": thread_id, "resource_id": resource_id, "role": "user", "content": f"msg {i}"}
    )


@pytest.mark.parametrize("native", list(NATIVE))
def test_many_tasks_lose_nothing_and_never_change_an_owner(native: str) -> None:
    """200 tasks on one loop: each creates its thread (some under a contested id owned by
    another resource) and saves messages; every message is stored once, no owner moves
    (PostgreSQL's pool and pymongo's both bound to 10 connections)."""
    tasks_n = 200
    with NATIVE[native](**{POOL_OPTION[native]: 10}) as view:
        store = view.async_store

        async def worker(i: int) -> str:
            tid, rid = f"t{i % 50}", f"r{i % 50}"
            await store.get_or_create_thread(Thread(id=tid, resource_id=rid))
            with contextlib.suppress(ResourceMismatchError):  # an intruder is refused
                await store.save_thread(Thread(id=tid, resource_id=f"intruder{i}"))
            await store.save_messages([_message(i * 10 + k, tid, rid) for k in range(3)])
            return tid

        async def main() -> None:
            await asyncio.gather(*(worker(i) for i in range(tasks_n)))

        view.run(main())
        threads = view.list_threads(per_page=False).threads
        assert len(threads) == 50
        assert all(t.resource_id == f"r{t.id[1:]}" for t in threads)
        total = 0
        for t in threads:
            page = view.list_messages(t.id, per_page=False)
            assert all(m.resource_id == t.resource_id for m in page.messages)
            total += page.total
        assert total == tasks_n * 3


@pytest.mark.parametrize("native", [name for name in NATIVE if not name.startswith("native-mongodb")])
def test_many_tasks_saving_to_one_thread_lose_nothing_and_keep_its_owner(native: str) -> None:
    """100 tasks on one loop save to the same thread (one hot row: every save locks it and moves
    its ``updatedAt``), each also trying to take the thread over: every message is stored once,
    the owner never changes and ``updatedAt`` never moves back. (MongoDB left out: 15 s a run on
    the test server; its stores run the 200-task check above.)"""
    tasks_n = 100
    with NATIVE[native]() as view:
        store = view.async_store
        created = view.create_thread(Thread(id="hot", resource_id="owner"))

        async def worker(i: int) -> None:
            with contextlib.suppress(ResourceMismatchError):  # an intruder is refused
                await store.save_thread(Thread(id="hot", resource_id=f"intruder{i}"))
            await store.save_messages([_message(i * 2 + k, "hot", "owner") for k in range(2)])

        async def main() -> None:
            await asyncio.gather(*(worker(i) for i in range(tasks_n)))

        view.run(main())
        thread = view.get_thread_by_id("hot")
        assert thread is not None and thread.resource_id == "owner"
        assert thread.updated_at >= created.updated_at
        page = view.list_messages("hot", per_page=False)
        assert page.total == tasks_n * 2
        assert sorted(m.id for m in page.messages) == sorted(f"m{i}" for i in range(tasks_n * 2))
        assert all(m.resource_id == "owner" for m in page.messages)


@pytest.mark.parametrize("native", list(NATIVE))
def test_get_or_create_races_between_tasks_create_each_thread_once(native: str) -> None:
    with NATIVE[native]() as view:
        store = view.async_store

        async def main() -> list[tuple[Thread, bool]]:
            return await asyncio.gather(
                *(
                    store.get_or_create_thread(Thread(id=f"race{i % 10}", resource_id="r1", title=f"{i}"))
                    for i in range(100)
                )
            )

        results = view.run(main())
        created = [t for t, was_created in results if was_created]
        assert sorted(t.id for t in created) == [f"race{i}" for i in range(10)]
        for thread, _ in results:  # every caller sees the one stored thread
            assert thread == view.get_thread_by_id(thread.id)

        async def conflict() -> list[Any]:
            return await asyncio.gather(
                *(store.create_thread(Thread(id="solo", resource_id=f"r{i}")) for i in range(20)),
                return_exceptions=True,
            )

        outcomes = view.run(conflict())
        winners = [o for o in outcomes if isinstance(o, Thread)]
        assert len(winners) == 1
        assert all(isinstance(o, ThreadConflictError) for o in outcomes if not isinstance(o, Thread))
        assert view.get_thread_by_id("solo").resource_id == winners[0].resource_id


@pytest.mark.parametrize("native", list(NATIVE))
def test_concurrent_kv_increments_are_never_lost(native: str) -> None:
    with NATIVE[native]() as view:
        store = view.async_store

        async def main() -> None:
            await asyncio.gather(*(store.kv_increment("ns", "counter") for _ in range(100)))

        view.run(main())
        entry = view.kv_get("ns", "counter")
        assert entry is not None and entry.value == 100


@pytest.mark.parametrize("native", list(NATIVE))
def test_native_store_runs_on_the_loop_not_in_threads(native: str) -> None:
    """The native store's calls do not go through the default executor (no worker thread)."""
    import threading

    with NATIVE[native]() as view:
        before = {t.name for t in threading.enumerate()}
        view.save_thread(Thread(id="t1", resource_id="r1"))
        view.list_threads()
        after = {t.name for t in threading.enumerate()}
        assert not any(name.startswith("asyncio_") for name in after - before)
