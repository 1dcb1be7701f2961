"""The observational-memory commit algebra every backend shares (pure; no I/O).

A backend provides one serialized read-modify-write primitive, ``_om_update(lookup_key,
mutation)``: inside a write transaction (libSQL ``BEGIN IMMEDIATE``, PostgreSQL row lock,
MongoDB compare-and-set on ``metadata.version`` with retry) it reads the head record of the key,
calls ``mutation(view)`` and writes the records the mutation returns. Mutations may be re-run
(optimistic backends retry them), so they only read from ``view``.

Invariants the mutations keep (the original's known loss/duplication bugs are the reason):

* **Monotonic cursor.** ``last_observed_at`` only moves forward. Every message of the scope
  created at or before it is observed; observed messages created after it are listed in
  ``observed_message_ids``. The cursor advances over a prefix of the scope's messages only while
  every message of that prefix is observed, so a message saved concurrently inside the range
  (a "newcomer") keeps it from moving past that message.
* **No late arrivals below the cursor.** Stores move a *new* message whose ``created_at`` is at
  or before the cursor to just after it, in the same transaction as the save
  (:func:`restamp_after_cursor`); otherwise a message created before a slow model call and
  saved after another process observed past it would never be observed.
* **No duplicates.** A commit that covers a message already observed is rejected whole (its
  messages that were not observed stay unobserved and are observed by a later cycle), and
  buffered chunks overlapping a commit are dropped.
* **Lossless reflection.** A reflection replaces exactly the observation text it read (a prefix
  of the head, since observation commits only append) and carries later lines, the cursor and
  buffered chunks forward into the new generation; a reflection of a stale generation is
  rejected. Old generations are kept as history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from mastra_memory.storage.records import (
    BufferedChunk,
    MessageRef,
    ObservationalMemoryRecord,
    OMScope,
)
from mastra_memory.storage.thread_tags import rewrite_thread_tags
from mastra_memory.tokens import count_tokens
from mastra_memory.types import Message, new_id

__all__ = [
    "CommitResult",
    "OMView",
    "ObservationCommit",
    "activate_chunks_mutation",
    "activate_reflection_mutation",
    "advance_cursor",
    "append_observations",
    "buffer_chunk_mutation",
    "buffer_reflection_mutation",
    "copy_record_mutation",
    "lease_mutation",
    "observe_mutation",
    "reflect_mutation",
    "restamp_after_cursor",
]

T = TypeVar("T")
Walk = Callable[[datetime | None, int], list[MessageRef]]
_WALK_BATCH = 256


@dataclass
class OMView:
    """What a mutation may read inside the transaction.

    Attributes:
        lookup_key: The record's key.
        head: The newest generation, or ``None``.
        walk: ``walk(after, limit)`` returns up to ``limit`` refs of the scope's messages with
            ``created_at > after`` (all when ``after`` is None), ordered by ``(created_at, id)``.
        now: The transaction's time.
    """

    lookup_key: str
    head: ObservationalMemoryRecord | None
    walk: Walk
    now: datetime


Mutation = Callable[[OMView], tuple[list[ObservationalMemoryRecord], T]]


class CommitResult(BaseModel):
    """Outcome of a commit.

    Attributes:
        status: ``"committed"``, or ``"rejected"`` when the commit would duplicate or lose
            observations (nothing was written).
        record: The head after the commit (the unchanged head when rejected).
        reason: Why it was rejected.
        activated: Chunks activated by an activation commit.
        dropped: Chunks dropped because their messages were observed meanwhile.
    """

    status: Literal["committed", "rejected"]
    record: ObservationalMemoryRecord | None = None
    reason: str | None = None
    activated: list[BufferedChunk] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.status == "committed"


class ObservationCommit(BaseModel):
    """Observations covering a set of messages, to be appended to the head.

    Attributes:
        scope, thread_id, resource_id: The record's identity (used to create it if missing).
        config: OM config JSON stored on a new record.
        observations: Observation lines to append (the head's token count is recounted).
        messages: Refs of the messages they cover (all must still be unobserved).
        message_tokens: Tokens of those messages.
        pending_message_tokens: Unobserved tokens left after the commit, if known.
    """

    scope: OMScope
    thread_id: str | None
    resource_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    observations: str
    messages: list[MessageRef]
    message_tokens: int = 0
    pending_message_tokens: int | None = None


def new_record(
    lookup_key: str,
    scope: OMScope,
    thread_id: str | None,
    resource_id: str,
    config: dict[str, Any],
    now: datetime,
) -> ObservationalMemoryRecord:
    """A fresh generation-0 record."""
    return ObservationalMemoryRecord(
        lookup_key=lookup_key,
        scope=scope,
        resource_id=resource_id,
        thread_id=thread_id if scope == "thread" else None,
        config=config,
        created_at=now,
        updated_at=now,
    )


def observation_tokens(old_text: str, old_tokens: int, new_text: str) -> int:
    """Tokens of ``new_text`` when it extends ``old_text`` (whose count is ``old_tokens``):
    only the old last line and what follows are re-tokenised. o200k_base pre-tokenisation never
    joins characters across the start of a line, so counts add up at that boundary; anything
    that is not an extension is counted in full."""
    if not old_text or not new_text.startswith(old_text):
        return count_tokens(new_text)
    cut = old_text.rfind("\n") + 1
    if new_text[cut : cut + 1] == "/":  # a line starting with "/" can join the previous newline
        return count_tokens(new_text)
    return old_tokens - count_tokens(old_text[cut:]) + count_tokens(new_text[cut:])


def _touch(record: ObservationalMemoryRecord, now: datetime, **changes: Any) -> ObservationalMemoryRecord:
    meta = dict(record.metadata)
    meta["version"] = record.version + 1
    return record.model_copy(update={**changes, "metadata": meta, "updated_at": now})


def _date_header(line: str) -> bool:
    return line.startswith("Date:")


def append_observations(existing: str, new: str) -> str:
    """Append observation lines; a leading date header equal to the last one is not repeated.

    The result always starts with ``existing`` verbatim (reflection relies on that prefix).
    """
    new = new.strip("\n")
    if not existing.strip():
        return new
    if not new.strip():
        return existing
    lines = new.split("\n")
    last_header = next((ln for ln in reversed(existing.split("\n")) if _date_header(ln)), None)
    if lines and _date_header(lines[0]) and lines[0].strip() == (last_header or "").strip():
        lines = lines[1:]
    if not lines:
        return existing
    return existing.rstrip("\n") + "\n" + "\n".join(lines)


def advance_cursor(
    last_observed_at: datetime | None, observed: set[str], walk: Walk
) -> tuple[datetime | None, set[str]]:
    """Move the cursor over the longest prefix of messages that are all observed.

    Args:
        last_observed_at: The current cursor.
        observed: Observed ids created after the cursor (including a new commit's ids).
        walk: See :class:`OMView`.

    Returns:
        ``(cursor, ids)``: the new cursor (never earlier) and the observed ids still after it.
        Timestamp ties are handled as a group: the cursor passes a timestamp only when every
        message at that timestamp is observed.
    """
    cursor = last_observed_at
    remaining = set(observed)
    limit = _WALK_BATCH
    while True:
        refs = walk(cursor, limit)
        if not refs:
            return cursor, set()  # ids not found any more were deleted
        groups: list[tuple[datetime, list[str]]] = []
        for ref in refs:
            if groups and groups[-1][0] == ref.created_at:
                groups[-1][1].append(ref.id)
            else:
                groups.append((ref.created_at, [ref.id]))
        full = len(refs) >= limit
        if full:
            if len(groups) == 1:
                limit *= 2  # one huge tie group: read it whole
                continue
            groups = groups[:-1]  # the last group may be cut by the limit
        for ts, ids in groups:
            if all(i in remaining for i in ids):
                cursor = ts
                remaining.difference_update(ids)
            else:
                return cursor, remaining
        if not full:
            return cursor, set()


def _apply(
    head: ObservationalMemoryRecord,
    view: OMView,
    text: str,
    observed: set[str],
    total_observed: int,
    **changes: Any,
) -> ObservationalMemoryRecord:
    """The head with new observation text (tokens recounted), the cursor advanced over
    ``observed`` ids, and ``changes``."""
    cursor, remaining = advance_cursor(head.last_observed_at, observed, view.walk)
    return _touch(
        head,
        view.now,
        active_observations=text,
        observation_token_count=observation_tokens(head.active_observations, head.observation_token_count, text),
        last_observed_at=cursor,
        observed_message_ids=sorted(remaining),
        total_tokens_observed=total_observed,
        **changes,
    )


def _observed(head: ObservationalMemoryRecord, refs: Sequence[MessageRef]) -> list[str]:
    cur = head.cursor
    return [r.id for r in refs if cur.is_observed(r.id, r.created_at)]


def observe_mutation(commit: ObservationCommit) -> Mutation[CommitResult]:
    """Append ``commit.observations`` and advance the cursor over its messages.

    Rejected (nothing written) when the commit has no messages or any of them is already
    observed. Empty ``observations`` (the Observer found nothing new) still advance the cursor.
    Buffered chunks that overlap the commit are dropped.
    """

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head or new_record(
            view.lookup_key, commit.scope, commit.thread_id, commit.resource_id, commit.config, view.now
        )
        if not commit.messages:  # empty observations over messages: "nothing new", cursor advances
            return [], CommitResult(status="rejected", record=view.head, reason="empty commit")
        dup = _observed(head, commit.messages)
        if dup:
            return [], CommitResult(
                status="rejected",
                record=view.head,
                reason=f"{len(dup)} message(s) already observed (e.g. {dup[0]!r})",
            )
        ids = {r.id for r in commit.messages}
        chunks = [c for c in head.buffered_observation_chunks if not ids.intersection(c.message_ids)]
        dropped = [c.id for c in head.buffered_observation_chunks if ids.intersection(c.message_ids)]
        record = _apply(
            head,
            view,
            append_observations(head.active_observations, commit.observations),
            set(head.observed_message_ids) | ids,
            head.total_tokens_observed + commit.message_tokens,
            buffered_observation_chunks=chunks,
            pending_message_tokens=(
                commit.pending_message_tokens
                if commit.pending_message_tokens is not None
                else head.pending_message_tokens
            ),
        )
        return [record], CommitResult(status="committed", record=record, dropped=dropped)

    return mutate


def buffer_chunk_mutation(
    chunk: BufferedChunk,
    refs: Sequence[MessageRef],
    scope: OMScope,
    thread_id: str | None,
    resource_id: str,
    config: dict[str, Any],
) -> Mutation[CommitResult]:
    """Append a background-observed chunk to the head's buffer.

    Rejected when its cycle was already stored, or any message is observed or covered by
    another chunk.
    """

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head or new_record(view.lookup_key, scope, thread_id, resource_id, config, view.now)
        if not refs:  # a chunk without lines ("nothing new") still covers its messages
            return [], CommitResult(status="rejected", record=view.head, reason="empty chunk")
        if any(c.cycle_id == chunk.cycle_id for c in head.buffered_observation_chunks):
            return [], CommitResult(status="rejected", record=view.head, reason="cycle already buffered")
        dup = _observed(head, refs)
        covered = head.buffered_message_ids.intersection(r.id for r in refs)
        if dup or covered:
            return [], CommitResult(status="rejected", record=view.head, reason="messages already observed or buffered")
        stored = chunk.model_copy(update={"created_at": view.now})
        record = _touch(
            head,
            view.now,
            buffered_observation_chunks=[*head.buffered_observation_chunks, stored],
            last_buffered_at_time=view.now,
        )
        return [record], CommitResult(status="committed", record=record)

    return mutate


def activate_chunks_mutation(chunk_ids: Sequence[str]) -> Mutation[CommitResult]:
    """Move the listed buffered chunks (in buffer order) into the active observations.

    A chunk whose messages were observed meanwhile is dropped instead of activated.
    """
    wanted = set(chunk_ids)

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head
        if head is None:
            return [], CommitResult(status="rejected", reason="no record")
        text = head.active_observations
        observed_tokens = head.total_tokens_observed
        ids: set[str] = set(head.observed_message_ids)
        cursor = head.cursor
        activated: list[BufferedChunk] = []
        dropped: list[str] = []
        keep: list[BufferedChunk] = []
        for chunk in head.buffered_observation_chunks:
            if chunk.id not in wanted:
                keep.append(chunk)
                continue
            if any(mid in ids or mid in cursor.observed_message_ids for mid in chunk.message_ids) or (
                cursor.last_observed_at is not None
                and chunk.last_observed_at is not None
                and chunk.last_observed_at <= cursor.last_observed_at
            ):
                dropped.append(chunk.id)
                continue
            text = append_observations(text, chunk.observations)
            observed_tokens += chunk.message_tokens
            ids.update(chunk.message_ids)
            activated.append(chunk)
        if not activated and not dropped:
            return [], CommitResult(status="rejected", record=head, reason="chunks not found")
        record = _apply(head, view, text, ids, observed_tokens, buffered_observation_chunks=keep)
        return [record], CommitResult(status="committed", record=record, activated=activated, dropped=dropped)

    return mutate


def _split_lines(text: str, count: int) -> tuple[str, str]:
    lines = text.split("\n")
    base, rest = lines[:count], lines[count:]
    if rest and not _date_header(rest[0]):
        header = next((ln for ln in reversed(base) if _date_header(ln)), None)
        if header is not None:
            rest = [header, *rest]
    return "\n".join(base), "\n".join(rest)


def _new_generation(head: ObservationalMemoryRecord, text: str, now: datetime) -> ObservationalMemoryRecord:
    return head.model_copy(
        update={
            "id": new_id(),
            "active_observations": text,
            "observation_token_count": count_tokens(text),
            "origin_type": "reflection",
            "generation_count": head.generation_count + 1,
            "last_reflection_at": now,
            "buffered_reflection": None,
            "buffered_reflection_tokens": None,
            "buffered_reflection_input_tokens": None,
            "reflected_observation_line_count": None,
            "is_reflecting": False,
            "is_buffering_reflection": False,
            "metadata": {**head.metadata, "version": 0},
            "created_at": now,
            "updated_at": now,
        }
    )


def reflect_mutation(base_generation: int, base_text: str, reflection: str) -> Mutation[CommitResult]:
    """Create a new generation whose observations are ``reflection`` plus whatever was appended
    to the head after the Reflector read ``base_text``.

    Rejected when the head's generation changed or its text no longer starts with ``base_text``.
    """

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head
        if head is None:
            return [], CommitResult(status="rejected", reason="no record")
        if head.generation_count != base_generation or not head.active_observations.startswith(base_text):
            return [], CommitResult(status="rejected", record=head, reason="stale generation")
        suffix = head.active_observations[len(base_text) :].strip("\n")
        if suffix and not _date_header(suffix):
            header = next((ln for ln in reversed(base_text.split("\n")) if _date_header(ln)), None)
            suffix = f"{header}\n{suffix}" if header else suffix
        text = append_observations(reflection.strip("\n"), suffix) if suffix else reflection.strip("\n")
        record = _new_generation(head, text, view.now)
        return [record], CommitResult(status="committed", record=record)

    return mutate


def buffer_reflection_mutation(
    base_generation: int, line_count: int, reflection: str, reflection_tokens: int, input_tokens: int
) -> Mutation[CommitResult]:
    """Store a background reflection of the head's first ``line_count`` lines."""

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head
        if head is None or head.generation_count != base_generation:
            return [], CommitResult(status="rejected", record=head, reason="stale generation")
        if head.active_observations.count("\n") + 1 < line_count:
            return [], CommitResult(status="rejected", record=head, reason="observations shrank")
        record = _touch(
            head,
            view.now,
            buffered_reflection=reflection,
            buffered_reflection_tokens=reflection_tokens,
            buffered_reflection_input_tokens=input_tokens,
            reflected_observation_line_count=line_count,
        )
        return [record], CommitResult(status="committed", record=record)

    return mutate


def activate_reflection_mutation() -> Mutation[CommitResult]:
    """Turn the head's buffered reflection into a new generation (reflected lines replaced,
    later lines kept)."""

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        head = view.head
        if head is None or not head.buffered_reflection or not head.reflected_observation_line_count:
            return [], CommitResult(status="rejected", record=head, reason="no buffered reflection")
        _, rest = _split_lines(head.active_observations, head.reflected_observation_line_count)
        text = (
            append_observations(head.buffered_reflection.strip("\n"), rest)
            if rest.strip()
            else (head.buffered_reflection.strip("\n"))
        )
        record = _new_generation(head, text, view.now)
        return [record], CommitResult(status="committed", record=record)

    return mutate


def lease_mutation(
    kind: str,
    owner: str,
    ttl_seconds: float,
    release: bool,
    scope: OMScope,
    thread_id: str | None,
    resource_id: str,
    config: dict[str, Any],
) -> Mutation[bool]:
    """Claim (or release) a short lease so only one process runs a model call of ``kind``
    (``"observe"``, ``"buffer"``, ``"reflect"``) for a record at a time.

    Leases only save duplicate model calls: correctness never depends on them (commits are
    checked on their own), and an expired lease is simply taken over. Stored in
    ``metadata["leases"][kind] = {"owner", "expiresAt"}``.

    Returns (as the mutation result):
        True when the lease is now held by ``owner`` (or was released).
    """

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], bool]:
        head = view.head
        leases = dict((head.metadata.get("leases") if head else None) or {})
        current = leases.get(kind)
        held_by_other = (
            isinstance(current, dict)
            and current.get("owner") != owner
            and str(current.get("expiresAt", "")) > view.now.isoformat()
        )
        if release:
            if not isinstance(current, dict) or current.get("owner") != owner or head is None:
                return [], True
            leases.pop(kind, None)
        else:
            if held_by_other:
                return [], False
            leases[kind] = {"owner": owner, "expiresAt": (view.now + timedelta(seconds=ttl_seconds)).isoformat()}
        base = head or new_record(view.lookup_key, scope, thread_id, resource_id, config, view.now)
        meta = {**base.metadata, "leases": leases, "version": base.version + 1}
        record = base.model_copy(update={"metadata": meta, "updated_at": view.now})
        return [record], True

    return mutate


def copy_record_mutation(
    source: ObservationalMemoryRecord,
    source_thread_id: str,
    thread_id: str,
    resource_id: str,
    message_id_map: Mapping[str, str],
    copies: Sequence[MessageRef],
) -> Mutation[CommitResult]:
    """Copy the head ``source`` of a thread's or resource's record for a cloned thread (the
    mutation runs on the clone's key: ``thread:<thread_id>`` or ``resource:<resource_id>``).

    Message ids are remapped through ``message_id_map`` (source id -> copy id); messages that
    were not copied never appear. The cursor is rebuilt inside the transaction from which
    copies were observed in the source (a copy keeps its message's ``created_at``), with
    :func:`advance_cursor` over the clone's scope: in a new thread it lands where the source's
    cursor was (or on the newest observed copy), and messages of the target scope that the
    source never saw (other threads of an existing resource) stay unobserved. ``<thread id>``
    tags of the source thread are pointed at the clone (:func:`rewrite_thread_tags`).

    When the key has no record yet, the copy is a new record (new id, the source's generation,
    observation text, counters, config and buffered reflection; metadata without leases and
    with ``version`` 0; the ``is_*`` hints false; ``active_observations_pending_update``
    dropped). A buffered chunk is kept, remapped, only when every message it covers was
    copied; a partially copied chunk is dropped (its copied messages are simply unobserved and
    get observed again), so no chunk describes messages the clone does not have.

    When the key already has a record (cloning into a resource with its own resource-scope
    memory), nothing is replaced: the source's observations are appended to it and the
    observed copies join its cursor, like an observation commit; the source's buffered chunks
    and reflection are not carried over.

    Args:
        source: The source head (read before the transaction; only the head generation is
            copied, never the history).
        source_thread_id: The cloned thread (whose tags are rewritten).
        thread_id: The clone.
        resource_id: The clone's resource.
        message_id_map: Source message id -> copy id.
        copies: Refs of the copies (ids of the clone's messages, with their ``created_at``).
    """
    inverse = {copy: original for original, copy in message_id_map.items()}
    cursor = source.cursor
    observed = {r.id for r in copies if r.id in inverse and cursor.is_observed(inverse[r.id], r.created_at)}

    def retag(text: str) -> str:
        return rewrite_thread_tags(text, source_thread_id, thread_id)

    def mutate(view: OMView) -> tuple[list[ObservationalMemoryRecord], CommitResult]:
        text = retag(source.active_observations)
        head = view.head
        if head is not None:
            record = _apply(
                head,
                view,
                append_observations(head.active_observations, text),
                set(head.observed_message_ids) | observed,
                head.total_tokens_observed + source.total_tokens_observed,
            )
            return [record], CommitResult(status="committed", record=record)
        last_observed_at, remaining = advance_cursor(None, observed, view.walk)
        chunks: list[BufferedChunk] = []
        dropped: list[str] = []
        for chunk in source.buffered_observation_chunks:
            ids = [message_id_map.get(mid) for mid in chunk.message_ids]
            kept = [i for i in ids if i is not None]
            if len(kept) != len(ids):
                dropped.append(chunk.id)
                continue
            chunks.append(chunk.model_copy(update={"message_ids": kept, "observations": retag(chunk.observations)}))
        meta = {k: v for k, v in source.metadata.items() if k != "leases"}
        meta["version"] = 0
        record = source.model_copy(
            deep=True,
            update={
                "id": new_id(),
                "lookup_key": view.lookup_key,
                "thread_id": thread_id if source.scope == "thread" else None,
                "resource_id": resource_id,
                "active_observations": text,
                "active_observations_pending_update": None,
                "observation_token_count": (
                    source.observation_token_count if text == source.active_observations else count_tokens(text)
                ),
                "last_observed_at": last_observed_at,
                "observed_message_ids": sorted(remaining),
                "buffered_observation_chunks": chunks,
                "buffered_reflection": retag(source.buffered_reflection) if source.buffered_reflection else None,
                "is_observing": False,
                "is_reflecting": False,
                "is_buffering_observation": False,
                "is_buffering_reflection": False,
                "metadata": meta,
                "created_at": view.now,
                "updated_at": view.now,
            },
        )
        return [record], CommitResult(status="committed", record=record, dropped=dropped)

    return mutate


def restamp_after_cursor(
    messages: Sequence[Message], existing_ids: set[str], floors: dict[str, datetime]
) -> list[Message]:
    """Move new messages created at or before their thread's observation cursor to just after
    it (keeping their order), so no message ever lands behind the cursor.

    Args:
        messages: The batch being saved, oldest first per thread.
        existing_ids: Ids already stored (updates keep their time).
        floors: Cursor per thread id (the latest of the thread's and its resource's records).
    """
    if not floors:
        return list(messages)
    out: list[Message] = []
    last: dict[str, datetime] = {}
    for m in messages:
        floor = floors.get(m.thread_id)
        prev = last.get(m.thread_id)
        created = m.created_at
        if floor is not None and m.id not in existing_ids:
            if created <= floor:
                created = floor + timedelta(milliseconds=1)
            if prev is not None and created <= prev:
                created = prev + timedelta(milliseconds=1)
        if created != m.created_at:
            m = m.model_copy(update={"created_at": created})
        last[m.thread_id] = max(created, prev) if prev is not None else created
        out.append(m)
    return out
