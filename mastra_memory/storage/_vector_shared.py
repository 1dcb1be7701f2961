"""The non-I/O half of the vector contract, shared by both faces (:class:`~mastra_memory.storage.vector.VectorStore`
and :class:`~mastra_memory.storage.vector_async.AsyncVectorStore` import these: one class each, one
exception hierarchy). Import them from :mod:`mastra_memory.storage.vector` as before."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Generator
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


# -- choosing exact or approximate search (issue 11, item 4) -----------------------------------------

SearchMode = Literal["auto", "exact", "ann"]
"""How a vector store with an ANN index answers a filtered query: ``"auto"`` (exact with the
pre-filter for a small scope, the ANN index for a large one), ``"exact"`` or ``"ann"`` (forced)."""
SEARCH_MODES: tuple[SearchMode, ...] = ("auto", "exact", "ann")

ANN_MIN_ROWS = 5_000
"""Scope size (vectors) from which ``"auto"`` uses the ANN index. Source: on these 2-core machines
(load average 7-12) an exact scan of one scope costs about 2.5-3 ms per 1,000 vectors of 384
floats: 270 ms for 100,000 on libSQL (``vector_distance_cos`` over ``F32_BLOB`` rows), a whole
hybrid recall with exact search over 100,000 on pgvector 247 ms. So 5,000 vectors is where an
exact scan passes ~10 ms while the ANN index answers in a few ms (libSQL DiskANN over 5,000
clustered vectors: p50 2-7 ms); ``benchmarks/recall_latency.py`` and docs/retrieval.md."""
ANN_MARGIN = 3.0
"""Standard deviations of margin when over-fetching for a post-filter: of ``fetch`` candidates a
filter keeping a share ``p`` of the index passes ``Binomial(fetch, p)``, so ``k / p`` plus three of
its standard deviations (``3 * sqrt(k * (1 - p)) / p``) leaves ``k`` with ~99.9% probability."""
ANN_MAX_FETCH = 1_000
"""Most candidates ``"auto"`` asks the ANN index for; a scope so small a part of the index that
it would need more is searched exactly (its pre-filter reads only its own rows)."""
SCOPE_COUNT_TTL = 60.0
"""Seconds a scope's counted size is reused (``ScopeSizes``); the choice only needs its order of
magnitude, and a short ANN answer falls back to exact search anyway."""
SCOPE_FIELDS = ("thread_id", "resource_id")
"""Metadata fields whose equality filter names a scope, narrowest first."""


def scope_term(node: Any) -> tuple[str, str] | None:
    """The narrowest scope ``(field, value)`` among the filter's top-level equalities, if any.

    Args:
        node: A parsed filter (:func:`~mastra_memory.storage._filter.parse_filter`) or ``None``.
    """
    from mastra_memory.storage._filter import equality_terms

    terms = equality_terms(node)
    for field in SCOPE_FIELDS:
        value = terms.get(field)
        if isinstance(value, str):
            return field, value
    return None


def ann_fetch(top_k: int, scope_rows: int, total_rows: int) -> int:
    """Candidates to fetch from a whole-index ANN search so that ``top_k`` of them survive a
    post-filter keeping ``scope_rows`` of ``total_rows`` vectors (``k / p`` plus
    :data:`ANN_MARGIN` standard deviations; just ``k`` when the scope is the whole index)."""
    share = max(scope_rows, 1) / max(total_rows, scope_rows, 1)
    return max(top_k, math.ceil((top_k + ANN_MARGIN * math.sqrt(top_k * (1.0 - share))) / share))


def use_ann(
    mode: SearchMode,
    top_k: int,
    scope_rows: int,
    total_rows: int,
    *,
    min_rows: int = ANN_MIN_ROWS,
    max_fetch: int = ANN_MAX_FETCH,
) -> int | None:
    """Decide between exact and ANN search for one query.

    Args:
        mode: ``"auto"``, ``"exact"`` or ``"ann"``.
        top_k: Hits wanted.
        scope_rows: Vectors in the query's scope (the whole index when it names no scope).
        total_rows: Vectors in the index.
        min_rows: Smallest scope searched with the ANN index under ``"auto"``.
        max_fetch: Most ANN candidates ``"auto"`` fetches (``"ann"`` caps at this too).

    Returns:
        ``None`` for exact search, else how many candidates to fetch from the ANN index.
    """
    if mode == "exact":
        return None
    fetch = ann_fetch(top_k, scope_rows, total_rows)
    if mode == "ann":
        return min(fetch, max(max_fetch, top_k))
    if scope_rows < min_rows or fetch > max_fetch:
        return None
    return fetch


class ScopeSizes:
    """Counted scope sizes, reused for ``ttl`` seconds (a per-store cache; one process's view).

    Args:
        ttl: Seconds an entry is reused (:data:`SCOPE_COUNT_TTL`).
    """

    def __init__(self, ttl: float = SCOPE_COUNT_TTL) -> None:
        self.ttl = ttl
        self._sizes: dict[tuple[str, str, str], tuple[int, float]] = {}

    def get(self, key: tuple[str, str, str]) -> int | None:
        """The size kept for ``(index, field, value)`` if younger than ``ttl``."""
        hit = self._sizes.get(key)
        if hit is None or time.monotonic() - hit[1] > self.ttl:
            return None
        return hit[0]

    def put(self, key: tuple[str, str, str], size: int) -> None:
        """Keep a counted size."""
        if len(self._sizes) > 10_000:  # many scopes: start over rather than grow without bound
            self._sizes.clear()
        self._sizes[key] = (size, time.monotonic())

    def forget(self, index_name: str) -> None:
        """Drop the sizes of one index (after it was deleted or rebuilt)."""
        for key in [k for k in self._sizes if k[0] == index_name]:
            del self._sizes[key]


CountAsk = tuple[tuple[str, str] | None, int | None]
"""What :func:`scope_size_steps` asks a backend to count: ``(None, None)`` the whole index;
``((field, value), bound)`` the vectors whose metadata ``field`` equals ``value``, at most
``bound`` of them (``None``: all)."""


def scope_size_steps(
    sizes: ScopeSizes, index_name: str, node: Any, min_rows: int
) -> Generator[CountAsk, int, tuple[int, int]]:
    """``(vectors in the query's scope, vectors in the index)``, without I/O.

    A generator (the sans-I/O style of h11 and httpx's core): it yields each count it needs as a
    :data:`CountAsk`, the backend sends back the number, and it returns the pair. The scope is
    :func:`scope_term`'s equality; it is counted up to ``min_rows`` first (a small scope costs no
    more than that), in full only above. Counts are kept in ``sizes`` and reused for its ttl.

    Args:
        sizes: The store's cache of counted sizes.
        index_name: The index (table) queried.
        node: The query's parsed filter, or ``None``.
        min_rows: The store's ``ann_min_rows`` (the bound of the first scope count).
    """
    total_key = (index_name, "", "")
    total = sizes.get(total_key)
    if total is None:
        total = yield None, None
        sizes.put(total_key, total)
    term = scope_term(node)
    if term is None:
        return total, total
    key = (index_name, *term)
    size = sizes.get(key)
    if size is None:
        size = yield term, min_rows
        if size >= min_rows:
            size = yield term, None
        sizes.put(key, size)
    return size, total


def scope_sizes(
    sizes: ScopeSizes, index_name: str, node: Any, min_rows: int, count: Callable[[CountAsk], int]
) -> tuple[int, int]:
    """:func:`scope_size_steps` run with a blocking ``count`` (the sync stores' I/O): each
    :data:`CountAsk` goes to ``count``, its number back to the generator. Async stores drive the
    generator themselves, awaiting their count."""
    steps = scope_size_steps(sizes, index_name, node, min_rows)
    try:
        ask = next(steps)
        while True:
            ask = steps.send(count(ask))
    except StopIteration as done:
        result: tuple[int, int] = done.value  # the generator's return value
        return result


def count_sql(
    table: str, term: tuple[str, str] | None, bound: int | None, field: Callable[[str], str], placeholder: str
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters answering one :data:`CountAsk` on ``table``.

    Args:
        table: The (quoted, qualified) vector table.
        term: ``(field, value)`` of the scope, or ``None`` for the whole table.
        bound: Count at most this many rows (``None``: all).
        field: The backend's SQL for a metadata field, e.g. ``json_extract(metadata, '$.f')``.
        placeholder: The driver's parameter marker (``?`` or ``%s``).
    """
    if term is None:
        return f"SELECT count(*) FROM {table}", ()
    where = f"{field(term[0])} = {placeholder}"
    if bound is None:
        return f"SELECT count(*) FROM {table} WHERE {where}", (term[1],)
    return f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT {placeholder}) AS s", (term[1], bound)
