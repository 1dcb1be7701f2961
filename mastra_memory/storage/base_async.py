"""The storage seam: :class:`MemoryStorage`, the contract every backend implements.

A backend subclasses :class:`MemoryStorage` and implements the ``_``-prefixed I/O methods. The
public methods here validate input, normalise timestamps and enforce ownership once for every
backend, then call those hooks, so a backend module holds I/O only.

Contract (checked by :mod:`mastra_memory.testing`, the conformance suite every adapter runs):

* Threads, messages and resources use the original's tables and columns (``mastra_threads``,
  ``mastra_messages``, ``mastra_resources``) so a database shared with Mastra's TypeScript
  packages means the same thing on both sides.
* Message order within a thread is ``(created_at, id)``. ``save_messages`` gives messages of
  one batch strictly increasing ``created_at`` (at least 1 ms apart) when they would collide.
* ``save_messages`` is one transaction: every thread must exist, every message's resource must
  own its thread, a message id may not move to another thread; on any error nothing is written.
  Saving bumps each touched thread's ``updated_at``. System messages are never stored.
* Saving the same message twice (same id) is an update, never a duplicate.
* ``include`` windows are resolved with indexed range queries on ``(thread_id, createdAt, id)``,
  never with a window function over the whole table.
* ``setup()`` is idempotent and applies a numbered migrations list; stores are context managers.
* Observational memory (optional per backend, ``supports_observational_memory``): records live
  in ``mastra_observational_memory``, one row per generation; every commit goes through the
  serialized ``_om_update`` hook and the pure mutations of :mod:`mastra_memory.storage.om`; saving a
  new message never places it at or before its scope's observation cursor.
* Key-value memory (``kv_*``, table ``mastra_kv``, primary key ``(namespace, key)``) stores each
  value's JSON text verbatim so every JSON value keeps its type; expired entries are never
  returned; ``kv_increment`` and ``kv_compare_and_set`` are atomic across processes.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn, Self

from mastra_memory import _io_async as _io
from mastra_memory.errors import ResourceMismatchError, ThreadConflictError, ThreadNotFoundError, ValidationError
from mastra_memory.storage import lifecycle_async as lifecycle
from mastra_memory.storage import om as _om
from mastra_memory.storage._base_shared import (
    _ONE_MS,
    _T,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_PAGE,
    Direction,
    MessageQuery,
    PerPage,
    ThreadOrder,
    ThreadQuery,
    _as_id_list,
    _check_time,
    _cutoff,
    _direction,
    _expiry,
    _has_more,
    _include_spec,
    _is_empty,
    _limit,
    _om_missing,
    place_after_newest,
    resolve_owners,
    validate_metadata_filter,
    validate_pagination,
)
from mastra_memory.storage._base_shared import as_list as as_list
from mastra_memory.storage._base_shared import dumps as dumps
from mastra_memory.storage._base_shared import message_json_size as message_json_size
from mastra_memory.storage.kv import (
    DEFAULT_MAX_KV_VALUE_BYTES,
    KV_MISSING,
    KVEntry,
    KVKeyPage,
    KVModifier,
    KVRow,
    KVStats,
    KVWrite,
    canonical_json,
    decode_kv_value,
    encode_kv_value,
    validate_kv_key,
    validate_kv_namespace,
    validate_kv_number,
    validate_kv_prefix,
    validate_kv_ttl,
)
from mastra_memory.storage.om import CommitResult, Mutation, ObservationCommit
from mastra_memory.storage.records import (
    BufferedChunk,
    MessageRef,
    ObservationalMemoryRecord,
    OMScope,
    lookup_key,
)
from mastra_memory.storage.text_search import DEFAULT_LANGUAGE, BM25Corpus, query_words
from mastra_memory.tracing import trace_methods
from mastra_memory.types import (
    CloneResult,
    IncludeSpec,
    Message,
    RecallResult,
    Resource,
    SemanticHit,
    Thread,
    ThreadPage,
    construct,
    gc_paused,
    new_ids,
    now_utc,
    truncate_ms,
    validate_content,
    validate_id,
    validate_json,
    validate_json_object,
    validate_text,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_PAGE",
    "AsyncMemoryStorage",
    "Direction",
    "KVEntry",
    "KVKeyPage",
    "KVStats",
    "MessageQuery",
    "PerPage",
    "ThreadOrder",
    "ThreadQuery",
    "place_after_newest",
    "resolve_owners",
    "validate_metadata_filter",
    "validate_pagination",
]

logger = logging.getLogger(__name__)


class AsyncMemoryStorage(ABC):
    """Abstract storage for threads, messages and resources.

    Subclasses implement the ``_``-prefixed hooks; each runs in one transaction on SQL
    backends. Public methods validate and normalise first, so hooks receive clean input.

    Attributes:
        max_message_bytes: Largest accepted content JSON per message, in bytes (4 MiB).
    """

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    text_search_language: str = DEFAULT_LANGUAGE
    """Language of the keyword index (stemming and stop words; ``"english"``)."""
    keyword_search_native: bool = False
    """True when :meth:`search_messages` runs in the database (an index kept with the messages);
    False for the fallback that ranks the scope's messages in Python."""
    is_embedded: bool = False
    """True when the data lives in this process or a local file (libSQL file, in-memory), so a
    server over it must run a single worker; False for database servers."""
    atomic_replace_messages: bool = False
    """True when :meth:`replace_messages` runs in one transaction (readers never see a mix of
    old and new messages); False for the fallback that saves the new messages, then deletes the
    old ones (a failure never loses the history, but a reader in between may see both)."""
    list_checks_owner: bool = False
    """True when :meth:`_list_messages` itself checks that ``query.resource_id`` owns the thread
    of a one-thread query (raising ``ResourceMismatchError``; libSQL reads the owner in the page
    statement), so :meth:`list_messages` skips its own read of the thread row."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def setup(self) -> None:  # noqa: B027 - optional hook
        """Create or migrate the schema. Idempotent; called lazily on first use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store can not be used afterwards."""

    async def connect(self, *, create: bool = True) -> None:
        """Connect now instead of lazily on first use, so an unreachable server or a missing
        database fails here with one clear :class:`~mastra_memory.errors.StorageError`.

        With ``create=True`` this runs :meth:`setup` (creating or migrating the schema). With
        ``create=False`` (read-only use: ``open_storage(url, create=False)``, the CLI's list and
        show commands) it creates and migrates nothing (no file, table, index or schema); it
        only checks that the schema exists, and later calls skip :meth:`setup`. This default
        implementation has no schema to check (in-process stores, third-party backends that do
        not override it); backends with a schema override it.

        Raises:
            NoDataError: with ``create=False`` when there is no mastra-memory data here.
            StorageError: if the database can not be reached or opened.
        """
        if create:
            await self.setup()

    async def __aenter__(self) -> Self:
        await self.setup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- threads --------------------------------------------------------------------------------

    async def get_thread_by_id(self, thread_id: str) -> Thread | None:
        """Return the thread or ``None``.

        Raises:
            ValidationError: if ``thread_id`` is not a valid id.
        """
        return await self._get_thread(validate_id(thread_id, "thread_id"))

    async def save_thread(self, thread: Thread) -> Thread:
        """Insert or replace a thread (by id) and return it (the original's ``saveThread``).

        A thread never changes owner: replacing one stored under another ``resource_id`` is
        refused, atomically, with nothing written. Prefer :meth:`create_thread` to create: it
        never overwrites.

        Raises:
            ResourceMismatchError: if the id exists and belongs to another resource.
            ValidationError: if ``thread`` is not a Thread.
        """
        if not isinstance(thread, Thread):
            raise ValidationError("save_thread expects a Thread")
        return await self._save_thread(thread)

    async def create_thread(self, thread: Thread) -> Thread:
        """Insert a new thread; never overwrites. One atomic statement or transaction.

        Of two callers (threads, processes or machines) creating the same id, exactly one
        succeeds; the other gets :class:`~mastra_memory.errors.ThreadConflictError` and the
        stored thread, with its owner, is unchanged.

        Raises:
            ThreadConflictError: if a thread with ``thread.id`` exists.
            ValidationError: if ``thread`` is not a Thread.
        """
        if not isinstance(thread, Thread):
            raise ValidationError("create_thread expects a Thread")
        return await self._create_thread(thread)

    async def get_or_create_thread(self, thread: Thread) -> tuple[Thread, bool]:
        """Return ``(stored thread, created)``: the thread with ``thread.id`` if it exists and
        belongs to ``thread.resource_id``, else ``thread`` inserted now.

        Race-safe: when another writer creates the id between the read and the insert, the
        insert-only :meth:`create_thread` loses and the winner's thread is returned (or refused
        if it belongs to another resource). A thread never changes owner.

        Raises:
            ResourceMismatchError: if the thread exists and belongs to another resource.
            ValidationError: if ``thread`` is not a Thread.
        """
        if not isinstance(thread, Thread):
            raise ValidationError("get_or_create_thread expects a Thread")
        for _ in range(8):  # a concurrent delete between the insert and the read: try again
            existing = await self._get_thread(thread.id)
            if existing is None:
                try:
                    return await self._create_thread(thread), True
                except ThreadConflictError:
                    existing = await self._get_thread(thread.id)
                    if existing is None:
                        continue
            if existing.resource_id != thread.resource_id:
                raise ResourceMismatchError(thread.id, existing.resource_id, thread.resource_id)
            return existing, False
        raise ThreadConflictError(thread.id)

    async def update_thread(
        self, thread_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Thread:
        """Change the title and/or merge ``metadata`` (top-level keys) into the thread's.

        Returns:
            The updated thread, with ``updated_at`` set to now.

        Raises:
            ThreadNotFoundError: if the thread does not exist.
            ValidationError: on a bad id or non-JSON metadata.
        """
        validate_id(thread_id, "thread_id")
        if title is not None:
            validate_text(title, "title")
        if metadata is not None:
            validate_json_object(metadata)
        return await self._update_thread(thread_id, title, metadata, now_utc())

    async def set_thread_title_if_empty(self, thread_id: str, title: str) -> bool:
        """Set the thread's title only if it has none yet (``None`` or ``""``), as one atomic
        conditional write, so a title set meanwhile (a user's rename) is never overwritten: what
        :mod:`mastra_memory.titles` stores a generated title with. ``updatedAt`` becomes now
        when the title is set.

        Args:
            thread_id: The thread.
            title: The title (non-empty).

        Returns:
            True when the title was set; False when the thread already had a title or does
            not exist (nothing changed).

        Raises:
            ValidationError: on a bad id or an empty or invalid title (nothing changed).
        """
        validate_id(thread_id, "thread_id")
        validate_text(title, "title")
        if not title:
            raise ValidationError("title must not be empty")
        return await self._set_thread_title_if_empty(thread_id, title, now_utc())

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread with its messages (and observational memory). Idempotent."""
        await self._delete_thread(validate_id(thread_id, "thread_id"))

    async def list_threads(
        self,
        resource_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        page: int = 0,
        per_page: PerPage = 100,
        order_by: ThreadOrder = "created_at",
        direction: Direction = "DESC",
    ) -> ThreadPage:
        """List threads, optionally of one resource and matching all ``metadata`` key/values.

        Args:
            resource_id: Only threads of this resource.
            metadata: Exact matches on top-level metadata keys (AND).
            page: Page number from 0.
            per_page: Page size (100) or ``False`` for all.
            order_by: ``"created_at"`` or ``"updated_at"``; ties are broken by id.
            direction: ``"DESC"`` (newest first, default) or ``"ASC"``.

        Raises:
            ValidationError: on bad pagination, ordering or filter.
        """
        if resource_id is not None:
            validate_id(resource_id, "resource_id")
        validate_pagination(page, per_page)
        if order_by not in ("created_at", "updated_at"):
            raise ValidationError(f"order_by must be 'created_at' or 'updated_at', not {order_by!r}")
        direction = _direction(direction)
        query = ThreadQuery(resource_id, validate_metadata_filter(metadata), page, per_page, order_by, direction)
        threads, total = await self._list_threads(query)
        return ThreadPage(
            threads=threads,
            total=total,
            page=page,
            per_page=per_page,
            has_more=_has_more(page, per_page, total),
        )

    # -- messages -------------------------------------------------------------------------------

    async def save_messages(self, messages: Sequence[Message]) -> list[Message]:
        """Upsert messages (by id) in one transaction and return what was stored.

        System messages are skipped. Messages of one batch that share or go back in time within
        a thread get ``created_at`` moved forward so the batch is strictly increasing (>= 1 ms).
        A message whose ``created_at`` was not given explicitly (the default, "now") is also
        placed after the thread's newest stored message, so appends keep their order.
        A missing ``resource_id`` is filled from the thread.

        Raises:
            ValidationError: on empty or oversized content, an id that exists in another thread.
            ThreadNotFoundError: if a thread does not exist.
            ResourceMismatchError: if a message's resource does not own its thread.
        """
        prepared, after_newest = self._prepare_messages(messages)
        if not prepared:
            return []
        return await self._save_prepared(prepared, now_utc(), after_newest)

    async def check_messages(self, messages: Sequence[Message]) -> None:
        """Validate a batch as :meth:`save_messages` would, without I/O and writing nothing.

        Raises:
            ValidationError: on what :meth:`save_messages` refuses before writing (empty,
                oversized or unstorable content, duplicate ids in the batch, a non-list).
        """
        self._prepare_messages(messages)

    def _prepare_messages(self, messages: Sequence[Message]) -> tuple[list[Message], frozenset[str]]:
        """Validate a batch and order it within itself, without I/O.

        Returns:
            ``(messages to store, thread ids to place after their newest stored message)``: the
            threads whose first message in the batch was auto-stamped (no explicit
            ``created_at``). The placement (:func:`place_after_newest`) needs the stored newest,
            which :meth:`_save_prepared` reads (inside the write transaction where it can).
        """
        if type(messages) is not list and (isinstance(messages, Message) or not isinstance(messages, Iterable)):
            raise ValidationError("save_messages expects a list of Message")  # (a list skips the ABC check)
        out: list[Message] = []
        seen: set[str] = set()
        last_at: dict[str, datetime] = {}
        after_newest: set[str] = set()
        limit = self.max_message_bytes
        for msg in messages:
            if not isinstance(msg, Message):
                raise ValidationError(f"expected Message, got {type(msg).__name__}")
            if msg.role == "system":
                continue
            if msg.id in seen:
                raise ValidationError(f"duplicate message id in batch: {msg.id!r}")
            seen.add(msg.id)
            if _is_empty(msg):
                raise ValidationError(f"message {msg.id!r} has no content")
            validate_content(msg.content, f"message {msg.id!r} content")
            encoded = msg.content.to_json()  # raises ValidationError for non-JSON values
            if len(encoded) * 4 > limit:  # UTF-8 takes at most 4 bytes a character: encode only then
                size = len(encoded.encode("utf-8"))
                if size > limit:
                    raise ValidationError(
                        f"message {msg.id!r} content is {size} bytes, over the limit of {limit} bytes"
                    )
            created = msg.created_at
            if created.microsecond % 1000 or created.tzinfo is not UTC:
                created = truncate_ms(created)
            thread_id = msg.thread_id
            prev = last_at.get(thread_id)
            if prev is None:
                if "created_at" not in msg.__pydantic_fields_set__:
                    # auto-stamped: append after the thread's newest message, so a message created
                    # just after a spaced batch never sorts before that batch's tail
                    after_newest.add(thread_id)
            elif created <= prev:
                created = prev + _ONE_MS
            last_at[thread_id] = created
            if created != msg.created_at:
                msg = msg.model_copy(update={"created_at": created})
            private = msg.__pydantic_private__
            if private is not None:
                private["_content_json"] = encoded  # encoded once; adapters write it via content_json()
            else:
                msg._content_json = encoded
            out.append(msg)
        return out, frozenset(after_newest)

    async def _save_prepared(
        self, messages: list[Message], now: datetime, after_newest: frozenset[str]
    ) -> list[Message]:
        """Store a prepared batch: place the messages of ``after_newest`` threads after each
        thread's newest stored message (:func:`place_after_newest`), then :meth:`_save_messages`.

        This default reads the newest with :meth:`_last_created_at` before the write. A backend
        that can read it inside its write transaction (no extra round trip, no race with another
        writer) overrides this hook and applies :func:`place_after_newest` there.
        """
        if after_newest:
            newest: dict[str, datetime] = {}
            for thread_id in sorted(after_newest):
                stored_last = await self._last_created_at(thread_id)
                if stored_last is not None:
                    newest[thread_id] = stored_last
            messages = place_after_newest(messages, newest)
        return await self._save_messages(messages, now)

    async def _last_created_at(self, thread_id: str) -> datetime | None:
        """``created_at`` of the thread's newest message (backends may override with a cheaper query)."""
        messages, _ = await self._list_messages(MessageQuery((thread_id,), None, 0, 1, "DESC"))
        return messages[-1].created_at if messages else None

    async def list_messages(
        self,
        thread_id: str | Sequence[str],
        resource_id: str | None = None,
        include: Sequence[IncludeSpec | dict[str, Any]] | None = None,
        per_page: PerPage = 40,
        page: int = 0,
        direction: Direction = "DESC",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> RecallResult:
        """Return a page of messages of one or more threads plus ``include`` windows.

        Args:
            thread_id: One thread id or several.
            resource_id: If given, every thread must belong to it.
            include: Messages to add with neighbours from their own thread.
            per_page: Page size (40) or ``False`` for all; 0 returns only the includes.
            page: Page number from 0.
            direction: ``"DESC"`` pages from the newest end, ``"ASC"`` from the oldest.
            start: Only messages created at or after this time.
            end: Only messages created at or before this time.

        Returns:
            The page united with the include windows, deduplicated by id, oldest first.

        Raises:
            ValidationError, ResourceMismatchError: on bad input.
        """
        ids = (thread_id,) if isinstance(thread_id, str) else tuple(as_list(thread_id, "thread_id"))
        if not ids:
            raise ValidationError("list_messages needs at least one thread id")
        for tid in ids:
            validate_id(tid, "thread_id")
        if resource_id is not None:
            validate_id(resource_id, "resource_id")
            if not (self.list_checks_owner and len(ids) == 1):
                for tid in ids:
                    thread = await self._get_thread(tid)
                    if thread is not None and thread.resource_id != resource_id:
                        raise ResourceMismatchError(tid, thread.resource_id, resource_id)
        validate_pagination(page, per_page)
        specs = tuple(_include_spec(s) for s in (as_list(include, "include") if include else ()))
        for spec in specs:
            validate_id(spec.id, "include id")
        query = MessageQuery(
            ids,
            resource_id,
            page,
            per_page,
            _direction(direction),
            _check_time(start, "start"),
            _check_time(end, "end"),
            specs,
        )
        messages, total = await self._list_messages(query)
        return RecallResult(
            messages=messages,
            total=total,
            page=page,
            per_page=per_page,
            has_more=_has_more(page, per_page, total),
        )

    async def list_messages_by_resource_id(
        self, resource_id: str, per_page: PerPage = 40, page: int = 0, direction: Direction = "DESC"
    ) -> RecallResult:
        """Messages of every thread of a resource, paged like :meth:`list_messages`."""
        validate_id(resource_id, "resource_id")
        validate_pagination(page, per_page)
        messages, total = await self._list_messages_by_resource(resource_id, per_page, page, _direction(direction))
        return RecallResult(
            messages=messages,
            total=total,
            page=page,
            per_page=per_page,
            has_more=_has_more(page, per_page, total),
        )

    async def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        """Return the messages with these ids that exist, oldest first."""
        ids = [validate_id(i, "message id") for i in _as_id_list(message_ids)]
        return await self._list_messages_by_id(ids) if ids else []

    async def delete_messages(self, message_ids: Sequence[str]) -> None:
        """Delete messages by id (unknown ids are ignored), in one transaction."""
        ids = [validate_id(i, "message id") for i in _as_id_list(message_ids)]
        if ids:
            await self._delete_messages(ids)

    async def pop_newest_message(self, thread_id: str, resource_id: str | None = None) -> Message | None:
        """Delete the thread's newest message and return it, atomically: concurrent pops of one
        thread return distinct messages, and every pop that returns a message deleted it.

        The newest message is read, then deleted by a delete that reports whether it removed
        the row; a pop that lost the row to a concurrent pop reads the newest again (MongoDB:
        one ``find_one_and_delete``). A third-party backend whose :meth:`_delete_messages`
        returns ``None`` (it can not tell) pops without that guarantee.

        Args:
            thread_id: The thread.
            resource_id: If given, must own the thread.

        Returns:
            The deleted message, or ``None`` when the thread is empty or does not exist.

        Raises:
            ValidationError: on a bad id.
            ResourceMismatchError: if ``resource_id`` does not own the thread.
        """
        validate_id(thread_id, "thread_id")
        if resource_id is not None:
            validate_id(resource_id, "resource_id")
            thread = await self._get_thread(thread_id)
            if thread is not None and thread.resource_id != resource_id:
                raise ResourceMismatchError(thread_id, thread.resource_id, resource_id)
        return await self._pop_newest_message(thread_id)

    async def _pop_newest_message(self, thread_id: str) -> Message | None:
        """Read the newest message, delete it by id, and read again when a concurrent delete
        took it (:meth:`_delete_messages` reported 0). Backends with an atomic
        find-and-delete override this."""
        query = MessageQuery((thread_id,), None, 0, 1, "DESC")
        while True:
            newest, _ = await self._list_messages(query)
            if not newest:
                return None
            deleted = await self._delete_messages([newest[-1].id])
            if deleted is None or deleted > 0:
                return newest[-1]
            # a concurrent pop (or delete) took it first: the next newest is ours to try

    async def replace_messages(self, thread_id: str, messages: Sequence[Message]) -> list[Message]:
        """Replace every message of a thread with ``messages`` in one transaction: a reader sees
        the old messages or the new ones, never a mix, and a failure changes nothing.

        The new messages are validated and ordered as :meth:`save_messages` does (their
        ``created_at`` kept, made strictly increasing within the batch); the thread's
        ``updated_at`` is bumped when messages are stored. Backends with
        :attr:`atomic_replace_messages` False replace in two steps (new saved, then old deleted).

        Args:
            thread_id: The thread (it must exist).
            messages: The new messages, all of ``thread_id``; ``[]`` empties the thread.

        Returns:
            What was stored (system messages skipped, resource ids filled from the thread).

        Raises:
            ValidationError: on bad input, or a message of another thread or whose id exists
                in another thread.
            ThreadNotFoundError: if the thread does not exist.
            ResourceMismatchError: if a message's resource does not own the thread.
        """
        validate_id(thread_id, "thread_id")
        prepared, _ = self._prepare_messages(messages)
        for msg in prepared:
            if msg.thread_id != thread_id:
                raise ValidationError(f"message {msg.id!r} belongs to thread {msg.thread_id!r}, not {thread_id!r}")
        thread = await self._get_thread(thread_id)
        if thread is None:
            raise ThreadNotFoundError(thread_id)
        stored = resolve_owners(prepared, {thread_id: thread.resource_id})
        return await self._replace_messages(thread, stored, now_utc())

    async def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        """Delete the thread's messages and store ``messages`` (validated, owned, ordered) in one
        transaction. The backends of this package override it; this default (for third-party
        backends) saves the new messages first, then deletes the old ones: a failure never loses
        the history, but a reader in between may see both."""
        old, _ = await self._list_messages(MessageQuery((thread.id,), None, 0, False, "ASC"))
        keep = {m.id for m in messages}
        stored = await self._save_messages(messages, now) if messages else []
        gone = [m.id for m in old if m.id not in keep]
        if gone:
            await self._delete_messages(gone)
        return stored

    # -- keyword search ---------------------------------------------------------------------------

    async def search_messages(
        self,
        query: str,
        *,
        resource_id: str | None = None,
        thread_id: str | None = None,
        limit: int = 50,
    ) -> list[SemanticHit]:
        """Keyword search over one resource's or one thread's messages, best first.

        Runs in the database where the backend keeps a full-text index updated in the same
        transaction as the messages (libSQL FTS5 with ``bm25()``, PostgreSQL ``tsvector``,
        MongoDB token arrays, the in-memory store's incremental BM25), so every process sees a
        saved message at once. The query's words (lowercase, stop words removed; see
        :func:`~mastra_memory.storage.text_search.query_words`) are OR-ed; scores are the
        backend's relevance (higher is better) and comparable only within one result.

        Args:
            query: Free text.
            resource_id: Search this resource's messages (give exactly one scope).
            thread_id: Search this thread's messages.
            limit: Hits wanted (1-1000, default 50).

        Returns:
            Up to ``limit`` hits ``(message_id, thread_id, score)``; ``[]`` when the query has
            no searchable word.

        Raises:
            ValidationError: ``query`` is not a string, not exactly one scope is given, an id
                is invalid, or ``limit`` is out of range.
        """
        if not isinstance(query, str):
            raise ValidationError("query must be a string")
        if (resource_id is None) == (thread_id is None):
            raise ValidationError("give exactly one of resource_id and thread_id")
        if resource_id is not None:
            validate_id(resource_id, "resource_id")
        if thread_id is not None:
            validate_id(thread_id, "thread_id")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationError("limit must be an integer from 1 to 1000")
        words = query_words(query, self.text_search_language)
        if not words:
            return []
        return await self._search_messages(words, resource_id, thread_id, limit)

    async def ensure_keyword_index(self) -> bool:
        """Build the keyword index now where the backend builds it on first use, so the first
        :meth:`search_messages` does not pay for it. Idempotent and safe under concurrent
        callers (processes included).

        libSQL (file and sqld) builds its FTS5 index on first use: a database that is never
        searched by keyword pays nothing for it on its writes (about 70 us and 8 WAL pages per
        single-message save, measured in ``benchmarks/mastra_compare.py``). Building indexes
        every stored message in one transaction; from then on, triggers keep the index in the
        same transaction as every write, whichever program writes. Other backends keep their
        index from setup: for them this is a no-op.

        Returns:
            ``True`` when this call built the index, ``False`` when it already existed or the
            backend keeps one from setup.

        Raises:
            StorageError: the database could not be written.
        """
        return False

    async def _search_messages(
        self, words: list[str], resource_id: str | None, thread_id: str | None, limit: int
    ) -> list[SemanticHit]:
        """Rank the scope's messages for ``words`` (:func:`query_words` output).

        Default (a backend without a full-text index): reads the scope's messages and ranks them
        with BM25 in Python, which costs a read of the whole scope per query. Backends override
        it with a search inside the database.
        """
        if resource_id is not None:
            messages = (await self.list_messages_by_resource_id(resource_id, per_page=False, direction="ASC")).messages
        else:
            messages = (await self.list_messages(str(thread_id), per_page=False, direction="ASC")).messages
        corpus = BM25Corpus(language=self.text_search_language)
        for m in messages:
            if m.role != "system" and m.text:
                corpus.add(m.id, m.thread_id, m.text)
        return [
            SemanticHit(message_id=mid, thread_id=tid, score=score)
            for mid, tid, score in corpus.search(" ".join(words), limit)
        ]

    # -- resources ------------------------------------------------------------------------------

    async def get_resource_by_id(self, resource_id: str) -> Resource | None:
        """Return the resource row or ``None``."""
        return await self._get_resource(validate_id(resource_id, "resource_id"))

    async def save_resource(self, resource: Resource) -> Resource:
        """Insert or replace a resource row."""
        if not isinstance(resource, Resource):
            raise ValidationError("save_resource expects a Resource")
        return await self._save_resource(resource)

    async def update_resource(
        self, resource_id: str, working_memory: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Resource:
        """Set working memory and/or merge metadata; the row is created on first update."""
        validate_id(resource_id, "resource_id")
        if working_memory is not None:
            validate_text(working_memory, "working_memory")
        if metadata is not None:
            validate_json_object(metadata)
        return await self._update_resource(resource_id, working_memory, metadata, now_utc())

    # -- erasure and retention (algorithms in mastra_memory.storage.lifecycle) ------------------

    async def delete_resource(self, resource_id: str) -> dict[str, int]:
        """Erase everything stored for a resource: its threads with their messages and
        observational memory, clones of those threads in other resources (transitively), stray
        messages stamped with the resource, its resource-scope observational memory and its row
        (working memory, metadata). Other resources are untouched. Idempotent.

        Atomic on backends that override :meth:`_delete_resource` with one transaction (libSQL,
        PostgreSQL); elsewhere resumable: each step is atomic and calling again finishes an
        interrupted erasure. Vectors live in a separate store:
        :meth:`mastra_memory.Memory.delete_resource` removes those too.

        Args:
            resource_id: The resource (user) to erase.

        Returns:
            Counts ``{"threads": n, "clones": n, "resources": 0 | 1}``.

        Raises:
            ValidationError: if ``resource_id`` is not a valid id (nothing is deleted).
        """
        validate_id(resource_id, "resource_id")
        own = await lifecycle.resource_thread_ids(self, resource_id)
        clones = await lifecycle.clone_thread_ids(self, own, resource_id)
        return await self._delete_resource(resource_id, clones)

    async def prune_threads(self, updated_before: datetime, limit: int = 500) -> list[str]:
        """Delete up to ``limit`` threads last updated before ``updated_before`` (oldest first),
        each with its messages and observational memory, and return their ids.

        Raises:
            ValidationError: on a naive datetime or a limit below 1.
        """
        return await self._prune_threads(_cutoff(updated_before), _limit(limit))

    async def prune_messages(self, created_before: datetime, limit: int = 500) -> list[str]:
        """Delete up to ``limit`` messages created before ``created_before`` (oldest first) and
        return their ids.

        Raises:
            ValidationError: on a naive datetime or a limit below 1.
        """
        return await self._prune_messages(_cutoff(created_before), _limit(limit))

    async def prune_resources(self, updated_before: datetime, limit: int = 500) -> list[str]:
        """Delete up to ``limit`` resource rows (working memory and metadata) last updated
        before ``updated_before`` and return their ids. Threads are not touched (they have
        their own retention).

        Raises:
            ValidationError: on a naive datetime or a limit below 1.
        """
        return await self._prune_resources(_cutoff(updated_before), _limit(limit))

    async def prune_observational_memory_history(self, created_before: datetime, limit: int = 500) -> int:
        """Delete up to ``limit`` superseded observational-memory generations created before
        ``created_before``; the current generation (head) of every record is always kept.
        Returns the number deleted (0 on stores without observational memory).

        Raises:
            ValidationError: on a naive datetime or a limit below 1.
        """
        cutoff, n = _cutoff(created_before), _limit(limit)
        return await self._prune_om_history(cutoff, n) if self.supports_observational_memory else 0

    async def _delete_resource(self, resource_id: str, clone_thread_ids: list[str]) -> dict[str, int]:
        """Erase a resource (see :meth:`delete_resource`); ``clone_thread_ids`` are the clones
        found in other resources, deepest first. Default: the resumable step-by-step algorithm
        of :func:`mastra_memory.storage.lifecycle.generic_delete_resource`."""
        return await lifecycle.generic_delete_resource(self, resource_id, clone_thread_ids)

    async def _delete_resource_row(self, resource_id: str) -> None:
        """Delete the ``mastra_resources`` row (a missing one is not an error)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _delete_resource_row")

    async def _prune_threads(self, updated_before: datetime, limit: int) -> list[str]:
        return await lifecycle.generic_prune_threads(self, updated_before, limit)

    async def _prune_messages(self, created_before: datetime, limit: int) -> list[str]:
        return await lifecycle.generic_prune_messages(self, created_before, limit)

    async def _prune_resources(self, updated_before: datetime, limit: int) -> list[str]:
        return await lifecycle.generic_prune_resources(self, updated_before, limit)

    async def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        """Delete superseded generations (never a head) created before the cutoff."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _prune_om_history")

    # -- working memory (atomic read-modify-write) ----------------------------------------------

    async def update_working_memory_atomic(
        self,
        fn: Callable[[str | None], str | None],
        *,
        resource_id: str | None = None,
        thread_id: str | None = None,
    ) -> str | None:
        """Read, transform and write working memory as one atomic step.

        Exactly one of ``resource_id`` (``mastra_resources.workingMemory``; the row is created
        when missing) and ``thread_id`` (``thread.metadata["workingMemory"]``) is given.
        ``fn(current)`` returns the new value, or ``None`` to leave it unchanged; it must be
        quick and free of I/O because it runs inside the transaction (SQL backends) or under
        the key's lock. If ``fn`` raises, nothing is written and the error propagates (a
        non-library exception may arrive wrapped in ``StorageError`` by SQL backends).

        Backends override :meth:`_update_working_memory_atomic` with a transaction
        (``BEGIN IMMEDIATE`` on libSQL, ``SELECT ... FOR UPDATE`` on PostgreSQL), which makes it
        atomic across processes; the default here serialises per key within one process only.

        Returns:
            The value stored after the call.

        Raises:
            ValidationError: on bad ids or unless exactly one id is given.
            ThreadNotFoundError: for a thread that does not exist.
        """
        if (resource_id is None) == (thread_id is None):
            raise ValidationError("give exactly one of resource_id and thread_id")
        if not callable(fn):
            raise ValidationError("fn must be callable")

        def checked(current: str | None) -> str | None:  # the new value is checked inside the transaction
            new = fn(current)
            return None if new is None else validate_text(new, "working memory")

        if resource_id is not None:
            rid = validate_id(resource_id, "resource_id")
            return await self._update_working_memory_atomic("resource", rid, checked, now_utc())
        return await self._update_working_memory_atomic(
            "thread", validate_id(thread_id, "thread_id"), checked, now_utc()
        )

    async def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        async with self._key_lock(f"{scope}:{key}"):
            if scope == "thread":
                thread = await self._get_thread(key)
                if thread is None:
                    raise ThreadNotFoundError(key)
                raw = thread.metadata.get("workingMemory")
                current = raw if isinstance(raw, str) else None
                new = fn(current)
                if new is not None and new != current:
                    await self._update_thread(key, None, {"workingMemory": new}, now)
                    return new
                return current
            resource = await self._get_resource(key)
            current = resource.working_memory if resource is not None else None
            new = fn(current)
            if new is not None and new != current:
                await self._update_resource(key, new, None, now)
                return new
            return current

    def _key_lock(self, key: str) -> Any:
        """One of this store's 64 striped locks (bounded memory, unlike a lock per key; original
        issue #13389): a ``threading.Lock`` on the sync face, an ``asyncio.Lock`` on the async."""
        locks = self.__dict__.get("_key_locks")
        if locks is None:
            locks = self.__dict__.setdefault("_key_locks", tuple(_io.Lock() for _ in range(64)))
        return locks[zlib.crc32(key.encode("utf-8")) % len(locks)]

    # -- clone ----------------------------------------------------------------------------------

    async def clone_thread(
        self,
        source_thread_id: str,
        new_thread: Thread,
        message_limit: int | None = None,
        message_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> CloneResult:
        """Copy a thread's messages (optionally the newest ``message_limit``, or selected) into
        ``new_thread``, in one transaction. Message ids are new; order and times are kept.

        Raises:
            ThreadNotFoundError: if the source does not exist.
            ValidationError: if ``new_thread.id`` already exists or a limit is negative.
        """
        validate_id(source_thread_id, "source_thread_id")
        if not isinstance(new_thread, Thread):
            raise ValidationError("clone_thread expects a Thread as new_thread")
        if message_limit is not None and (
            isinstance(message_limit, bool) or not isinstance(message_limit, int) or message_limit < 0
        ):
            raise ValidationError(f"message_limit must be an integer >= 0, got {message_limit!r}")
        start, end = _check_time(start, "start"), _check_time(end, "end")
        if message_ids is not None:
            message_ids = [validate_id(i, "message id") for i in _as_id_list(message_ids)]
        source = await self._get_thread(source_thread_id)
        if source is None:
            raise ThreadNotFoundError(source_thread_id)
        if await self._get_thread(new_thread.id) is not None:  # fail before reading the source's messages;
            raise ThreadConflictError(new_thread.id)  # the insert below refuses a racing creator too
        with gc_paused():  # 2 x N objects built at once: see gc_paused
            return await self._clone(source_thread_id, new_thread, message_limit, message_ids, start, end)

    async def _clone(
        self,
        source_thread_id: str,
        new_thread: Thread,
        message_limit: int | None,
        message_ids: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
    ) -> CloneResult:
        result, _ = await self._list_messages(
            MessageQuery(
                (source_thread_id,),
                None,
                0,
                False,
                "ASC",
                truncate_ms(start) if start else None,
                truncate_ms(end) if end else None,
            )
        )
        if message_ids is not None:
            wanted = set(_as_id_list(message_ids))
            result = [m for m in result if m.id in wanted]
        if message_limit is not None:
            result = result[len(result) - message_limit :] if message_limit else []
        id_map = dict(zip((m.id for m in result), new_ids(len(result)), strict=True))
        copies = [
            construct(
                Message,
                {"_content_json": m.content_json()},
                id=id_map[m.id],
                thread_id=new_thread.id,
                resource_id=new_thread.resource_id,
                role=m.role,
                created_at=m.created_at,
                content=m.content,
                type=m.type,
            )
            for m in result
        ]
        thread = await self._clone_into(new_thread, copies, id_map)
        return CloneResult(thread=thread, cloned_messages=copies, message_id_map=id_map)

    async def _clone_into(self, thread: Thread, copies: list[Message], id_map: dict[str, str]) -> Thread:
        """Insert the clone thread and its message copies in one transaction.

        ``id_map`` maps each source message id to its copy's id. The default writes the copies;
        a backend may instead copy the rows inside the database (``INSERT ... SELECT``).
        """
        return await self._insert_thread_with_messages(thread, copies)

    # -- observational memory -------------------------------------------------------------------

    @property
    def supports_observational_memory(self) -> bool:
        """True when the backend implements the ``_om_*`` hooks."""
        return type(self)._om_update is not AsyncMemoryStorage._om_update

    async def list_message_refs(
        self,
        thread_ids: Sequence[str] | None = None,
        resource_id: str | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> list[MessageRef]:
        """Ids and positions (no content) of messages created strictly after ``after``, oldest
        first, from an indexed range scan: of the given threads, or of every thread of
        ``resource_id`` when ``thread_ids`` is None.

        Raises:
            ValidationError: on bad ids, or when neither threads nor a resource are given.
        """
        if thread_ids is None:
            if resource_id is None:
                raise ValidationError("list_message_refs needs thread_ids or resource_id")
            validate_id(resource_id, "resource_id")
            ids: tuple[str, ...] | None = None
        else:
            ids = tuple(validate_id(t, "thread_id") for t in _as_id_list(thread_ids))
            if not ids:
                return []
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_PAGE):
            raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}")
        return await self._list_message_refs(ids, resource_id, _check_time(after, "after"), limit)

    async def message_refs_summary(
        self,
        thread_ids: Sequence[str] | None = None,
        resource_id: str | None = None,
        after: datetime | None = None,
    ) -> tuple[int, int]:
        """``(count, total size)`` of the messages :meth:`list_message_refs` would return: a
        cheap check that a cached list of refs is still complete and unedited."""
        if thread_ids is None:
            if resource_id is None:
                raise ValidationError("message_refs_summary needs thread_ids or resource_id")
            validate_id(resource_id, "resource_id")
            ids: tuple[str, ...] | None = None
        else:
            ids = tuple(validate_id(t, "thread_id") for t in _as_id_list(thread_ids))
        return await self._message_refs_summary(ids, resource_id, _check_time(after, "after"))

    async def get_observational_memory(
        self, thread_id: str | None, resource_id: str | None = None
    ) -> ObservationalMemoryRecord | None:
        """The head (newest generation) of a thread's record, or of a resource's record when
        ``thread_id`` is None; ``None`` when there is none.

        Raises:
            ValidationError: on bad ids.
        """
        return await self._om_head(self._om_key(thread_id, resource_id))

    async def get_observational_memory_history(
        self, thread_id: str | None, resource_id: str | None = None, limit: int = 10, offset: int = 0
    ) -> list[ObservationalMemoryRecord]:
        """Generations of a record, newest first (``limit`` rows after skipping ``offset``)."""
        validate_pagination(0, limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValidationError("offset must be an integer >= 0")
        return await self._om_history(self._om_key(thread_id, resource_id), limit, offset)

    async def commit_observations(self, commit: ObservationCommit) -> CommitResult:
        """Append observations covering ``commit.messages`` and advance the cursor, atomically.

        Creates the record on first use. Rejected (nothing written) when any covered message is
        already observed; see :func:`mastra_memory.storage.om.observe_mutation`.
        """
        key = self._om_key_for(commit.scope, commit.thread_id, commit.resource_id)
        return await self._om_update(key, _om.observe_mutation(commit))

    async def buffer_observation_chunk(
        self,
        scope: OMScope,
        thread_id: str | None,
        resource_id: str,
        chunk: BufferedChunk,
        messages: Sequence[MessageRef],
        config: dict[str, Any] | None = None,
    ) -> CommitResult:
        """Store a background-observed chunk for later activation (see
        :func:`mastra_memory.storage.om.buffer_chunk_mutation`)."""
        key = self._om_key_for(scope, thread_id, resource_id)
        validate_json(chunk.model_dump(mode="json", by_alias=True), "buffered chunk")
        return await self._om_update(
            key, _om.buffer_chunk_mutation(chunk, list(messages), scope, thread_id, resource_id, config or {})
        )

    async def activate_observation_chunks(
        self, scope: OMScope, thread_id: str | None, resource_id: str, chunk_ids: Sequence[str]
    ) -> CommitResult:
        """Move buffered chunks into the active observations and advance the cursor."""
        return await self._om_update(
            self._om_key_for(scope, thread_id, resource_id), _om.activate_chunks_mutation(list(chunk_ids))
        )

    async def commit_reflection(
        self,
        scope: OMScope,
        thread_id: str | None,
        resource_id: str,
        base_generation: int,
        base_observations: str,
        reflection: str,
    ) -> CommitResult:
        """Create a new generation from a reflection of ``base_observations`` (the head's text
        when the Reflector read it); the old generation is kept as history."""
        if not reflection.strip():
            raise ValidationError("a reflection must not be empty")
        return await self._om_update(
            self._om_key_for(scope, thread_id, resource_id),
            _om.reflect_mutation(base_generation, base_observations, reflection),
        )

    async def buffer_reflection(
        self,
        scope: OMScope,
        thread_id: str | None,
        resource_id: str,
        base_generation: int,
        line_count: int,
        reflection: str,
        reflection_tokens: int,
        input_tokens: int,
    ) -> CommitResult:
        """Store a background reflection of the head's first ``line_count`` lines."""
        if not reflection.strip() or line_count <= 0:
            raise ValidationError("a buffered reflection needs text and a positive line count")
        return await self._om_update(
            self._om_key_for(scope, thread_id, resource_id),
            _om.buffer_reflection_mutation(base_generation, line_count, reflection, reflection_tokens, input_tokens),
        )

    async def activate_buffered_reflection(
        self, scope: OMScope, thread_id: str | None, resource_id: str
    ) -> CommitResult:
        """Turn the head's buffered reflection into a new generation."""
        return await self._om_update(
            self._om_key_for(scope, thread_id, resource_id), _om.activate_reflection_mutation()
        )

    async def om_lease(
        self,
        kind: str,
        owner: str,
        scope: OMScope,
        thread_id: str | None,
        resource_id: str,
        ttl_seconds: float = 120.0,
        release: bool = False,
        config: dict[str, Any] | None = None,
    ) -> bool:
        """Claim or release a lease that keeps other processes from running the same model
        call (``kind``) for a record; a hint that saves work, never a lock commits rely on.

        Returns:
            True when ``owner`` holds the lease now (or released it).
        """
        if ttl_seconds <= 0:
            raise ValidationError("ttl_seconds must be positive")
        return await self._om_update(
            self._om_key_for(scope, thread_id, resource_id),
            _om.lease_mutation(kind, owner, ttl_seconds, release, scope, thread_id, resource_id, config or {}),
        )

    async def copy_observational_memory(
        self,
        source: ObservationalMemoryRecord,
        source_thread_id: str,
        thread_id: str,
        resource_id: str,
        message_id_map: Mapping[str, str],
        copies: Sequence[MessageRef],
    ) -> CommitResult:
        """Copy a record's head for a cloned thread, atomically (used by
        :meth:`mastra_memory.Memory.clone_thread`).

        A thread-scope ``source`` is copied to ``thread:<thread_id>``, a resource-scope one to
        ``resource:<resource_id>``, with message ids remapped, the cursor rebuilt over the
        copies, ``<thread id>`` tags of ``source_thread_id`` rewritten, the ``is_*`` hints
        reset and a new record id; into an existing record it is appended instead. See
        :func:`mastra_memory.storage.om.copy_record_mutation` for the exact rules.

        Args:
            source: The source head record.
            source_thread_id: The thread that was cloned.
            thread_id: The clone (must exist).
            resource_id: The clone's resource.
            message_id_map: Source message id -> id of its copy in the clone.
            copies: Refs of the clone's messages (``created_at`` as in the source).

        Returns:
            The commit result with the clone's record.

        Raises:
            ValidationError: on bad ids, or a resource-scope copy onto its own resource (the
                record is shared already).
        """
        validate_id(source_thread_id, "source_thread_id")
        key = self._om_key_for(source.scope, thread_id, resource_id)
        if key == source.lookup_key:
            raise ValidationError(f"observational memory {key!r} cannot be copied onto itself")
        return await self._om_update(
            key,
            _om.copy_record_mutation(
                source, source_thread_id, thread_id, resource_id, dict(message_id_map), list(copies)
            ),
        )

    async def clear_observational_memory(self, thread_id: str | None, resource_id: str | None = None) -> None:
        """Delete every generation of a thread's (or, with ``thread_id=None``, a resource's)
        record. Idempotent."""
        await self._om_delete(self._om_key(thread_id, resource_id))

    def _om_key(self, thread_id: str | None, resource_id: str | None) -> str:
        if thread_id is not None:
            return lookup_key("thread", validate_id(thread_id, "thread_id"), None)
        if resource_id is None:
            raise ValidationError("observational memory needs a thread_id or a resource_id")
        return lookup_key("resource", None, validate_id(resource_id, "resource_id"))

    def _om_key_for(self, scope: OMScope, thread_id: str | None, resource_id: str) -> str:
        validate_id(resource_id, "resource_id")
        if scope == "thread":
            if thread_id is None:
                raise ValidationError("thread-scope observational memory needs a thread_id")
            return lookup_key("thread", validate_id(thread_id, "thread_id"), None)
        if scope != "resource":
            raise ValidationError(f"scope must be 'thread' or 'resource', not {scope!r}")
        return lookup_key("resource", None, resource_id)

    # -- hooks for backends ---------------------------------------------------------------------

    @abstractmethod
    async def _get_thread(self, thread_id: str) -> Thread | None: ...

    @abstractmethod
    async def _save_thread(self, thread: Thread) -> Thread: ...

    @abstractmethod
    async def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        """Merge ``metadata`` into the stored metadata atomically (read-modify-write in one
        transaction) and set ``updatedAt=now``; raise ThreadNotFoundError if missing."""

    async def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        """Set ``title`` and ``updatedAt=now`` where the stored title is ``None`` or ``""``, in one
        atomic conditional write; False when the thread is missing or titled. The default
        reads and then updates, which is NOT atomic (a title set between the two is
        overwritten): every bundled backend overrides it; a third-party backend should too."""
        thread = await self._get_thread(thread_id)
        if thread is None or thread.title:
            return False
        await self._update_thread(thread_id, title, None, now)
        return True

    @abstractmethod
    async def _delete_thread(self, thread_id: str) -> None: ...

    @abstractmethod
    async def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        """Return ``(threads of the page, total count)``."""

    @abstractmethod
    async def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        """In one transaction: check threads exist and are owned by each message's resource
        (fill ``resource_id`` from the thread when None), reject ids that exist in another
        thread, upsert, bump ``updatedAt`` of the touched threads to ``now``. Return the stored
        messages (with ``resource_id`` filled)."""

    @abstractmethod
    async def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        """Return ``(page united with include windows, oldest first, total of the page query)``."""

    @abstractmethod
    async def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]: ...

    @abstractmethod
    async def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]: ...

    @abstractmethod
    async def _delete_messages(self, message_ids: list[str]) -> int | None:
        """Delete messages by id in one transaction; return how many existed and were deleted
        (``None`` if the backend can not tell, which makes :meth:`pop_newest_message` not
        atomic)."""

    @abstractmethod
    async def _get_resource(self, resource_id: str) -> Resource | None: ...

    @abstractmethod
    async def _save_resource(self, resource: Resource) -> Resource: ...

    @abstractmethod
    async def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        """Upsert atomically: create the row if missing, merge metadata, set workingMemory
        when not None, ``updatedAt=now``."""

    @abstractmethod
    async def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        """Insert a new thread and its messages in one transaction (used by clone); raise
        :class:`ThreadConflictError` (writing nothing) if the id exists."""

    async def _create_thread(self, thread: Thread) -> Thread:
        """Insert-only: raise :class:`ThreadConflictError` if the id exists. Backends override
        it with one statement (``INSERT ... ON CONFLICT DO NOTHING`` and a row count)."""
        return await self._insert_thread_with_messages(thread, [])

    # -- observational-memory hooks (optional; see mastra_memory.storage.om) --------------------------

    async def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        """Refs of messages with ``createdAt > after`` ordered by ``(createdAt, id)``: of
        ``thread_ids``, or of ``resource_id`` (its ``resourceId`` column) when None."""
        raise NotImplementedError(f"{type(self).__name__} does not implement list_message_refs")

    async def _message_refs_summary(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None
    ) -> tuple[int, int]:
        """Count and summed size of the refs; the default reads the refs themselves."""
        refs = await self._list_message_refs(thread_ids, resource_id, after, None) if thread_ids != () else []
        return len(refs), sum(r.size for r in refs)

    async def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        """The newest generation of ``lookup_key`` or None."""
        raise NotImplementedError(_om_missing(self))

    async def _om_history(
        self, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        """Generations of ``lookup_key``, newest first."""
        raise NotImplementedError(_om_missing(self))

    async def _om_update(self, lookup_key: str, mutation: Mutation[_T]) -> _T:
        """Serialized read-modify-write: in one transaction that excludes every other writer of
        ``lookup_key`` (across processes), read the head, call ``mutation(OMView)``, upsert the
        records it returns (by id), return its result. ``mutation`` may be called again on
        retry. Saving messages must take the same lock and move new messages after the
        cursor (:func:`mastra_memory.storage.om.restamp_after_cursor`)."""
        raise NotImplementedError(_om_missing(self))

    async def _om_delete(self, lookup_key: str) -> None:
        """Delete every generation of ``lookup_key``."""
        raise NotImplementedError(_om_missing(self))

    # -- key-value memory -----------------------------------------------------------------------
    #
    # Namespaced keys holding any JSON value, with optional expiry (table ``mastra_kv``). The
    # public ``kv_*`` methods validate and encode once; backends implement the ``_kv_*`` hooks
    # below, which by default raise NotImplementedError so a backend without key-value support
    # fails clearly. Expired entries are invisible to every read, deleted when a read meets
    # them, and swept in bounded batches at most every ``kv_purge_interval`` seconds by writes
    # (and completely by :meth:`kv_purge_expired`).

    max_kv_value_bytes: int = DEFAULT_MAX_KV_VALUE_BYTES
    kv_purge_interval: float = 60.0
    kv_purge_batch: int = 1000
    _kv_next_purge: float = 0.0

    async def kv_set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``(namespace, key)``, replacing what was there.

        Args:
            namespace: See :func:`~mastra_memory.storage.kv.validate_kv_namespace`.
            key: See :func:`~mastra_memory.storage.kv.validate_kv_key` (1-512 characters).
            value: Any JSON value; it comes back with its type (see :mod:`mastra_memory.storage.kv`).
            ttl: Seconds until the entry expires (finite, > 0); ``None`` (default) never
                expires and clears an earlier expiry.

        Raises:
            ValidationError: on a bad namespace, key, ttl, or a value that is not JSON or is over
                :attr:`max_kv_value_bytes`.
        """
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        seconds = validate_kv_ttl(ttl)
        encoded = encode_kv_value(value, self.max_kv_value_bytes)
        now = now_utc()
        await self._kv_set(ns, k, encoded, _expiry(now, seconds), now)
        await self._kv_maybe_purge(now)

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        """Return the live entry (decoded value and times) or ``None`` if missing or expired."""
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        row = await self._kv_get(ns, k, now_utc())
        if row is None:
            return None
        return KVEntry(ns, k, decode_kv_value(row.value_json), row.expires_at, row.created_at, row.updated_at)

    async def kv_exists(self, namespace: str, key: str) -> bool:
        """True if a live (unexpired) entry exists."""
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        return await self._kv_exists(ns, k, now_utc())

    async def kv_delete(self, namespace: str, key: str) -> bool:
        """Delete an entry. Returns True if a live entry was deleted (idempotent)."""
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        return await self._kv_delete(ns, k, now_utc())

    async def kv_list_keys(
        self, namespace: str, prefix: str | None = None, after_key: str | None = None, limit: int = 1000
    ) -> KVKeyPage:
        """One page of live keys in ascending code-point order (keyset pagination).

        Args:
            namespace: The namespace.
            prefix: Only keys starting with this string (``None`` or ``""``: all).
            after_key: Only keys after this one (the previous page's ``next_after``).
            limit: Page size, 1-10,000 (1,000).

        Returns:
            The keys and ``next_after`` (``None`` on the last page). Pages stay consistent
            under concurrent writes: no key is skipped or repeated because another was added
            or deleted, as there are no offsets.

        Raises:
            ValidationError: on a bad namespace, prefix, cursor or limit.
        """
        ns = validate_kv_namespace(namespace)
        if prefix:
            validate_kv_prefix(prefix)
        if after_key is not None:
            validate_kv_key(after_key)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValidationError(f"limit must be an integer from 1 to 10000, got {limit!r}")
        keys = await self._kv_list_keys(ns, prefix or "", after_key, limit + 1, now_utc())
        if len(keys) > limit:
            return KVKeyPage(keys[:limit], keys[limit - 1])
        return KVKeyPage(keys, None)

    async def kv_clear(self, namespace: str) -> int:
        """Delete every entry of a namespace. Returns how many rows were deleted."""
        return await self._kv_clear(validate_kv_namespace(namespace))

    async def kv_increment(
        self, namespace: str, key: str, by: int | float = 1, ttl: float | None = None
    ) -> int | float:
        """Atomically add ``by`` to a numeric value and return the new value.

        A missing (or expired) key counts as ``0`` and is created, with ``ttl`` if given; an
        existing key keeps its expiry (``ttl`` only applies on creation, like Redis'
        ``INCR`` + ``EXPIRE NX``). ``int + int`` stays an ``int`` (unbounded); a ``float`` on
        either side gives a ``float``. Concurrent increments from threads or processes are never
        lost: the read and the write happen in one backend transaction.

        Raises:
            ValidationError: if ``by`` is not a number, the stored value is not a number
                (``bool`` included), or the result is not finite.
        """
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        step = validate_kv_number(by)
        seconds = validate_kv_ttl(ttl)
        now = now_utc()
        out: list[int | float] = []

        def add(row: KVRow | None) -> KVWrite:
            current: Any = 0 if row is None else decode_kv_value(row.value_json)
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise ValidationError(f"can not increment {ns}/{k}: it holds a {type(current).__name__}, not a number")
            result = current + step
            if isinstance(result, float) and not math.isfinite(result):
                raise ValidationError(f"incrementing {ns}/{k} would give {result!r}")
            out.clear()
            out.append(result)
            expires = _expiry(now, seconds) if row is None else row.expires_at
            return KVWrite(encode_kv_value(result, self.max_kv_value_bytes), expires)

        await self._kv_modify(ns, k, now, add)
        await self._kv_maybe_purge(now)
        return out[0]

    async def kv_compare_and_set(
        self, namespace: str, key: str, expected: Any, new: Any, ttl: float | None = None
    ) -> bool:
        """Atomically replace the value with ``new`` only if it currently equals ``expected``.

        Args:
            expected: The value the entry must hold, compared type-strictly
                (``1 != 1.0 != True``, object key order ignored), or :data:`KV_MISSING` to
                require that the key does not exist (``None`` means a stored JSON ``null``).
            new: The value to store.
            ttl: Expiry of the new value in seconds (``None``: never).

        Returns:
            True if the value was replaced, False if the current value differed.

        Raises:
            ValidationError: on bad input.
        """
        ns, k = validate_kv_namespace(namespace), validate_kv_key(key)
        seconds = validate_kv_ttl(ttl)
        want = (
            None
            if expected is KV_MISSING
            else canonical_json(decode_kv_value(encode_kv_value(expected, self.max_kv_value_bytes)))
        )
        encoded = encode_kv_value(new, self.max_kv_value_bytes)
        now = now_utc()
        swapped: list[bool] = [False]

        def swap(row: KVRow | None) -> KVWrite | None:
            if want is None:
                ok = row is None
            else:
                ok = row is not None and canonical_json(decode_kv_value(row.value_json)) == want
            swapped[0] = ok
            return KVWrite(encoded, _expiry(now, seconds)) if ok else None

        await self._kv_modify(ns, k, now, swap)
        await self._kv_maybe_purge(now)
        return swapped[0]

    async def kv_stats(self, namespace: str) -> KVStats:
        """Live keys and their encoded bytes in a namespace (one indexed range scan)."""
        return await self._kv_stats(validate_kv_namespace(namespace), now_utc())

    async def kv_purge_expired(self) -> int:
        """Delete every expired entry now (all namespaces). Returns how many were deleted."""
        total = 0
        now = now_utc()
        while True:
            deleted = await self._kv_purge_expired(now, self.kv_purge_batch)
            total += deleted
            if deleted < self.kv_purge_batch:
                return total

    async def _kv_maybe_purge(self, now: datetime) -> None:
        """Sweep one bounded batch of expired entries if the purge interval has passed."""
        tick = time.monotonic()
        if tick < self._kv_next_purge:
            return
        self._kv_next_purge = tick + self.kv_purge_interval
        try:
            await self._kv_purge_expired(now, self.kv_purge_batch)
        except Exception:  # never fail a write because housekeeping failed
            logger.warning("purging expired key-value entries failed", exc_info=True)

    # -- key-value hooks (default: not supported) -------------------------------------------------

    def _kv_unsupported(self, hook: str) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__} does not support key-value memory (missing hook {hook}); "
            "use a store that does, such as storage_adapters.libsql.LibSQLStore or "
            "storage_adapters.inmemory.InMemoryStore"
        )

    async def _kv_set(
        self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime
    ) -> None:
        """Upsert the entry (``createdAt`` kept unless the old entry had expired; ``updatedAt=now``)."""
        self._kv_unsupported("_kv_set")

    async def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        """Return the live row or None; an expired row is not returned (and may be deleted)."""
        self._kv_unsupported("_kv_get")

    async def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        """True if a live row exists (default: via :meth:`_kv_get`)."""
        return await self._kv_get(namespace, key, now) is not None

    async def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        """Delete the row; return True if it was live."""
        self._kv_unsupported("_kv_delete")

    async def _kv_list_keys(
        self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime
    ) -> list[str]:
        """Up to ``limit`` live keys ``> after_key`` starting with ``prefix``, ascending in
        code-point order, as an index range (see :func:`~mastra_memory.storage.kv.prefix_upper_bound`)."""
        self._kv_unsupported("_kv_list_keys")

    async def _kv_clear(self, namespace: str) -> int:
        """Delete every row of the namespace; return the count."""
        self._kv_unsupported("_kv_clear")

    async def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        """Atomic read-modify-write: in one transaction that excludes concurrent writers of the
        key (across processes too), read the live row (None if missing or expired), call
        ``modify`` and write what it returns (nothing if None). Exceptions from ``modify`` abort
        the transaction and propagate unchanged."""
        self._kv_unsupported("_kv_modify")

    async def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        """Count live rows and sum their value sizes (bytes of UTF-8) in the namespace."""
        self._kv_unsupported("_kv_stats")

    async def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` rows with ``expiresAt <= now`` (indexed); return the count."""
        self._kv_unsupported("_kv_purge_expired")


# One CLIENT span per public storage call when tracing is on (mastra_memory.tracing; a dict lookup when off).
trace_methods(
    AsyncMemoryStorage,
    [
        name
        for name, value in vars(AsyncMemoryStorage).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ],
)
