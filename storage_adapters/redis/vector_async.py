"""``RedisVector``: the vector seam on Redis, exact search over the pre-filtered set.

``AsyncRedisVector`` (``vector_async.py``, on ``redis.asyncio``) is the source ``vector.py`` is
generated from: the same keys, pipelines and search on both faces.

Layout, per index (under the store's ``key_prefix``):

* ``mastra_vector:indexes``: hash, index name -> ``{"dimension", "metric", "indexed"}`` JSON.
* ``mastra_vector:{index}:vec``: hash, vector id -> float32 bytes (little-endian).
* ``mastra_vector:{index}:meta``: hash, vector id -> metadata JSON.
* ``mastra_vector:{index}:post:{field}:{value}``: set of vector ids whose top-level string
  ``field`` (one of the index's ``metadata_indexes``: ``thread_id``, ``resource_id``,
  ``message_id`` by default) equals ``value``.

A query takes its candidates from the postings of the filter's equality terms on indexed fields
(``SINTER``; every id when there are none), reads their metadata, keeps those that match the
whole filter (the core's :func:`~mastra_memory.storage._filter.matches`), reads their vectors and
scores them exactly with numpy (:func:`~mastra_memory.storage.vector.exact_scores`). Postings
are written in the same ``MULTI``/``EXEC`` as the vector; a posting left by a replaced or
deleted vector only adds a candidate that the metadata check drops (and removes).

Redis Stack's RediSearch has HNSW/FLAT vector indexes (``FT.CREATE ... VECTOR``); the Redis
7.0 this project tests on has no modules, so :attr:`RedisVector.search_mode` (after
:meth:`RedisVector.detect_search_mode` on the async face) reports whether the server has the
``search`` module, and the search is always exact here. A RediSearch path is
future work that needs a server with the module to test against.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mastra_memory import _io_async as _io
from mastra_memory.errors import MissingDependencyError, StorageError, ValidationError
from mastra_memory.storage._filter import FilterNode, equality_terms, matches
from mastra_memory.storage.vector_async import AsyncVectorStore, IndexStats, Metric, QueryResult, exact_scores

__all__ = ["AsyncRedisVector"]

logger = logging.getLogger(__name__)


class AsyncRedisVector(AsyncVectorStore):
    """Vectors in Redis hashes; exact search over the candidates the metadata postings allow.

    Args:
        url: ``redis://...`` or ``rediss://...``; either this or ``client``.
        client: A ``redis.Redis`` you own (not decoding responses); a ``redis.asyncio.Redis`` on
            the async face (``AsyncRedisVector``).
        key_prefix: Prepended to every key (``""``).

    Raises:
        MissingDependencyError: without redis-py (extra ``[redis]``).
        ValidationError: on both/neither of url/client.
    """

    def __init__(self, url: str | None = None, *, client: Any = None, key_prefix: str = "") -> None:
        super().__init__()
        if (url is None) == (client is None):
            raise ValidationError("pass exactly one of url or client")
        try:
            import redis  # noqa: F401
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("redis", "redis") from exc
        self._owns_client = client is None
        self._r: Any = client if client is not None else _client(str(url))
        self._p = key_prefix
        self._registry = f"{key_prefix}mastra_vector:indexes"
        self._mode: str | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncRedisVector:
        """Build from a ``redis://`` URL; ``?key_prefix=P`` sets the prefix."""
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        for name, value in query:
            if name == "key_prefix":
                kwargs.setdefault("key_prefix", value)
        rest = [(k, v) for k, v in query if k != "key_prefix"]
        return cls(urlunsplit(parts._replace(query=urlencode(rest))), **kwargs)

    async def close(self) -> None:
        if self._owns_client:
            await self._r.aclose()

    @property
    def search_mode(self) -> str:
        """``"exact"`` always; ``"exact (server has RediSearch)"`` when the ``search`` module is
        loaded (not used yet). The sync face asks the server on the first read; on the async face
        (a property can not await) it is ``"exact"`` until :meth:`detect_search_mode` has run."""
        if self._mode is None and not _io.IS_ASYNC:
            self._mode = _mode_of(_module_list(self._r))
        return self._mode or "exact"

    async def detect_search_mode(self) -> str:
        """Ask the server (once) whether it has the RediSearch module; returns :attr:`search_mode`."""
        if self._mode is None:
            try:
                modules = await self._r.execute_command("MODULE", "LIST")
            except Exception:  # MODULE is not allowed on some hosted services
                modules = []
            self._mode = _mode_of(modules)
        return self._mode

    def _k(self, index_name: str, part: str) -> str:
        return f"{self._p}mastra_vector:{index_name}:{part}"

    async def _info(self, index_name: str) -> dict[str, Any] | None:
        raw = await self._r.hget(self._registry, index_name)
        return None if raw is None else dict(orjson.loads(raw))

    async def _create_index(
        self, index_name: str, dimension: int, metric: Metric, config: dict[str, Any], metadata_indexes: tuple[str, ...]
    ) -> None:
        spec = {"dimension": dimension, "metric": metric, "indexed": [f for f in metadata_indexes if "." not in f]}
        await self._r.hsetnx(self._registry, index_name, orjson.dumps(spec))

    async def _describe(self, index_name: str) -> IndexStats | None:
        info = await self._info(index_name)
        if info is None:
            return None
        count = int(await self._r.hlen(self._k(index_name, "vec")))
        return IndexStats(dimension=info["dimension"], count=count, metric=info["metric"])

    async def _list_indexes(self) -> list[str]:
        return [k.decode("utf-8") for k in await self._r.hkeys(self._registry)]

    async def _delete_index(self, index_name: str) -> None:
        keys = [self._k(index_name, "vec"), self._k(index_name, "meta")]
        keys += [k async for k in self._r.scan_iter(match=_glob(self._k(index_name, "post:")) + "*", count=1000)]
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._registry, index_name)
        pipe.delete(*keys)
        await pipe.execute()

    async def _upsert(
        self, index_name: str, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        info = await self._info(index_name)
        if info is None:
            raise StorageError(f"vector index {index_name!r} vanished")
        indexed = info["indexed"]
        rows = np.ascontiguousarray(vectors, dtype="<f4")
        pipe = self._r.pipeline(transaction=True)  # MULTI/EXEC: all of the batch or none
        pipe.hset(self._k(index_name, "vec"), mapping={vid: rows[i].tobytes() for i, vid in enumerate(ids)})
        pipe.hset(self._k(index_name, "meta"), mapping={vid: orjson.dumps(metadata[i]) for i, vid in enumerate(ids)})
        for vid, meta in zip(ids, metadata, strict=True):
            for field in indexed:
                value = meta.get(field)
                if isinstance(value, str):
                    pipe.sadd(self._k(index_name, f"post:{field}:{value}"), vid)
        await pipe.execute()

    async def _candidates(self, index_name: str, indexed: list[str], node: FilterNode | None) -> list[str]:
        keys = [self._k(index_name, f"post:{f}:{v}") for f, v in equality_terms(node).items() if f in indexed]
        if keys:
            return [m.decode("utf-8") for m in await self._r.sinter(keys)]
        return [k.decode("utf-8") for k in await self._r.hkeys(self._k(index_name, "vec"))]

    async def _matching(self, index_name: str, node: FilterNode | None) -> tuple[list[str], list[dict[str, Any]]]:
        info = await self._info(index_name)
        if info is None:
            return [], []
        ids = await self._candidates(index_name, info["indexed"], node)
        if not ids:
            return [], []
        raws = await self._r.hmget(self._k(index_name, "meta"), ids)
        out_ids: list[str] = []
        metas: list[dict[str, Any]] = []
        stale: list[str] = []
        for vid, raw in zip(ids, raws, strict=True):
            if raw is None:
                stale.append(vid)
                continue
            meta = orjson.loads(raw)
            if node is None or matches(node, meta):
                out_ids.append(vid)
                metas.append(meta)
        if stale:
            logger.debug("dropping %d stale postings of %s", len(stale), index_name)
        return out_ids, metas

    async def _query(
        self,
        index_name: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        node: FilterNode | None,
        include_vector: bool,
        metric: Metric,
    ) -> list[QueryResult]:
        ids, metas = await self._matching(index_name, node)
        if not ids:
            return []
        blobs = await self._r.hmget(self._k(index_name, "vec"), ids)
        keep = [i for i, b in enumerate(blobs) if b is not None]
        if not keep:
            return []
        matrix = np.frombuffer(b"".join(blobs[i] for i in keep), dtype="<f4").reshape(len(keep), -1)
        ids = [ids[i] for i in keep]
        metas = [metas[i] for i in keep]
        scores = exact_scores(matrix, vector, metric)
        k = min(top_k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
        order = top[np.argsort(-scores[top], kind="stable")]
        return [
            QueryResult(
                id=ids[i],
                score=float(scores[i]),
                metadata=metas[i],
                vector=[float(x) for x in matrix[i]] if include_vector else None,
            )
            for i in order
        ]

    async def _delete(self, index_name: str, ids: list[str], node: FilterNode | None) -> None:
        if not ids:
            ids, metas = await self._matching(index_name, node)
        else:
            raws = await self._r.hmget(self._k(index_name, "meta"), ids)
            metas = [orjson.loads(r) if r is not None else {} for r in raws]
        if not ids:
            return
        info = await self._info(index_name) or {"indexed": []}
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._k(index_name, "vec"), *ids)
        pipe.hdel(self._k(index_name, "meta"), *ids)
        for vid, meta in zip(ids, metas, strict=True):
            for field in info["indexed"]:
                value = meta.get(field)
                if isinstance(value, str):
                    pipe.srem(self._k(index_name, f"post:{field}:{value}"), vid)
        await pipe.execute()


def _client(url: str) -> Any:
    """redis-py's client for this face: ``redis.Redis`` (sync) or ``redis.asyncio.Redis``."""
    import redis
    import redis.asyncio

    if _io.IS_ASYNC:
        return redis.asyncio.Redis.from_url(url)
    return redis.Redis.from_url(url)


def _module_list(client: Any) -> Any:
    """``MODULE LIST`` on a sync client (``[]`` where the command is not allowed: some hosted
    services refuse it)."""
    try:
        return client.execute_command("MODULE", "LIST")
    except Exception:
        return []


def _mode_of(modules: Any) -> str:
    """The search mode (``search_mode``) a ``MODULE LIST`` reply means."""
    names = {(m.get(b"name") or m.get("name") or b"") if isinstance(m, dict) else b"" for m in modules or []}
    has = any(n in (b"search", "search") for n in names)
    return "exact (server has RediSearch)" if has else "exact"


def _glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
