"""Semantic recall: embedding saved messages and finding them again for a query.

Indexing (on ``Memory.save_messages`` and after each agent turn): every non-system message with
text gets one vector per chunk (texts longer than ``chunk_chars`` are split on whitespace; vector
id ``<message id>`` for the first chunk, ``<message id>#<n>`` for the others) in the index
``memory_messages_<dimension>``, with metadata ``message_id, thread_id, resource_id, role,
created_at, chunk`` plus the thread's own top-level metadata (so ``SemanticRecallConfig.filter``
can select on it, as in the original). With ``context_messages=N`` (default 1) the embedded
text is the message followed by the previous N messages of its thread, which makes short
replies findable by what they answer. Embeddings go through the embedder's cache, so a message
is never embedded twice.

Querying: the query is embedded once and searched with the scope filter (``resource_id`` or
``thread_id``) ANDed with ``config.filter``; hits below ``threshold`` (cosine) are dropped,
chunks collapse to their message (best score), and the ``top_k`` messages come back as include
windows of ``message_range`` neighbours, which storage resolves with indexed range queries.
With ``hybrid=True`` (the default) the store's keyword search
(:meth:`~mastra_memory.storage.MemoryStorage.search_messages`, which runs in the database and
sees every process's writes at once) ranks the same scope and is fused in:
``score = w * dense + (1 - w) * keyword`` over per-query min-max-normalised scores
(``w = hybrid_weight``); then :func:`rerank` adds ``date_boost`` to the messages written in a
period the query names ("in May 2023", "last week"; :mod:`mastra_memory.query_dates`) and
spreads the hits over threads (``thread_diversity``); see docs/retrieval.md and
``benchmarks/locomo_retrieval.py``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mastra_memory import _io_async as _io
from mastra_memory.config import SemanticRecallConfig
from mastra_memory.context import ThreadTail, format_other_threads
from mastra_memory.embedders import CachedEmbedder, resolve_embedder
from mastra_memory.query_dates import Period, in_any_period, query_periods
from mastra_memory.storage.vector import IndexNotFoundError, memory_index_name
from mastra_memory.types import IncludeSpec, Message, SemanticHit, Thread

if TYPE_CHECKING:
    from mastra_memory.storage.base_async import AsyncMemoryStorage

__all__ = ["AsyncSemanticRecall", "chunk_text", "format_other_threads", "fuse_scores", "rerank"]

logger = logging.getLogger(__name__)

_INDEX_PREFIX = "memory_messages"
_CONTEXT_CHARS = 600  # characters of each context message added to an embedded text


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` on whitespace into pieces of at most ``max_chars`` characters.

    A single word longer than ``max_chars`` is cut hard. Empty text gives ``[]``.
    """
    text = text.strip()
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for word in re.split(r"\s+", text):
        while len(word) > max_chars:
            if current:
                chunks.append(" ".join(current))
                current, size = [], 0
            chunks.append(word[:max_chars])
            word = word[max_chars:]
        extra = len(word) + (1 if current else 0)
        if size + extra > max_chars and current:
            chunks.append(" ".join(current))
            current, size = [], 0
            extra = len(word)
        if word:
            current.append(word)
            size += extra
    if current:
        chunks.append(" ".join(current))
    return chunks


def _min_max(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:  # one score, or all alike: full weight only when it is positive
        return {k: 1.0 if hi > 0 else 0.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def rerank(
    scores: dict[str, float],
    threads: dict[str, str],
    limit: int,
    *,
    times: dict[str, datetime] | None = None,
    periods: Sequence[Period] = (),
    date_boost: float = 0.0,
    thread_diversity: float = 0.0,
) -> list[tuple[str, float]]:
    """Order fused hits: boost those written in a period the query names, spread over threads.

    1. Date boost: ``date_boost`` is added to the score of every message whose time falls in
       one of ``periods`` (up to :data:`~mastra_memory.query_dates.SLACK` after it).
    2. Thread diversity (maximal marginal relevance with "same thread" as the similarity;
       Carbonell & Goldstein 1998): hits are taken greedily, each one's score lowered by
       ``thread_diversity`` for every hit already taken from its thread. A message indexed
       with its predecessor as context echoes that predecessor's match, and the neighbours of
       a hit come back in its ``message_range`` window anyway, so a second hit from another
       conversation is usually worth more than a third from the same one.

    Args:
        scores: Fused score per message id (higher is better).
        threads: Thread id per message id (a message without one counts as its own thread).
        limit: Hits to return.
        times: Creation time per message id (needed only with ``periods``).
        periods: Periods the query names (:func:`~mastra_memory.query_dates.query_periods`).
        date_boost: Score added inside a period (0 turns it off).
        thread_diversity: Penalty per earlier hit of the same thread (0 keeps score order).

    Returns:
        Up to ``limit`` ``(message id, adjusted score)`` pairs, best first; ties by id.
    """
    adjusted = dict(scores)
    if date_boost and periods and times:
        for mid, when in times.items():
            if mid in adjusted and in_any_period(when, periods):
                adjusted[mid] += date_boost
    order = sorted(adjusted.items(), key=lambda kv: (-kv[1], kv[0]))
    if not thread_diversity:
        return order[:limit]
    taken: list[tuple[str, float]] = []
    per_thread: dict[str, int] = {}
    remaining = list(order)
    while remaining and len(taken) < limit:
        best_i, best = -1, float("-inf")
        for i, (mid, score) in enumerate(remaining):
            if score <= best:  # sorted by raw score: nothing later can beat the best so far
                break
            value = score - thread_diversity * per_thread.get(threads.get(mid, mid), 0)
            if value > best:
                best_i, best = i, value
        mid = remaining.pop(best_i)[0]
        taken.append((mid, best))
        thread = threads.get(mid, mid)
        per_thread[thread] = per_thread.get(thread, 0) + 1
    return taken


def fuse_scores(dense: dict[str, float], sparse: dict[str, float], weight: float) -> dict[str, float]:
    """Weighted fusion of a dense and a keyword ranking (message id -> score).

    Each ranking is min-max normalised per query (a ranking whose scores are all alike counts
    1.0 when they are positive, else 0.0), then ``weight * dense + (1 - weight) * keyword``.

    Args:
        dense: Cosine similarity per message id.
        sparse: Keyword score per message id (any positive scale).
        weight: Weight of the dense ranking in [0, 1].

    Returns:
        The fused score in [0, 1] of every message in either ranking.
    """
    nd, ns = _min_max(dense), _min_max(sparse)
    return {mid: weight * nd.get(mid, 0.0) + (1 - weight) * ns.get(mid, 0.0) for mid in set(nd) | set(ns)}


class AsyncSemanticRecall:
    """Indexes messages into a vector store and searches them.

    Args:
        storage: The memory storage (messages, threads).
        vector: A :class:`~mastra_memory.storage.vector.VectorStore`.
        embedder: An embedder or model string (see :func:`~mastra_memory.embedders.resolve_embedder`).

    Attributes:
        embedder: The resolved, cached embedder.
        last_query_embedding_seconds: Time the last search spent embedding its query (seconds),
            so callers can report search latency without it.
    """

    def __init__(self, storage: AsyncMemoryStorage, vector: Any, embedder: Any) -> None:
        self.storage = storage
        self.vector = vector
        self.embedder: CachedEmbedder = resolve_embedder(embedder)
        self._created: set[str] = set()
        self._lock = _io.Lock()
        self.last_query_embedding_seconds = 0.0

    # -- index names ----------------------------------------------------------------------------

    def index_name(self, config: SemanticRecallConfig) -> str:
        """``config.index_name`` or ``memory_messages_<dimension>``."""
        return config.index_name or memory_index_name(self.embedder.dimension, self.vector.index_separator)

    async def _ensure_index(self, name: str) -> None:
        if name in self._created:
            return
        async with self._lock:
            if name not in self._created:
                await self.vector.create_index(name, self.embedder.dimension, metric="cosine")
                self._created.add(name)

    async def _memory_indexes(self) -> list[str]:
        sep = self.vector.index_separator
        prefix = f"memory{sep}messages"
        return [n for n in await self.vector.list_indexes() if n == prefix or n.startswith(prefix + sep)]

    # -- indexing -------------------------------------------------------------------------------

    async def _previous_texts(
        self, thread_id: str, batch: list[Message], n: int, tail: ThreadTail | None = None
    ) -> list[str]:
        """Texts of the ``n`` messages stored right before the batch's first message.

        ``tail`` (the thread's newest messages as loaded before the batch was saved) answers
        without a read when the batch comes after all of it and it holds ``n`` messages or the
        whole thread.
        """
        if n <= 0:
            return []
        first = batch[0]
        ids = {m.id for m in batch}
        if tail is not None:
            known = [m for m in tail.messages if m.id not in ids]
            key = (first.created_at, first.id)
            if all((m.created_at, m.id) < key for m in known) and (tail.whole_thread or len(known) >= n):
                return [m.text for m in known[-n:] if m.role != "system"]
        result = await self.storage.list_messages(
            thread_id, per_page=n + len(batch), direction="DESC", end=first.created_at
        )
        page = result.messages
        earlier = [m for m in page if m.id not in ids and (m.created_at, m.id) < (first.created_at, first.id)]
        return [m.text for m in earlier[-n:] if m.role != "system"]

    async def index_messages(
        self,
        messages: Sequence[Message],
        config: SemanticRecallConfig,
        thread: Thread | None = None,
        tail: ThreadTail | None = None,
    ) -> int:
        """Embed and upsert messages; returns the number of vectors written.

        Messages must already be stored (their ``resource_id`` filled). System messages and
        messages without text are skipped. Re-indexing a message replaces its vectors.

        Args:
            messages: The stored messages.
            config: The semantic-recall configuration.
            thread: The messages' thread when the caller loaded it already (its metadata goes
                into the vector metadata); other threads are read.
            tail: ``thread``'s newest messages as loaded before these were saved, for the
                ``context_messages`` texts (read from storage when it does not suffice).
        """
        msgs = [m for m in messages if m.role != "system"]
        if not msgs:
            return 0
        limit = config.chunk_chars
        declared = getattr(self.embedder, "max_input_chars", None)
        if declared:
            limit = min(limit, int(declared))
        known_thread = thread
        by_thread: dict[str, list[Message]] = {}
        for m in msgs:
            by_thread.setdefault(m.thread_id, []).append(m)
        texts: list[str] = []
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        indexed_ids: list[str] = []
        for thread_id, batch in by_thread.items():
            batch.sort(key=lambda m: (m.created_at, m.id))
            thread = known_thread if known_thread is not None and known_thread.id == thread_id else None
            if thread is None:
                thread = await self.storage.get_thread_by_id(thread_id)
            base_meta = {
                k: v
                for k, v in (thread.metadata if thread else {}).items()
                if k not in ("workingMemory", "clone") and _scalar(v)
            }
            history = await self._previous_texts(
                thread_id,
                batch,
                config.context_messages,
                tail if thread is not None and thread is known_thread else None,
            )
            for m in batch:
                text = m.text
                context = [t for t in history[-config.context_messages :] if t] if config.context_messages else []
                history.append(text)
                pieces = chunk_text(text, limit)
                if not pieces:
                    continue
                indexed_ids.append(m.id)
                suffix = "".join("\n" + t[:_CONTEXT_CHARS] for t in reversed(context))
                for i, piece in enumerate(pieces):
                    texts.append(piece + suffix if i == 0 else piece)
                    ids.append(m.id if i == 0 else f"{m.id}#{i}")
                    metas.append(
                        {
                            **base_meta,
                            "message_id": m.id,
                            "thread_id": m.thread_id,
                            "resource_id": m.resource_id or (thread.resource_id if thread else None),
                            "role": m.role,
                            "created_at": m.created_at.astimezone(UTC).isoformat(),
                            "chunk": i,
                        }
                    )
        if not texts:
            return 0
        vectors = await _io.embed_many(self.embedder, texts)
        name = self.index_name(config)
        await self._ensure_index(name)
        # Drop extra chunks a longer earlier version of these messages may have left.
        await self.vector.delete_vectors(name, filter={"message_id": {"$in": indexed_ids}, "chunk": {"$gte": 1}})
        await self.vector.upsert(name, vectors, metas, ids=ids)
        return len(ids)

    # -- searching ------------------------------------------------------------------------------

    def _scope_filter(self, thread_id: str, resource_id: str | None, config: SemanticRecallConfig) -> dict[str, Any]:
        scope: dict[str, Any] = (
            {"resource_id": resource_id} if config.scope == "resource" and resource_id else {"thread_id": thread_id}
        )
        if config.filter:
            return {"$and": [scope, dict(config.filter)]}
        return scope

    async def _keyword_hits(
        self, query: str, thread_id: str, resource_id: str | None, config: SemanticRecallConfig, limit: int
    ) -> list[SemanticHit]:
        """The store's keyword search over the configured scope (in the database)."""
        limit = min(limit, 1000)
        if config.scope == "resource" and resource_id:
            return await self.storage.search_messages(query, resource_id=resource_id, limit=limit)
        return await self.storage.search_messages(query, thread_id=thread_id, limit=limit)

    async def search_hits(
        self, query: str, thread_id: str, resource_id: str | None, config: SemanticRecallConfig
    ) -> list[SemanticHit]:
        """The ``top_k`` best messages for ``query`` in the configured scope, best first."""
        if not query or not query.strip():
            return []
        name = self.index_name(config)
        started = time.perf_counter()
        qvec = (await _io.embed_many(self.embedder, [query]))[0]
        self.last_query_embedding_seconds = time.perf_counter() - started
        # candidates per ranking: enough for fusion, or for chunks of one message to collapse
        n = config.candidates or (max(50, 5 * config.top_k) if config.hybrid else 3 * config.top_k)
        flt = self._scope_filter(thread_id, resource_id, config)
        try:
            results = await self.vector.query(name, qvec, top_k=n, filter=flt)
        except IndexNotFoundError:
            results = []
        dense: dict[str, float] = {}
        threads: dict[str, str] = {}
        for r in results:
            if config.threshold is not None and r.score < config.threshold:
                continue
            mid = str(r.metadata.get("message_id", r.id))
            if mid not in dense or r.score > dense[mid]:
                dense[mid] = r.score
                threads[mid] = str(r.metadata.get("thread_id", thread_id))
        if not config.hybrid:
            ranked = sorted(dense.items(), key=lambda kv: (-kv[1], kv[0]))[: config.top_k]
            return [SemanticHit(message_id=m, thread_id=threads[m], score=s) for m, s in ranked]
        keyword = await self._keyword_hits(query, thread_id, resource_id, config, n)
        if config.filter:  # keyword hits must satisfy the extra filter too: keep those the vectors allow
            allowed = set(dense)
            keyword = [k for k in keyword if k.message_id in allowed]
        sparse = {k.message_id: k.score for k in keyword}
        for k in keyword:
            threads.setdefault(k.message_id, k.thread_id)
        fused = fuse_scores(dense, sparse, config.hybrid_weight)
        periods = query_periods(query) if config.date_boost else []
        times: dict[str, datetime] = {}
        if periods:  # candidates' times: the vectors' metadata, then one read by id for the rest
            times = _metadata_times(results)
            missing = [m for m in fused if m not in times]
            if missing:
                times.update({m.id: m.created_at for m in await self.storage.list_messages_by_id(missing)})
        ranked = rerank(
            fused,
            threads,
            config.top_k,
            times=times,
            periods=periods,
            date_boost=config.date_boost,
            thread_diversity=config.thread_diversity,
        )
        return [SemanticHit(message_id=m, thread_id=threads[m], score=s) for m, s in ranked]

    async def search(
        self, query: str, thread_id: str, resource_id: str | None, config: SemanticRecallConfig
    ) -> list[IncludeSpec]:
        """Hits as include windows of ``message_range`` neighbours (storage resolves them)."""
        return self.to_includes(await self.search_hits(query, thread_id, resource_id, config), config)

    @staticmethod
    def to_includes(hits: Sequence[SemanticHit], config: SemanticRecallConfig) -> list[IncludeSpec]:
        return [
            IncludeSpec(
                id=h.message_id,
                thread_id=h.thread_id,
                with_previous_messages=config.message_range.before,
                with_next_messages=config.message_range.after,
            )
            for h in hits
        ]

    # -- deletion -------------------------------------------------------------------------------

    async def delete_thread(self, thread_id: str) -> None:
        """Delete the thread's vectors from every ``memory_messages*`` index."""
        for name in await self._memory_indexes():
            await self.vector.delete_vectors(name, filter={"thread_id": thread_id})

    async def prune_vectors(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` vectors (chunks included) whose ``created_at`` metadata is
        before ``created_before`` from the ``memory_messages*`` indexes; the messages stay.

        The age is the indexed message's ``created_at``, written into every vector's metadata
        as UTC ISO-8601 text (which sorts chronologically), so the old vectors are selected
        with the portable filter ``{"created_at": {"$lt": cutoff}}`` through a filtered
        :meth:`query` of ``limit`` results (there is no listing call in the vector seam) and
        deleted by id. Vectors without ``created_at`` (written by other tools) never match.

        Returns:
            The number of vectors deleted.
        """
        cutoff = created_before.astimezone(UTC).isoformat()
        old = {"created_at": {"$lt": cutoff}}
        deleted = 0
        for name in await self._memory_indexes():
            if deleted >= limit:
                break
            try:
                stats = await self.vector.describe_index(name)
                if stats.count == 0:
                    continue
                probe = [1.0] * stats.dimension  # any vector: the filter decides, not the distance
                hits = await self.vector.query(name, probe, top_k=limit - deleted, filter=old)
            except IndexNotFoundError:  # dropped meanwhile
                continue
            if hits:
                await self.vector.delete_vectors(name, ids=[h.id for h in hits])
                deleted += len(hits)
        return deleted

    async def delete_messages(self, ids: Sequence[str]) -> None:
        """Delete the messages' vectors (all chunks) from every ``memory_messages*`` index."""
        id_list = list(ids)
        if not id_list:
            return
        for name in await self._memory_indexes():
            for i in range(0, len(id_list), 500):
                await self.vector.delete_vectors(name, filter={"message_id": {"$in": id_list[i : i + 500]}})


def _metadata_times(results: Sequence[Any]) -> dict[str, datetime]:
    """``created_at`` per message id from vector query results (UTC ISO-8601, as indexed);
    results without a parseable time are left out."""
    times: dict[str, datetime] = {}
    for r in results:
        created = r.metadata.get("created_at")
        if not isinstance(created, str):
            continue
        try:
            when = datetime.fromisoformat(created)
        except ValueError:
            continue
        times.setdefault(str(r.metadata.get("message_id", r.id)), when)
    return times


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))
