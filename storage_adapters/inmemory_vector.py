"""``InMemoryVector``: a process-local vector store on numpy (exact search, nothing persists).

Each index keeps its vectors in one contiguous float32 matrix (grown by doubling, rows removed by
swapping in the last row), so a query is one matrix-vector product over the rows that pass the
filter. Filters are evaluated in Python over the metadata dicts, with a fast path for top-level
string equality on indexed fields (``thread_id``, ``resource_id``, ``message_id`` by default).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mastra_memory.storage._filter import FilterNode, equality_terms, matches
from mastra_memory.storage.vector import IndexStats, Metric, QueryResult, VectorStore, exact_scores

__all__ = ["InMemoryVector"]


@dataclass
class _Index:
    dimension: int
    metric: Metric
    indexed: tuple[str, ...]
    matrix: npt.NDArray[np.float32]
    ids: list[str] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)
    # indexed field -> value -> set of ids
    postings: dict[str, dict[Any, set[str]]] = field(default_factory=dict)

    def _post(self, vid: str, meta: dict[str, Any], add: bool) -> None:
        for f in self.indexed:
            value = meta.get(f)
            if not isinstance(value, str):
                continue
            bucket = self.postings.setdefault(f, {}).setdefault(value, set())
            if add:
                bucket.add(vid)
            else:
                bucket.discard(vid)

    def put(self, vid: str, vec: npt.NDArray[np.float32], meta: dict[str, Any]) -> None:
        row = self.pos.get(vid)
        if row is None:
            row = len(self.ids)
            if row >= self.matrix.shape[0]:
                grown = np.zeros((max(16, row * 2), self.dimension), dtype=np.float32)
                grown[:row] = self.matrix[:row]
                self.matrix = grown
            self.ids.append(vid)
            self.meta.append(meta)
            self.pos[vid] = row
        else:
            self._post(vid, self.meta[row], add=False)
            self.meta[row] = meta
        self.matrix[row] = vec
        self._post(vid, meta, add=True)

    def remove(self, vid: str) -> None:
        row = self.pos.pop(vid, None)
        if row is None:
            return
        self._post(vid, self.meta[row], add=False)
        last = len(self.ids) - 1
        if row != last:
            self.matrix[row] = self.matrix[last]
            self.ids[row] = self.ids[last]
            self.meta[row] = self.meta[last]
            self.pos[self.ids[row]] = row
        self.ids.pop()
        self.meta.pop()

    def candidates(self, node: FilterNode | None) -> list[int]:
        rows: list[int] | None = None
        for f, value in equality_terms(node).items():
            if f in self.indexed:
                ids = self.postings.get(f, {}).get(value, set())
                chosen = [self.pos[i] for i in ids]
                rows = chosen if rows is None or len(chosen) < len(rows) else rows
        if rows is None:
            rows = list(range(len(self.ids)))
        if node is None:
            return rows
        return [r for r in rows if matches(node, self.meta[r])]


class InMemoryVector(VectorStore):
    """Vectors in numpy arrays; thread-safe within one process.

    Good for tests, notebooks and small single-process apps. Query cost is linear in the number
    of vectors that pass the filter (about 1 ms per 20k x 384 floats on one core).
    """

    @classmethod
    def from_url(cls, url: str = "memory://") -> InMemoryVector:
        """Build a store (``url`` is ignored; here for the registry's ``memory://``)."""
        return cls()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._indexes: dict[str, _Index] = {}

    def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None:
        with self._lock:
            if index_name not in self._indexes:
                self._indexes[index_name] = _Index(
                    dimension,
                    metric,
                    tuple(f for f in metadata_indexes if "." not in f),
                    np.zeros((16, dimension), dtype=np.float32),
                )

    def _describe(self, index_name: str) -> IndexStats | None:
        with self._lock:
            idx = self._indexes.get(index_name)
            if idx is None:
                return None
            return IndexStats(dimension=idx.dimension, count=len(idx.ids), metric=idx.metric)

    def _list_indexes(self) -> list[str]:
        with self._lock:
            return list(self._indexes)

    def _delete_index(self, index_name: str) -> None:
        with self._lock:
            self._indexes.pop(index_name, None)

    def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        arr = vectors
        with self._lock:
            idx = self._indexes[index_name]
            for i, vid in enumerate(ids):
                idx.put(vid, arr[i], metadata[i])

    def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:
        q = vector
        with self._lock:
            idx = self._indexes.get(index_name)
            if idx is None:
                return []
            rows = idx.candidates(node)
            if not rows:
                return []
            sub = idx.matrix[rows]
            ids = [idx.ids[r] for r in rows]
            metas = [idx.meta[r] for r in rows]
        scores = exact_scores(sub, q, metric)
        k = min(top_k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        order = top[np.argsort(-scores[top], kind="stable")]
        return [
            QueryResult(
                id=ids[i],
                score=float(scores[i]),
                metadata=dict(metas[i]),
                vector=[float(x) for x in sub[i]] if include_vector else None,
            )
            for i in order
        ]

    def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        with self._lock:
            idx = self._indexes.get(index_name)
            if idx is None:
                return
            targets = ids if ids else [idx.ids[r] for r in idx.candidates(node)]
            for vid in targets:
                idx.remove(vid)
