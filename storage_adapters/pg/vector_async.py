"""``PgVector``: vectors in PostgreSQL with pgvector (``pip install "mastra-memory[pg]"``).

Layout, one table per index, as @mastra/pg's ``PgVector`` creates it::

    <schema>.<index>(id SERIAL PRIMARY KEY, vector_id TEXT UNIQUE NOT NULL,
                     embedding vector(<dim>), metadata JSONB DEFAULT '{}')

plus btree expression indexes on ``(metadata ->> '<field>')`` for the pre-filter fields and a
registry table ``mastra_vector_indexes(name, dimension, metric, index_type)``.

Index types (``index_config={"type": ...}``): ``"hnsw"`` (default; ``m=16``,
``ef_construction=64``, ``ef_search=40``), ``"ivfflat"`` (``lists=100``, ``probes=10``; build it
after loading data) or ``"flat"`` (exact search only). Metrics map to pgvector operators:
cosine ``<=>``, euclidean ``<->``, dotproduct ``<#>``.

Exact or approximate is chosen per query (``search="auto"``, the default): a query whose scope
(its ``thread_id`` or ``resource_id`` equality) holds fewer than ``ann_min_rows`` vectors (5,000)
runs exactly over the rows the btree expression index pre-filters (the ANN index is fenced off
with ``OFFSET 0``); a larger scope, or a query without one, walks the HNSW/IVFFlat index with
``hnsw.iterative_scan = strict_order`` (pgvector >= 0.8), which keeps scanning until ``top_k``
rows pass the filter, and with ``enable_sort = off`` so the planner takes the ordered index scan.
Scope sizes are counted on the btree index (bounded by ``ann_min_rows``) and reused for a minute
per store object. ``search="exact"`` or ``"ann"`` forces either path.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from mastra_memory import _io_async as _io
from mastra_memory.errors import MissingDependencyError, StorageError, ValidationError
from mastra_memory.storage._filter import FilterNode, to_postgres
from mastra_memory.storage._vector_shared import (
    ANN_MIN_ROWS,
    SEARCH_MODES,
    ScopeSizes,
    SearchMode,
    count_sql,
    scope_size_steps,
    use_ann,
)
from mastra_memory.storage.vector_async import (
    AsyncVectorStore,
    DimensionMismatchError,
    IndexNotFoundError,
    IndexStats,
    Metric,
    QueryResult,
    score_from_distance,
)

__all__ = ["AsyncPgVector"]

REGISTRY = "mastra_vector_indexes"
_OPS: dict[str, tuple[str, str]] = {
    "cosine": ("<=>", "vector_cosine_ops"),
    "euclidean": ("<->", "vector_l2_ops"),
    "dotproduct": ("<#>", "vector_ip_ops"),
}
_CHUNK = 1000


def _as_floats(value: Any) -> list[float]:
    """A pgvector ``Vector`` (or array) as a list of floats."""
    arr = value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)
    return [float(x) for x in arr]


class AsyncPgVector(AsyncVectorStore):
    """Vector store on PostgreSQL + pgvector.

    Args:
        connection_string: A libpq URL (``postgresql://user@host:5432/db``).
        schema_name: Schema for the tables (created if missing); default ``public``.
        min_size: Pool connections kept open (1).
        max_size: Pool connections at most (4).
        search: ``"auto"`` (default: exact for a scope under ``ann_min_rows`` vectors, the ANN
            index above), ``"exact"`` or ``"ann"``; settable later as ``store.search``.
        ann_min_rows: Scope size from which ``"auto"`` uses the ANN index (5,000, see
            :data:`~mastra_memory.storage._vector_shared.ANN_MIN_ROWS`).

    Raises:
        MissingDependencyError: without the ``[pg]`` extra.
        StorageError: if the server can not be reached or has no pgvector.
    """

    def __init__(
        self,
        connection_string: str,
        *,
        schema_name: str | None = None,
        min_size: int = 1,
        max_size: int = 4,
        search: SearchMode = "auto",
        ann_min_rows: int = ANN_MIN_ROWS,
    ) -> None:
        super().__init__()
        if search not in SEARCH_MODES:
            raise ValidationError(f"search must be one of {SEARCH_MODES}, got {search!r}")
        if isinstance(ann_min_rows, bool) or not isinstance(ann_min_rows, int) or ann_min_rows < 0:
            raise ValidationError(f"ann_min_rows must be a non-negative integer, got {ann_min_rows!r}")
        self.search: SearchMode = search
        self.ann_min_rows = ann_min_rows
        self._sizes = ScopeSizes()
        self._kinds: dict[str, str] = {}  # index -> its ANN index type, as the registry says
        self.last_search: str | None = None
        """``"exact"`` or ``"ann"``: how the last :meth:`query` was answered (for tests and tuning)."""
        try:
            import psycopg
            from pgvector.psycopg import register_vector_async
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError("psycopg, psycopg_pool and pgvector", "pg") from exc
        if schema_name is not None:
            self._check_name(schema_name)
        self.schema = schema_name or "public"
        self._prefix = f'"{self.schema}".'
        self._psycopg = psycopg
        self._conninfo = connection_string
        self._create_schema = schema_name is not None
        self._prepared = False
        if not _io.IS_ASYNC:  # the sync face prepares the server in the constructor, as it always did
            self._prepare_blocking()
        self._pool = AsyncConnectionPool(
            connection_string,
            min_size=min_size,
            max_size=max_size,
            open=not _io.IS_ASYNC,  # an async pool opens inside the event loop: on first use
            configure=register_vector_async,
            kwargs={"autocommit": True},
        )
        self._lock = _io.Lock()
        self.ivfflat_probes = 10
        self.ef_search = 100
        """HNSW candidate list of an ANN query (``max(ef_search, 2 * top_k)``; pgvector's default 40
        found 0.91 of the exact top 10 on 7,000 clustered vectors here, 100 found 0.97+)."""

    def _prepare_statements(self) -> list[str]:
        """The extension, the schema and the index registry, created if missing."""
        statements = ["CREATE EXTENSION IF NOT EXISTS vector"]
        if self._create_schema:
            statements.append(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self._prefix}{REGISTRY} (name TEXT PRIMARY KEY, "
            "dimension INTEGER NOT NULL, metric TEXT NOT NULL, index_type TEXT NOT NULL)"
        )
        return statements

    def _prepare_blocking(self) -> None:
        """Prepare the server with a blocking connection (the sync face, from the constructor)."""
        psycopg = self._psycopg
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                for statement in self._prepare_statements():
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise StorageError(f"could not prepare PostgreSQL for vectors: {exc}") from exc
        self._prepared = True

    async def _prepare(self) -> None:
        """Prepare the server and open the pool on first use (the async face: its pool opens
        inside the running event loop); nothing to do on the sync face, prepared already."""
        if self._prepared:
            return
        async with self._lock:
            if self._prepared:
                return
            psycopg = self._psycopg
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    for statement in self._prepare_statements():
                        await conn.execute(statement)
            except psycopg.Error as exc:
                raise StorageError(f"could not prepare PostgreSQL for vectors: {exc}") from exc
            await self._pool.open()
            self._prepared = True

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        await self._prepare()
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (ValidationError, StorageError):
            raise
        except self._psycopg.Error as exc:
            raise StorageError(f"PostgreSQL vector operation failed: {exc}") from exc

    def _t(self, index_name: str) -> str:
        return f'{self._prefix}"{index_name}"'

    # -- indexes --------------------------------------------------------------------------------

    async def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None:
        kind = config.get("type", "hnsw")
        allowed = {"type", "m", "ef_construction", "lists"}
        if kind not in ("hnsw", "ivfflat", "flat") or set(config) - allowed:
            raise ValidationError(
                f"bad pgvector index_config {config!r} (type hnsw|ivfflat|flat, m, ef_construction, lists)"
            )
        _, opclass = _OPS[metric]
        table = self._t(index_name)
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mastra_vector:{index_name}",))
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id SERIAL PRIMARY KEY, vector_id TEXT UNIQUE NOT NULL, "
                f"embedding vector({dimension}), metadata JSONB DEFAULT '{{}}'::jsonb)"
            )
            for field in metadata_indexes:
                segs = field.split(".")
                expr = f"metadata ->> '{segs[0]}'" if len(segs) == 1 else "metadata #>> '{" + ",".join(segs) + "}'"
                await conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{index_name}_m_{field.replace(".", "_")}" ON {table} (({expr}))'
                )
            if kind == "hnsw":
                m = int(config.get("m", 16))
                efc = int(config.get("ef_construction", 64))
                await conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{index_name}_vector_idx" ON {table} USING hnsw '
                    f"(embedding {opclass}) WITH (m = {m}, ef_construction = {efc})"
                )
            elif kind == "ivfflat":
                lists = int(config.get("lists", 100))
                await conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{index_name}_vector_idx" ON {table} USING ivfflat '
                    f"(embedding {opclass}) WITH (lists = {lists})"
                )
            await conn.execute(
                f"INSERT INTO {self._prefix}{REGISTRY} (name, dimension, metric, index_type) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET dimension = excluded.dimension, metric = excluded.metric, "
                "index_type = excluded.index_type",
                (index_name, dimension, metric, kind),
            )

    async def build_index(
        self, index_name: str, index_config: dict[str, Any] | None = None, maintenance_work_mem: str = "1GB"
    ) -> None:
        """(Re)build the ANN index of an existing table, e.g. after a bulk load (building HNSW
        once over loaded rows is much faster than growing it row by row; IVFFlat needs the data
        to choose its lists). ``index_config`` as in :meth:`create_index`; ``{"type": "flat"}``
        drops the ANN index. ``maintenance_work_mem`` is set for the build only: an HNSW graph
        that does not fit in it is built far more slowly (pgvector warns about this).

        Raises:
            IndexNotFoundError: if the index does not exist.
        """
        config = dict(index_config or {"type": "hnsw"})
        kind = config.get("type", "hnsw")
        if kind not in ("hnsw", "ivfflat", "flat") or set(config) - {"type", "m", "ef_construction", "lists"}:
            raise ValidationError(f"bad pgvector index_config {config!r}")
        _, metric = await self._index_info(index_name)
        _, opclass = _OPS[metric]
        table = self._t(index_name)
        if not re.fullmatch(r"\d+\s*(kB|MB|GB)", maintenance_work_mem):
            raise ValidationError("maintenance_work_mem must look like '512MB' or '1GB'")
        async with self._conn() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
            await conn.execute(f'DROP INDEX IF EXISTS {self._prefix}"{index_name}_vector_idx"')
            if kind == "hnsw":
                await conn.execute(
                    f'CREATE INDEX "{index_name}_vector_idx" ON {table} USING hnsw (embedding {opclass}) '
                    f"WITH (m = {int(config.get('m', 16))}, ef_construction = {int(config.get('ef_construction', 64))})"
                )
            elif kind == "ivfflat":
                await conn.execute(
                    f'CREATE INDEX "{index_name}_vector_idx" ON {table} USING ivfflat (embedding {opclass}) '
                    f"WITH (lists = {int(config.get('lists', 100))})"
                )
            await conn.execute(
                f"UPDATE {self._prefix}{REGISTRY} SET index_type = %s WHERE name = %s", (kind, index_name)
            )
            await conn.execute(f"ANALYZE {table}")
        self._sizes.forget(index_name)
        self._kinds.pop(index_name, None)

    async def _describe_conn(self, conn: Any, index_name: str) -> tuple[int, Metric, str] | None:
        row = await (
            await conn.execute(
                "SELECT a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND a.attname = 'embedding' AND NOT a.attisdropped",
                (self.schema, index_name),
            )
        ).fetchone()
        if row is None:
            return None
        reg = await (
            await conn.execute(
                f"SELECT metric, index_type FROM {self._prefix}{REGISTRY} WHERE name = %s", (index_name,)
            )
        ).fetchone()
        metric: Metric = reg[0] if reg else "cosine"
        kind: str = reg[1] if reg else "hnsw"
        return int(row[0]), metric, kind

    async def _describe(self, index_name: str) -> IndexStats | None:
        async with self._conn() as conn:
            info = await self._describe_conn(conn, index_name)
            if info is None:
                return None
            count = (await (await conn.execute(f"SELECT count(*) FROM {self._t(index_name)}")).fetchone())[0]
        return IndexStats(dimension=info[0], count=int(count), metric=info[1])

    async def _list_indexes(self) -> list[str]:
        async with self._conn() as conn:
            rows = await (
                await conn.execute(
                    "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
                    "WHERE n.nspname = %s AND c.relkind = 'r' AND a.attname = 'embedding' AND t.typname = 'vector'",
                    (self.schema,),
                )
            ).fetchall()
        return [r[0] for r in rows]

    async def _delete_index(self, index_name: str) -> None:
        async with self._conn() as conn, conn.transaction():
            await conn.execute(f"DROP TABLE IF EXISTS {self._t(index_name)}")
            await conn.execute(f"DELETE FROM {self._prefix}{REGISTRY} WHERE name = %s", (index_name,))
        self._sizes.forget(index_name)
        self._kinds.pop(index_name, None)

    # -- vectors --------------------------------------------------------------------------------

    async def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:

        rows = [
            (vid, vectors[i], json.dumps(meta, ensure_ascii=False))
            for i, (vid, meta) in enumerate(zip(ids, metadata, strict=True))
        ]
        sql = (
            f"INSERT INTO {self._t(index_name)} (vector_id, embedding, metadata) VALUES (%s, %s, %s::jsonb) "
            "ON CONFLICT (vector_id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata"
        )
        async with self._conn() as conn:
            try:
                async with conn.transaction(), conn.cursor() as cur:
                    for i in range(0, len(rows), _CHUNK):
                        await cur.executemany(sql, rows[i : i + _CHUNK])
            except self._psycopg.errors.UndefinedTable as exc:
                raise IndexNotFoundError(index_name) from exc
            except self._psycopg.errors.DataException as exc:
                info = await self._describe_conn(conn, index_name)
                if info is not None and info[0] != vectors.shape[1]:
                    raise DimensionMismatchError(index_name, info[0], int(vectors.shape[1])) from exc
                raise

    async def _scope_rows(self, conn: Any, index_name: str, node: FilterNode | None) -> tuple[int, int]:
        """``(vectors in the query's scope, vectors in the index)`` by
        :func:`~mastra_memory.storage._vector_shared.scope_size_steps`, counted on the btree index."""
        steps = scope_size_steps(self._sizes, index_name, node, self.ann_min_rows)
        try:
            ask = next(steps)
            while True:
                ask = steps.send(await self._count(conn, index_name, *ask))
        except StopIteration as done:
            sizes: tuple[int, int] = done.value  # the generator's return value
            return sizes

    async def _count(self, conn: Any, index_name: str, term: tuple[str, str] | None, bound: int | None) -> int:
        """One :data:`~mastra_memory.storage._vector_shared.CountAsk`: a count on the btree index."""
        sql, params = count_sql(self._t(index_name), term, bound, lambda f: f"(metadata ->> '{f}')", "%s")
        return int((await (await conn.execute(sql, params)).fetchone())[0])

    async def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:

        op, _ = _OPS[metric]
        where, params = to_postgres(node)
        cols = "vector_id, metadata, d" + (", embedding" if include_vector else "")
        table = self._t(index_name)
        q = vector
        settings = (
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', %s, true), "
            "set_config('ivfflat.probes', %s, true), set_config('ivfflat.iterative_scan', %s, true), "
            "set_config('enable_sort', %s, true)"
        )
        async with self._conn() as conn:
            try:
                fetch: int | None = None
                if self.search != "exact":
                    kind = self._kinds.get(index_name)
                    if kind is None:
                        info = await self._describe_conn(conn, index_name)
                        kind = info[2] if info is not None else "flat"
                        self._kinds[index_name] = kind
                    if kind != "flat":
                        sizes = await self._scope_rows(conn, index_name, node)
                        fetch = use_ann(self.search, top_k, *sizes, min_rows=self.ann_min_rows)
                if fetch is not None:  # the ANN index, scanned until top_k rows pass the filter
                    sql = (
                        f"SELECT {cols} FROM (SELECT vector_id, metadata, embedding, embedding {op} %s AS d "
                        f"FROM {table} WHERE {where} ORDER BY embedding {op} %s LIMIT %s) AS q ORDER BY d"
                    )
                    args: list[Any] = [q, *params, q, top_k]
                    scan = "strict_order" if node is not None else "off"
                    config = (
                        str(max(self.ef_search, 2 * top_k)),
                        scan,
                        str(self.ivfflat_probes),
                        "relaxed_order" if node else "off",
                        "off",
                    )
                else:  # exact: the pre-filtered rows, sorted (OFFSET 0 keeps the ANN index out)
                    sql = (
                        f"SELECT {cols} FROM (SELECT vector_id, metadata, embedding, embedding {op} %s AS d "
                        f"FROM {table} WHERE {where} OFFSET 0) AS q ORDER BY d LIMIT %s"
                    )
                    args = [q, *params, top_k]
                    config = ("40", "off", str(self.ivfflat_probes), "off", "on")
                # one round trip: transaction-local settings and the query, pipelined
                async with conn.pipeline(), conn.transaction():
                    await conn.execute(settings, config)
                    cur = await conn.execute(sql, args)
                rows = await cur.fetchall()
            except self._psycopg.errors.UndefinedTable as exc:
                raise IndexNotFoundError(index_name) from exc
        self.last_search = "exact" if fetch is None else "ann"
        return [
            QueryResult(
                id=r[0],
                score=score_from_distance(metric, float(r[2])),
                metadata=r[1] if isinstance(r[1], dict) else json.loads(r[1] or "{}"),
                vector=_as_floats(r[3]) if include_vector else None,
            )
            for r in rows
        ]

    async def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        async with self._conn() as conn, conn.transaction():
            if ids:
                for i in range(0, len(ids), _CHUNK):
                    await conn.execute(
                        f"DELETE FROM {self._t(index_name)} WHERE vector_id = ANY(%s)", (ids[i : i + _CHUNK],)
                    )
            else:
                where, params = to_postgres(node)
                await conn.execute(f"DELETE FROM {self._t(index_name)} WHERE {where}", params)
