"""The non-I/O half of the storage contract, shared by both faces.

:class:`~mastra_memory.storage.base_async.AsyncMemoryStorage` (the source) and
:class:`~mastra_memory.storage.base.MemoryStorage` (generated from it by ``scripts/gen_sync.py``)
import the validated query types, constants and pure helpers from here, so each exists once:
``mastra_memory.storage.base.ThreadQuery is mastra_memory.storage.base_async.ThreadQuery``.
Import them from :mod:`mastra_memory.storage.base` as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import ValidationError as PydanticValidationError

from mastra_memory.errors import ResourceMismatchError, ThreadNotFoundError, ValidationError
from mastra_memory.types import (
    IncludeSpec,
    Message,
    TextPart,
    Thread,
    truncate_ms,
    validate_json,
)

Direction = Literal["ASC", "DESC"]
ThreadOrder = Literal["created_at", "updated_at"]
PerPage = int | Literal[False]
_T = TypeVar("_T")

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_METADATA_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ONE_MS = timedelta(milliseconds=1)


MAX_PAGE = 2**31 - 1
"""The largest accepted ``page``, ``per_page`` and offset ``page * per_page`` (2,147,483,647,
the largest skip every backend and wire server takes); larger values are refused as invalid
input with a :class:`~mastra_memory.errors.ValidationError`."""


def validate_pagination(page: int, per_page: PerPage) -> None:
    """Check ``page``/``per_page`` (``per_page=False`` means no limit and requires page 0).

    Args:
        page: Page number from 0; ``page * per_page`` is at most :data:`MAX_PAGE`.
        per_page: Page size from 0 to :data:`MAX_PAGE`, or ``False`` for no limit.

    Raises:
        ValidationError: on a negative or too large page or per_page, a non-integer, or
            ``False`` with page > 0.
    """
    if isinstance(page, bool) or not isinstance(page, int) or not 0 <= page <= MAX_PAGE:
        raise ValidationError(f"page must be an integer from 0 to {MAX_PAGE}, got {page!r}")
    if per_page is False:
        if page != 0:
            raise ValidationError("per_page=False (no limit) requires page=0")
        return
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 0 <= per_page <= MAX_PAGE:
        raise ValidationError(f"per_page must be an integer from 0 to {MAX_PAGE} or False, got {per_page!r}")
    if page * per_page > MAX_PAGE:
        raise ValidationError(f"page * per_page (the offset) must be at most {MAX_PAGE}, got {page * per_page}")


def validate_metadata_filter(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Check a thread metadata filter (an AND of exact key/value matches on top-level keys).

    Keys match ``^[a-zA-Z_][a-zA-Z0-9_]*$`` and are at most 128 characters, as the original.

    Raises:
        ValidationError: on a bad key or a non-JSON value.
    """
    if not metadata:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationError("metadata filter must be a dict")
    for key, value in metadata.items():
        if not isinstance(key, str) or len(key) > 128 or not _METADATA_KEY.match(key):
            raise ValidationError(f"invalid metadata filter key: {key!r}")
        validate_json(value, f"metadata filter value for {key!r}")
    return metadata


@dataclass(frozen=True)
class ThreadQuery:
    """A validated ``list_threads`` query (backends read it; it holds no I/O)."""

    resource_id: str | None
    metadata: dict[str, Any]
    page: int
    per_page: PerPage
    order_by: ThreadOrder
    direction: Direction

    @property
    def offset(self) -> int:
        return 0 if self.per_page is False else self.page * self.per_page


@dataclass(frozen=True)
class MessageQuery:
    """A validated ``list_messages`` query.

    ``direction="DESC"`` pages from the newest end (page 0 = newest ``per_page`` messages);
    ``"ASC"`` from the oldest. Results are always returned oldest first.
    ``start``/``end`` bound ``created_at`` inclusively when given.
    """

    thread_ids: tuple[str, ...]
    resource_id: str | None
    page: int
    per_page: PerPage
    direction: Direction
    start: datetime | None = None
    end: datetime | None = None
    include: tuple[IncludeSpec, ...] = field(default_factory=tuple)

    @property
    def offset(self) -> int:
        return 0 if self.per_page is False else self.page * self.per_page


def message_json_size(message: Message) -> int:
    """The size in bytes of a message's stored content JSON."""
    return len(message.content.to_json().encode("utf-8"))


def _is_empty(message: Message) -> bool:
    parts = message.content.parts
    if len(parts) == 1 and type(parts[0]) is TextPart:  # the common shape, without a generator
        return not parts[0].text.strip()
    return all(isinstance(p, TextPart) and not p.text.strip() for p in parts)


def _om_missing(store: object) -> str:
    return (
        f"{type(store).__name__} does not support observational memory; use LibSQLStore, "
        "InMemoryStore or another store whose supports_observational_memory is True"
    )


def resolve_owners(messages: Sequence[Message], owners: dict[str, str]) -> list[Message]:
    """Check each message against its thread's owner (``owners``: thread id -> resource id, as
    read inside the backend's write transaction) and fill a missing ``resource_id``.

    Raises:
        ThreadNotFoundError: if a message's thread is not in ``owners``.
        ResourceMismatchError: if a message names another resource than its thread's owner.
    """
    out: list[Message] = []
    for m in messages:
        owner = owners.get(m.thread_id)
        if owner is None:
            raise ThreadNotFoundError(m.thread_id)
        if m.resource_id is None:
            m = m.model_copy(update={"resource_id": owner})
        elif m.resource_id != owner:
            raise ResourceMismatchError(m.thread_id, owner, m.resource_id)
        out.append(m)
    return out


def place_after_newest(messages: Sequence[Message], newest: Mapping[str, datetime]) -> list[Message]:
    """Move the messages of each thread in ``newest`` after that thread's newest stored message.

    ``messages`` is a batch already strictly increasing per thread (see
    :meth:`MemoryStorage._prepare_messages`); each message of a thread in ``newest`` gets
    ``created_at`` at least 1 ms after the previous one, starting from ``newest[thread]``. The
    result is what placing the thread's first message after the stored newest and then keeping
    the batch increasing gives, so the order inside the batch is kept.

    Args:
        messages: The batch, oldest first per thread.
        newest: Thread id -> ``created_at`` of its newest stored message (threads with none
            are left out).
    """
    if not newest:
        return list(messages)
    out: list[Message] = []
    prev: dict[str, datetime] = dict(newest)
    for m in messages:
        floor = prev.get(m.thread_id)
        if floor is not None:
            if m.created_at <= floor:
                m = m.model_copy(update={"created_at": floor + _ONE_MS})
            prev[m.thread_id] = m.created_at
        out.append(m)
    return out


def _has_more(page: int, per_page: PerPage, total: int) -> bool:
    """Whether pages after ``page`` hold more of ``total`` rows (never with ``per_page=False``)."""
    return per_page is not False and (page + 1) * per_page < total


def _direction(direction: str) -> Direction:
    value = str(direction).upper()
    if value not in ("ASC", "DESC"):
        raise ValidationError(f"direction must be 'ASC' or 'DESC', not {direction!r}")
    return value  # type: ignore[return-value]


def as_list(values: Any, what: str) -> list[Any]:
    """``values`` (a list, tuple or other iterable, not a string, bytes, dict or model) as a list.

    Raises:
        ValidationError: naming ``what`` when ``values`` is not such a collection.
    """
    if isinstance(values, (str, bytes, bytearray, dict, Message, Thread)) or not isinstance(values, Iterable):
        raise ValidationError(f"{what} must be a list, got {type(values).__name__}")
    return list(values)


def _check_time(value: Any, what: str) -> datetime | None:
    """``value`` truncated to milliseconds in UTC, or ``None``.

    Raises:
        ValidationError: if it is neither ``None`` nor a ``datetime``.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {type(value).__name__}")
    return truncate_ms(value)


def _include_spec(value: Any) -> IncludeSpec:
    """An :class:`IncludeSpec` from itself or its dict.

    Raises:
        ValidationError: naming the problem (a pydantic error is not raised as such).
    """
    if isinstance(value, IncludeSpec):
        return value
    if not isinstance(value, dict):
        raise ValidationError(f"include items must be IncludeSpec or dict, got {type(value).__name__}")
    try:
        return IncludeSpec.model_validate(value)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid include item: {exc.errors(include_url=False)}") from exc


def _as_id_list(ids: Any) -> list[str]:
    if isinstance(ids, (str, bytes, bytearray, dict)) or not isinstance(ids, Iterable):
        raise ValidationError("expected a list of ids")
    out: list[str] = []
    for item in ids:
        if isinstance(item, dict) and "id" in item:
            item = item["id"]
        out.append(item)
    return out


def dumps(value: Any) -> str:
    """Compact JSON as stored in metadata/content columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _cutoff(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError("a retention cutoff must be a timezone-aware datetime")
    return truncate_ms(value.astimezone(UTC))


def _limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"limit must be a positive integer, got {value!r}")
    return value


def _expiry(now: datetime, ttl: float | None) -> datetime | None:
    """``now + ttl`` rounded to the storage precision (milliseconds), or None."""
    return None if ttl is None else truncate_ms(now + timedelta(seconds=ttl))
