"""The conformance suite every :class:`~mastra_memory.storage.vector.VectorStore` passes.

Use it from a test module by subclassing and providing a ``vector`` fixture::

    import pytest
    from mastra_memory.testing.vector_conformance import VectorStoreConformance
    from mastra_memory.storage import open_vector

    class TestMyVector(VectorStoreConformance):
        @pytest.fixture
        def vector(self):
            yield open_vector("memory://")  # or your backend's URL

Every test creates its own uniquely named indexes and drops them afterwards, so a shared server
can be used. ``supports_metrics`` lists the metrics the backend implements.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.storage.vector import DimensionMismatchError, IndexNotFoundError, Metric, VectorStore

__all__ = ["FILTER_CASES", "VectorStoreConformance"]

# Ten documents with varied metadata; vectors point in distinct directions.
DOCS: list[tuple[str, list[float], dict[str, Any]]] = [
    ("d0", [1.0, 0.0, 0.0, 0.0], {"thread_id": "t1", "resource_id": "r1", "n": 1, "tag": "a", "flag": True}),
    ("d1", [0.9, 0.1, 0.0, 0.0], {"thread_id": "t1", "resource_id": "r1", "n": 2, "tag": "b", "flag": False}),
    ("d2", [0.0, 1.0, 0.0, 0.0], {"thread_id": "t2", "resource_id": "r1", "n": 3, "tag": "a"}),
    ("d3", [0.0, 0.9, 0.1, 0.0], {"thread_id": "t2", "resource_id": "r1", "n": 4.5, "tag": None}),
    ("d4", [0.0, 0.0, 1.0, 0.0], {"thread_id": "t3", "resource_id": "r2", "n": "5", "tag": "c"}),
    ("d5", [0.0, 0.0, 0.9, 0.1], {"thread_id": "t3", "resource_id": "r2", "n": 6, "nested": {"k": "x"}}),
    ("d6", [0.0, 0.0, 0.0, 1.0], {"thread_id": "t4", "resource_id": "r2", "n": 7, "nested": {"k": "y"}}),
    ("d7", [0.5, 0.5, 0.0, 0.0], {"thread_id": "t4", "resource_id": "r3", "n": -1, "flag": True}),
    ("d8", [0.0, 0.5, 0.5, 0.0], {"thread_id": "t5", "resource_id": "r3", "n": 0, "tag": "b"}),
    ("d9", [0.2, 0.2, 0.2, 0.2], {"thread_id": "t5", "resource_id": "r3"}),
]

ALL = {d[0] for d in DOCS}

# (filter, expected ids): the language's semantics (see mastra_memory.storage._filter).
FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"thread_id": "t1"}, {"d0", "d1"}),
    ({"resource_id": {"$eq": "r2"}}, {"d4", "d5", "d6"}),
    ({"resource_id": {"$ne": "r1"}}, {"d4", "d5", "d6", "d7", "d8", "d9"}),
    ({"n": {"$gt": 3}}, {"d3", "d5", "d6"}),
    ({"n": {"$gte": 3}}, {"d2", "d3", "d5", "d6"}),
    ({"n": {"$lt": 1}}, {"d7", "d8"}),
    ({"n": {"$lte": 1}}, {"d0", "d7", "d8"}),
    ({"n": {"$gt": 1, "$lt": 4}}, {"d1", "d2"}),
    ({"n": {"$gte": "5"}}, {"d4"}),
    ({"n": 4.5}, {"d3"}),
    ({"n": "5"}, {"d4"}),
    ({"n": 5}, set()),
    ({"tag": {"$in": ["a", "c"]}}, {"d0", "d2", "d4"}),
    ({"tag": {"$nin": ["a", "b"]}}, {"d3", "d4", "d5", "d6", "d7", "d9"}),
    ({"tag": None}, {"d3", "d5", "d6", "d7", "d9"}),
    ({"tag": {"$ne": None}}, {"d0", "d1", "d2", "d4", "d8"}),
    ({"tag": {"$exists": True}}, {"d0", "d1", "d2", "d3", "d4", "d8"}),
    ({"tag": {"$exists": False}}, {"d5", "d6", "d7", "d9"}),
    ({"flag": True}, {"d0", "d7"}),
    ({"flag": False}, {"d1"}),
    ({"flag": 1}, set()),
    ({"n": 1}, {"d0"}),
    ({"nested.k": "y"}, {"d6"}),
    ({"$and": [{"resource_id": "r1"}, {"tag": "a"}]}, {"d0", "d2"}),
    ({"$or": [{"thread_id": "t1"}, {"n": {"$gte": 7}}]}, {"d0", "d1", "d6"}),
    ({"$nor": [{"resource_id": "r1"}, {"resource_id": "r2"}]}, {"d7", "d8", "d9"}),
    ({"n": {"$not": {"$gt": 2}}}, {"d0", "d1", "d4", "d7", "d8", "d9"}),
    ({"$not": {"resource_id": "r3"}}, ALL - {"d7", "d8", "d9"}),
    ({"resource_id": "r1", "n": {"$in": [1, 3]}}, {"d0", "d2"}),
    ({"tag": {"$in": []}}, set()),
]


class VectorStoreConformance:
    """Subclass and provide a ``vector`` fixture yielding a fresh store."""

    supports_metrics: ClassVar[tuple[str, ...]] = ("cosine", "euclidean", "dotproduct")
    dim = 4

    @pytest.fixture
    def index(self, vector: VectorStore) -> Iterator[str]:
        name = f"conf_{uuid.uuid4().hex[:10]}"
        vector.create_index(name, self.dim)
        yield name
        vector.delete_index(name)

    @pytest.fixture
    def loaded(self, vector: VectorStore, index: str) -> str:
        vector.upsert(index, [d[1] for d in DOCS], [d[2] for d in DOCS], ids=[d[0] for d in DOCS])
        return index

    # -- indexes --------------------------------------------------------------------------------

    def test_create_index_is_idempotent_and_described(self, vector: VectorStore, index: str) -> None:
        vector.create_index(index, self.dim)
        stats = vector.describe_index(index)
        assert (stats.dimension, stats.count, stats.metric) == (self.dim, 0, "cosine")
        assert index in vector.list_indexes()

    def test_create_index_with_other_dimension_is_an_error(self, vector: VectorStore, index: str) -> None:
        with pytest.raises(DimensionMismatchError) as err:
            vector.create_index(index, self.dim + 1)
        assert err.value.expected == self.dim and err.value.got == self.dim + 1
        assert vector.describe_index(index).dimension == self.dim

    def test_dimension_is_checked_on_write_and_query(self, vector: VectorStore, index: str) -> None:
        with pytest.raises(DimensionMismatchError):
            vector.upsert(index, [[1.0, 2.0, 3.0]])
        with pytest.raises(DimensionMismatchError):
            vector.query(index, [1.0] * (self.dim + 2))
        assert vector.describe_index(index).count == 0

    def test_bad_input_is_rejected(self, vector: VectorStore, index: str) -> None:
        with pytest.raises(ValidationError):
            vector.create_index("bad-name; drop", 3)
        with pytest.raises(ValidationError):
            vector.create_index("ok_name", 0)
        with pytest.raises(ValidationError):
            vector.upsert(index, [[math.nan] * self.dim])
        with pytest.raises(ValidationError):
            vector.upsert(index, [[1.0] * self.dim], metadata=[{"x": object()}])
        with pytest.raises(ValidationError):
            vector.upsert(index, [[1.0] * self.dim, [0.5] * self.dim], ids=["a", "a"])
        with pytest.raises(ValidationError):
            vector.query(index, [1.0] * self.dim, filter={"x": {"$regex": "a"}})
        with pytest.raises(ValidationError):
            vector.query(index, [1.0] * self.dim, filter={"x'); drop table t; --": 1})
        with pytest.raises(ValidationError):
            vector.query(index, [1.0] * self.dim, top_k=0)
        with pytest.raises(ValidationError):
            vector.delete_vectors(index)
        with pytest.raises(ValidationError):
            vector.delete_vectors(index, filter={})
        assert vector.describe_index(index).count == 0

    def test_missing_index(self, vector: VectorStore) -> None:
        name = f"missing_{uuid.uuid4().hex[:8]}"
        with pytest.raises(IndexNotFoundError):
            vector.describe_index(name)
        with pytest.raises(IndexNotFoundError):
            vector.query(name, [1.0] * self.dim)
        with pytest.raises(IndexNotFoundError):
            vector.upsert(name, [[1.0] * self.dim])
        vector.delete_vectors(name, ids=["x"])  # no-op
        vector.delete_index(name)  # idempotent

    def test_delete_index_forgets_dimension(self, vector: VectorStore) -> None:
        name = f"redim_{uuid.uuid4().hex[:8]}"
        vector.create_index(name, 3)
        vector.upsert(name, [[1.0, 0.0, 0.0]])
        vector.delete_index(name)
        assert name not in vector.list_indexes()
        vector.create_index(name, 5)
        assert vector.describe_index(name).dimension == 5
        vector.delete_index(name)

    # -- vectors --------------------------------------------------------------------------------

    def test_upsert_and_query_order(self, vector: VectorStore, loaded: str) -> None:
        assert vector.describe_index(loaded).count == len(DOCS)
        hits = vector.query(loaded, [1.0, 0.0, 0.0, 0.0], top_k=3)
        assert [h.id for h in hits] == ["d0", "d1", "d7"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[0].score >= hits[1].score >= hits[2].score
        assert hits[0].metadata["thread_id"] == "t1" and hits[0].vector is None
        with_vec = vector.query(loaded, [1.0, 0.0, 0.0, 0.0], top_k=1, include_vector=True)
        assert with_vec[0].vector == pytest.approx([1.0, 0.0, 0.0, 0.0])

    def test_upsert_replaces_by_id(self, vector: VectorStore, loaded: str) -> None:
        vector.upsert(loaded, [[0.0, 0.0, 0.0, 1.0]], [{"thread_id": "moved"}], ids=["d0"])
        assert vector.describe_index(loaded).count == len(DOCS)
        hit = vector.query(loaded, [0.0, 0.0, 0.0, 1.0], top_k=1, filter={"thread_id": "moved"})
        assert [h.id for h in hit] == ["d0"]
        assert vector.query(loaded, [1.0, 0.0, 0.0, 0.0], top_k=1)[0].id == "d1"

    def test_generated_ids(self, vector: VectorStore, index: str) -> None:
        ids = vector.upsert(index, [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
        assert len(set(ids)) == 2
        assert {h.id for h in vector.query(index, [1.0, 1.0, 0.0, 0.0], top_k=5)} == set(ids)

    @pytest.mark.parametrize(("flt", "expected"), FILTER_CASES, ids=[str(c[0]) for c in FILTER_CASES])
    def test_filter_semantics(self, vector: VectorStore, loaded: str, flt: dict[str, Any], expected: set[str]) -> None:
        hits = vector.query(loaded, [0.25, 0.25, 0.25, 0.25], top_k=50, filter=flt)
        assert {h.id for h in hits} == expected

    def test_filter_and_top_k(self, vector: VectorStore, loaded: str) -> None:
        hits = vector.query(loaded, [0.0, 1.0, 0.0, 0.0], top_k=2, filter={"resource_id": "r1"})
        assert [h.id for h in hits] == ["d2", "d3"]

    def test_delete_by_ids_and_filter(self, vector: VectorStore, loaded: str) -> None:
        vector.delete_vectors(loaded, ids=["d0", "d9", "unknown"])
        vector.delete_vectors(loaded, filter={"thread_id": {"$in": ["t2", "t3"]}})
        left = {h.id for h in vector.query(loaded, [0.25] * 4, top_k=50)}
        assert left == {"d1", "d6", "d7", "d8"}
        assert vector.describe_index(loaded).count == 4

    def test_metrics(self, vector: VectorStore) -> None:
        metrics: tuple[Metric, ...] = ("cosine", "euclidean", "dotproduct")
        for metric in metrics:
            name = f"m_{metric}_{uuid.uuid4().hex[:6]}"
            if metric not in self.supports_metrics:
                with pytest.raises(ValidationError):
                    vector.create_index(name, 2, metric=metric)
                continue
            vector.create_index(name, 2, metric=metric)
            try:
                assert vector.describe_index(name).metric == metric
                vector.upsert(name, [[1.0, 0.0], [3.0, 0.0], [0.0, 1.0]], ids=["near", "far", "orth"])
                hits = vector.query(name, [1.0, 0.0], top_k=3)
                if metric == "euclidean":
                    assert [h.id for h in hits] == ["near", "orth", "far"]
                    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
                elif metric == "dotproduct":
                    assert [h.id for h in hits] == ["far", "near", "orth"]
                    assert hits[0].score == pytest.approx(3.0, abs=1e-4)
                else:
                    assert {h.id for h in hits[:2]} == {"near", "far"}
                    assert hits[2].score == pytest.approx(0.0, abs=1e-5)
            finally:
                vector.delete_index(name)
