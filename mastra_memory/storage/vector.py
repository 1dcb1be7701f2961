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

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from mastra_memory.errors import ValidationError
from mastra_memory.storage._filter import FilterNode, parse_filter
from mastra_memory.types import new_id, validate_id, validate_json

__all__ = [
    "DimensionMismatchError",
    "IndexNotFoundError",
    "IndexStats",
    "Metric",
    "QueryResult",
    "VectorStore",
    "memory_index_name",
]

Metric = Literal["cosine", "euclidean", "dotproduct"]
METRICS: tuple[Metric, ...] = ("cosine", "euclidean", "dotproduct")
_INDEX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class DimensionMismatchError(ValidationError):
    """A vector (or an index definition) does not have the index's dimension.

    Attributes:
        index_name: The index.
        expected: Its dimension.
        got: The dimension that was offered.
    """

    def __init__(self, index_name: str, expected: int, got: int) -> None:
        super().__init__(
            f"vector index {index_name!r} has dimension {expected}, got {got}; use an index "
            f"named for the new dimension (e.g. memory_messages_{got}) or delete the old index"
        )
        self.index_name = index_name
        self.expected = expected
        self.got = got


class IndexNotFoundError(ValidationError, LookupError):
    """The vector index does not exist."""

    def __init__(self, index_name: str) -> None:
        super().__init__(f"vector index {index_name!r} does not exist")
        self.index_name = index_name


class QueryResult(BaseModel):
    """One query hit. ``score``: higher is better (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    id: str
    score: float
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[float] | None = None


class IndexStats(BaseModel):
    """What :meth:`VectorStore.describe_index` reports."""

    model_config = ConfigDict(frozen=True)

    dimension: int
    count: int
    metric: Metric


def memory_index_name(dimension: int, separator: str = "_") -> str:
    """The index of message embeddings: ``memory_messages_<dimension>``.

    The dimension is always part of the name (the original drops it for 1536, which let a
    changed embedder write into an index of another dimension, issues #11854/#13039).
    """
    return f"memory{separator}messages{separator}{dimension}"


def score_from_distance(metric: Metric, distance: float) -> float:
    """Turn a backend distance into the contract's score (higher is better).

    ``distance`` is cosine distance (``1 - cos``), L2 distance, or the negated inner product
    (pgvector's ``<#>``), by metric.
    """
    if metric == "cosine":
        return 1.0 - distance
    if metric == "euclidean":
        return 1.0 / (1.0 + distance)
    return -distance


def exact_scores(
    matrix: npt.NDArray[np.float32], query: npt.NDArray[np.float32], metric: Metric
) -> npt.NDArray[np.float64]:
    """Scores (higher is better, the contract's scale) of every row of ``matrix`` for ``query``.

    Shared by the stores that search in process (in-memory, MongoDB without Atlas).
    """
    m = matrix.astype(np.float64)
    q = query.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(m, axis=1) * (float(np.linalg.norm(q)) or 1.0)
        return np.asarray((m @ q) / np.where(norms == 0, 1.0, norms), dtype=np.float64)
    if metric == "dotproduct":
        return np.asarray(m @ q, dtype=np.float64)
    return np.asarray(1.0 / (1.0 + np.linalg.norm(m - q, axis=1)), dtype=np.float64)


def check_vectors(vectors: Any, dimension: int, index_name: str, what: str = "vector") -> npt.NDArray[np.float32]:
    """Return ``vectors`` (one vector or a sequence of them) as a float32 array of shape
    ``(n, dimension)``, checked to be finite.

    Raises:
        DimensionMismatchError: on a wrong length.
        ValidationError: on a ragged, non-numeric or non-finite input.
    """
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be a sequence of numbers (vectors of one length)") from exc
    if arr.ndim == 1:
        arr = arr.reshape(1, -1) if arr.size else arr.reshape(0, dimension)
    if arr.ndim != 2:
        raise ValidationError(f"{what} must be a list of numbers")
    if arr.shape[1] != dimension and arr.shape[0] > 0:
        raise DimensionMismatchError(index_name, dimension, int(arr.shape[1]))
    if not np.isfinite(arr).all():
        raise ValidationError(f"{what} contains NaN or infinity")
    return arr.astype(np.float32)


class VectorStore(ABC):
    """Abstract vector store (one collection/table per index).

    Attributes:
        index_separator: Separator used in generated index names (``"_"``).
    """

    index_separator: str = "_"

    def __init__(self) -> None:
        self._dims: dict[str, tuple[int, Metric]] = {}
        self._dims_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexes --------------------------------------------------------------------------------

    @staticmethod
    def _check_name(index_name: str) -> str:
        if not isinstance(index_name, str) or not _INDEX_NAME.match(index_name):
            raise ValidationError(
                f"invalid index name {index_name!r}: letters, digits and _ only, at most 63 characters"
            )
        return index_name

    def create_index(
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
        existing = self._describe(index_name)
        if existing is not None:
            if existing.dimension != dimension:
                raise DimensionMismatchError(index_name, existing.dimension, dimension)
            with self._dims_lock:
                self._dims[index_name] = (existing.dimension, existing.metric)
            return
        self._create_index(index_name, dimension, metric, dict(index_config or {}), tuple(metadata_indexes))
        with self._dims_lock:
            self._dims[index_name] = (dimension, metric)

    def _index_info(self, index_name: str) -> tuple[int, Metric]:
        self._check_name(index_name)
        info = self._dims.get(index_name)
        if info is None:
            stats = self._describe(index_name)
            if stats is None:
                raise IndexNotFoundError(index_name)
            info = (stats.dimension, stats.metric)
            with self._dims_lock:
                self._dims[index_name] = info
        return info

    def describe_index(self, index_name: str) -> IndexStats:
        """Return ``IndexStats(dimension, count, metric)``.

        Raises:
            IndexNotFoundError: if the index does not exist.
        """
        stats = self._describe(self._check_name(index_name))
        if stats is None:
            raise IndexNotFoundError(index_name)
        return stats

    def list_indexes(self) -> list[str]:
        """Names of the indexes this store holds, sorted."""
        return sorted(self._list_indexes())

    def delete_index(self, index_name: str) -> None:
        """Drop an index and its vectors (idempotent)."""
        self._delete_index(self._check_name(index_name))
        with self._dims_lock:
            self._dims.pop(index_name, None)

    # -- vectors --------------------------------------------------------------------------------

    def upsert(
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
        dim, _ = self._index_info(index_name)
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
            self._upsert(index_name, id_list, rows, metas)
        return id_list

    def query(
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
        dim, metric = self._index_info(index_name)
        if isinstance(query_vector, (str, bytes)) or np.ndim(query_vector) != 1:
            raise ValidationError("query_vector must be one list of numbers")
        vec = check_vectors(query_vector, dim, index_name, "query vector")[0]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
            raise ValidationError(f"top_k must be a positive integer, got {top_k!r}")
        node = parse_filter(filter)
        return self._query(index_name, vec, top_k, node, include_vector, metric)

    def delete_vectors(
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
            self._index_info(index_name)
        except IndexNotFoundError:
            return
        self._delete(index_name, id_list, node)

    # -- hooks ----------------------------------------------------------------------------------

    @abstractmethod
    def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None: ...

    @abstractmethod
    def _describe(self, index_name: str) -> IndexStats | None:
        """Stats of the index, or ``None`` if it does not exist."""

    @abstractmethod
    def _list_indexes(self) -> list[str]: ...

    @abstractmethod
    def _delete_index(self, index_name: str) -> None: ...

    @abstractmethod
    def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        """Upsert rows; ``vectors`` is validated, float32, shape ``(len(ids), dimension)``."""

    @abstractmethod
    def _query(
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
    def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        """Delete by ``ids`` when non-empty, else by ``node``."""
