"""``LibSQLVector``: vectors in libSQL's native ``F32_BLOB`` columns (a local file or sqld).

Layout, one table per index, as @mastra/libsql's ``LibSQLVector`` creates it (so a database
shared with a Mastra TypeScript app reads on both sides)::

    <index>(id INTEGER PRIMARY KEY, vector_id TEXT UNIQUE NOT NULL,
            embedding F32_BLOB(<dim>), metadata TEXT DEFAULT '{}')

plus expression indexes on ``json_extract(metadata, '$.<field>')`` for the pre-filter fields
(``thread_id``, ``resource_id``, ``message_id``) and a small registry table
``mastra_vector_indexes(name, dimension, metric)`` (tables without a row there, e.g. written by
the original, are read as cosine with the dimension parsed from the column type).

Search is **exact** by default: ``ORDER BY vector_distance_cos(embedding, ?) LIMIT k`` over the
rows that pass the filter, which the expression indexes narrow to one resource or thread first
(about 12 ms for 20k x 384 rows in one scope on these machines, see
``benchmarks/vector_bench.py``). ``index_config={"ann": True}`` also builds libSQL's DiskANN index
(``libsql_vector_idx``); queries without a filter then use ``vector_top_k`` (approximate; the
index costs ~84 KB per row and slows inserts to hundreds per second). libSQL stores a vector of
the wrong length without complaint, so dimensions are validated here before every write.
Metrics: ``cosine`` and ``euclidean`` (libSQL has no inner-product distance).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from mastra_memory.errors import ValidationError
from mastra_memory.storage._filter import FilterNode, to_sqlite
from mastra_memory.storage.vector import (
    DimensionMismatchError,
    IndexNotFoundError,
    IndexStats,
    Metric,
    QueryResult,
    VectorStore,
    score_from_distance,
)
from storage_adapters.libsql.store import LibSQLStore

__all__ = ["LibSQLVector"]

REGISTRY = "mastra_vector_indexes"
_DIM = re.compile(r"F32_BLOB\s*\(\s*(\d+)\s*\)", re.IGNORECASE)
_CHUNK = 400


def _blob(vector: npt.NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class LibSQLVector(VectorStore):
    """Vector store on libSQL.

    Args:
        url: ``"file:./mastra.db"`` (default; the same file as ``LibSQLStore`` is fine), a path,
            ``":memory:"`` or a remote sqld URL.
        auth_token: Token for a remote server.
        **store_options: Passed to the underlying connection (``synchronous``, ``busy_timeout``).

    Raises:
        StorageError: if the database can not be opened.
    """

    def __init__(self, url: str = "file:./mastra.db", *, auth_token: str | None = None, **store_options: Any) -> None:
        super().__init__()
        # The store owns the connection, WAL/busy settings and retrying BEGIN IMMEDIATE.
        self._db = LibSQLStore(url, auth_token=auth_token, **store_options)
        self._registry_ready = False

    def close(self) -> None:
        self._db.close()
        self._registry_ready = False

    def _ensure_registry(self, conn: Any) -> None:
        if not self._registry_ready:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name TEXT PRIMARY KEY, dimension INTEGER NOT NULL, "
                "metric TEXT NOT NULL, ann INTEGER NOT NULL DEFAULT 0)"
            )
            self._registry_ready = True

    # -- indexes --------------------------------------------------------------------------------

    def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None:
        if metric == "dotproduct":
            raise ValidationError("LibSQLVector supports the cosine and euclidean metrics only")
        unknown = set(config) - {"ann", "type"}
        if unknown:
            raise ValidationError(f"unknown libSQL index options: {sorted(unknown)}")
        ann = bool(config.get("ann")) or config.get("type") in ("ann", "diskann")
        with self._db._write() as conn:
            self._ensure_registry(conn)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {index_name} (id INTEGER PRIMARY KEY, "
                f"vector_id TEXT UNIQUE NOT NULL, embedding F32_BLOB({dimension}), metadata TEXT DEFAULT '{{}}')"
            )
            for field in metadata_indexes:
                safe = field.replace(".", "_")
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {index_name}_m_{safe} ON {index_name} "
                    f"(json_extract(metadata, '$.{field}'))"
                )
            if ann:
                opt = "'metric=l2'" if metric == "euclidean" else "'metric=cosine'"
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {index_name}_vector_idx ON {index_name} "
                    f"(libsql_vector_idx(embedding, {opt}))"
                )
            conn.execute(
                f"INSERT OR REPLACE INTO {REGISTRY} (name, dimension, metric, ann) VALUES (?, ?, ?, ?)",
                (index_name, dimension, metric, int(ann)),
            )

    def _table_dim(self, conn: Any, index_name: str) -> int | None:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (index_name,)).fetchone()
        if row is None:
            return None
        found = _DIM.search(row[0] or "")
        return int(found.group(1)) if found else None

    def _registry(self, conn: Any, index_name: str) -> tuple[Metric, bool]:
        self._ensure_registry(conn)
        row = conn.execute(f"SELECT metric, ann FROM {REGISTRY} WHERE name = ?", (index_name,)).fetchone()
        return (row[0], bool(row[1])) if row else ("cosine", False)

    def _describe(self, index_name: str) -> IndexStats | None:
        with self._db._read() as conn:
            dim = self._table_dim(conn, index_name)
            if dim is None:
                return None
            metric, _ = self._registry(conn, index_name)
            count = conn.execute(f"SELECT count(*) FROM {index_name}").fetchone()[0]
        return IndexStats(dimension=dim, count=int(count), metric=metric)

    def _list_indexes(self) -> list[str]:
        with self._db._read() as conn:
            rows = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%F32_BLOB%'"
            ).fetchall()
        return [r[0] for r in rows if _DIM.search(r[1] or "")]

    def _delete_index(self, index_name: str) -> None:
        with self._db._write() as conn:
            self._ensure_registry(conn)
            conn.execute(f"DROP TABLE IF EXISTS {index_name}")
            conn.execute(f"DELETE FROM {REGISTRY} WHERE name = ?", (index_name,))

    # -- vectors --------------------------------------------------------------------------------

    def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        rows = [
            (vid, _blob(vec), json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
            for vid, vec, meta in zip(ids, vectors, metadata, strict=True)
        ]
        with self._db._write() as conn:
            dim = self._table_dim(conn, index_name)
            if dim is None:
                raise IndexNotFoundError(index_name)
            if dim != vectors.shape[1]:  # another process re-created the index meanwhile
                raise DimensionMismatchError(index_name, dim, int(vectors.shape[1]))
            conn.executemany(
                f"INSERT INTO {index_name} (vector_id, embedding, metadata) VALUES (?, ?, ?) "
                "ON CONFLICT (vector_id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata",
                rows,
            )

    def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:
        where, params = to_sqlite(node)
        fn = "vector_distance_l2" if metric == "euclidean" else "vector_distance_cos"
        cols = "vector_id, metadata, d" + (", embedding" if include_vector else "")
        blob = _blob(vector)
        with self._db._read() as conn:
            _, ann = self._registry(conn, index_name)
            if ann and node is None:
                sql = (
                    f"SELECT t.vector_id, t.metadata, {fn}(t.embedding, ?) AS d"
                    + (", t.embedding" if include_vector else "")
                    + f" FROM vector_top_k('{index_name}_vector_idx', ?, ?) AS v "
                    f"JOIN {index_name} AS t ON t.rowid = v.id ORDER BY d ASC"
                )
                rows = conn.execute(sql, (blob, blob, top_k)).fetchall()
            else:
                sql = (
                    f"SELECT {cols} FROM (SELECT vector_id, metadata, embedding, {fn}(embedding, ?) AS d "
                    f"FROM {index_name} WHERE {where}) ORDER BY d ASC LIMIT ?"
                )
                rows = conn.execute(sql, [blob, *params, top_k]).fetchall()
        out: list[QueryResult] = []
        for r in rows:
            vec = np.frombuffer(r[3], dtype="<f4").tolist() if include_vector else None
            out.append(
                QueryResult(
                    id=r[0],
                    score=score_from_distance(metric, float(r[2])),
                    metadata=json.loads(r[1]) if r[1] else {},
                    vector=vec,
                )
            )
        return out

    def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        with self._db._write() as conn:
            if ids:
                for i in range(0, len(ids), _CHUNK):
                    chunk = ids[i : i + _CHUNK]
                    marks = ", ".join("?" for _ in chunk)
                    conn.execute(f"DELETE FROM {index_name} WHERE vector_id IN ({marks})", chunk)
            else:
                where, params = to_sqlite(node)
                conn.execute(f"DELETE FROM {index_name} WHERE {where}", params)
