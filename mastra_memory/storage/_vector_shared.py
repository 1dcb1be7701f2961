"""The non-I/O half of the vector contract, shared by both faces (:class:`~mastra_memory.storage.vector.VectorStore`
and :class:`~mastra_memory.storage.vector_async.AsyncVectorStore` import these: one class each, one
exception hierarchy). Import them from :mod:`mastra_memory.storage.vector` as before."""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from mastra_memory.errors import ValidationError

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
