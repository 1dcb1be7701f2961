"""The I/O of the LangGraph store, written once on the async storage contract.

:class:`AsyncStoreOps` runs LangGraph's store operations on an
:class:`~mastra_memory.storage.base_async.AsyncMemoryStorage` (key-value entries), an
:class:`~mastra_memory.storage.vector_async.AsyncVectorStore` and an embedder's ``aembed_many``;
``_lg_ops.py`` (``StoreOps`` on the sync contract) is generated from this file by
``scripts/gen_sync.py``. :class:`~mastra_memory.integrations.langgraph.MastraStore` runs
``batch`` on the sync face and ``abatch`` on this one. See that module for the layout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from mastra_memory.embedders import CachedEmbedder
from mastra_memory.errors import MissingDependencyError, ValidationError
from mastra_memory.integrations import _langgraph_shared as shared
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.vector_async import AsyncVectorStore, IndexNotFoundError

try:
    from langgraph.store.base import (
        GetOp,
        Item,
        ListNamespacesOp,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        TTLConfig,
    )
    from langgraph.store.base.embed import get_text_at_path, tokenize_path
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("langgraph", "langgraph") from exc

__all__ = ["AsyncStoreOps"]


class AsyncStoreOps:
    """LangGraph store operations over async storage (see the module docstring).

    Args:
        storage: The store holding the items (key-value entries).
        vector: The vector store for semantic search, or ``None``.
        embedder: The embedder for semantic search, or ``None``.
        fields: JSON paths embedded by default.
        kv_namespace: The KV namespace holding the items.
        ttl_config: LangGraph's ``TTLConfig`` or ``None``.
    """

    def __init__(
        self,
        storage: AsyncMemoryStorage,
        vector: AsyncVectorStore | None,
        embedder: CachedEmbedder | None,
        fields: list[str],
        kv_namespace: str,
        ttl_config: TTLConfig | None,
    ) -> None:
        self.storage = storage
        self.vector = vector
        self.embedder = embedder
        self.fields = fields
        self.kv_namespace = kv_namespace
        self.ttl_config = ttl_config
        self._index_ready = False

    async def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run LangGraph store operations in order (one storage call or a few per operation).

        Raises:
            ValidationError: on a bad key, value or filter (nothing of that operation is written).
            StorageError: if the backend fails.
        """
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(await self._get(op))
            elif isinstance(op, SearchOp):
                results.append(await self._search(op))
            elif isinstance(op, PutOp):
                await self._put(op)
                results.append(None)
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(op))
            else:
                raise ValidationError(f"unknown store operation {op!r}")
        return results

    # -- operations -----------------------------------------------------------------------------

    def _refresh(self, op_refresh: bool | None) -> bool:
        if op_refresh is not None:
            return op_refresh
        return bool((self.ttl_config or {}).get("refresh_on_read", True))

    async def _load(self, entry_key: str, refresh: bool) -> Item | None:
        entry = await self.storage.kv_get(self.kv_namespace, entry_key)
        if entry is None or not isinstance(entry.value, dict):
            return None
        stored = entry.value
        ttl = stored.get("ttl")
        if refresh and ttl:
            # re-arm the expiry only if nobody changed the entry meanwhile
            await self.storage.kv_compare_and_set(self.kv_namespace, entry_key, stored, stored, ttl=float(ttl) * 60)
        namespace, key = shared.split_key(entry_key)
        return Item(
            value=stored.get("value") or {},
            key=key,
            namespace=namespace,
            created_at=entry.created_at,
            updated_at=datetime.fromisoformat(stored["updated_at"]) if stored.get("updated_at") else entry.updated_at,
        )

    async def _get(self, op: GetOp) -> Item | None:
        return await self._load(shared.entry_key(tuple(op.namespace), op.key), self._refresh(op.refresh_ttl))

    async def _put(self, op: PutOp) -> None:
        namespace = tuple(op.namespace)
        entry_key = shared.entry_key(namespace, op.key)
        if op.value is None:
            await self.storage.kv_delete(self.kv_namespace, entry_key)
            await self._delete_vectors(entry_key)
            return
        if not isinstance(op.value, Mapping):
            raise ValidationError(f"a LangGraph store value must be a dict, got {type(op.value).__name__}")
        ttl = op.ttl
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
            raise ValidationError(f"ttl must be a positive number of minutes, got {ttl!r}")
        value = dict(op.value)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"a LangGraph store value must be JSON: {exc}") from exc
        if self.embedder is not None and op.index is not False:
            await self._index(namespace, entry_key, value, list(op.index) if op.index else self.fields)
        stored = {"value": value, "updated_at": datetime.now(UTC).isoformat(), "ttl": ttl}
        await self.storage.kv_set(self.kv_namespace, entry_key, stored, ttl=None if ttl is None else float(ttl) * 60)

    async def _pages(self, prefix: str) -> AsyncIterator[list[str]]:
        """The entry keys under ``prefix``, a page of :data:`shared.PAGE` at a time."""
        after: str | None = None
        while True:
            page = await self.storage.kv_list_keys(self.kv_namespace, prefix or None, after, shared.PAGE)
            yield page.keys
            if page.next_after is None:
                return
            after = page.next_after

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.limit < 0 or op.offset < 0:
            raise ValidationError("limit and offset must be >= 0")
        shared.check_filter(op.filter)
        prefix = tuple(op.namespace_prefix)
        refresh = self._refresh(op.refresh_ttl)
        if op.query and self.embedder is not None:
            return await self._semantic_search(prefix, op, refresh)
        out: list[SearchItem] = []
        skipped = 0
        async for keys in self._pages(shared.prefix_key(prefix)):
            for entry_key in keys:
                if len(out) >= op.limit:
                    return out
                item = await self._load(entry_key, refresh=False)
                if item is None or not shared.matches(item.value, op.filter):
                    continue
                if skipped < op.offset:
                    skipped += 1
                    continue
                if refresh:
                    await self._load(entry_key, refresh=True)
                out.append(SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at))
        return out

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        async for keys in self._pages(""):
            for entry_key in keys:
                namespace, _ = shared.split_key(entry_key)
                if all(shared.namespace_matches(namespace, c) for c in op.match_conditions or ()):
                    found.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
        return sorted(found)[op.offset : op.offset + op.limit]

    # -- vectors --------------------------------------------------------------------------------

    async def _index_name(self) -> str:
        assert self.embedder is not None and self.vector is not None
        name = f"langgraph_store_{self.embedder.dimension}"
        if not self._index_ready:
            if name not in await self.vector.list_indexes():
                await self.vector.create_index(name, self.embedder.dimension)
            self._index_ready = True
        return name

    async def _index(
        self, namespace: tuple[str, ...], entry_key: str, value: dict[str, Any], fields: list[str]
    ) -> None:
        assert self.embedder is not None and self.vector is not None
        texts: list[str] = []
        for path in fields:
            if path == "$":
                texts.append(json.dumps(value, ensure_ascii=False))
            else:
                texts.extend(t for t in get_text_at_path(value, tokenize_path(path)) if t)
        await self._delete_vectors(entry_key)
        if not texts:
            return
        item = shared.item_id(entry_key)
        meta: dict[str, Any] = {f"p{i}": label for i, label in enumerate(namespace)}
        meta.update(item=item, key=entry_key, depth=len(namespace))
        vectors = await self.embedder.aembed_many(texts)
        await self.vector.upsert(
            await self._index_name(), vectors, [meta] * len(vectors), [f"{item}_{i}" for i in range(len(vectors))]
        )

    async def _delete_vectors(self, entry_key: str) -> None:
        if self.vector is None or self.embedder is None:
            return
        with contextlib.suppress(IndexNotFoundError):
            await self.vector.delete_vectors(await self._index_name(), filter={"item": shared.item_id(entry_key)})

    async def _semantic_search(self, prefix: tuple[str, ...], op: SearchOp, refresh: bool) -> list[SearchItem]:
        assert self.embedder is not None and self.vector is not None
        query_vector = (await self.embedder.aembed_many([op.query or ""]))[0]
        where: dict[str, Any] = {f"p{i}": label for i, label in enumerate(prefix)}
        wanted = op.offset + op.limit
        top_k = max(wanted * 4, 10)
        best: dict[str, float] = {}
        hits = await self.vector.query(await self._index_name(), query_vector, top_k=top_k, filter=where or None)
        for hit in hits:
            entry_key = str(hit.metadata.get("key"))
            if entry_key not in best or hit.score > best[entry_key]:
                best[entry_key] = hit.score
        out: list[SearchItem] = []
        for entry_key, score in sorted(best.items(), key=lambda kv: -kv[1]):
            item = await self._load(entry_key, refresh)
            if item is None or not shared.matches(item.value, op.filter):
                continue  # expired, deleted after its vectors were found, or filtered out
            out.append(SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score))
        return out[op.offset : wanted]
