"""The shared storage conformance suite, run against every adapter.

Adapters on servers read their URL from an environment variable and are skipped, with the
variable named, when it is unset (scripts/services.sh start sets them all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mastra_memory.testing.conformance import MemoryStorageConformance
from storage_adapters.base import MemoryStorage
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.libsql import LibSQLStore


def _inmemory(tmp_path: Path) -> MemoryStorage:
    return InMemoryStore()


def _libsql_file(tmp_path: Path) -> MemoryStorage:
    return LibSQLStore(f"file:{tmp_path}/conformance.db")


def _libsql_memory(tmp_path: Path) -> MemoryStorage:
    return LibSQLStore(":memory:")


FACTORIES: dict[str, Callable[[Path], MemoryStorage]] = {
    "inmemory": _inmemory,
    "libsql-file": _libsql_file,
    "libsql-memory": _libsql_memory,
}


class TestConformance(MemoryStorageConformance):
    @pytest.fixture(params=sorted(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            yield store
