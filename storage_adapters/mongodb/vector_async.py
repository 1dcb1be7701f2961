"""``MongoDBVector``: vectors in MongoDB (``pip install "mastra-memory[mongodb]"``).

Layout: one collection per index holding ``{_id: <vector id>, embedding: [float, ...],
metadata: {...}}``, ascending indexes on ``metadata.<field>`` for the pre-filter fields, and a
registry collection ``mastra_vector_indexes`` (``{_id: name, dimension, metric}``).

Search, by ``vector_search``:

* ``"atlas"``: MongoDB Atlas Vector Search. ``create_index`` also creates an Atlas
  ``vectorSearch`` index on ``embedding`` (with the metadata fields as ``filter`` fields) and
  ``query`` runs a ``$vectorSearch`` stage (approximate, ``num_candidates = max(100, 10 *
  top_k)``). Atlas scores are mapped back to this library's scores (cosine and dot product
  ``2 * s - 1``). This path needs an Atlas cluster and is not exercised by this project's tests
  (no Atlas is reachable from the test machines).
* ``"exact"``: exact search on any MongoDB server: the filter runs as a normal query (using the
  metadata indexes, e.g. one resource's messages), the candidates' vectors come back and are
  scored with numpy. Cost is linear in the number of candidates, so keep the filter selective
  (semantic recall always filters by resource or thread).
* ``"auto"`` (default): ``"atlas"`` if the server accepts the search-index command, else
  ``"exact"``; decided once per store.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mastra_memory import _io_async as _io
from mastra_memory.errors import MissingDependencyError, StorageError, ValidationError
from mastra_memory.storage._filter import FilterNode, to_mongo
from mastra_memory.storage.vector_async import (
    AsyncVectorStore,
    DimensionMismatchError,
    IndexStats,
    Metric,
    QueryResult,
    exact_scores,
)

__all__ = ["AsyncMongoDBVector"]

REGISTRY = "mastra_vector_indexes"
_ATLAS_SIMILARITY = {"cosine": "cosine", "euclidean": "euclidean", "dotproduct": "dotProduct"}

SearchMode = Literal["auto", "atlas", "exact"]


class AsyncMongoDBVector(AsyncVectorStore):
    """Vector store on MongoDB.

    Args:
        url: A MongoDB connection string.
        db_name: The database (``"mastra"``).
        vector_search: ``"auto"`` (default), ``"atlas"`` or ``"exact"`` (see the module docs).
        client: An existing pymongo client to use instead of ``url`` (a ``pymongo.AsyncMongoClient``
            for ``AsyncMongoDBVector``, a ``pymongo.MongoClient`` for ``MongoDBVector``).

    Raises:
        MissingDependencyError: without the ``[mongodb]`` extra.
    """

    @classmethod
    def from_url(cls, url: str, db_name: str | None = None, **kwargs: Any) -> AsyncMongoDBVector:
        """Build from a ``mongodb://`` URL; the database as :meth:`MongoDBStore.from_url`."""
        from urllib.parse import urlsplit

        return cls(url, db_name or urlsplit(url).path.strip("/") or "mastra", **kwargs)

    def __init__(
        self,
        url: str = "mongodb://127.0.0.1:27017",
        db_name: str = "mastra",
        *,
        vector_search: SearchMode = "auto",
        client: Any = None,
    ) -> None:
        super().__init__()
        try:
            import pymongo
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError("pymongo", "mongodb") from exc
        if vector_search not in ("auto", "atlas", "exact"):
            raise ValidationError("vector_search must be 'auto', 'atlas' or 'exact'")
        self._pymongo = pymongo
        self._own_client = client is None
        self._client = client if client is not None else pymongo.AsyncMongoClient(url, tz_aware=True)
        self._db = self._client[db_name]
        self._mode: SearchMode = vector_search
        self._lock = _io.Lock()

    async def close(self) -> None:
        if self._own_client:
            await self._client.close()

    @property
    def search_mode(self) -> SearchMode:
        """``"atlas"`` or ``"exact"`` once decided; ``"auto"`` until the first index is made."""
        return self._mode

    def _err(self, exc: Exception) -> StorageError:
        return StorageError(f"MongoDB vector operation failed: {exc}")

    # -- indexes --------------------------------------------------------------------------------

    async def _create_atlas_index(
        self, index_name: str, dimension: int, metric: Metric, fields: tuple[str, ...]
    ) -> bool:
        from pymongo.operations import SearchIndexModel

        definition = {
            "fields": [
                {
                    "type": "vector",
                    "path": "embedding",
                    "numDimensions": dimension,
                    "similarity": _ATLAS_SIMILARITY[metric],
                },
                *({"type": "filter", "path": f"metadata.{f}"} for f in fields),
            ]
        }
        try:
            await self._db[index_name].create_search_index(
                SearchIndexModel(definition=definition, name=f"{index_name}_vector_idx", type="vectorSearch")
            )
            return True
        except self._pymongo.errors.PyMongoError:
            if self._mode == "atlas":
                raise
            return False

    async def _create_index(
        self,
        index_name: str,
        dimension: int,
        metric: Metric,
        config: dict[str, Any],
        metadata_indexes: tuple[str, ...],
    ) -> None:
        try:
            await self._db[REGISTRY].update_one(
                {"_id": index_name},
                {"$setOnInsert": {"dimension": dimension, "metric": metric}},
                upsert=True,
            )
            doc = await self._db[REGISTRY].find_one({"_id": index_name})
            if doc is not None and int(doc["dimension"]) != dimension:  # lost a creation race
                raise DimensionMismatchError(index_name, int(doc["dimension"]), dimension)
            coll = self._db[index_name]
            for field in metadata_indexes:
                await coll.create_index([(f"metadata.{field}", 1)])
            if self._mode in ("auto", "atlas"):
                async with self._lock:
                    ok = await self._create_atlas_index(index_name, dimension, metric, metadata_indexes)
                    if self._mode == "auto":
                        self._mode = "atlas" if ok else "exact"
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc

    async def _describe(self, index_name: str) -> IndexStats | None:
        try:
            doc = await self._db[REGISTRY].find_one({"_id": index_name})
            if doc is None:
                return None
            count = await self._db[index_name].count_documents({})
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc
        return IndexStats(dimension=int(doc["dimension"]), count=int(count), metric=doc["metric"])

    async def _list_indexes(self) -> list[str]:
        try:
            return [d["_id"] async for d in self._db[REGISTRY].find({}, {"_id": 1})]
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc

    async def _delete_index(self, index_name: str) -> None:
        try:
            await self._db[index_name].drop()
            await self._db[REGISTRY].delete_one({"_id": index_name})
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc

    # -- vectors --------------------------------------------------------------------------------

    async def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        from pymongo import ReplaceOne

        ops = [
            ReplaceOne({"_id": vid}, {"_id": vid, "embedding": vec, "metadata": meta}, upsert=True)
            for vid, vec, meta in zip(ids, vectors.tolist(), metadata, strict=True)
        ]
        try:
            await self._db[index_name].bulk_write(ops, ordered=False)
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc

    async def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:
        if self._mode == "atlas":
            return await self._query_atlas(index_name, vector, top_k, node, include_vector, metric)
        try:
            docs = [d async for d in self._db[index_name].find(to_mongo(node), {"embedding": 1, "metadata": 1})]
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc
        if not docs:
            return []
        mat = np.asarray([d["embedding"] for d in docs], dtype=np.float32)
        q = vector
        scores = exact_scores(mat, q, metric)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [
            QueryResult(
                id=str(docs[i]["_id"]),
                score=float(scores[i]),
                metadata=docs[i].get("metadata") or {},
                vector=[float(x) for x in docs[i]["embedding"]] if include_vector else None,
            )
            for i in order
        ]

    async def _query_atlas(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:  # pragma: no cover - needs MongoDB Atlas
        stage: dict[str, Any] = {
            "index": f"{index_name}_vector_idx",
            "path": "embedding",
            "queryVector": vector.tolist(),
            "numCandidates": max(100, 10 * top_k),
            "limit": top_k,
        }
        if node is not None:
            stage["filter"] = to_mongo(node)
        project: dict[str, Any] = {"metadata": 1, "score": {"$meta": "vectorSearchScore"}}
        if include_vector:
            project["embedding"] = 1
        try:
            docs = [
                d async for d in await self._db[index_name].aggregate([{"$vectorSearch": stage}, {"$project": project}])
            ]
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc
        out = []
        for d in docs:
            s = float(d["score"])
            score = 2 * s - 1 if metric in ("cosine", "dotproduct") else s
            out.append(
                QueryResult(
                    id=str(d["_id"]),
                    score=score,
                    metadata=d.get("metadata") or {},
                    vector=[float(x) for x in d["embedding"]] if include_vector else None,
                )
            )
        return out

    async def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        try:
            if ids:
                await self._db[index_name].delete_many({"_id": {"$in": ids}})
            else:
                await self._db[index_name].delete_many(to_mongo(node))
        except self._pymongo.errors.PyMongoError as exc:
            raise self._err(exc) from exc
