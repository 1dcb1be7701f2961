"""The shared storage conformance suite, run against every adapter.

Adapters on servers read their URL from an environment variable and are skipped, with the
variable named, when it is unset (scripts/services.sh start sets them all). Each test gets a
fresh, empty store: its own PostgreSQL schema, MongoDB database or MariaDB database, dropped
afterwards; the shared sqld database is emptied first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing.conformance import MemoryStorageConformance
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.libsql import LibSQLStore
from tests import servers


@contextmanager
def _inmemory(tmp_path: Path) -> Iterator[MemoryStorage]:
    yield InMemoryStore()


@contextmanager
def _libsql_file(tmp_path: Path) -> Iterator[MemoryStorage]:
    with LibSQLStore(f"file:{tmp_path}/conformance.db") as store:
        yield store


@contextmanager
def _libsql_memory(tmp_path: Path) -> Iterator[MemoryStorage]:
    with LibSQLStore(":memory:") as store:
        yield store


FACTORIES: dict[str, Callable[[Path], AbstractContextManager[MemoryStorage]]] = {
    "inmemory": _inmemory,
    "libsql-file": _libsql_file,
    "libsql-memory": _libsql_memory,
    "postgres": lambda _: servers.postgres_store(),
    "mongodb": lambda _: servers.mongodb_store(),
    "mongodb-no-transactions": lambda _: servers.mongodb_store(transactions=False),
    "libsql-sqld-http": lambda _: servers.sqld_store("http"),
    "libsql-sqld-ws": lambda _: servers.sqld_store("ws"),
    "sqlalchemy-sqlite": lambda tmp: servers.sqlalchemy_store(f"sqlite:///{tmp}/sa.db"),
    "sqlalchemy-postgres": lambda _: servers.sqlalchemy_store("postgres"),
    "sqlalchemy-mariadb": lambda _: servers.sqlalchemy_store("mariadb"),
}


class TestConformance(MemoryStorageConformance):
    @pytest.fixture(params=list(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            yield store
