"""The vector seam: :class:`VectorStore`, the contract every vector backend implements.

Shape follows the original's ``MastraVector`` (``createIndex``, ``upsert``, ``query``,
``deleteVectors``, ``describeIndex``, ``listIndexes``, ``deleteIndex``) in Python naming. The
public methods validate once for every backend (names, dimensions, finite floats, JSON
metadata, the filter) and then call the ``_`` hooks, so backend modules hold I/O only.

Contract (checked by :mod:`mastra_memory.testing.vector_conformance`):

* ``create_index`` is idempotent; calling it for an existing index with another dimension raises
  :class:`DimensionMismatchError`, never silently reuses or recreates it.
* Every vector written or queried must have the index's dimension
  (:class:`DimensionMismatchError` otherwise; libSQL would store a wrong one silently).
* ``upsert`` replaces vectors by id; ids default to new UUID4 strings.
* ``query`` returns at most ``top_k`` results, best first, with ``score`` where higher is
  better: cosine similarity in [-1, 1] for ``"cosine"``, the inner product for
  ``"dotproduct"``, and ``1 / (1 + L2 distance)`` in (0, 1] for ``"euclidean"``.
* Filters use the Mongo-style language of :mod:`mastra_memory.storage._filter` with the same
  semantics on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from mastra_memory import _io_async as _io
from mastra_memory.errors import ValidationError
from mastra_memory.storage._filter import FilterNode, parse_filter
from mastra_memory.storage._vector_shared import (
    _INDEX_NAME,
    METRICS,
    DimensionMismatchError,
    IndexNotFoundError,
    IndexStats,
    Metric,
    QueryResult,
    check_vectors,
    memory_index_name,
)
from mastra_memory.storage._vector_shared import exact_scores as exact_scores
from mastra_memory.storage._vector_shared import score_from_distance as score_from_distance
from mastra_memory.types import new_id, validate_id, validate_json

__all__ = [
    "AsyncVectorStore",
    "DimensionMismatchError",
    "IndexNotFoundError",
    "IndexStats",
    "Metric",
    "QueryResult",
    "memory_index_name",
]


class AsyncVectorStore(ABC):
    """Abstract vector store (one collection/table per index).

    Attributes:
        index_separator: Separator used in generated index names (``"_"``).
    """

    index_separator: str = "_"

    def __init__(self) -> None:
        self._dims: dict[str, tuple[int, Metric]] = {}
        self._dims_lock = _io.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- indexes --------------------------------------------------------------------------------

    @staticmethod
    def _check_name(index_name: str) -> str:
        if not isinstance(index_name, str) or not _INDEX_NAME.match(index_name):
            raise ValidationError(
                f"invalid index name {index_name!r}: letters, digits and _ only, at most 63 characters"
            )
        return index_name

    async def create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric = "cosine",
        index_config: Mapping[str, Any] | None = None,
        metadata_indexes: Sequence[str] = ("thread_id", "resource_id", "message_id"),
    ) -> None:
        """Create an index, or check an existing one (idempotent).

        Args:
            index_name: ``[A-Za-z_][A-Za-z0-9_]{0,62}``.
            dimension: Vector length (> 0).
            metric: ``"cosine"`` (default), ``"euclidean"`` or ``"dotproduct"``.
            index_config: Backend options (e.g. ``{"type": "hnsw", "m": 16}`` on pgvector,
                ``{"ann": True}`` on libSQL).
            metadata_indexes: Metadata fields to index for fast pre-filtering.

        Raises:
            DimensionMismatchError: if the index exists with another dimension.
            ValidationError: on a bad name, dimension or metric.
        """
        self._check_name(index_name)
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension <= 0:
            raise ValidationError(f"dimension must be a positive integer, got {dimension!r}")
        if metric not in METRICS:
            raise ValidationError(f"metric must be one of {METRICS}, got {metric!r}")
        for field in metadata_indexes:
            parse_filter({field: "x"})  # validates the path
        known = self._dims.get(index_name)
        if known is not None and known[0] == dimension:
            return
        existing = await self._describe(index_name)
        if existing is not None:
            if existing.dimension != dimension:
                raise DimensionMismatchError(index_name, existing.dimension, dimension)
            async with self._dims_lock:
                self._dims[index_name] = (existing.dimension, existing.metric)
            return
        await self._create_index(index_name, dimension, metric, dict(index_config or {}), tuple(metadata_indexes))
        async with self._dims_lock:
            self._dims[index_name] = (dimension, metric)

    async def _index_info(self, index_name: str) -> tuple[int, Metric]:
        self._check_name(index_name)
        info = self._dims.get(index_name)
        if info is None:
            stats = await self._describe(index_name)
            if stats is None:
                raise IndexNotFoundError(index_name)
            info = (stats.dimension, stats.metric)
            async with self._dims_lock:
                self._dims[index_name] = info
        return info

    async def describe_index(self, index_name: str) -> IndexStats:
        """Return ``IndexStats(dimension, count, metric)``.

        Raises:
            IndexNotFoundError: if the index does not exist.
        """
        stats = await self._describe(self._check_name(index_name))
        if stats is None:
            raise IndexNotFoundError(index_name)
        return stats

    async def list_indexes(self) -> list[str]:
        """Names of the indexes this store holds, sorted."""
        return sorted(await self._list_indexes())

    async def delete_index(self, index_name: str) -> None:
        """Drop an index and its vectors (idempotent)."""
        await self._delete_index(self._check_name(index_name))
        async with self._dims_lock:
            self._dims.pop(index_name, None)

    # -- vectors --------------------------------------------------------------------------------

    async def upsert(
        self,
        index_name: str,
        vectors: Sequence[Sequence[float]],
        metadata: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Insert or replace vectors by id, in one transaction where the backend has them.

        Args:
            index_name: An existing index.
            vectors: Vectors of the index's dimension.
            metadata: One JSON object per vector (``{}`` when omitted).
            ids: One id per vector (new UUID4s when omitted).

        Returns:
            The ids, in input order.

        Raises:
            IndexNotFoundError, DimensionMismatchError, ValidationError.
        """
        dim, _ = await self._index_info(index_name)
        if isinstance(vectors, (str, bytes)):
            raise ValidationError("vectors must be a list of vectors")
        rows = check_vectors(list(vectors) if not isinstance(vectors, np.ndarray) else vectors, dim, index_name)
        if len(vectors) and rows.shape[0] != len(vectors):
            raise ValidationError("vectors must be a list of vectors")
        if metadata is None:
            metas: list[dict[str, Any]] = [{} for _ in rows]
        else:
            metas = [dict(m) for m in metadata]
            if len(metas) != len(rows):
                raise ValidationError("metadata must have one entry per vector")
            for m in metas:
                validate_json(m, "vector metadata")
        if ids is None:
            id_list = [new_id() for _ in rows]
        else:
            id_list = [validate_id(i, "vector id") for i in ids]
            if len(id_list) != len(rows):
                raise ValidationError("ids must have one entry per vector")
            if len(set(id_list)) != len(id_list):
                raise ValidationError("duplicate ids in one upsert")
        if len(rows):
            await self._upsert(index_name, id_list, rows, metas)
        return id_list

    async def query(
        self,
        index_name: str,
        query_vector: Sequence[float],
        top_k: int = 10,
        filter: Mapping[str, Any] | None = None,
        include_vector: bool = False,
    ) -> list[QueryResult]:
        """Return the ``top_k`` nearest vectors that match ``filter``, best first.

        Raises:
            IndexNotFoundError, DimensionMismatchError, ValidationError.
        """
        dim, metric = await self._index_info(index_name)
        if isinstance(query_vector, (str, bytes)) or np.ndim(query_vector) != 1:
            raise ValidationError("query_vector must be one list of numbers")
        vec = check_vectors(query_vector, dim, index_name, "query vector")[0]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
            raise ValidationError(f"top_k must be a positive integer, got {top_k!r}")
        node = parse_filter(filter)
        return await self._query(index_name, vec, top_k, node, include_vector, metric)

    async def delete_vectors(
        self,
        index_name: str,
        ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete vectors by ids or by filter (exactly one of them). A missing index is a no-op.

        Raises:
            ValidationError: if both or neither of ``ids`` and ``filter`` are given, or on an
                empty filter (use :meth:`delete_index` to drop everything).
        """
        if (ids is None) == (filter is None):
            raise ValidationError("delete_vectors needs exactly one of ids or filter")
        self._check_name(index_name)
        node: FilterNode | None = None
        id_list: list[str] = []
        if ids is not None:
            if isinstance(ids, str):
                raise ValidationError("ids must be a list")
            id_list = [validate_id(i, "vector id") for i in ids]
            if not id_list:
                return
        else:
            node = parse_filter(filter)
            if node is None:
                raise ValidationError("an empty filter would delete everything; use delete_index")
        try:
            await self._index_info(index_name)
        except IndexNotFoundError:
            return
        await self._delete(index_name, id_list, node)

    # -- hooks ----------------------------------------------------------------------------------

    @abstractmethod
    async def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None: ...

    @abstractmethod
    async def _describe(self, index_name: str) -> IndexStats | None:
        """Stats of the index, or ``None`` if it does not exist."""

    @abstractmethod
    async def _list_indexes(self) -> list[str]: ...

    @abstractmethod
    async def _delete_index(self, index_name: str) -> None: ...

    @abstractmethod
    async def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        """Upsert rows; ``vectors`` is validated, float32, shape ``(len(ids), dimension)``."""

    @abstractmethod
    async def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:
        """Best ``top_k`` matches of ``node``; ``vector`` is validated float32 of the dimension."""

    @abstractmethod
    async def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        """Delete by ``ids`` when non-empty, else by ``node``."""
