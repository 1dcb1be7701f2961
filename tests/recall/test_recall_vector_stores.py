"""The vector conformance suite on every backend: in-memory, libSQL file, PostgreSQL + pgvector,
and the MongoDB wire server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mastra_memory.storage.vector import VectorStore
from mastra_memory.testing.vector_conformance import VectorStoreConformance
from storage_adapters.inmemory import InMemoryVector
from storage_adapters.libsql import LibSQLVector


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


class TestPgVector(VectorStoreConformance):
    @pytest.fixture
    def vector(self, pg_url: str) -> Iterator[VectorStore]:
        from storage_adapters.pg import PgVector

        store = PgVector(pg_url, schema_name="recall_conformance")
        yield store
        store.close()


class TestPgVectorFlat(VectorStoreConformance):
    """The same contract with exact search (no ANN index)."""

    @pytest.fixture
    def vector(self, pg_url: str) -> Iterator[VectorStore]:
        from storage_adapters.pg import PgVector

        store = PgVector(pg_url)
        original = store._create_index

        def flat(name, dim, metric, config, fields):  # type: ignore[no-untyped-def]
            original(name, dim, metric, {**config, "type": "flat"}, fields)

        store._create_index = flat  # type: ignore[method-assign]
        yield store
        store.close()


class TestMongoDBVector(VectorStoreConformance):
    """On the MongoDB wire server (no Atlas): the exact-search path over pre-filtered candidates."""

    @pytest.fixture
    def vector(self, mongo_url: str, unique: str) -> Iterator[VectorStore]:
        from storage_adapters.mongodb import MongoDBVector

        store = MongoDBVector(mongo_url, db_name=f"recall_{unique}")
        yield store
        store._client.drop_database(f"recall_{unique}")
        store.close()

    def test_mode_falls_back_to_exact(self, vector: VectorStore, index: str) -> None:
        assert vector.search_mode == "exact"  # type: ignore[attr-defined]


def test_libsql_ann_index_is_optional_and_used_without_filter(db_url: str) -> None:
    import numpy as np

    store = LibSQLVector(db_url)
    rng = np.random.default_rng(3)
    mat = rng.normal(size=(60, 8)).astype(np.float32)
    store.create_index("ann_idx", 8, index_config={"ann": True})
    store.upsert(
        "ann_idx", mat.tolist(), [{"thread_id": f"t{i % 3}"} for i in range(60)], ids=[f"v{i}" for i in range(60)]
    )
    with store._db._read() as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()}
    assert "ann_idx_vector_idx" in names
    hits = store.query("ann_idx", mat[7].tolist(), top_k=3)  # vector_top_k path
    assert hits[0].id == "v7" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    scoped = store.query("ann_idx", mat[7].tolist(), top_k=3, filter={"thread_id": "t1"})  # exact path
    assert scoped[0].id == "v7" and all(h.metadata["thread_id"] == "t1" for h in scoped)
    with pytest.raises(Exception, match="cosine and euclidean"):
        store.create_index("dot_idx", 8, metric="dotproduct")
    store.close()
