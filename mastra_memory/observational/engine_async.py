"""The observational-memory engine: what happens around each agent turn.

Per turn (called by :meth:`mastra_memory.Memory.load_turn` / ``finish_turn``):

1. **prepare** (read only): the head record (1 query), the refs of unobserved messages
   (``created_at`` after the cursor, an index-only range scan), and the content of refs not
   already in the process's message cache. The agent then sees the observations system
   message, a continuation reminder and the unobserved messages instead of last-N history.
2. **after the turn**: the new messages were saved; the engine adds their cached token counts
   to the pending total and decides (:func:`~mastra_memory.observational.thresholds.plan_observation`):
   activate buffered chunks, start a background buffer, or observe synchronously; then the same
   for reflection.

Model calls never run inside a storage transaction: the Observer/Reflector read a snapshot,
and the result is committed through the store's serialized compare-and-commit methods, which
reject a commit that would duplicate observations (see :mod:`mastra_memory.storage.om`). Background
work goes through :class:`mastra_memory._io_sync.Background` (a small thread pool; tasks on the
running event loop in the async face); ``settle`` waits for it.

``engine_async.py`` is the source (``AsyncObservationalMemoryEngine``, every storage and model call
awaited); ``engine.py`` (``ObservationalMemoryEngine``) is generated from it by
``scripts/gen_sync.py``.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mastra_memory import _io_async as _io
from mastra_memory.config import ObservationalMemoryConfig
from mastra_memory.errors import ConfigurationError, MastraMemoryError, ModelError
from mastra_memory.models.base import ChatModel
from mastra_memory.observational.hooks import OMCycle, OMHooks
from mastra_memory.observational.observer_async import AsyncObserver, resolve_chat_model
from mastra_memory.observational.parsing import render_observations
from mastra_memory.observational.prompts import (
    CONTINUATION_REMINDER,
    context_system_message,
    format_transcript,
)
from mastra_memory.observational.reflector_async import AsyncReflector, ReflectionResult
from mastra_memory.observational.thresholds import plan_observation, plan_reflection
from mastra_memory.storage.om import ObservationCommit
from mastra_memory.storage.records import (
    BufferedChunk,
    MessageRef,
    ObservationalMemoryRecord,
    lookup_key,
)
from mastra_memory.tokens import TokenCounter, default_counter
from mastra_memory.tracing import traced

if TYPE_CHECKING:
    from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.types import Message, MessageContent, TextPart, Thread

__all__ = ["AsyncObservationalMemoryEngine", "OMStats", "OMTurnState", "continuation_message"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OTHER_THREADS_CHARS = 8_000


def continuation_message(thread_id: str) -> Message:
    """The synthetic reminder shown after the observations (id ``om-continuation``, created at
    the epoch so it sorts first; never stored)."""
    return Message.model_construct(
        id="om-continuation",
        thread_id=thread_id,
        resource_id=None,
        role="user",
        created_at=_EPOCH,
        content=MessageContent(parts=[TextPart(text=CONTINUATION_REMINDER)]),
        type="v2",
    )


@dataclass
class OMStats:
    """Counters of one engine (for benchmarks, logs and the CLI)."""

    observer_calls: int = 0
    reflector_calls: int = 0
    observations_committed: int = 0
    chunks_buffered: int = 0
    chunks_activated: int = 0
    reflections_committed: int = 0
    rejected_commits: int = 0
    unusable_outputs: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class OMTurnState:
    """What ``prepare`` loaded, carried to ``after_turn`` in ``TurnContext.state["om"]``.

    Attributes:
        config: The OM config of the turn.
        thread_id, resource_id: The turn's thread and resource.
        record: The head record (None before the first observation).
        unobserved: Unobserved messages of the scope, oldest first.
        pending_tokens: Their tokens.
        system_message: The observations system message, or None when there are none.
        reminder: The continuation reminder message, or None.
    """

    config: ObservationalMemoryConfig
    thread_id: str
    resource_id: str
    record: ObservationalMemoryRecord | None
    unobserved: list[Message]
    pending_tokens: int
    token_sum: float = 0.0
    unobserved_ids: frozenset[str] | set[str] = frozenset()
    system_message: str | None = None
    reminder: Message | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def thread_messages(self) -> list[Message]:
        """Unobserved messages of this turn's thread (do not mutate: shared with the cache)."""
        if self.config.scope == "thread":
            return self.unobserved
        return [m for m in self.unobserved if m.thread_id == self.thread_id]


class _Tail:
    """The refs after a record's cursor seen last time, with their messages and token counts,
    plus derived lists cached until something changes (so a quiet turn does no O(n) work)."""

    __slots__ = ("_view", "after", "entries", "ids", "size")

    def __init__(self, after: datetime | None, entries: list[tuple[MessageRef, Message, float]]) -> None:
        self.after = after
        self.entries = entries
        self.ids = {r.id for r, _, _ in entries}
        self.size = sum(r.size for r, _, _ in entries)
        self._view: tuple[frozenset[str], list[Message], float] | None = None

    def advance(self, after: datetime | None) -> None:
        if after is None or (self.after is not None and after <= self.after):
            return
        if self.entries and self.entries[0][0].created_at <= after:
            self.entries = [e for e in self.entries if e[0].created_at > after]
            self.ids = {r.id for r, _, _ in self.entries}
            self.size = sum(r.size for r, _, _ in self.entries)
            self._view = None
        self.after = after

    def extend(self, entries: list[tuple[MessageRef, Message, float]]) -> None:
        if not entries:
            return
        self.entries = self.entries + entries
        self.ids.update(r.id for r, _, _ in entries)
        self.size += sum(r.size for r, _, _ in entries)
        if self._view is not None:  # extend the cached view instead of rebuilding it
            observed, messages, token_sum = self._view
            kept = [(m, t) for r, m, t in entries if r.id not in observed]
            self._view = (observed, messages + [m for m, _ in kept], token_sum + sum(t for _, t in kept))

    def view(self, observed: frozenset[str]) -> tuple[list[Message], float]:
        """``(unobserved messages, their summed tokens)`` without ``observed`` ids."""
        if self._view is None or self._view[0] != observed:
            kept = [(m, t) for r, m, t in self.entries if r.id not in observed]
            self._view = (observed, [m for m, _ in kept], sum(t for _, t in kept))
        return self._view[1], self._view[2]


class _MessageCache:
    """LRU of loaded messages keyed by id with their token counts; the stored content size
    (from the ref query) tells when a cached message was edited since."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[int, Message, float]] = OrderedDict()
        self._lock = _io.Lock()

    async def get(self, ref: MessageRef) -> tuple[Message, float] | None:
        async with self._lock:
            hit = self._data.get(ref.id)
            if hit is None or (ref.size and hit[0] and hit[0] != ref.size):
                return None
            self._data.move_to_end(ref.id)
            return hit[1], hit[2]

    async def put(self, message: Message, size: int, tokens: float) -> None:
        async with self._lock:
            self._data[message.id] = (size, message, tokens)
            self._data.move_to_end(message.id)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


def _ref(message: Message) -> MessageRef:
    return MessageRef(message.id, message.thread_id, message.created_at)


class AsyncObservationalMemoryEngine:
    """Runs observation, buffering, activation and reflection for one storage.

    The async engine (``engine_async.py``) awaits every store and model call and is the source
    of the sync one (``engine.py``, generated); both have the same methods and arguments.

    Args:
        storage: A store with ``supports_observational_memory``.
        counter: Token counter (the shared default).
        max_workers: Background threads (2) of the sync engine; the async engine runs its
            background work as tasks on the running event loop.
        cache_messages: Messages kept in the in-process cache (50,000).

    Attributes:
        stats: Counters of model calls and commits.
    """

    def __init__(
        self,
        storage: AsyncMemoryStorage,
        counter: TokenCounter | None = None,
        max_workers: int = 2,
        cache_messages: int = 50_000,
    ) -> None:
        if not storage.supports_observational_memory:
            raise ConfigurationError(f"{type(storage).__name__} does not support observational memory")
        self.storage = storage
        self.counter = counter or default_counter()
        self.max_workers = max_workers
        self.stats = OMStats()
        self._cache = _MessageCache(cache_messages)
        self._render: dict[str, tuple[tuple[str, str], str, str, str | None]] = {}
        self._tail_lock = _io.Lock()
        self._tails: OrderedDict[str, _Tail] = OrderedDict()
        self._backoff: dict[str, tuple[int, int]] = {}
        self._lock = _io.Lock()
        self._background = _io.Background(max_workers, "mastra-om")
        self.owner = f"om-{uuid.uuid4()}"
        self.lease_seconds = 120.0

    # -- lifecycle ------------------------------------------------------------------------------

    async def settle(self, timeout: float | None = None) -> bool:
        """Wait for background work; True when none is left running."""
        return await self._background.settle(timeout)

    async def close(self) -> None:
        """Wait for background work and stop the workers; work started later gets new ones
        (none starts while closing)."""
        await self._background.close()
        self._background = _io.Background(self.max_workers, "mastra-om")

    def _background_failed(self, name: str, exc: Exception) -> None:
        """Background work never raises into the turn: count and log its failure."""
        self.stats.failures += 1
        logger.warning("observational memory background %s failed: %s", name, exc)

    async def _buffer_job(
        self, key: str, pending: int, config: ObservationalMemoryConfig, thread_id: str, resource_id: str
    ) -> None:
        """Background buffering under the ``buffer`` lease; records success or failure for the
        backoff."""
        try:
            try:
                async with self._lease(config, "buffer", thread_id, resource_id) as held:
                    if held:
                        await self._buffer_locked(config, thread_id, resource_id)
            except ModelError:
                await self._failed(key, pending)
                raise
            await self._succeeded(key)
        except Exception as exc:
            self._background_failed("buffer", exc)

    async def _reflect_job(self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str) -> None:
        """Background reflection buffering under the ``reflect`` lease."""
        try:
            async with self._lease(config, "reflect", thread_id, resource_id) as held:
                if held:
                    await self._buffer_reflection_locked(config, thread_id, resource_id)
        except Exception as exc:
            self._background_failed("reflect", exc)

    @asynccontextmanager
    async def _lease(
        self, config: ObservationalMemoryConfig, kind: str, thread_id: str, resource_id: str, enabled: bool = True
    ) -> AsyncIterator[bool]:
        """Hold the record's ``kind`` lease while a model call runs (skips duplicate calls in
        other processes); yields False when another owner holds it."""
        if not enabled:
            yield True
            return
        tid = thread_id if config.scope == "thread" else None
        got = await self.storage.om_lease(
            kind, self.owner, config.scope, tid, resource_id, self.lease_seconds, config=config.to_json()
        )
        try:
            yield got
        finally:
            if got:
                try:
                    await self.storage.om_lease(kind, self.owner, config.scope, tid, resource_id, release=True)
                except MastraMemoryError as exc:  # expires on its own
                    logger.debug("could not release the %s lease: %s", kind, exc)

    # -- models ---------------------------------------------------------------------------------

    def _model(self, config: ObservationalMemoryConfig, which: str) -> tuple[ChatModel, dict[str, Any]]:
        sub = config.observation if which == "observation" else config.reflection
        model = sub.model if sub.model is not None else config.model
        settings = {**config.model_settings, **sub.model_settings}
        return resolve_chat_model(model, config.model_settings), settings

    def _observer(self, config: ObservationalMemoryConfig) -> AsyncObserver:
        model, settings = self._model(config, "observation")
        return AsyncObserver(model, config.observation, settings, self.counter)

    def _reflector(self, config: ObservationalMemoryConfig) -> AsyncReflector:
        model, settings = self._model(config, "reflection")
        return AsyncReflector(model, config.reflection, settings, self.counter)

    # -- loading --------------------------------------------------------------------------------

    @staticmethod
    def key(config: ObservationalMemoryConfig, thread_id: str, resource_id: str) -> str:
        return lookup_key(config.scope, thread_id, resource_id)

    async def head(
        self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str
    ) -> ObservationalMemoryRecord | None:
        """The head record of the turn's scope."""
        if config.scope == "resource":
            return await self.storage.get_observational_memory(None, resource_id)
        return await self.storage.get_observational_memory(thread_id, resource_id)

    async def load_unobserved(
        self,
        config: ObservationalMemoryConfig,
        thread_id: str,
        resource_id: str,
        record: ObservationalMemoryRecord | None,
    ) -> list[Message]:
        """Unobserved messages of the scope, oldest first (cached content, fresh positions)."""
        messages, _, _ = await self._load_tail(config, thread_id, resource_id, record)
        return list(messages)

    async def _load_tail(
        self,
        config: ObservationalMemoryConfig,
        thread_id: str,
        resource_id: str,
        record: ObservationalMemoryRecord | None,
    ) -> tuple[list[Message], float, set[str]]:
        """Unobserved messages, their summed tokens, and the ids after the cursor.

        Incremental: the refs after the cursor seen last time are kept per record; a turn reads
        only refs newer than the newest known one, and checks the cached list is still exact
        with one ``count(*)``/``sum(length(content))`` query over the range (a message saved
        in between, deleted or edited elsewhere makes the check fail and the list is re-read).
        """
        async with self._tail_lock:
            return await self._load_tail_locked(config, thread_id, resource_id, record)

    async def _load_tail_locked(
        self,
        config: ObservationalMemoryConfig,
        thread_id: str,
        resource_id: str,
        record: ObservationalMemoryRecord | None,
    ) -> tuple[list[Message], float, set[str]]:
        key = self.key(config, thread_id, resource_id)
        after = record.last_observed_at if record is not None else None
        threads: list[str] | None = None if config.scope == "resource" else [thread_id]
        async with self._lock:
            tail = self._tails.get(key)
        valid = False
        if tail is not None and (tail.after is None or (after is not None and after >= tail.after)):
            tail.advance(after)
            newest = tail.entries[-1][0].created_at if tail.entries else after
            fresh = [
                r
                for r in await self.storage.list_message_refs(threads, resource_id, after=newest)
                if r.id not in tail.ids
            ]
            count, size = await self.storage.message_refs_summary(threads, resource_id, after=after)
            if count == len(tail.entries) + len(fresh) and size == tail.size + sum(r.size for r in fresh):
                tail.extend(await self._messages_for(fresh))
                valid = True
        if tail is None or not valid:
            tail = _Tail(
                after, await self._messages_for(await self.storage.list_message_refs(threads, resource_id, after=after))
            )
        async with self._lock:
            self._tails[key] = tail
            self._tails.move_to_end(key)
            while len(self._tails) > 1_024:
                self._tails.popitem(last=False)
        observed = frozenset(record.observed_message_ids) if record is not None else frozenset()
        messages, token_sum = tail.view(observed)
        return messages, token_sum, tail.ids

    async def _messages_for(self, refs: Sequence[MessageRef]) -> list[tuple[MessageRef, Message, float]]:
        """Messages (with token counts) for refs, from the cache or one batched read."""
        found: dict[str, tuple[Message, float]] = {}
        missing: list[MessageRef] = []
        for ref in refs:
            hit = await self._cache.get(ref)
            if hit is None:
                missing.append(ref)
            else:
                found[ref.id] = hit
        if missing:
            sizes = {r.id: r.size for r in missing}
            for m in await self.storage.list_messages_by_id([r.id for r in missing]):
                tokens = self.counter.count_message(m)
                await self._cache.put(m, sizes.get(m.id, 0), tokens)
                found[m.id] = (m, tokens)
        out: list[tuple[MessageRef, Message, float]] = []
        for ref in refs:
            hit = found.get(ref.id)
            if hit is None:
                continue  # deleted meanwhile
            m, tokens = hit
            if m.created_at != ref.created_at:  # restamped or edited since cached
                m = m.model_copy(update={"created_at": ref.created_at})
                await self._cache.put(m, ref.size, tokens)
            out.append((ref, m, tokens))
        return out

    def _pending(self, token_sum: float, count: int) -> int:
        return 0 if count == 0 else math.ceil(token_sum + self.counter.conversation_overhead)

    async def _rendered(self, record: ObservationalMemoryRecord) -> str:
        """The observations rendered for context, cached per record; appended lines are
        rendered alone (observation commits only append within a generation)."""
        today = datetime.now(UTC).date().isoformat()
        text = record.active_observations
        async with self._lock:
            hit = self._render.get(record.lookup_key)
        if hit is not None and hit[0] == (record.id, today) and text.startswith(hit[1]):
            if len(text) == len(hit[1]):
                return hit[2]
            suffix, last = render_observations(text[len(hit[1]) :], last_header=hit[3])
            rendered = f"{hit[2]}\n{suffix}" if suffix and hit[2] else (hit[2] or suffix)
        else:
            rendered, last = render_observations(text)
        async with self._lock:
            self._render[record.lookup_key] = ((record.id, today), text, rendered, last)
        return rendered

    # -- the turn -------------------------------------------------------------------------------

    async def prepare(self, config: ObservationalMemoryConfig, thread: Thread, resource_id: str) -> OMTurnState:
        """Load the record and the unobserved messages and build the context pieces."""
        record = await self.head(config, thread.id, resource_id)
        messages, token_sum, ids = await self._load_tail(config, thread.id, resource_id, record)
        state = OMTurnState(
            config=config,
            thread_id=thread.id,
            resource_id=resource_id,
            record=record,
            unobserved=messages,
            pending_tokens=self._pending(token_sum, len(messages)),
            token_sum=token_sum,
            unobserved_ids=ids,
        )
        if record is not None and record.active_observations.strip():
            meta = _om_meta(thread)
            others = None
            if config.scope == "resource":
                other_msgs = [m for m in state.unobserved if m.thread_id != thread.id]
                if other_msgs:
                    others = format_transcript(other_msgs)[-_OTHER_THREADS_CHARS:]
            state.system_message = context_system_message(
                await self._rendered(record),
                config.scope,
                meta.get("currentTask"),
                meta.get("suggestedResponse"),
                others,
            )
            state.reminder = continuation_message(thread.id)
        return state

    async def after_turn(self, state: OMTurnState, saved: Sequence[Message]) -> dict[str, Any]:
        """Account for the turn's saved messages and run the observation/reflection plan.

        Returns:
            A report: ``pending_tokens``, ``threshold`` and the actions taken.

        Raises:
            ModelError: a synchronous observation/reflection failed and the failure policy is
                ``"throw"`` (the turn's messages are saved already).
        """
        config = state.config
        known = state.unobserved_ids
        token_sum, count = state.token_sum, len(state.unobserved)
        for m in saved:
            tokens = self.counter.count_message(m)
            await self._cache.put(m, len(m.content.to_json()), tokens)
            if m.id not in known:
                token_sum += tokens
                count += 1
        pending = self._pending(token_sum, count)
        record = state.record
        obs_tokens = record.observation_token_count if record else 0
        chunks = record.buffered_observation_chunks if record else []
        key = self.key(config, state.thread_id, state.resource_id)
        plan = plan_observation(
            config, pending, obs_tokens, [c.message_tokens for c in chunks], self._background.running(f"buffer:{key}")
        )
        report: dict[str, Any] = {"pending_tokens": pending, "threshold": plan.threshold, "actions": []}
        if (plan.observe or plan.buffer) and not await self._may_retry(key, pending, plan.threshold):
            plan = replace(plan, observe=False, buffer=False)
            report["actions"].append("observation backing off after a failure")
        try:
            if plan.activate:
                record = await self._activate(config, state, [c.id for c in chunks[: plan.activate]]) or record
                report["actions"].append(f"activated {plan.activate} chunk(s)")
            if plan.observe:
                if config.buffering:
                    await self._background.wait(f"buffer:{key}", config.observation.buffer_wait_seconds)
                    fresh = await self.head(config, state.thread_id, state.resource_id)
                    if fresh is not None and fresh.buffered_observation_chunks:
                        record = (
                            await self._activate(config, state, [c.id for c in fresh.buffered_observation_chunks])
                            or fresh
                        )
                try:
                    committed = await self.observe(config, state.thread_id, state.resource_id)
                except ModelError:
                    await self._failed(key, pending)
                    raise
                await self._succeeded(key)
                report["actions"].append(f"observed {committed} batch(es)" if committed else "observation skipped")
                record = await self.head(config, state.thread_id, state.resource_id)
            elif plan.buffer and self._background.submit(
                f"buffer:{key}", self._buffer_job, key, pending, config, state.thread_id, state.resource_id
            ):
                report["actions"].append("buffering started")
            report["actions"].extend(await self._maybe_reflect(config, state, record))
        except ModelError as exc:
            self._on_failure(config, exc)
            report["actions"].append(f"failed: {exc}")
        state.report = report
        return report

    # -- retry backoff after failures ------------------------------------------------------------

    async def _may_retry(self, key: str, pending: int, threshold: int) -> bool:
        """After ``n`` failed cycles, try again only once pending tokens grew by
        ``threshold / 10 * 2**(n-1)`` (capped at the threshold): a failing or unusable model is
        not called on every turn."""
        async with self._lock:
            entry = self._backoff.get(key)
        if entry is None:
            return True
        failures, at = entry
        step: int = min(threshold, max(1, threshold // 10) << (failures - 1))
        return pending >= at + step

    async def _failed(self, key: str, pending: int) -> None:
        async with self._lock:
            failures, _ = self._backoff.get(key, (0, 0))
            self._backoff[key] = (failures + 1, pending)

    async def _succeeded(self, key: str) -> None:
        async with self._lock:
            self._backoff.pop(key, None)

    def _on_failure(self, config: ObservationalMemoryConfig, exc: ModelError) -> None:
        self.stats.failures += 1
        policy = config.observation.failure_policy
        if policy == "throw":
            raise exc
        if policy == "warn":
            logger.warning("observational memory failed; continuing unobserved: %s", exc)
        else:
            logger.debug("observational memory failed (bypass): %s", exc)

    # -- observation ----------------------------------------------------------------------------

    def _batches(self, messages: Sequence[Message], limit: int) -> list[list[Message]]:
        batches: list[list[Message]] = [[]]
        used = 0.0
        for m in messages:
            tokens = self.counter.count_message(m)
            if batches[-1] and used + tokens > limit:
                batches.append([])
                used = 0.0
            batches[-1].append(m)
            used += tokens
        return [b for b in batches if b]

    @traced("mastra_memory.observe")
    async def observe(
        self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str, use_lease: bool = True
    ) -> int:
        """Observe every unobserved message of the scope now (in batches of at most
        ``observation.max_tokens_per_batch`` tokens), committing each batch.

        Args:
            config: The OM config.
            thread_id: The turn's thread.
            resource_id: Its resource.
            use_lease: Skip when another process holds the observe lease (turns do; explicit
                calls do not, commits stay safe either way).

        Returns:
            The number of committed batches (0 when nothing was unobserved, another process is
            observing, or it observed the same messages first).

        Raises:
            ModelError: when the Observer failed or gave unusable output every time.
        """
        async with self._lease(config, "observe", thread_id, resource_id, use_lease) as held:
            if not held:
                logger.debug("another process is observing %s; skipped", thread_id)
                return 0
            return await self._observe(config, thread_id, resource_id)

    async def _observe(self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str) -> int:
        record = await self.head(config, thread_id, resource_id)
        messages = await self.load_unobserved(config, thread_id, resource_id, record)
        if not messages:
            return 0  # never run the Observer with nothing to observe (the original's bug H4)
        observer = self._observer(config)
        committed = 0
        remaining = self.counter.count_messages(messages)
        hooks = OMHooks(config.hooks)
        for batch in self._batches(messages, config.observation.max_tokens_per_batch):
            previous = record.active_observations if record else ""
            meta = await self._thread_meta(thread_id)
            shown = hooks.before_observation(batch)
            cycle = OMCycle("observation", thread_id, resource_id, message_count=len(shown))
            hooks.notify("on_observation_start", cycle)
            self.stats.observer_calls += 1
            try:
                result = await observer.observe(shown, previous, meta.get("currentTask"), meta.get("suggestedResponse"))
            except ModelError as exc:
                self.stats.unusable_outputs += 1
                hooks.end("on_observation_end", cycle, observer.model, None, exc)
                raise
            hooks.end("on_observation_end", cycle, observer.model, result.usage, None)
            observations = hooks.after_observation(result.output.observations)
            batch_tokens = self.counter.count_messages(batch)
            remaining = max(0, remaining - batch_tokens)
            outcome = await self.storage.commit_observations(
                ObservationCommit(
                    scope=config.scope,
                    thread_id=thread_id if config.scope == "thread" else None,
                    resource_id=resource_id,
                    config=config.to_json(),
                    observations=observations,
                    messages=[_ref(m) for m in batch],
                    message_tokens=batch_tokens,
                    pending_message_tokens=remaining,
                )
            )
            if not outcome.committed:
                self.stats.rejected_commits += 1
                logger.info("observation commit rejected: %s", outcome.reason)
                break
            committed += 1
            self.stats.observations_committed += 1
            record = outcome.record
            await self._update_thread_meta(
                config,
                thread_id,
                result.output.current_task,
                result.output.suggested_response,
                result.output.thread_title,
            )
        return committed

    async def _buffer_locked(self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str) -> None:
        record = await self.head(config, thread_id, resource_id)
        covered = record.buffered_message_ids if record else set()
        messages = [
            m for m in await self.load_unobserved(config, thread_id, resource_id, record) if m.id not in covered
        ]
        if not messages:
            return
        batch = self._batches(messages, config.observation.max_tokens_per_batch)[0]
        hooks = OMHooks(config.hooks)
        shown = hooks.before_observation(batch)
        cycle = OMCycle("observation", thread_id, resource_id, buffered=True, message_count=len(shown))
        hooks.notify("on_observation_start", cycle)
        observer = self._observer(config)
        self.stats.observer_calls += 1
        try:
            result = await observer.observe(shown, record.active_observations if record else "", buffered=True)
        except ModelError as exc:
            self.stats.unusable_outputs += 1
            hooks.end("on_observation_end", cycle, observer.model, None, exc)
            raise
        hooks.end("on_observation_end", cycle, observer.model, result.usage, None)
        chunk = BufferedChunk(
            observations=hooks.after_observation(result.output.observations),
            token_count=result.tokens,
            message_ids=[m.id for m in batch],
            message_tokens=self.counter.count_messages(batch),
            last_observed_at=batch[-1].created_at,
            thread_title=result.output.thread_title,
        )
        outcome = await self.storage.buffer_observation_chunk(
            config.scope,
            thread_id if config.scope == "thread" else None,
            resource_id,
            chunk,
            [_ref(m) for m in batch],
            config.to_json(),
        )
        if outcome.committed:
            self.stats.chunks_buffered += 1
        else:
            self.stats.rejected_commits += 1
            logger.info("buffered chunk rejected: %s", outcome.reason)

    async def _activate(
        self, config: ObservationalMemoryConfig, state: OMTurnState, chunk_ids: list[str]
    ) -> ObservationalMemoryRecord | None:
        outcome = await self.storage.activate_observation_chunks(
            config.scope, state.thread_id if config.scope == "thread" else None, state.resource_id, chunk_ids
        )
        if not outcome.committed:
            return None
        self.stats.chunks_activated += len(outcome.activated)
        titles = [c.thread_title for c in outcome.activated if c.thread_title]
        # activated chunks clear the stored task/suggestion (they would be stale), as the original
        await self._update_thread_meta(config, state.thread_id, None, None, titles[-1] if titles else None, clear=True)
        return outcome.record

    # -- reflection -----------------------------------------------------------------------------

    async def _maybe_reflect(
        self, config: ObservationalMemoryConfig, state: OMTurnState, record: ObservationalMemoryRecord | None
    ) -> list[str]:
        if record is None:
            return []
        key = self.key(config, state.thread_id, state.resource_id)
        decision = plan_reflection(
            config,
            record.observation_token_count,
            bool(record.buffered_reflection),
            self._background.running(f"reflect:{key}"),
        )
        if decision == "activate":
            outcome = await self.storage.activate_buffered_reflection(
                config.scope, state.thread_id if config.scope == "thread" else None, state.resource_id
            )
            if outcome.committed:
                self.stats.reflections_committed += 1
                return ["activated buffered reflection"]
            return []
        if decision == "buffer":
            if self._background.submit(f"reflect:{key}", self._reflect_job, config, state.thread_id, state.resource_id):
                return ["reflection buffering started"]
            return []
        if decision == "reflect":
            if config.buffering:
                await self._background.wait(f"reflect:{key}", config.observation.buffer_wait_seconds)
            return ["reflected"] if await self.reflect(config, state.thread_id, state.resource_id) else []
        return []

    @traced("mastra_memory.reflect")
    async def reflect(
        self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str, force: bool = False
    ) -> bool:
        """Reflect synchronously when the head is over ``reflection.observation_tokens`` (or
        always with ``force``); True when a new generation was committed.

        Raises:
            ModelError: when the Reflector gave no usable, smaller output.
        """
        head = await self.head(config, thread_id, resource_id)
        if head is None or not head.active_observations.strip():
            return False
        if head.buffered_reflection and not force:
            outcome = await self.storage.activate_buffered_reflection(
                config.scope, thread_id if config.scope == "thread" else None, resource_id
            )
            if outcome.committed:
                self.stats.reflections_committed += 1
                return True
        if not force and head.observation_token_count < config.reflection.observation_tokens:
            return False
        async with self._lease(config, "reflect", thread_id, resource_id, not force) as held:
            if not held:
                return False
            head = await self.head(config, thread_id, resource_id)  # fresh, now that we hold the lease
            if head is None or (not force and head.observation_token_count < config.reflection.observation_tokens):
                return False
            result = await self._reflect_with_hooks(config, thread_id, resource_id, head.active_observations, False)
            outcome = await self.storage.commit_reflection(
                config.scope,
                thread_id if config.scope == "thread" else None,
                resource_id,
                head.generation_count,
                head.active_observations,
                result.observations,
            )
        if outcome.committed:
            self.stats.reflections_committed += 1
            return True
        self.stats.rejected_commits += 1
        return False

    async def _reflect_with_hooks(
        self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str, text: str, buffered: bool
    ) -> ReflectionResult:
        """One Reflector call between ``on_reflection_start`` and ``on_reflection_end``."""
        hooks = OMHooks(config.hooks)
        cycle = OMCycle("reflection", thread_id if config.scope == "thread" else None, resource_id, buffered)
        hooks.notify("on_reflection_start", cycle)
        reflector = self._reflector(config)
        self.stats.reflector_calls += 1
        try:
            result = await reflector.reflect(text)
        except Exception as exc:
            hooks.end("on_reflection_end", cycle, reflector.model, None, exc)
            raise
        hooks.end("on_reflection_end", cycle, reflector.model, result.usage, None)
        return result

    async def _buffer_reflection_locked(
        self, config: ObservationalMemoryConfig, thread_id: str, resource_id: str
    ) -> None:
        head = await self.head(config, thread_id, resource_id)
        if head is None or head.buffered_reflection or not head.active_observations.strip():
            return
        text = head.active_observations
        result = await self._reflect_with_hooks(config, thread_id, resource_id, text, True)
        outcome = await self.storage.buffer_reflection(
            config.scope,
            thread_id if config.scope == "thread" else None,
            resource_id,
            head.generation_count,
            text.count("\n") + 1,
            result.observations,
            result.tokens,
            head.observation_token_count,
        )
        if not outcome.committed:
            self.stats.rejected_commits += 1

    # -- thread metadata (current task, suggested response, title) -----------------------------

    async def _thread_meta(self, thread_id: str) -> dict[str, Any]:
        thread = await self.storage.get_thread_by_id(thread_id)
        return _om_meta(thread) if thread is not None else {}

    async def _update_thread_meta(
        self,
        config: ObservationalMemoryConfig,
        thread_id: str,
        task: str | None,
        suggestion: str | None,
        title: str | None,
        clear: bool = False,
    ) -> None:
        if not (task or suggestion or title or clear):
            return
        thread = await self.storage.get_thread_by_id(thread_id)
        if thread is None:
            return
        mastra = dict(thread.metadata.get("mastra") or {}) if isinstance(thread.metadata.get("mastra"), dict) else {}
        om = dict(mastra.get("om") or {}) if isinstance(mastra.get("om"), dict) else {}
        if clear:
            om.pop("currentTask", None)
            om.pop("suggestedResponse", None)
        if task:
            om["currentTask"] = task
        if suggestion:
            om["suggestedResponse"] = suggestion
        new_title = None
        if title and config.observation.thread_title and (not thread.title or thread.title == om.get("threadTitle")):
            om["threadTitle"] = title
            new_title = title
        om["updatedAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        mastra["om"] = om
        try:
            await self.storage.update_thread(thread_id, title=new_title, metadata={"mastra": mastra})
        except MastraMemoryError as exc:  # hints only; never fail a turn over them
            logger.debug("could not store observer hints on thread %s: %s", thread_id, exc)


def _om_meta(thread: Thread) -> dict[str, Any]:
    mastra = thread.metadata.get("mastra")
    om = mastra.get("om") if isinstance(mastra, dict) else None
    return om if isinstance(om, dict) else {}
