"""``Memory``: the facade over storage, vectors, embedders and the memory features.

It holds no SQL and no prompts: storage adapters do I/O, :mod:`mastra_memory.context` turns
what was loaded into chat messages, and the feature modules (working memory, semantic recall,
observational memory) are composed here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mastra_memory import _io_async as _io
from mastra_memory import working_memory as wm
from mastra_memory.config import MemoryConfig, WorkingMemoryConfig
from mastra_memory.context import ThreadTail, TurnContext, TurnInputs, assemble
from mastra_memory.errors import (
    ConfigurationError,
    MastraMemoryError,
    ResourceMismatchError,
    StorageError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage.base import Direction, PerPage, ThreadOrder, as_list
from mastra_memory.storage.threaded import as_async_storage, as_async_vector
from mastra_memory.types import (
    CloneResult,
    IncludeSpec,
    Message,
    RecallResult,
    SemanticHit,
    Thread,
    ThreadPage,
    construct,
    format_timestamp,
    gc_paused,
    new_id,
    now_utc,
    validate_id,
    validate_json_object,
    validate_text,
)

if TYPE_CHECKING:
    from mastra_memory.observational.engine_async import AsyncObservationalMemoryEngine
    from mastra_memory.processors.base import MemoryProcessor
    from mastra_memory.storage.base_async import AsyncMemoryStorage
    from mastra_memory.storage.records import ObservationalMemoryRecord
    from mastra_memory.tools import Tool

__all__ = ["AsyncMemory"]

logger = logging.getLogger(__name__)


class AsyncMemory:
    """Conversation memory: threads, message history, working memory, semantic recall and
    observational memory over a storage adapter.

    ``Memory`` and ``AsyncMemory`` are the two faces of one implementation (``memory.py`` is
    generated from ``memory_async.py``): the same methods, arguments, results and errors, the
    methods of ``AsyncMemory`` being coroutines. ``AsyncMemory`` takes an async store (native
    async PostgreSQL) or any sync store, which it runs in worker threads.

    Args:
        storage: A :class:`~mastra_memory.storage.base.MemoryStorage` (``AsyncMemory`` also
            takes an async store such as ``AsyncPostgresStore``, and runs a sync store's
            primitives in worker threads); default ``open_storage()``, a libSQL file
            ``./mastra.db`` or ``$MASTRA_MEMORY_DB``.
        vector: A vector store, required with semantic recall.
        embedder: An embedder (object or model string such as ``"local/all-minilm-l6-v2"``),
            required with semantic recall.
        options: A :class:`~mastra_memory.config.MemoryConfig` or a dict of its fields.
        processors: Memory processors applied to the history of each turn
            (:class:`~mastra_memory.processors.ToolCallFilter`,
            :class:`~mastra_memory.processors.TokenLimiter`, ...); filters run before limiters.

    Raises:
        ConfigurationError: on an invalid configuration, e.g. semantic recall without
            ``vector`` and ``embedder``.
    """

    def __init__(
        self,
        storage: Any = None,
        vector: Any = None,
        embedder: Any = None,
        options: MemoryConfig | dict[str, Any] | None = None,
        processors: Sequence[MemoryProcessor] | None = None,
    ) -> None:
        try:
            self.config = options if isinstance(options, MemoryConfig) else MemoryConfig.model_validate(options or {})
        except Exception as exc:
            raise ConfigurationError(f"invalid memory options: {exc}") from exc
        self.storage: AsyncMemoryStorage = as_async_storage(storage)
        self.storage.max_message_bytes = self.config.max_message_bytes
        self.vector = as_async_vector(vector)
        self.embedder = embedder
        if self.config.semantic_recall is not False and (vector is None or embedder is None):
            raise ConfigurationError("semantic_recall requires both `vector` and `embedder`")
        self._semantic: Any = None
        if vector is not None and embedder is not None:
            from mastra_memory.semantic_recall_async import AsyncSemanticRecall

            self._semantic = AsyncSemanticRecall(self.storage, self.vector, embedder)
            self.embedder = self._semantic.embedder
        self.processors: list[MemoryProcessor] = list(processors or [])
        for processor in self.processors:
            if not callable(getattr(processor, "process", None)):
                raise ConfigurationError(f"not a memory processor: {processor!r}")
        self._om_engine: AsyncObservationalMemoryEngine | None = None
        self._titles = _io.Background(2, "mastra-title")
        if self.config.observational_memory is not False and not self.storage.supports_observational_memory:
            raise ConfigurationError(
                f"observational_memory needs a store that supports it; {type(self.storage).__name__} does not"
            )

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Wait for background observational-memory work, then close the storage (and vector
        store, if it has ``close``)."""
        if self._om_engine is not None:
            await self._om_engine.close()
        await self._titles.close()
        await self.storage.close()
        if self.vector is not None and hasattr(self.vector, "close"):
            await self.vector.close()

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def resolved_config(self, overrides: MemoryConfig | dict[str, Any] | None = None) -> MemoryConfig:
        """The configuration with per-call ``overrides`` applied."""
        try:
            return self.config.merged(overrides)
        except Exception as exc:
            raise ConfigurationError(f"invalid memory options: {exc}") from exc

    # -- threads --------------------------------------------------------------------------------

    async def create_thread(
        self,
        resource_id: str,
        thread_id: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Thread:
        """Create and store a thread with the store's insert-only primitive (never overwrites).

        Args:
            resource_id: The owning resource.
            thread_id: The id; a UUID4 when omitted.
            title: Title (``""`` by default).
            metadata: JSON metadata.

        Raises:
            ThreadConflictError: if the id already exists (a ``ValidationError``); the existing
                thread and its owner are unchanged, also when two processes race.
            ValidationError: on bad ids or non-JSON metadata.
        """
        return await self.storage.create_thread(self._new_thread(resource_id, thread_id, title, metadata))

    def _new_thread(
        self, resource_id: str, thread_id: str | None, title: str | None, metadata: dict[str, Any] | None
    ) -> Thread:
        """A new thread from checked arguments, built without a second pydantic validation."""
        validate_id(resource_id, "resource_id")
        if thread_id is not None:
            validate_id(thread_id, "thread_id")
        if title is not None:
            validate_text(title, "title")
        meta: dict[str, Any] = {} if metadata is None else dict(validate_json_object(metadata))
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # now_utc(), inline
        return construct(
            Thread,
            id=thread_id or new_id(),
            resource_id=resource_id,
            title=title or "",
            metadata=meta,
            created_at=now,
            updated_at=now,
        )

    async def get_thread_by_id(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        """Return the thread or ``None``.

        Raises:
            ResourceMismatchError: if ``resource_id`` is given and does not own the thread.
        """
        thread = await self.storage.get_thread_by_id(thread_id)
        if thread is not None and resource_id is not None and thread.resource_id != resource_id:
            raise ResourceMismatchError(thread_id, thread.resource_id, resource_id)
        return thread

    async def _require_thread(self, thread_id: str, resource_id: str | None = None) -> Thread:
        thread = await self.get_thread_by_id(thread_id, resource_id)
        if thread is None:
            raise ThreadNotFoundError(thread_id)
        return thread

    async def get_or_create_thread(
        self,
        thread_id: str,
        resource_id: str,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[Thread, bool]:
        """Return ``(thread, created)``: the existing thread (ownership checked) or a new one.

        Race-safe across processes (see :meth:`MemoryStorage.get_or_create_thread`): of two
        creators of one id, one creates it and the other gets that thread, or
        ``ResourceMismatchError`` if it belongs to another resource.

        Raises:
            ResourceMismatchError: if the thread belongs to another resource.
            ValidationError: on bad ids or non-JSON metadata.
        """
        return await self.storage.get_or_create_thread(self._new_thread(resource_id, thread_id, title, metadata))

    async def list_threads(
        self,
        resource_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        page: int = 0,
        per_page: PerPage = 100,
        order_by: ThreadOrder = "created_at",
        direction: Direction = "DESC",
    ) -> ThreadPage:
        """List threads; see :meth:`mastra_memory.storage.base.MemoryStorage.list_threads`."""
        return await self.storage.list_threads(resource_id, metadata, page, per_page, order_by, direction)

    async def update_thread(
        self, thread_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Thread:
        """Set the title and/or merge metadata keys into the thread's metadata.

        Raises:
            ThreadNotFoundError: if the thread does not exist.
        """
        return await self.storage.update_thread(thread_id, title, metadata)

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread with its messages, vectors and observational memory. Idempotent."""
        await self.storage.delete_thread(thread_id)
        if self._semantic is not None:
            await self._semantic.delete_thread(thread_id)

    # -- erasure and retention (mastra_memory.retention) ---------------------------------------

    async def delete_resource(self, resource_id: str) -> dict[str, int]:
        """Erase everything of a resource (user): threads, messages, vectors, working memory,
        observational memory and clones of its threads in other resources. Idempotent; see
        :func:`mastra_memory.retention.delete_resource`.

        Returns:
            ``{"threads": n, "clones": n, "resources": 0 | 1}``.

        Raises:
            ValidationError: if ``resource_id`` is not a valid id.
        """
        from mastra_memory import retention_async

        return await retention_async.delete_resource(self, resource_id)

    async def prune(self, batch_size: int = 500, max_rows: int | None = None) -> dict[str, int]:
        """Delete data older than the ``retention`` ages, in batches of ``batch_size`` rows,
        at most ``max_rows`` (``None``: all); see :func:`mastra_memory.retention.prune`.

        Returns:
            Rows deleted per configured kind.

        Raises:
            ValidationError: on a bad ``batch_size`` or ``max_rows``.
        """
        from mastra_memory import retention_async

        return await retention_async.prune(self, batch_size, max_rows)

    async def summarize_thread(
        self,
        thread_id: str,
        model: Any = None,
        last_messages: int | None = None,
        max_input_tokens: int | None = None,
        instructions: str | None = None,
        resource_id: str | None = None,
    ) -> str:
        """Summarize a stored thread in one shot with the Observer; nothing is written.

        Messages are read newest first, page by page, until ``last_messages`` messages or
        ``max_input_tokens`` estimated tokens (default 1,000,000; the newest message is always
        included) are collected; see :mod:`mastra_memory.summarize`.

        Args:
            thread_id: The thread.
            model: A chat model or model string; default: the observational-memory model.
            last_messages: Only the newest N messages.
            max_input_tokens: Token bound of what is read.
            instructions: Extra guidance for the summarizer.
            resource_id: If given, the thread must belong to it.

        Returns:
            The summary (dense bullet observations); ``""`` for an empty thread.

        Raises:
            ThreadNotFoundError: if the thread does not exist.
            ResourceMismatchError: if it belongs to another resource.
            ValidationError: on bad bounds.
            ConfigurationError: without a model.
            ModelError: if the model failed.
        """
        from mastra_memory import summarize_async

        return await summarize_async.summarize_thread(
            self, thread_id, model, last_messages, max_input_tokens, instructions, resource_id
        )

    # -- messages -------------------------------------------------------------------------------

    async def save_messages(
        self, messages: Sequence[Message], memory_options: MemoryConfig | dict[str, Any] | None = None
    ) -> list[Message]:
        """Upsert messages (by id) in one transaction; system messages are not stored.

        Saved messages are embedded for semantic recall when it is on.

        Raises:
            ValidationError: on bad input (nothing is written).
            ThreadNotFoundError: if a thread does not exist.
            ResourceMismatchError: if a message's resource does not own its thread.
        """
        config = self.config if memory_options is None else self.resolved_config(memory_options)
        if config.read_only:
            return []
        if type(messages) is not list:
            messages = as_list(messages, "messages")
        stored = await self.storage.save_messages(wm.strip_working_memory(messages))
        if self._semantic is not None and stored and config.semantic_recall is not False:
            await self._semantic.index_messages(stored, config.semantic_recall)
        return stored

    async def recall(
        self,
        thread_id: str,
        resource_id: str | None = None,
        vector_search_string: str | None = None,
        per_page: PerPage | None = None,
        page: int = 0,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> RecallResult:
        """Recall history: the newest ``last_messages`` of the thread in chronological order,
        plus semantic hits with their ``message_range`` neighbours, deduplicated by id.

        Args:
            thread_id: The thread.
            resource_id: If given, must own the thread (required for resource-scope recall).
            vector_search_string: Text to search semantically (semantic recall must be on).
            per_page: Page size; ``None`` means ``last_messages``; ``False`` means all.
            page: Page number from 0 (page 0 = newest).
            memory_options: Per-call overrides of the configuration.

        Raises:
            ResourceMismatchError: if ``resource_id`` does not own the thread.
            ValidationError: on bad pagination, or resource-scope recall without a resource.
        """
        config = self.resolved_config(memory_options)
        if per_page is None:
            per_page = 0 if config.last_messages is False else config.last_messages
        search = bool(vector_search_string) and self._semantic is not None and config.semantic_recall is not False
        if not search:
            # storage checks ownership itself when resource_id is given: one query less
            return await self.storage.list_messages(thread_id, resource_id=resource_id, per_page=per_page, page=page)
        thread = await self.get_thread_by_id(thread_id, resource_id)
        sr = config.semantic_recall
        assert sr is not False and self._semantic is not None and vector_search_string
        if sr.scope == "resource" and resource_id is None:
            resource_id = thread.resource_id if thread is not None else None
            if resource_id is None:
                raise ValidationError("resource-scope semantic recall needs a resource_id")
        hits: list[SemanticHit] = await self._semantic.search_hits(vector_search_string, thread_id, resource_id, sr)
        include: list[IncludeSpec] = self._semantic.to_includes(hits, sr)
        if thread is None and not include:
            return RecallResult(messages=[], total=0, page=page, per_page=per_page, has_more=False)
        result = await self.storage.list_messages(thread_id, include=include, per_page=per_page, page=page)
        if hits:
            result = result.model_copy(update={"semantic_hits": hits})
        return result

    async def list_messages(
        self,
        thread_id: str,
        resource_id: str | None = None,
        per_page: PerPage = 40,
        page: int = 0,
        direction: Direction = "DESC",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> RecallResult:
        """Page through a thread's messages (oldest first within the page)."""
        return await self.storage.list_messages(
            thread_id,
            resource_id=resource_id,
            per_page=per_page,
            page=page,
            direction=direction,
            start=start,
            end=end,
        )

    async def delete_messages(self, message_ids: Sequence[str]) -> None:
        """Delete messages (and their vectors) by id; unknown ids are ignored."""
        ids = as_list(message_ids, "message_ids")
        await self.storage.delete_messages(ids)
        if self._semantic is not None:
            await self._semantic.delete_messages([i if isinstance(i, str) else i["id"] for i in ids])

    async def pop_newest_message(self, thread_id: str, resource_id: str | None = None) -> Message | None:
        """Delete the thread's newest message (and its vectors) and return it, atomically:
        concurrent pops return distinct messages (the store's
        :meth:`~mastra_memory.storage.base.MemoryStorage.pop_newest_message`).

        Returns:
            The deleted message, or ``None`` for an empty or unknown thread.

        Raises:
            ValidationError: on a bad id.
            ResourceMismatchError: if ``resource_id`` does not own the thread.
        """
        popped = await self.storage.pop_newest_message(thread_id, resource_id)
        if popped is not None and self._semantic is not None:
            await self._semantic.delete_messages([popped.id])
        return popped

    async def replace_messages(
        self,
        thread_id: str,
        messages: Sequence[Message],
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> list[Message]:
        """Replace every message of a thread in one transaction (the store's
        :meth:`~mastra_memory.storage.base.MemoryStorage.replace_messages`); the old messages'
        vectors are deleted and the new ones embedded when semantic recall is on.

        Raises:
            ValidationError: on bad input, or a message of another thread (nothing changes).
            ThreadNotFoundError: if the thread does not exist.
            ResourceMismatchError: if a message's resource does not own the thread.
        """
        config = self.config if memory_options is None else self.resolved_config(memory_options)
        if config.read_only:
            return []
        if type(messages) is not list:
            messages = as_list(messages, "messages")
        old: list[str] = []
        if self._semantic is not None:
            page = await self.storage.list_messages(thread_id, per_page=False)
            old = [m.id for m in page.messages]
        stored = await self.storage.replace_messages(thread_id, wm.strip_working_memory(messages))
        if self._semantic is not None:
            await self._semantic.delete_messages(old)
            if stored and config.semantic_recall is not False:
                await self._semantic.index_messages(stored, config.semantic_recall)
        return stored

    # -- clones ---------------------------------------------------------------------------------

    async def clone_thread(
        self,
        source_thread_id: str,
        new_thread_id: str | None = None,
        resource_id: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_limit: int | None = None,
        message_filter: dict[str, Any] | None = None,
    ) -> CloneResult:
        """Copy a thread and its messages into a new thread, with its observational memory.

        Messages get new ids and keep their ``created_at``. Thread-scope working memory lives in
        the thread's metadata and is copied with it. Resource-scope working memory (when working
        memory is enabled) is copied to the new resource when ``resource_id`` moves the clone to
        another resource that has none yet; an existing one is kept.

        Observational memory (when the store supports it and the source has a record) is copied
        too, only its head (current generation; older generations are not):

        * The thread's record (thread scope) is copied to the clone's ``thread:<id>`` key.
        * The resource's record (resource scope) is shared already when the clone stays on the
          same resource and is not copied. When ``resource_id`` moves the clone to another
          resource, it is copied to ``resource:<new resource>`` (all of it: it holds the
          observations of every thread of the source resource), or appended to that resource's
          record if it has one.
        * Message ids are remapped to the copies; messages left out by ``message_limit`` or
          ``message_filter`` do not appear, and the cursor is rebuilt over the copies (a copy
          observed in the source is observed in the clone, an unobserved one is not). Buffered
          chunks covering a message that was not copied are dropped. ``<thread id="...">`` tags
          of the source thread (raw or the original's hashed form) are pointed at the clone. The
          ``is_observing``/``is_reflecting``/``is_buffering_*`` hints are reset, leases are not
          copied, and the copy gets a new record id.

        If anything fails after the clone was created (its metadata, the memory copy), the clone
        and its messages are deleted again and the error is raised; messages are embedded for
        semantic recall only after that.

        Args:
            source_thread_id: The thread to copy.
            new_thread_id: Id of the clone (UUID4 when omitted).
            resource_id: Owner of the clone (default: the source's owner).
            title: Title (default ``"Clone of <source title>"``).
            metadata: Extra metadata, merged over the source's; ``metadata["clone"]`` records
                ``sourceThreadId``, ``clonedAt`` and ``lastMessageId``.
            message_limit: Keep only the newest N messages.
            message_filter: ``{"start_date", "end_date", "message_ids"}`` selection.

        Raises:
            ThreadNotFoundError: if the source does not exist.
            ValidationError: if ``new_thread_id`` exists or arguments are invalid.
            StorageError: if copying failed (the clone was rolled back); errors of this library
                are raised as they are.
        """
        with gc_paused():  # a clone builds several objects per message: see gc_paused
            return await self._clone_thread(
                source_thread_id, new_thread_id, resource_id, title, metadata, message_limit, message_filter
            )

    async def _clone_thread(
        self,
        source_thread_id: str,
        new_thread_id: str | None,
        resource_id: str | None,
        title: str | None,
        metadata: dict[str, Any] | None,
        message_limit: int | None,
        message_filter: dict[str, Any] | None,
    ) -> CloneResult:
        source = await self._require_thread(source_thread_id)
        if message_filter is not None and not isinstance(message_filter, dict):
            raise ValidationError(f"message_filter must be a dict, got {type(message_filter).__name__}")
        if new_thread_id is not None:
            validate_id(new_thread_id, "new_thread_id")
        if resource_id is not None:
            validate_id(resource_id, "resource_id")
        if title is not None:
            validate_text(title, "title")
        flt = dict(message_filter or {})
        unknown = set(flt) - {"start_date", "end_date", "message_ids", "startDate", "endDate", "messageIds"}
        if unknown:
            raise ValidationError(f"unknown message_filter keys: {sorted(unknown)}")
        if metadata is not None:
            validate_json_object(metadata)
        now = now_utc()
        base_meta = {k: v for k, v in source.metadata.items() if k != "clone"}
        thread = Thread(
            id=new_thread_id or new_id(),
            resource_id=resource_id or source.resource_id,
            title=title if title is not None else (f"Clone of {source.title}" if source.title else ""),
            metadata={**base_meta, **(metadata or {})},
            created_at=now,
            updated_at=now,
        )
        result = await self.storage.clone_thread(
            source_thread_id,
            thread,
            message_limit=message_limit,
            message_ids=flt.get("message_ids", flt.get("messageIds")),
            start=flt.get("start_date", flt.get("startDate")),
            end=flt.get("end_date", flt.get("endDate")),
        )
        clone_meta: dict[str, Any] = {"sourceThreadId": source.id, "clonedAt": format_timestamp(now)}
        if result.cloned_messages:
            clone_meta["lastMessageId"] = result.cloned_messages[-1].id
        try:
            updated = await self.storage.update_thread(thread.id, metadata={"clone": clone_meta})
            if self.storage.supports_observational_memory:
                await self._clone_observational_memory(source, updated, result)
            wm_config = self.config.working_memory
            if wm_config.enabled and wm_config.scope == "resource" and thread.resource_id != source.resource_id:
                await self._clone_resource_working_memory(source.resource_id, thread.resource_id)
        except Exception as exc:
            try:
                await self.storage.delete_thread(thread.id)  # roll back: no half-made clone is left behind
            except Exception as rollback_exc:
                logger.error("could not delete clone %s after a failed clone: %s", thread.id, rollback_exc)
            if isinstance(exc, MastraMemoryError):
                raise
            raise StorageError(f"cloning {source.id!r} into {thread.id!r} failed: {exc}") from exc
        if self._semantic is not None and result.cloned_messages and self.config.semantic_recall is not False:
            await self._semantic.index_messages(result.cloned_messages, self.config.semantic_recall)
        return CloneResult(thread=updated, cloned_messages=result.cloned_messages, message_id_map=result.message_id_map)

    async def _clone_observational_memory(self, source: Thread, clone: Thread, result: CloneResult) -> None:
        """Copy the source's observational memory to a new clone (see :meth:`clone_thread`)."""
        from mastra_memory.storage.records import MessageRef

        records = [await self.storage.get_observational_memory(source.id, source.resource_id)]
        if clone.resource_id != source.resource_id:  # on the same resource the record is shared already
            records.append(await self.storage.get_observational_memory(None, source.resource_id))
        found = [r for r in records if r is not None]
        if not found:
            return
        copies = [MessageRef(m.id, m.thread_id, m.created_at) for m in result.cloned_messages]
        for record in found:
            await self.storage.copy_observational_memory(
                record, source.id, clone.id, clone.resource_id, result.message_id_map, copies
            )

    async def _clone_resource_working_memory(self, source_resource_id: str, target_resource_id: str) -> None:
        """Give a clone moved to another resource the source resource's working memory, unless
        that resource already has its own (which is never overwritten)."""
        source = await self.storage.get_resource_by_id(source_resource_id)
        if source is None or not source.working_memory:
            return
        value = source.working_memory
        await self.storage.update_working_memory_atomic(
            lambda current: None if current else value, resource_id=target_resource_id
        )

    @staticmethod
    def is_clone(thread: Thread | None) -> bool:
        """True if the thread was made by :meth:`clone_thread`."""
        return AsyncMemory.get_clone_metadata(thread) is not None

    @staticmethod
    def get_clone_metadata(thread: Thread | None) -> dict[str, Any] | None:
        """The ``metadata["clone"]`` dict (``sourceThreadId``, ``clonedAt``, ``lastMessageId``)."""
        if thread is None:
            return None
        meta = thread.metadata.get("clone")
        return meta if isinstance(meta, dict) and "sourceThreadId" in meta else None

    async def get_source_thread(self, thread_id: str) -> Thread | None:
        """The thread this one was cloned from, or ``None``."""
        meta = self.get_clone_metadata(await self._require_thread(thread_id))
        return None if meta is None else await self.storage.get_thread_by_id(meta["sourceThreadId"])

    async def list_clones(self, source_thread_id: str, resource_id: str | None = None) -> list[Thread]:
        """Threads cloned directly from ``source_thread_id`` (searched within the resource)."""
        source = await self._require_thread(source_thread_id, resource_id)
        threads = (
            await self.storage.list_threads(resource_id=resource_id or source.resource_id, per_page=False)
        ).threads
        return [t for t in threads if (self.get_clone_metadata(t) or {}).get("sourceThreadId") == source_thread_id]

    async def get_clone_history(self, thread_id: str) -> list[Thread]:
        """The chain of ancestors, oldest first, ending with the thread itself."""
        chain = [await self._require_thread(thread_id)]
        seen = {thread_id}
        while True:
            meta = self.get_clone_metadata(chain[0])
            if meta is None or meta["sourceThreadId"] in seen:
                break
            parent = await self.storage.get_thread_by_id(meta["sourceThreadId"])
            if parent is None:
                break
            seen.add(parent.id)
            chain.insert(0, parent)
        return chain

    # -- working memory -------------------------------------------------------------------------

    async def _wm_target(
        self, thread_id: str, resource_id: str | None, config: WorkingMemoryConfig, thread: Thread | None = None
    ) -> tuple[Literal["resource", "thread"], str]:
        """Where working memory lives for this scope: ``("thread", id)`` or ``("resource", id)``.

        ``thread`` is the thread when the caller loaded it already (ownership checked); else it
        is read.
        """
        if thread is None:
            thread = await self.get_thread_by_id(thread_id, resource_id)
        if config.scope == "thread":
            if thread is None:
                raise ThreadNotFoundError(thread_id)
            return "thread", thread_id
        rid = resource_id or (thread.resource_id if thread is not None else None)
        if rid is None:
            raise ValidationError("resource-scope working memory needs a resource_id (or use scope='thread')")
        return "resource", rid

    def _wm_config(self, memory_options: MemoryConfig | dict[str, Any] | None) -> WorkingMemoryConfig:
        return self._wm_enabled(self.resolved_config(memory_options))

    @staticmethod
    def _wm_enabled(config: MemoryConfig) -> WorkingMemoryConfig:
        """The working-memory configuration of a resolved ``config``.

        Raises:
            ConfigurationError: if working memory is disabled.
        """
        if not config.working_memory.enabled:
            raise ConfigurationError("working memory is disabled in this Memory's options")
        return config.working_memory

    async def get_working_memory(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> str | None:
        """The stored working memory (Markdown or JSON text) for the configured scope, or None.

        Raises:
            ResourceMismatchError: if ``resource_id`` does not own the thread.
            ValidationError: resource scope without a resource id.
        """
        config = self.resolved_config(memory_options).working_memory
        thread = await self.get_thread_by_id(thread_id, resource_id)
        return await self._load_working_memory(thread, resource_id, config)

    async def _load_working_memory(
        self, thread: Thread | None, resource_id: str | None, config: WorkingMemoryConfig
    ) -> str | None:
        """The stored working memory of a loaded ``thread`` (ownership checked): thread scope
        reads its metadata (no I/O), resource scope reads the resource row."""
        if config.scope == "thread":
            value = thread.metadata.get("workingMemory") if thread is not None else None
            return value if isinstance(value, str) else None
        rid = resource_id or (thread.resource_id if thread is not None else None)
        if rid is None:
            raise ValidationError("resource-scope working memory needs a resource_id (or use scope='thread')")
        resource = await self.storage.get_resource_by_id(rid)
        return resource.working_memory if resource is not None else None

    async def update_working_memory(
        self,
        thread_id: str,
        resource_id: str | None,
        working_memory: str,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> None:
        """Replace the stored working memory for the configured scope.

        In schema mode ``working_memory`` must be a JSON object matching the schema (it replaces
        the stored object; use :meth:`merge_working_memory` to merge).

        Raises:
            ConfigurationError: if working memory is disabled.
            ThreadNotFoundError: thread scope and the thread does not exist.
            ResourceMismatchError, ValidationError: on bad ids or data.
        """
        config = self._wm_config(memory_options)
        if not isinstance(working_memory, str):
            raise ValidationError("working_memory must be a string")
        value = working_memory
        if wm.schema_of(config) is not None:
            try:
                parsed = json.loads(working_memory)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"schema-mode working memory must be JSON: {exc}") from exc
            value = wm.dump_data(wm.validate_schema_data(parsed, config))
        scope, key = await self._wm_target(thread_id, resource_id, config)
        await self.storage.update_working_memory_atomic(lambda _current: value, **{f"{scope}_id": key})

    async def merge_working_memory(
        self,
        thread_id: str,
        resource_id: str | None,
        update: dict[str, Any],
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Deep-merge ``update`` into schema-mode working memory, atomically, and return the result.

        Objects merge recursively, arrays replace, ``None`` deletes a key. The read, merge,
        schema validation and write happen in one storage transaction, so concurrent merges
        from several processes all survive.

        Raises:
            ConfigurationError: if working memory is disabled or not in schema mode.
            ValidationError: if the merged object does not match the schema (nothing is written).
        """
        config = self._wm_config(memory_options)
        if wm.schema_of(config) is None:
            raise ConfigurationError("merge_working_memory needs schema mode (WorkingMemoryConfig(schema=...))")
        if not isinstance(update, dict):
            raise ValidationError("update must be a dict")
        return await self._merge_working_memory(*await self._wm_target(thread_id, resource_id, config), update, config)

    async def _merge_working_memory(
        self, scope: Literal["resource", "thread"], key: str, update: dict[str, Any], config: WorkingMemoryConfig
    ) -> dict[str, Any]:
        """Deep-merge ``update`` into the schema-mode working memory at ``(scope, key)``, atomically."""

        def merge(current: str | None) -> str:
            merged = wm.deep_merge(wm.parse_stored(current), update)
            return wm.dump_data(wm.validate_schema_data(merged, config))

        stored = await self.storage.update_working_memory_atomic(merge, **{f"{scope}_id": key})
        return wm.parse_stored(stored)

    def get_working_memory_template(
        self, memory_options: MemoryConfig | dict[str, Any] | None = None
    ) -> tuple[Literal["markdown", "json"], str]:
        """``("markdown", template)`` or ``("json", <empty object from the schema>)``."""
        return wm.template_of(self.resolved_config(memory_options).working_memory)

    async def get_system_message(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> str | None:
        """The working-memory system message for this thread/resource, or ``None`` when working
        memory is off (or read-only with nothing stored)."""
        config = self.resolved_config(memory_options)
        if not config.working_memory.enabled:
            return None
        data = await self.get_working_memory(thread_id, resource_id, memory_options=config)
        return wm.render_system_message(data, config.working_memory, read_only=config.read_only)

    def working_memory_tool(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> Tool:
        """The ``update_working_memory`` tool bound to this thread and resource.

        Template mode replaces the document (refusing to overwrite real data with the empty
        template); schema mode deep-merges atomically. The tool reports problems in its result
        (``{"success": false, "reason": ...}``) so the model can correct itself.

        Raises:
            ConfigurationError: if working memory is disabled or the memory is read-only.
        """
        return self._working_memory_tool(thread_id, resource_id, self.resolved_config(memory_options))

    def _working_memory_tool(
        self, thread_id: str, resource_id: str | None, options: MemoryConfig, thread: Thread | None = None
    ) -> Tool:
        """:meth:`working_memory_tool` for a resolved configuration; ``thread`` is the thread
        when the caller loaded it already (ownership checked), so calls of the tool do not
        read it again."""
        config = self._wm_enabled(options)
        if options.read_only:
            raise ConfigurationError("read-only memory has no working memory tool")

        async def update_text(text: str) -> dict[str, Any]:
            scope, key = await self._wm_target(thread_id, resource_id, config, thread)
            refused = False

            def replace(current: str | None) -> str | None:
                nonlocal refused
                new = wm.apply_template_update(current, text, config.template)
                refused = new is None
                return new

            await self.storage.update_working_memory_atomic(replace, **{f"{scope}_id": key})
            if refused:
                return {
                    "success": False,
                    "reason": "refused to replace existing working memory with the empty "
                    "template; send the whole document with the information kept",
                }
            return {"success": True}

        async def merge(update: dict[str, Any]) -> dict[str, Any]:
            await self._merge_working_memory(
                *await self._wm_target(thread_id, resource_id, config, thread), update, config
            )
            return {"success": True}

        return wm.make_tool(update_text, merge, config)

    # -- agent turns ----------------------------------------------------------------------------

    async def load_turn(
        self,
        thread_id: str,
        resource_id: str,
        input_messages: Sequence[Message],
        memory_options: MemoryConfig | dict[str, Any] | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> TurnContext:
        """Load what the model should see before a turn, each input once, and assemble it.

        The configuration is resolved once; the thread is resolved or created with the store's
        race-safe ``get_or_create_thread`` (one read of the row, ownership checked there);
        working memory comes from that thread's metadata (thread scope) or the resource row;
        history is the newest ``last_messages`` merged with semantic hits for the last user
        input (one ``list_messages`` call), or, with observational memory on, the observations
        and the unobserved messages. :func:`mastra_memory.context.assemble` then builds the
        system messages and history from what was loaded, without I/O.

        Args:
            thread_id: The thread (created on first use with ``title``/``metadata``).
            resource_id: The owning resource.
            input_messages: The new messages of this turn (not yet saved).
            memory_options: Per-call overrides of the configuration.
            title: Title of a thread created by this turn.
            metadata: Metadata of a thread created by this turn.

        Returns:
            The turn context; hand it to :meth:`finish_turn` with the turn's new messages.

        Raises:
            ResourceMismatchError: if the thread belongs to another resource.
        """
        inputs = await self._load_inputs(
            self.resolved_config(memory_options), thread_id, resource_id, input_messages, title, metadata
        )
        return assemble(inputs, input_messages, self.processors)

    async def prepare_turn(
        self,
        thread_id: str,
        resource_id: str,
        input_messages: Sequence[Message],
        memory_options: MemoryConfig | dict[str, Any] | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> TurnContext:
        """Alias of :meth:`load_turn` (the name :class:`~mastra_memory.agent.Agent` calls, so a
        subclass may override either)."""
        return await self.load_turn(thread_id, resource_id, input_messages, memory_options, title, metadata)

    async def _load_inputs(
        self,
        config: MemoryConfig,
        thread_id: str,
        resource_id: str,
        input_messages: Sequence[Message],
        title: str | None,
        metadata: dict[str, Any] | None,
    ) -> TurnInputs:
        """Load each input of a turn once (see :meth:`load_turn`)."""
        thread, created = await self.get_or_create_thread(thread_id, resource_id, title, metadata)
        inputs = TurnInputs(thread=thread, resource_id=resource_id, config=config, created_thread=created)
        wm_config = config.working_memory
        if wm_config.enabled:
            data = await self._load_working_memory(thread, resource_id, wm_config)
            inputs.working_memory = wm.render_system_message(data, wm_config, read_only=config.read_only)
            if not config.read_only:
                inputs.tools.append(self._working_memory_tool(thread.id, resource_id, config, thread))
        om = config.observational_memory
        if om is not False:
            state = await self.observational_engine.prepare(om, thread, resource_id)
            inputs.state["om"] = state
            inputs.observations = state.system_message
            inputs.om_reminder = state.reminder
            inputs.om_messages = state.thread_messages
            if state.record is None and om.scope == "thread":  # nothing observed: the whole thread
                inputs.tail = ThreadTail(tuple(state.thread_messages), whole_thread=True)
        if config.semantic_recall is not False or (om is False and config.last_messages is not False):
            await self._load_recalled(inputs, input_messages)
        elif created:
            inputs.tail = ThreadTail((), whole_thread=True)
        return inputs

    async def _load_recalled(self, inputs: TurnInputs, input_messages: Sequence[Message]) -> None:
        """History (the newest ``last_messages``; none with observational memory on) and the
        windows of semantic hits for the last user input, in one ``list_messages`` call."""
        config, thread = inputs.config, inputs.thread
        per_page: int = 0
        if config.observational_memory is False and config.last_messages is not False:
            per_page = config.last_messages
        include: list[IncludeSpec] = []
        sr = config.semantic_recall
        query = next((m.text for m in reversed(input_messages) if m.role == "user" and m.text), None)
        if query and sr is not False and self._semantic is not None:
            hits: list[SemanticHit] = await self._semantic.search_hits(query, thread.id, inputs.resource_id, sr)
            if inputs.created_thread:  # a new thread holds no messages: hits there are stale vectors
                hits = [h for h in hits if h.thread_id != thread.id]
            inputs.semantic_hits = hits
            include = self._semantic.to_includes(hits, sr)
        if inputs.created_thread and not include:
            inputs.recalled = []
            inputs.tail = ThreadTail((), whole_thread=True)
            return
        if per_page == 0 and not include:
            inputs.recalled = []
            return
        budget = config.message_history
        if per_page and budget is not None and budget.max_tokens > 0:
            # a token budget: read the thread backwards only as far as the budget can reach
            from mastra_memory import history_budget_async

            own, whole = await history_budget_async.load_history(self.storage, thread, budget, per_page)
            windows: list[Message] = []
            if include:
                hit_threads = list(dict.fromkeys([thread.id, *(s.thread_id or thread.id for s in include)]))
                windows = (await self.storage.list_messages(hit_threads, include=include, per_page=0)).messages
            ids = {m.id for m in own}
            merged = [*own, *(m for m in windows if m.id not in ids)]
            merged.sort(key=lambda m: m.created_at)  # stable: the store's order of ties stays
            inputs.recalled = merged
            if inputs.tail is None:
                inputs.tail = ThreadTail(tuple(own), whole_thread=whole)
            return
        # the page of this thread plus include windows from any thread. With an empty page the
        # total is unused; it is taken over the hits' threads too, which hold messages (libSQL
        # reads a single thread's total from a per-thread count row a new thread lacks yet)
        threads = (
            [thread.id] if per_page else list(dict.fromkeys([thread.id, *(s.thread_id or thread.id for s in include)]))
        )
        result = await self.storage.list_messages(threads, include=include, per_page=per_page)
        inputs.recalled = result.messages
        if per_page and inputs.tail is None:
            # the page is the thread's newest ``per_page`` messages, a contiguous run, so the
            # newest ``per_page`` of this thread's messages in the result are exactly the page
            own = [m for m in result.messages if m.thread_id == thread.id]
            inputs.tail = ThreadTail(tuple(own[-per_page:]), whole_thread=not result.has_more)

    async def finish_turn(self, context: TurnContext, new_messages: Sequence[Message]) -> list[Message]:
        """Persist a turn's new messages (input, assistant and tool messages) in one transaction,
        embed them for semantic recall, and run post-turn memory work: with observational
        memory on, observation/reflection when thresholds are crossed (see
        :meth:`mastra_memory.observational.engine.ObservationalMemoryEngine.after_turn`; its
        report lands in ``context.state["om_report"]``). Nothing is written in read-only mode.

        Uses what :meth:`load_turn` loaded (the configuration, the thread and its newest
        messages) instead of reading them again.

        Returns:
            The stored messages.

        Raises:
            ModelError: a synchronous observation failed with ``failure_policy="throw"`` (the
                messages are saved first).
        """
        config = context.config
        if config.read_only:
            return []
        # not through save_messages: the config is resolved already and embedding reuses the
        # loaded thread and history instead of reading them again
        stored = await self.storage.save_messages(wm.strip_working_memory(new_messages))
        if self._semantic is not None and stored and config.semantic_recall is not False:
            loaded = context.inputs  # None for a context built by hand: read what is needed
            await self._semantic.index_messages(
                stored,
                config.semantic_recall,
                thread=loaded.thread if loaded is not None else None,
                tail=loaded.tail if loaded is not None else None,
            )
        state = context.state.get("om")
        if state is not None:
            context.state["om_report"] = await self.observational_engine.after_turn(state, stored)
        return stored

    # -- observational memory -------------------------------------------------------------------

    @property
    def observational_engine(self) -> AsyncObservationalMemoryEngine:
        """The observational-memory engine of this Memory (created on first use)."""
        if self._om_engine is None:
            from mastra_memory.observational.engine_async import AsyncObservationalMemoryEngine

            self._om_engine = AsyncObservationalMemoryEngine(self.storage)
        return self._om_engine

    def _om_config(self, memory_options: MemoryConfig | dict[str, Any] | None = None) -> Any:
        from mastra_memory.config import ObservationalMemoryConfig

        om = self.resolved_config(memory_options).observational_memory
        return om if om is not False else ObservationalMemoryConfig(enabled=False)

    async def get_observational_memory(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> ObservationalMemoryRecord | None:
        """The current observational-memory record of the thread (or, in resource scope, of the
        thread's resource): observations, generation, token counts and the cursor
        (``last_observed_at`` + ``observed_message_ids``), or ``None`` when there is none yet.

        Raises:
            ResourceMismatchError: if ``resource_id`` does not own the thread.
            ValidationError: resource scope with neither a resource id nor a known thread.
        """
        scope = self._om_config(memory_options).scope
        thread = await self.get_thread_by_id(thread_id, resource_id)
        rid = resource_id or (thread.resource_id if thread else None)
        if scope == "resource":
            if rid is None:
                raise ValidationError("resource-scope observational memory needs a resource_id")
            return await self.storage.get_observational_memory(None, rid)
        return await self.storage.get_observational_memory(thread_id, rid)

    async def get_observational_memory_history(
        self,
        thread_id: str,
        resource_id: str | None = None,
        limit: int = 10,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> list[ObservationalMemoryRecord]:
        """Every generation of the record, newest first (reflections keep old ones)."""
        scope = self._om_config(memory_options).scope
        thread = await self.get_thread_by_id(thread_id, resource_id)
        rid = resource_id or (thread.resource_id if thread else None)
        if scope == "resource":
            return await self.storage.get_observational_memory_history(None, rid, limit)
        return await self.storage.get_observational_memory_history(thread_id, rid, limit)

    async def observe(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> int:
        """Observe every unobserved message of the thread's scope now, whatever the thresholds.

        Returns:
            Committed Observer batches (0 when nothing was unobserved).

        Raises:
            ConfigurationError: if observational memory is off.
            ModelError: if the Observer failed.
        """
        om, thread = await self._om_target(thread_id, resource_id, memory_options)
        return await self.observational_engine.observe(om, thread.id, thread.resource_id, use_lease=False)

    async def reflect(
        self,
        thread_id: str,
        resource_id: str | None = None,
        memory_options: MemoryConfig | dict[str, Any] | None = None,
    ) -> bool:
        """Condense the observations into a new generation now, whatever the thresholds.

        Returns:
            True when a new generation was committed.

        Raises:
            ConfigurationError: if observational memory is off.
            ModelError: if the Reflector failed.
        """
        om, thread = await self._om_target(thread_id, resource_id, memory_options)
        return await self.observational_engine.reflect(om, thread.id, thread.resource_id, force=True)

    async def _om_target(
        self, thread_id: str, resource_id: str | None, memory_options: MemoryConfig | dict[str, Any] | None
    ) -> tuple[Any, Thread]:
        om = self.resolved_config(memory_options).observational_memory
        if om is False:
            raise ConfigurationError("observational memory is off in this Memory's options")
        return om, await self._require_thread(thread_id, resource_id)

    async def settled(self, timeout: float | None = None) -> bool:
        """Wait for background work: observational memory (buffering, reflection) and title
        generation.

        Returns:
            True when nothing is left running.
        """
        titled = await self._titles.settle(timeout)
        return titled and (True if self._om_engine is None else await self._om_engine.settle(timeout))
