"""The automatic switch between exact and ANN vector search (issue 11, item 4), on a real libSQL
file (DiskANN, ``vector_top_k``) and real PostgreSQL + pgvector (HNSW): a large scope uses the
index, a small one is searched exactly with its pre-filter, results match exact search at recall
>= 0.95 on a seeded set, filters still apply, and ``search=`` forces either path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.storage._filter import parse_filter
from mastra_memory.storage._vector_shared import ann_fetch, scope_term, use_ann
from storage_adapters.libsql import LibSQLVector

DIM = 32
BIG, SMALL = 900, 60  # vectors of the two resources; the switch is set at 300 below
MIN_ROWS = 300


def _data() -> tuple[np.ndarray, list[dict[str, Any]], list[str]]:
    """Clustered unit vectors (40 centres), resource "big" then "small", threads of 30."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(40, DIM))
    n = BIG + SMALL
    mat = centres[rng.integers(0, 40, n)] + 0.45 * rng.normal(size=(n, DIM))
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    metas = [
        {
            "resource_id": "big" if i < BIG else "small",
            "thread_id": f"t{i // 30}",
            "role": "user" if i % 2 == 0 else "assistant",
        }
        for i in range(n)
    ]
    return mat.astype(np.float32), metas, [f"v{i}" for i in range(n)]


def _queries(mat: np.ndarray, n: int = 25) -> list[list[float]]:
    rng = np.random.default_rng(5)
    out = []
    for i in rng.integers(0, len(mat), n):
        q = mat[i] + 0.2 * rng.normal(size=DIM)
        out.append((q / np.linalg.norm(q)).tolist())
    return out


def _recall(vector: Any, queries: list[list[float]], flt: dict[str, Any], k: int = 10) -> float:
    found = 0
    for q in queries:
        vector.search = "auto"
        approx = {h.id for h in vector.query("mm", q, top_k=k, filter=flt)}
        assert vector.last_search == "ann"
        vector.search = "exact"
        exact = {h.id for h in vector.query("mm", q, top_k=k, filter=flt)}
        found += len(approx & exact)
    vector.search = "auto"
    return found / (k * len(queries))


def test_the_decision_rule() -> None:
    assert use_ann("auto", 10, 100, 100_000) is None  # a small scope: exact
    assert use_ann("auto", 50, 100_000, 100_000) == 50  # the whole index: nothing is filtered out
    assert use_ann("auto", 10, 20_000, 100_000) == 93  # a fifth: (10 + 3 * sqrt(10 * 0.8)) / 0.2
    assert use_ann("auto", 10, 10_000, 10_000_000) is None  # would need 20,000 candidates: exact
    assert use_ann("exact", 10, 100_000, 100_000) is None
    assert use_ann("ann", 10, 10, 10_000_000) == 1_000  # forced, capped
    assert ann_fetch(4, 0, 0) == 4
    node = parse_filter({"$and": [{"resource_id": "r"}, {"thread_id": "t"}, {"role": "user"}]})
    assert scope_term(node) == ("thread_id", "t")  # the narrowest scope
    assert scope_term(parse_filter({"resource_id": {"$in": ["a", "b"]}})) is None


# -- libSQL ------------------------------------------------------------------------------------


@pytest.fixture
def libsql_vector(db_url: str) -> Iterator[LibSQLVector]:
    store = LibSQLVector(db_url, ann_min_rows=MIN_ROWS)
    mat, metas, ids = _data()
    store.create_index("mm", DIM)
    store.upsert("mm", mat.tolist(), metas, ids=ids)
    yield store
    store.close()


def _spy_statements(store: LibSQLVector) -> list[str]:
    """Record the SQL the store runs on its connection."""
    seen: list[str] = []
    original = store._db._read

    class Spy:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def execute(self, sql: str, *args: Any) -> Any:
            seen.append(sql)
            return self._conn.execute(sql, *args)

    from contextlib import contextmanager

    @contextmanager
    def read() -> Iterator[Any]:
        with original() as conn:
            yield Spy(conn)

    store._db._read = read  # type: ignore[method-assign]
    return seen


def test_libsql_large_scope_uses_diskann_small_scope_is_exact(libsql_vector: LibSQLVector) -> None:
    store = libsql_vector
    with store._db._read() as conn:
        index_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'mm_vector_idx'").fetchone()[0]
    assert "libsql_vector_idx" in index_sql and "compress_neighbors=float8" in index_sql
    seen = _spy_statements(store)
    q = _queries(_data()[0], 1)[0]
    big = store.query("mm", q, top_k=5, filter={"resource_id": "big"})
    assert store.last_search == "ann" and any("vector_top_k" in s for s in seen)
    assert len(big) == 5 and all(h.metadata["resource_id"] == "big" for h in big)
    seen.clear()
    small = store.query("mm", q, top_k=5, filter={"resource_id": "small"})
    assert store.last_search == "exact" and not any("vector_top_k" in s for s in seen)
    assert len(small) == 5 and all(h.metadata["resource_id"] == "small" for h in small)
    thread = store.query("mm", q, top_k=5, filter={"$and": [{"resource_id": "big"}, {"thread_id": "t3"}]})
    assert store.last_search == "exact"  # a thread of 30: its own rows, exactly
    assert {h.metadata["thread_id"] for h in thread} == {"t3"}


def test_libsql_ann_matches_exact_search_and_filters_apply(libsql_vector: LibSQLVector) -> None:
    store = libsql_vector
    queries = _queries(_data()[0])
    assert _recall(store, queries, {"resource_id": "big"}) >= 0.95
    assert _recall(store, queries, {}) >= 0.95  # no scope: the whole index
    # an extra filter on a large scope: applied after the ANN candidates, exact when too few pass
    users = store.query("mm", queries[0], top_k=10, filter={"$and": [{"resource_id": "big"}, {"role": "user"}]})
    assert len(users) == 10 and all(h.metadata["role"] == "user" and h.metadata["resource_id"] == "big" for h in users)
    rare = store.query("mm", queries[0], top_k=10, filter={"$and": [{"resource_id": "big"}, {"thread_id": "t0"}]})
    assert len(rare) == 10 and {h.metadata["thread_id"] for h in rare} == {"t0"}
    one = store.query("mm", queries[0], top_k=3, filter={"$and": [{"resource_id": "big"}, {"role": "x"}]})
    assert one == []


def test_libsql_search_option_forces_either_path(libsql_vector: LibSQLVector, db_url: str) -> None:
    store = libsql_vector
    q = _queries(_data()[0], 1)[0]
    store.search = "exact"
    store.query("mm", q, top_k=5, filter={"resource_id": "big"})
    assert store.last_search == "exact"
    store.search = "ann"
    small = store.query("mm", q, top_k=5, filter={"resource_id": "small"})
    assert store.last_search == "ann"  # forced: post-filtered, maybe fewer than asked
    assert all(h.metadata["resource_id"] == "small" for h in small)
    with pytest.raises(ValidationError):
        LibSQLVector(db_url, search="fast")  # type: ignore[arg-type]
    plain = LibSQLVector(db_url.replace("recall.db", "plain.db"), ann=False, ann_min_rows=1)
    plain.create_index("mm", DIM)
    plain.upsert("mm", [q], [{"resource_id": "big"}], ids=["x"])
    assert plain.query("mm", q, top_k=1, filter={"resource_id": "big"})[0].id == "x"
    assert plain.last_search == "exact"  # no DiskANN index: always exact
    plain.build_ann_index("mm")
    plain._sizes.forget("mm")
    plain.query("mm", q, top_k=1, filter={"resource_id": "big"})
    assert plain.last_search == "ann"
    with pytest.raises(ValidationError):
        plain.build_ann_index("mm", {"max_neighbors": 2})
    plain.close()


def test_libsql_uses_the_diskann_index_of_a_table_the_original_created(tmp_path: Any) -> None:
    """@mastra/libsql creates ``<index>_vector_idx`` with every index and writes no registry row."""
    import libsql

    path = tmp_path / "ts.db"
    conn = libsql.connect(str(path))
    conn.execute(
        "CREATE TABLE mm (id INTEGER PRIMARY KEY, vector_id TEXT UNIQUE NOT NULL, "
        "embedding F32_BLOB(32), metadata TEXT DEFAULT '{}')"
    )
    conn.execute("CREATE INDEX mm_vector_idx ON mm (libsql_vector_idx(embedding, 'metric=cosine'))")
    mat, metas, ids = _data()
    conn.executemany(
        "INSERT INTO mm (vector_id, embedding, metadata) VALUES (?, vector32(?), ?)",
        [(i, str(v.tolist()), __import__("json").dumps(m)) for i, v, m in zip(ids, mat, metas, strict=True)],
    )
    conn.commit()
    conn.close()
    store = LibSQLVector(f"file:{path}", ann_min_rows=MIN_ROWS)
    hits = store.query("mm", mat[0].tolist(), top_k=3, filter={"resource_id": "big"})
    assert store.last_search == "ann" and hits[0].id == "v0"
    store.close()


# -- PostgreSQL + pgvector ---------------------------------------------------------------------


@pytest.fixture
def pg_vector(pg_url: str, unique: str) -> Iterator[Any]:
    from storage_adapters.pg import PgVector

    schema = f"ann_{unique}"
    store = PgVector(pg_url, schema_name=schema, ann_min_rows=MIN_ROWS)
    mat, metas, ids = _data()
    store.create_index("mm", DIM)
    store.upsert("mm", mat.tolist(), metas, ids=ids)
    yield store
    store.close()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _spy_pg(store: Any) -> list[tuple[str, Any]]:
    """Record the statements (and parameters) the store runs on its pooled connections."""
    seen: list[tuple[str, Any]] = []
    original = store._conn

    class Spy:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def execute(self, sql: str, params: Any = None) -> Any:
            seen.append((sql, params))
            return self._conn.execute(sql, params)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

    from contextlib import contextmanager

    @contextmanager
    def conn() -> Iterator[Any]:
        with original() as c:
            yield Spy(c)

    store._conn = conn
    return seen


def _plan(pg_url: str, seen: list[tuple[str, Any]]) -> str:
    """EXPLAIN of the last vector query recorded, under the settings the store set before it."""
    import psycopg
    from pgvector.psycopg import register_vector

    settings = next(p for s, p in reversed(seen) if "set_config('hnsw.ef_search'" in s)
    setting_sql = next(s for s, _ in reversed(seen) if "set_config('hnsw.ef_search'" in s)
    sql, params = next((s, p) for s, p in reversed(seen) if " AS d " in s)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        register_vector(conn)
        with conn.transaction():
            conn.execute(setting_sql, settings)
            return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())


def test_pg_large_scope_uses_hnsw_small_scope_is_exact(pg_vector: Any, pg_url: str) -> None:
    store = pg_vector
    seen = _spy_pg(store)
    q = _queries(_data()[0], 1)[0]
    big = store.query("mm", q, top_k=5, filter={"resource_id": "big"})
    assert store.last_search == "ann"
    assert len(big) == 5 and all(h.metadata["resource_id"] == "big" for h in big)
    assert "Index Scan using mm_vector_idx" in _plan(pg_url, seen)  # the HNSW index
    small = store.query("mm", q, top_k=5, filter={"resource_id": "small"})
    assert store.last_search == "exact"
    assert len(small) == 5 and all(h.metadata["resource_id"] == "small" for h in small)
    plan = _plan(pg_url, seen)
    assert "mm_vector_idx" not in plan and "mm_m_resource_id" in plan  # the btree pre-filter, sorted


def test_pg_ann_matches_exact_search_and_filters_apply(pg_vector: Any) -> None:
    store = pg_vector
    queries = _queries(_data()[0])
    assert _recall(store, queries, {"resource_id": "big"}) >= 0.95
    users = store.query("mm", queries[0], top_k=10, filter={"$and": [{"resource_id": "big"}, {"role": "user"}]})
    assert len(users) == 10 and all(h.metadata["role"] == "user" and h.metadata["resource_id"] == "big" for h in users)
    store.search = "exact"
    store.query("mm", queries[0], top_k=5, filter={"resource_id": "big"})
    assert store.last_search == "exact"
    store.search = "ann"
    small = store.query("mm", queries[0], top_k=5, filter={"resource_id": "small"})
    assert store.last_search == "ann" and all(h.metadata["resource_id"] == "small" for h in small)
