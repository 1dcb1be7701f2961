"""A LangGraph ``BaseStore`` over mastra-memory's key-value and vector storage.

``MastraStore`` gives LangGraph agents long-term memory (``store.put`` / ``get`` / ``search`` /
``delete`` / ``list_namespaces``, TTLs, semantic search) in any mastra-memory backend: the
embedded libSQL file by default, PostgreSQL, MongoDB, SQLAlchemy, in-memory::

    from langgraph.graph import StateGraph
    from mastra_memory.integrations.langgraph import MastraStore

    store = MastraStore(storage=LibSQLStore("file:./mastra.db"), vector=LibSQLVector("file:./mastra.db"),
                        embedder="openai/text-embedding-3-small")
    graph = builder.compile(store=store)

Layout: every item is one key-value entry in the KV namespace ``kv_namespace`` (``"langgraph"``)
under the key ``<label>/<label>/.../<label>//<key>`` (each part percent-encoded; LangGraph
forbids empty labels, so ``//`` marks where the item key starts). A namespace-prefix search is
therefore a key-range scan in the database. The stored value is
``{"value": ..., "updated_at": ISO-8601, "ttl": minutes | null}``; ``created_at`` is the KV
entry's own.

Semantic search (``embedder`` and ``vector`` given): each put embeds the item's indexed fields
(LangGraph's JSON paths, ``["$"]`` = the whole value, by default) through the
:class:`~mastra_memory.embedders.base.CachedEmbedder` and upserts them into the vector index
``langgraph_store_<dimension>`` with the namespace labels as metadata (``p0``, ``p1``, ...), so
the namespace prefix is a metadata filter inside the vector store's query. An item's score is the
best score of its fields. Vectors are written before the entry and deleted after it, and search
only returns items whose entry is live, so a crash between the two never shows a stale item.

TTL: ``ttl`` is in minutes (LangGraph's unit); by default a read refreshes it
(``TTLConfig.refresh_on_read``), atomically (a compare-and-set that leaves a concurrent write
alone). Expired items are invisible everywhere and purged by the store's own KV purge.

The async methods (``aget``, ``aput``, ``asearch``, ...) run the sync store in a worker thread
(``asyncio.to_thread``): an interim until mastra-memory's ``AsyncMemory`` exists.
``langgraph`` is imported when this module is; a missing install raises
:class:`~mastra_memory.errors.MissingDependencyError` naming ``pip install "mastra-memory[langgraph]"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from mastra_memory.embedders import CachedEmbedder, resolve_embedder
from mastra_memory.errors import ConfigurationError, MissingDependencyError, ValidationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.vector import IndexNotFoundError, VectorStore

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        Item,
        ListNamespacesOp,
        MatchCondition,
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

__all__ = ["MastraStore"]

logger = logging.getLogger(__name__)

_PAGE = 500


def _part(text: str) -> str:
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _entry_key(namespace: tuple[str, ...], key: str) -> str:
    return "/".join(_part(label) for label in namespace) + "//" + _part(key)


def _prefix_key(prefix: tuple[str, ...]) -> str:
    return "".join(_part(label) + "/" for label in prefix)


def _split_key(entry_key: str) -> tuple[tuple[str, ...], str]:
    head, _, key = entry_key.partition("//")
    return tuple(unquote(label) for label in head.split("/")), unquote(key)


def _item_id(entry_key: str) -> str:
    return hashlib.blake2b(entry_key.encode(), digest_size=16).hexdigest()


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "$eq":
        return bool(actual == expected)
    if op == "$ne":
        return bool(actual != expected)
    try:
        if op == "$gt":
            return bool(actual > expected)
        if op == "$gte":
            return bool(actual >= expected)
        if op == "$lt":
            return bool(actual < expected)
        if op == "$lte":
            return bool(actual <= expected)
    except TypeError:
        return False
    raise ValidationError(f"unsupported filter operator {op!r} (use $eq, $ne, $gt, $gte, $lt, $lte)")


_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def _check_filter(conditions: Mapping[str, Any] | None) -> None:
    """Refuse operators LangGraph's filter language does not have (before any I/O).

    Raises:
        ValidationError: on an unknown ``$operator``.
    """
    for expected in (conditions or {}).values():
        if isinstance(expected, Mapping):
            for op in expected:
                if str(op).startswith("$") and op not in _OPERATORS:
                    raise ValidationError(f"unsupported filter operator {op!r} (use {', '.join(_OPERATORS)})")


def _matches(value: Mapping[str, Any], conditions: Mapping[str, Any] | None) -> bool:
    """LangGraph's filter semantics: every field equals the value, or satisfies each operator."""
    for field, expected in (conditions or {}).items():
        actual: Any = value
        for segment in field.split("."):
            actual = actual.get(segment) if isinstance(actual, Mapping) else None
        if isinstance(expected, Mapping) and expected and all(str(k).startswith("$") for k in expected):
            if not all(_compare(actual, op, want) for op, want in expected.items()):
                return False
        elif actual != expected:
            return False
    return True


def _namespace_matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(want == "*" or want == got for want, got in zip(path, part, strict=True))


class MastraStore(BaseStore):
    """LangGraph's ``BaseStore`` on mastra-memory storage (see the module docstring).

    Args:
        storage: Any :class:`~mastra_memory.storage.base.MemoryStorage`; default: libSQL at
            ``$MASTRA_MEMORY_DB`` or ``file:./mastra.db`` (as ``Memory()``).
        vector: A :class:`~mastra_memory.storage.vector.VectorStore` for semantic search
            (required with ``embedder``).
        embedder: What ``Memory(embedder=...)`` accepts: a model string, an embedder, or a
            LangChain ``Embeddings``.
        fields: JSON paths embedded by default (``["$"]``, the whole value); a put's ``index``
            argument overrides them per item.
        kv_namespace: The KV namespace holding the items (``"langgraph"``).
        ttl: LangGraph's ``TTLConfig``: ``default_ttl`` (minutes), ``refresh_on_read`` (True).

    Raises:
        ConfigurationError: if only one of ``vector`` and ``embedder`` is given.
    """

    supports_ttl = True

    def __init__(
        self,
        storage: MemoryStorage | None = None,
        *,
        vector: VectorStore | None = None,
        embedder: Any = None,
        fields: Sequence[str] | None = None,
        kv_namespace: str = "langgraph",
        ttl: TTLConfig | None = None,
    ) -> None:
        if (vector is None) != (embedder is None):
            raise ConfigurationError("semantic search needs both `vector` and `embedder` (or neither)")
        if storage is None:
            from mastra_memory.storage.registry import open_storage

            storage = open_storage()
        self.storage = storage
        self.vector = vector
        self.embedder: CachedEmbedder | None = resolve_embedder(embedder) if embedder is not None else None
        self.fields = list(fields) if fields is not None else ["$"]
        self.kv_namespace = kv_namespace
        self.ttl_config = ttl
        self._index_ready = False

    # -- the batch protocol ---------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run LangGraph store operations in order (one storage call or a few per operation).

        Raises:
            ValidationError: on a bad key, value or filter (nothing of that operation is written).
            StorageError: if the backend fails.
        """
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise ValidationError(f"unknown store operation {op!r}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` in a worker thread (interim until mastra-memory's ``AsyncMemory``)."""
        return await asyncio.to_thread(self.batch, list(ops))

    # -- operations -----------------------------------------------------------------------------

    def _refresh(self, op_refresh: bool | None) -> bool:
        if op_refresh is not None:
            return op_refresh
        return bool((self.ttl_config or {}).get("refresh_on_read", True))

    def _load(self, entry_key: str, refresh: bool) -> Item | None:
        entry = self.storage.kv_get(self.kv_namespace, entry_key)
        if entry is None or not isinstance(entry.value, dict):
            return None
        stored = entry.value
        ttl = stored.get("ttl")
        if refresh and ttl:
            # re-arm the expiry only if nobody changed the entry meanwhile
            self.storage.kv_compare_and_set(self.kv_namespace, entry_key, stored, stored, ttl=float(ttl) * 60)
        namespace, key = _split_key(entry_key)
        return Item(
            value=stored.get("value") or {},
            key=key,
            namespace=namespace,
            created_at=entry.created_at,
            updated_at=datetime.fromisoformat(stored["updated_at"]) if stored.get("updated_at") else entry.updated_at,
        )

    def _get(self, op: GetOp) -> Item | None:
        return self._load(_entry_key(tuple(op.namespace), op.key), self._refresh(op.refresh_ttl))

    def _put(self, op: PutOp) -> None:
        namespace = tuple(op.namespace)
        entry_key = _entry_key(namespace, op.key)
        if op.value is None:
            self.storage.kv_delete(self.kv_namespace, entry_key)
            self._delete_vectors(entry_key)
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
            self._index(namespace, entry_key, value, list(op.index) if op.index else self.fields)
        stored = {"value": value, "updated_at": datetime.now(UTC).isoformat(), "ttl": ttl}
        self.storage.kv_set(self.kv_namespace, entry_key, stored, ttl=None if ttl is None else float(ttl) * 60)

    def _scan(self, prefix: str) -> Iterable[str]:
        after: str | None = None
        while True:
            page = self.storage.kv_list_keys(self.kv_namespace, prefix or None, after, _PAGE)
            yield from page.keys
            if page.next_after is None:
                return
            after = page.next_after

    def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.limit < 0 or op.offset < 0:
            raise ValidationError("limit and offset must be >= 0")
        _check_filter(op.filter)
        prefix = tuple(op.namespace_prefix)
        refresh = self._refresh(op.refresh_ttl)
        if op.query and self.embedder is not None:
            return self._semantic_search(prefix, op, refresh)
        out: list[SearchItem] = []
        skipped = 0
        for entry_key in self._scan(_prefix_key(prefix)):
            if len(out) >= op.limit:
                break
            item = self._load(entry_key, refresh=False)
            if item is None or not _matches(item.value, op.filter):
                continue
            if skipped < op.offset:
                skipped += 1
                continue
            if refresh:
                self._load(entry_key, refresh=True)
            out.append(SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at))
        return out

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for entry_key in self._scan(""):
            namespace, _ = _split_key(entry_key)
            if all(_namespace_matches(namespace, c) for c in op.match_conditions or ()):
                found.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
        return sorted(found)[op.offset : op.offset + op.limit]

    # -- vectors --------------------------------------------------------------------------------

    def _index_name(self) -> str:
        assert self.embedder is not None and self.vector is not None
        name = f"langgraph_store_{self.embedder.dimension}"
        if not self._index_ready:
            if name not in self.vector.list_indexes():
                self.vector.create_index(name, self.embedder.dimension)
            self._index_ready = True
        return name

    def _index(self, namespace: tuple[str, ...], entry_key: str, value: dict[str, Any], fields: list[str]) -> None:
        assert self.embedder is not None and self.vector is not None
        texts: list[str] = []
        for path in fields:
            if path == "$":
                texts.append(json.dumps(value, ensure_ascii=False))
            else:
                texts.extend(t for t in get_text_at_path(value, tokenize_path(path)) if t)
        self._delete_vectors(entry_key)
        if not texts:
            return
        item = _item_id(entry_key)
        meta: dict[str, Any] = {f"p{i}": label for i, label in enumerate(namespace)}
        meta.update(item=item, key=entry_key, depth=len(namespace))
        vectors = self.embedder.embed_many(texts)
        self.vector.upsert(
            self._index_name(), vectors, [meta] * len(vectors), [f"{item}_{i}" for i in range(len(vectors))]
        )

    def _delete_vectors(self, entry_key: str) -> None:
        if self.vector is None or self.embedder is None:
            return
        with contextlib.suppress(IndexNotFoundError):
            self.vector.delete_vectors(self._index_name(), filter={"item": _item_id(entry_key)})

    def _semantic_search(self, prefix: tuple[str, ...], op: SearchOp, refresh: bool) -> list[SearchItem]:
        assert self.embedder is not None and self.vector is not None
        query_vector = self.embedder.embed_many([op.query or ""])[0]
        where: dict[str, Any] = {f"p{i}": label for i, label in enumerate(prefix)}
        wanted = op.offset + op.limit
        top_k = max(wanted * 4, 10)
        best: dict[str, float] = {}
        hits = self.vector.query(self._index_name(), query_vector, top_k=top_k, filter=where or None)
        for hit in hits:
            entry_key = str(hit.metadata.get("key"))
            if entry_key not in best or hit.score > best[entry_key]:
                best[entry_key] = hit.score
        out: list[SearchItem] = []
        for entry_key, score in sorted(best.items(), key=lambda kv: -kv[1]):
            item = self._load(entry_key, refresh)
            if item is None or not _matches(item.value, op.filter):
                continue  # expired, deleted after its vectors were found, or filtered out
            out.append(SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score))
        return out[op.offset : wanted]
