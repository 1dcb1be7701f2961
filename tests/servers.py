"""Fresh, isolated stores on the real servers that ``scripts/services.sh start`` runs.

Every factory is a context manager yielding a set-up, empty store and removing what it created
afterwards. When the server's environment variable is unset the test is skipped, naming it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.storage.base import MemoryStorage

PG = "MASTRA_TEST_PG_URL"
MONGODB = "MASTRA_TEST_MONGODB_URL"
SQLD = "MASTRA_TEST_SQLD_URL"
MARIADB = "MASTRA_TEST_MARIADB_URL"
DYNAMODB = "MASTRA_TEST_DYNAMODB_URL"
REDIS = "MASTRA_TEST_REDIS_URL"


def url_or_skip(var: str) -> str:
    """The URL in ``var``, or skip the test saying which variable to set."""
    url = os.environ.get(var)
    if not url:
        pytest.skip(f'{var} is not set (run: eval "$(scripts/services.sh start)")')
    return url


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def drop_pg_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def postgres_store(**kwargs: Any) -> Iterator[MemoryStorage]:
    """A PostgresStore in a schema of its own, dropped afterwards."""
    url = url_or_skip(PG)
    from storage_adapters.pg import PostgresStore

    schema = unique("mmtest")
    store = PostgresStore(url, schema_name=schema, **kwargs)
    try:
        store.setup()
        yield store
    finally:
        store.close()
        drop_pg_schema(url, schema)


@contextmanager
def mongodb_store(**kwargs: Any) -> Iterator[MemoryStorage]:
    """A MongoDBStore on a database of its own, dropped afterwards."""
    url = url_or_skip(MONGODB)
    from storage_adapters.mongodb import MongoDBStore

    db_name = unique("mmtest")
    store = MongoDBStore(url=url, db_name=db_name, **kwargs)
    try:
        store.setup()
        yield store
    finally:
        store.drop_database()
        store.close()


def clear_sqld(url: str) -> None:
    """Drop every table of the (shared) sqld database."""
    import libsql

    conn = libsql.connect(url, isolation_level=None)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'libsql_%' AND name NOT LIKE '_litestream%'"
            ).fetchall()
        ]
        for name in names:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        conn.close()


@contextmanager
def _server_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock named after ``url`` (a file in the temporary directory) for the
    block: pytest-xdist workers, or two test runs, that share one sqld take turns on it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no parallel runs there
        yield
        return
    name = "".join(c if c.isalnum() else "_" for c in url)
    with open(Path(tempfile.gettempdir()) / f"mastra-memory-test-{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def sqld_store(scheme: str = "http") -> Iterator[MemoryStorage]:
    """A LibSQLStore on the sqld server (``http`` via libsql, ``ws`` via libsql-client),
    emptied before use. sqld has one database: tests on the same server take turns (a file lock;
    under pytest-xdist each worker normally has a sqld of its own, see tests/conftest.py)."""
    url = url_or_skip(SQLD)
    from storage_adapters.libsql import LibSQLStore

    if scheme == "ws":
        pytest.importorskip("libsql_client", reason="libsql-client not installed ([libsql-client])")
        store_url = "ws://" + url.split("://", 1)[1]
    else:
        store_url = url
    with _server_lock(url):
        clear_sqld(url)
        with LibSQLStore(store_url) as store:
            yield store


@contextmanager
def sqlalchemy_store(target: str) -> Iterator[MemoryStorage]:
    """A SQLAlchemyStore on SQLite (``target`` is a sqlite URL), PostgreSQL (a schema of its
    own) or MariaDB (a database of its own)."""
    pytest.importorskip("sqlalchemy")
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    if target == "postgres":
        url = url_or_skip(PG)
        schema = unique("mmsa")
        store = SQLAlchemyStore(url.replace("postgresql://", "postgresql+psycopg://", 1), schema=schema)
        try:
            store.setup()
            yield store
        finally:
            store.close()
            drop_pg_schema(url, schema)
    elif target == "mariadb":
        url = url_or_skip(MARIADB)
        import sqlalchemy as sa

        db = unique("mmsa")
        admin = sa.create_engine(url)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            store = SQLAlchemyStore(url.rsplit("/", 1)[0] + f"/{db}")
            try:
                store.setup()
                yield store
            finally:
                store.close()
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{db}`")
        finally:
            admin.dispose()
    else:
        with SQLAlchemyStore(target) as store:
            yield store


@contextmanager
def redis_store(**kwargs: Any) -> Iterator[MemoryStorage]:
    """A RedisStore under a key prefix of its own on the test database, its keys deleted afterwards."""
    url = url_or_skip(REDIS)
    pytest.importorskip("redis", reason="redis-py not installed ([redis])")
    from storage_adapters.redis import RedisStore

    store = RedisStore(url, key_prefix=unique("mmtest") + ":", **kwargs)
    try:
        store.setup()
        yield store
    finally:
        store.drop_keys()
        store.close()


@contextmanager
def _inmemory(tmp_path: Path) -> Iterator[MemoryStorage]:
    from storage_adapters.inmemory import InMemoryStore

    yield InMemoryStore()


@contextmanager
def _libsql_file(tmp_path: Path) -> Iterator[MemoryStorage]:
    from storage_adapters.libsql import LibSQLStore

    with LibSQLStore(f"file:{tmp_path}/conformance.db") as store:
        yield store


@contextmanager
def _libsql_memory(tmp_path: Path) -> Iterator[MemoryStorage]:
    from storage_adapters.libsql import LibSQLStore

    with LibSQLStore(":memory:") as store:
        yield store


@contextmanager
def dynamodb_store(**kwargs: Any) -> Iterator[MemoryStorage]:
    """A DynamoDBStore on a table of its own on the DynamoDB-compatible server (moto), deleted
    afterwards."""
    url = url_or_skip(DYNAMODB)
    pytest.importorskip("boto3", reason="boto3 not installed ([dynamodb])")
    from storage_adapters.dynamodb import DynamoDBStore

    store = DynamoDBStore.from_url(url, table_name=unique("mmtest"), **kwargs)
    try:
        store.setup()
        yield store
    finally:
        store.drop_table()
        store.close()


FACTORIES: dict[str, Callable[[Path], AbstractContextManager[MemoryStorage]]] = {
    # THE list of store factories: every suite (storage, key-value, observational memory, races)
    # parametrizes over it, so a new backend is one line here.
    "inmemory": _inmemory,
    "libsql-file": _libsql_file,
    "libsql-memory": _libsql_memory,
    "postgres": lambda _: postgres_store(),
    "mongodb": lambda _: mongodb_store(),
    "mongodb-no-transactions": lambda _: mongodb_store(transactions=False),
    "libsql-sqld-http": lambda _: sqld_store("http"),
    "libsql-sqld-ws": lambda _: sqld_store("ws"),
    "sqlalchemy-sqlite": lambda tmp: sqlalchemy_store(f"sqlite:///{tmp}/sa.db"),
    "sqlalchemy-postgres": lambda _: sqlalchemy_store("postgres"),
    "sqlalchemy-mariadb": lambda _: sqlalchemy_store("mariadb"),
    "dynamodb": lambda _: dynamodb_store(),
    "redis": lambda _: redis_store(),
}
