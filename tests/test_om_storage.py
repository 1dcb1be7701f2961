"""The observational-memory storage contract (mastra_memory.testing.om_conformance) on every
store that supports it, plus libSQL's migration 3 with the original's column names."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing.om_conformance import ObservationalMemoryConformance
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.libsql import LibSQLStore
from tests import servers

SERVER_STORES = {
    "pg": servers.postgres_store,
    "mongodb": servers.mongodb_store,
    "sqlalchemy-pg": functools.partial(servers.sqlalchemy_store, "postgres"),
    "sqlalchemy-mariadb": functools.partial(servers.sqlalchemy_store, "mariadb"),
}


class TestObservationalMemoryStorage(ObservationalMemoryConformance):
    @pytest.fixture(params=["inmemory", "libsql-file", "libsql-memory", "sqlalchemy-sqlite", *SERVER_STORES])
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        if request.param == "sqlalchemy-sqlite":
            with servers.sqlalchemy_store(f"sqlite:///{tmp_path}/om-sa.db") as sa_store:
                yield sa_store
            return
        if request.param in SERVER_STORES:
            with SERVER_STORES[request.param]() as server_store:
                yield server_store
            return
        s: MemoryStorage
        if request.param == "inmemory":
            s = InMemoryStore()
        elif request.param == "libsql-file":
            s = LibSQLStore(f"file:{tmp_path}/om.db")
        else:
            s = LibSQLStore(":memory:")
        s.setup()
        yield s
        s.close()


def test_libsql_migration_3_has_the_original_columns(tmp_path: Path) -> None:
    store = LibSQLStore(f"file:{tmp_path}/cols.db")
    store.setup()
    conn = store._conn()
    cols = [r[1] for r in conn.execute("PRAGMA table_info(mastra_observational_memory)").fetchall()]
    expected = [
        "id",
        "lookupKey",
        "scope",
        "resourceId",
        "threadId",
        "activeObservations",
        "activeObservationsPendingUpdate",
        "originType",
        "config",
        "generationCount",
        "lastObservedAt",
        "lastReflectionAt",
        "pendingMessageTokens",
        "totalTokensObserved",
        "observationTokenCount",
        "isObserving",
        "isReflecting",
        "observedMessageIds",
        "observedTimezone",
        "bufferedObservations",
        "bufferedObservationTokens",
        "bufferedMessageIds",
        "bufferedReflection",
        "bufferedReflectionTokens",
        "bufferedReflectionInputTokens",
        "reflectedObservationLineCount",
        "bufferedObservationChunks",
        "isBufferingObservation",
        "isBufferingReflection",
        "lastBufferedAtTokens",
        "lastBufferedAtTime",
        "metadata",
        "createdAt",
        "updatedAt",
    ]
    assert cols == expected
    versions = [r[0] for r in conn.execute("SELECT version FROM mastra_memory_migrations ORDER BY version").fetchall()]
    assert 3 in versions
    store.close()
