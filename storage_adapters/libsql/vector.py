"""``LibSQLVector``: vectors in libSQL's native ``F32_BLOB`` columns (a local file or sqld).

Layout, one table per index, as @mastra/libsql's ``LibSQLVector`` creates it (so a database
shared with a Mastra TypeScript app reads on both sides)::

    <index>(id INTEGER PRIMARY KEY, vector_id TEXT UNIQUE NOT NULL,
            embedding F32_BLOB(<dim>), metadata TEXT DEFAULT '{}')

plus expression indexes on ``json_extract(metadata, '$.<field>')`` for the pre-filter fields
(``thread_id``, ``resource_id``, ``message_id``) and a small registry table
``mastra_vector_indexes(name, dimension, metric)`` (tables without a row there, e.g. written by
the original, are read as cosine with the dimension parsed from the column type).

Search switches between exact and approximate by itself (``search="auto"``, the default).
New indexes get libSQL's DiskANN index (``libsql_vector_idx`` with ``compress_neighbors=float8``
and ``max_neighbors=32``; ``ann=False`` or ``index_config={"ann": False}`` leaves it out). A query
whose scope (its ``thread_id`` or ``resource_id`` equality) holds fewer than ``ann_min_rows``
vectors (5,000) runs exactly: ``ORDER BY vector_distance_cos(embedding, ?) LIMIT k`` over the rows
the expression indexes pre-filter. A larger scope asks ``vector_top_k`` for
``k * total / scope`` candidates (plus a margin, at most 1,000) of the whole index, keeps those that pass
the filter, and re-ranks them by exact distance; when fewer than ``k`` pass, the query runs
exactly. Scope sizes are counted on the expression index (bounded by ``ann_min_rows`` for small
scopes) and reused for a minute per store object. ``search="exact"`` or ``"ann"`` forces either path. The DiskANN
index costs ~14 KB per row and slows inserts to a few hundred per second (measured in
docs/retrieval.md); ``build_ann_index`` adds it to an existing table. libSQL stores a vector of
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
from mastra_memory.storage._vector_shared import (
    ANN_MIN_ROWS,
    SEARCH_MODES,
    ScopeSizes,
    SearchMode,
    count_sql,
    scope_sizes,
    use_ann,
)
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
ANN_OPTIONS: dict[str, Any] = {"compress_neighbors": "float8", "max_neighbors": 32}
"""DiskANN settings of new indexes (libSQL's default ``search_l``). Source: noisy clustered 384-d
unit vectors on these machines, recall@10 against exact search 0.998 (5,000 vectors) and 0.87
(8,000) with these, 0.96 (5,000) with 24 neighbours, 0.48-0.65 with ``float1bit`` neighbours
(which insert 3x faster); ``search_l=100`` or ``60`` made queries faster but lowered recall to
0.66 / 0.57 (8,000); docs/retrieval.md."""
_COMPRESS = ("float1bit", "float8", "float16", "floatb16", "float32")


def _blob(vector: npt.NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class LibSQLVector(VectorStore):
    """Vector store on libSQL.

    Args:
        url: ``"file:./mastra.db"`` (default; the same file as ``LibSQLStore`` is fine), a path,
            ``":memory:"`` or a remote sqld URL.
        auth_token: Token for a remote server.
        ann: Give new indexes libSQL's DiskANN index (default ``True``; per index:
            ``index_config={"ann": ...}``).
        search: ``"auto"`` (default: exact for a scope under ``ann_min_rows`` vectors, the ANN
            index above), ``"exact"`` or ``"ann"``; settable later as ``store.search``.
        ann_min_rows: Scope size from which ``"auto"`` uses the ANN index (5,000, see
            :data:`~mastra_memory.storage._vector_shared.ANN_MIN_ROWS`).
        **store_options: Passed to the underlying connection (``synchronous``, ``busy_timeout``).

    Raises:
        StorageError: if the database can not be opened.
    """

    def __init__(
        self,
        url: str = "file:./mastra.db",
        *,
        auth_token: str | None = None,
        ann: bool = True,
        search: SearchMode = "auto",
        ann_min_rows: int = ANN_MIN_ROWS,
        **store_options: Any,
    ) -> None:
        super().__init__()
        if search not in SEARCH_MODES:
            raise ValidationError(f"search must be one of {SEARCH_MODES}, got {search!r}")
        if isinstance(ann_min_rows, bool) or not isinstance(ann_min_rows, int) or ann_min_rows < 0:
            raise ValidationError(f"ann_min_rows must be a non-negative integer, got {ann_min_rows!r}")
        self.ann = bool(ann)
        self.search: SearchMode = search
        self.ann_min_rows = ann_min_rows
        self._sizes = ScopeSizes()
        self.last_search: str | None = None
        """``"exact"`` or ``"ann"``: how the last :meth:`query` was answered (for tests and tuning)."""
        # The store owns the connection, WAL/busy settings and retrying BEGIN IMMEDIATE. Always the
        # libsql driver: vector functions and DiskANN indexes are libSQL's (sqlite3 has neither).
        if store_options.get("driver", "libsql") != "libsql":
            raise ValidationError("LibSQLVector needs driver='libsql' (vector functions are libSQL's)")
        self._db = LibSQLStore(url, auth_token=auth_token, **{**store_options, "driver": "libsql"})
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
        unknown = set(config) - {"ann", "type", "max_neighbors", "compress_neighbors"}
        if unknown:
            raise ValidationError(f"unknown libSQL index options: {sorted(unknown)}")
        ann = bool(config.get("ann", self.ann)) or config.get("type") in ("ann", "diskann")
        if config.get("type") == "flat":
            ann = False
        options = self._ann_options(config)
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
                conn.execute(self._ann_sql(index_name, metric, options))
            conn.execute(
                f"INSERT OR REPLACE INTO {REGISTRY} (name, dimension, metric, ann) VALUES (?, ?, ?, ?)",
                (index_name, dimension, metric, int(ann)),
            )
        self._sizes.forget(index_name)

    @staticmethod
    def _ann_options(config: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = dict(ANN_OPTIONS)
        options.update({k: config[k] for k in ("max_neighbors", "compress_neighbors") if k in config})
        neighbours = options["max_neighbors"]
        if isinstance(neighbours, bool) or not isinstance(neighbours, int) or not 4 <= neighbours <= 256:
            raise ValidationError(f"max_neighbors must be an integer from 4 to 256, got {neighbours!r}")
        if options["compress_neighbors"] not in _COMPRESS:
            raise ValidationError(f"compress_neighbors must be one of {_COMPRESS}")
        return options

    @staticmethod
    def _ann_sql(index_name: str, metric: Metric, options: dict[str, Any]) -> str:
        opts = ", ".join(
            [f"'metric={'l2' if metric == 'euclidean' else 'cosine'}'"] + [f"'{k}={v}'" for k, v in options.items()]
        )
        return (
            f"CREATE INDEX IF NOT EXISTS {index_name}_vector_idx ON {index_name} (libsql_vector_idx(embedding, {opts}))"
        )

    def build_ann_index(self, index_name: str, index_config: dict[str, Any] | None = None) -> None:
        """Add libSQL's DiskANN index to an existing table (or re-create it with other options).

        Building costs what inserting every row with the index present costs (a few hundred
        rows per second on these machines) and holds the write lock meanwhile.

        Args:
            index_name: An existing index.
            index_config: ``max_neighbors`` and ``compress_neighbors`` (defaults
                :data:`ANN_OPTIONS`).

        Raises:
            IndexNotFoundError: if the index does not exist.
            ValidationError: on bad options.
        """
        self._check_name(index_name)
        config = dict(index_config or {})
        if set(config) - {"max_neighbors", "compress_neighbors"}:
            raise ValidationError(f"unknown libSQL ANN options: {sorted(set(config))}")
        options = self._ann_options(config)
        _, metric = self._index_info(index_name)
        with self._db._write() as conn:
            self._ensure_registry(conn)
            conn.execute(f"DROP INDEX IF EXISTS {index_name}_vector_idx")
            conn.execute(self._ann_sql(index_name, metric, options))
            dim = self._table_dim(conn, index_name)
            conn.execute(
                f"INSERT INTO {REGISTRY} (name, dimension, metric, ann) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (name) DO UPDATE SET ann = 1",
                (index_name, dim, metric),
            )
        self._sizes.forget(index_name)

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
        self._sizes.forget(index_name)

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

    def _has_ann(self, conn: Any, index_name: str) -> bool:
        """Whether the table has its DiskANN index ``<index>_vector_idx`` (ours, or the one
        @mastra/libsql creates with every index), looked up once a minute."""
        key = (index_name, "ann", "")
        known = self._sizes.get(key)
        if known is None:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (f"{index_name}_vector_idx",)
            ).fetchone()
            known = int(row is not None)
            self._sizes.put(key, known)
        return bool(known)

    def _scope_rows(self, conn: Any, index_name: str, node: FilterNode | None) -> tuple[int, int]:
        """``(vectors in the query's scope, vectors in the index)`` by
        :func:`~mastra_memory.storage._vector_shared.scope_size_steps`, counted on the indexes."""
        return scope_sizes(
            self._sizes, index_name, node, self.ann_min_rows, lambda ask: self._count(conn, index_name, *ask)
        )

    @staticmethod
    def _count(conn: Any, index_name: str, term: tuple[str, str] | None, bound: int | None) -> int:
        """One :data:`~mastra_memory.storage._vector_shared.CountAsk`: an index-only count."""
        sql, params = count_sql(index_name, term, bound, lambda f: f"json_extract(metadata, '$.{f}')", "?")
        return int(conn.execute(sql, params).fetchone()[0])

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
            ann = self._has_ann(conn, index_name)
            fetch: int | None = None
            if ann and self.search != "exact":
                fetch = use_ann(
                    self.search, top_k, *self._scope_rows(conn, index_name, node), min_rows=self.ann_min_rows
                )
            rows: list[Any] = []
            if fetch is not None:
                # the whole index's nearest ``fetch``, post-filtered and re-ranked by exact distance
                sql = (
                    f"SELECT {cols} FROM (SELECT t.vector_id, t.metadata, t.embedding, {fn}(t.embedding, ?) AS d "
                    f"FROM vector_top_k('{index_name}_vector_idx', ?, ?) AS v JOIN {index_name} AS t "
                    f"ON t.rowid = v.id WHERE {where}) ORDER BY d ASC LIMIT ?"
                )
                rows = conn.execute(sql, [blob, blob, fetch, *params, top_k]).fetchall()
                self.last_search = "ann"
            if fetch is None or (len(rows) < top_k and self.search != "ann"):
                sql = (
                    f"SELECT {cols} FROM (SELECT vector_id, metadata, embedding, {fn}(embedding, ?) AS d "
                    f"FROM {index_name} WHERE {where}) ORDER BY d ASC LIMIT ?"
                )
                rows = conn.execute(sql, [blob, *params, top_k]).fetchall()
                self.last_search = "exact"
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
