"""The observational-memory storage contract (mastra_memory.testing.om_conformance) on every
store that supports it, plus libSQL's migration 3 with the original's column names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing.om_conformance import ObservationalMemoryConformance
from storage_adapters.libsql import LibSQLStore
from tests.servers import FACTORIES


class TestObservationalMemoryStorage(ObservationalMemoryConformance):
    @pytest.fixture(params=list(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            if not store.supports_observational_memory:
                pytest.skip(f"{type(store).__name__} does not support observational memory")
            yield store


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
