"""The data model: threads, resources, messages with content parts, pages and results.

Messages use the original's "format 2" content (``{"format": 2, "parts": [...]}``), so a row
written by Mastra's TypeScript packages reads here and the other way round. Part types this
library does not model (``step-start``, ``source``, ``data-*``, ...) are kept verbatim as
:class:`RawPart` so nothing is lost on a round trip.

All times are timezone-aware UTC ``datetime`` values with millisecond precision (the storage
format is ISO-8601 text with milliseconds and a ``Z`` suffix).

This module holds the models and the validation of ids and JSON. Helpers that used to live here
are still importable from it: the chat converters (:mod:`mastra_memory.chat`), the row decoder
(:mod:`mastra_memory.storage._rows`, loaded on first use because it imports this module) and
the private fast paths, timestamps and ids (:mod:`mastra_memory._fast`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

# re-exported: these helpers lived here before the split (see the module docstring)
from mastra_memory._fast import construct as construct
from mastra_memory._fast import construct_from as construct_from
from mastra_memory._fast import format_timestamp as format_timestamp
from mastra_memory._fast import gc_paused as gc_paused
from mastra_memory._fast import loads_json as loads_json
from mastra_memory._fast import new_id as new_id
from mastra_memory._fast import new_ids as new_ids
from mastra_memory._fast import now_utc as now_utc
from mastra_memory._fast import parse_timestamp as parse_timestamp
from mastra_memory._fast import truncate_ms as truncate_ms
from mastra_memory.errors import ValidationError

if TYPE_CHECKING:
    from mastra_memory.chat import from_chat_messages as from_chat_messages
    from mastra_memory.chat import to_chat_messages as to_chat_messages
    from mastra_memory.storage._rows import _text_only_content as _text_only_content
    from mastra_memory.storage._rows import message_from_row as message_from_row

__all__ = [
    "CloneResult",
    "FilePart",
    "IncludeSpec",
    "Message",
    "MessageContent",
    "Part",
    "RawPart",
    "ReasoningPart",
    "RecallResult",
    "Resource",
    "Role",
    "SemanticHit",
    "TextPart",
    "Thread",
    "ThreadPage",
    "ToolInvocationPart",
    "format_timestamp",
    "from_chat_messages",
    "new_id",
    "new_ids",
    "now_utc",
    "to_chat_messages",
]

Role: TypeAlias = Literal["user", "assistant", "system", "tool"]

MAX_ID_LENGTH = 255
_ID_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


MAX_JSON_DEPTH = 100
"""The deepest nesting of lists and objects accepted in stored JSON (metadata, message content,
tool arguments and results): a value nested deeper is refused at write with a
:class:`ValidationError`, so nothing is ever stored that a reader (or the HTTP server's
serializer, which stops at about 255 levels) could not read back."""

_INT64 = 2**63
_NUL = "\x00"


def text_problem(value: str, allow_nul: bool = False) -> str | None:
    """What makes ``value`` unstorable, or ``None``: a NUL character (U+0000: PostgreSQL can
    not store it in text or jsonb and libSQL truncates text at it), unless ``allow_nul`` (text
    stored JSON-escaped in a text column, as message content is), or a lone surrogate (not
    valid UTF-8)."""
    if not allow_nul and _NUL in value:
        return "a NUL character (U+0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (not valid UTF-8 text)"
    return None


def validate_text(value: Any, what: str = "text") -> str:
    """Check that ``value`` is a string every backend stores unchanged and return it.

    Raises:
        ValidationError: if it is not a string, or contains U+0000 or a lone surrogate.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    problem = text_problem(value)
    if problem is not None:
        raise ValidationError(f"{what} contains {problem}")
    return value


def validate_id(value: Any, what: str = "id") -> str:
    """Check that ``value`` is a usable id and return it.

    An id is a non-empty string of at most 255 characters of valid Unicode text with no control
    characters and no leading or trailing whitespace.

    Raises:
        ValidationError: if the id is not acceptable.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not value or value.strip() != value:
        raise ValidationError(f"{what} must be non-empty without surrounding whitespace: {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    if _ID_FORBIDDEN.search(value):
        raise ValidationError(f"{what} contains control characters: {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(f"{what} contains a lone surrogate (not valid UTF-8 text)") from exc
    return value


def validate_json(value: Any, what: str = "metadata", max_depth: int = MAX_JSON_DEPTH, allow_nul: bool = False) -> Any:
    """Check that ``value`` is JSON every backend stores and reads back unchanged; return it.

    Accepted: ``None``, ``bool``, ``int`` (64-bit range), finite ``float``, ``str`` (no U+0000,
    no lone surrogates), lists/tuples and dicts with string keys, nested at most ``max_depth``
    (:data:`MAX_JSON_DEPTH`, 100) levels. The walk is iterative, so hostile nesting can not
    exhaust the stack.

    Args:
        value: The value to check.
        what: What the value is, for the error message.
        max_depth: The deepest accepted nesting of lists and dicts (the top level counts 1).
        allow_nul: Accept U+0000 in strings (for JSON stored as escaped text, never in jsonb).

    Raises:
        ValidationError: naming the first problem found.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is None or item is True or item is False:
            continue
        if isinstance(item, str):
            problem = text_problem(item, allow_nul)
            if problem is not None:
                raise ValidationError(f"{what} contains a string with {problem}")
            continue
        if isinstance(item, int):
            if not -_INT64 <= item < _INT64:
                raise ValidationError(f"{what} contains an integer outside the 64-bit range")
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"{what} contains a non-finite float ({item!r}); JSON has none")
            continue
        if isinstance(item, (dict, list, tuple)):
            if depth >= max_depth:
                raise ValidationError(f"{what} is nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not isinstance(key, str):
                        raise ValidationError(f"{what} has a non-string key {key!r} (JSON keys are strings)")
                    problem = text_problem(key, allow_nul)
                    if problem is not None:
                        raise ValidationError(f"{what} has a key with {problem}")
                    stack.append((sub, depth + 1))
            else:
                stack.extend((sub, depth + 1) for sub in item)
            continue
        raise ValidationError(f"{what} is not JSON-serialisable: {type(item).__name__} is not a JSON type")
    return value


def validate_json_object(value: Any, what: str = "metadata") -> dict[str, Any]:
    """Check that ``value`` is a dict (not a list of pairs or another mapping-like value) of
    storable JSON (:func:`validate_json`) and return it.

    Raises:
        ValidationError: if it is not a dict or not storable JSON.
    """
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a dict, got {type(value).__name__}")
    return validate_json(value, what)  # type: ignore[no-any-return]


def _check_id(value: str) -> str:
    return validate_id(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------------------------------------
# Parts


class TextPart(_Model):
    """Plain text.

    ``extra`` (here and on the other modelled parts) holds stored keys this library does not
    model, e.g. the original's ``providerMetadata`` and ``createdAt`` (epoch milliseconds) that
    Mastra's agents put on every part; they are written back unchanged.
    """

    type: Literal["text"] = "text"
    text: str
    extra: dict[str, Any] = Field(default_factory=dict)


class ReasoningPart(_Model):
    """Model reasoning text (stored as the original's ``{"type": "reasoning", "reasoning"}``)."""

    type: Literal["reasoning"] = "reasoning"
    text: str
    details: list[Any] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class ToolInvocationPart(_Model):
    """A tool call and, once it ran, its result (stored as ``{"toolInvocation": {...}}``).

    ``state`` is ``"call"`` until the result is known, then ``"result"``; the original's other
    states (``partial-call``, ``output-error``, ...) are accepted and kept. ``extra`` keeps
    unmodelled keys of the part (``providerMetadata``, ``providerExecuted``, ``createdAt``, ...),
    ``invocation_extra`` those of the stored ``toolInvocation`` object (``isError``,
    ``errorText``, ``rawInput``, ``approval``, ...).
    """

    type: Literal["tool-invocation"] = "tool-invocation"
    tool_call_id: str
    tool_name: str
    args: Any = Field(default_factory=dict)
    result: Any = None
    state: str = "call"
    step: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    invocation_extra: dict[str, Any] = Field(default_factory=dict)


class FilePart(_Model):
    """A file or image, inline (``data``, base64 or text) or by ``url``."""

    type: Literal["file"] = "file"
    data: str | None = None
    url: str | None = None
    mime_type: str = "application/octet-stream"
    filename: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class RawPart(_Model):
    """A part type this library does not model, kept verbatim (``data`` is the stored dict)."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)


Part: TypeAlias = Annotated[
    TextPart | ReasoningPart | ToolInvocationPart | FilePart | RawPart,
    Field(union_mode="left_to_right"),
]

_MODEL_PART_KEYS: dict[Any, frozenset[str]] = {
    kind: frozenset(cls.model_fields)
    for kind, cls in (
        ("text", TextPart),
        ("reasoning", ReasoningPart),
        ("tool-invocation", ToolInvocationPart),
        ("file", FilePart),
    )
}
_RAW_PART_KEYS = frozenset(RawPart.model_fields)
_CONTENT_KEYS = frozenset({"format", "parts", "metadata"})


def _with_extra(out: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Add unmodelled keys kept from storage; the modelled values win on a clash."""
    for key, value in extra.items():
        out.setdefault(key, value)
    return out


def _part_to_storage(part: TextPart | ReasoningPart | ToolInvocationPart | FilePart | RawPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        out: dict[str, Any] = {"type": "text", "text": part.text}
        return _with_extra(out, part.extra) if part.extra else out
    if isinstance(part, ReasoningPart):
        return _with_extra({"type": "reasoning", "reasoning": part.text, "details": part.details}, part.extra)
    if isinstance(part, ToolInvocationPart):
        inv: dict[str, Any] = {
            "state": part.state,
            "toolCallId": part.tool_call_id,
            "toolName": part.tool_name,
            "args": part.args,
        }
        if part.state == "result" or part.result is not None:
            inv["result"] = part.result
        if part.step is not None:
            inv["step"] = part.step
        _with_extra(inv, part.invocation_extra)
        return _with_extra({"type": "tool-invocation", "toolInvocation": inv}, part.extra)
    if isinstance(part, FilePart):
        out = {"type": "file", "mimeType": part.mime_type}
        if part.data is not None:
            out["data"] = part.data
        if part.url is not None:
            out["url"] = part.url
        if part.filename is not None:
            out["filename"] = part.filename
        return _with_extra(out, part.extra)
    return {**part.data, "type": part.type}


_TEXT_KEYS = frozenset({"type", "text"})
_TOOL_PART_KEYS = frozenset({"type", "toolInvocation"})
_TOOL_INVOCATION_KEYS = frozenset({"state", "toolCallId", "toolName", "args", "result", "step"})
_FILE_KEYS = frozenset({"type", "data", "url", "mimeType", "filename"})


def _rest(raw: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in known}


def _part_from_storage(raw: dict[str, Any]) -> TextPart | ReasoningPart | ToolInvocationPart | FilePart | RawPart:
    """Decode one stored part. Keys a modelled part does not know go to its ``extra`` (Mastra's
    agents add ``createdAt`` and ``providerMetadata`` to every part); a part whose modelled keys
    have unexpected types, or of an unmodelled type, is kept verbatim as :class:`RawPart`."""
    kind = raw.get("type")
    try:
        if kind == "text" and isinstance(raw.get("text"), str):
            extra = {} if len(raw) == 2 else _rest(raw, _TEXT_KEYS)
            return construct(TextPart, type="text", text=raw["text"], extra=extra)
        if kind == "reasoning":
            key = "reasoning" if "reasoning" in raw else "text"
            text, details = raw.get(key, ""), raw.get("details", [])
            if isinstance(text, str) and isinstance(details, list):
                return ReasoningPart(text=text, details=details, extra=_rest(raw, frozenset({"type", "details", key})))
        inv = raw.get("toolInvocation")
        if kind == "tool-invocation" and isinstance(inv, dict):
            call_id, name, state = inv.get("toolCallId"), inv.get("toolName"), inv.get("state", "call")
            if isinstance(call_id, str) and isinstance(name, str) and isinstance(state, str):
                return ToolInvocationPart(
                    tool_call_id=call_id,
                    tool_name=name,
                    args=inv.get("args", {}),
                    result=inv.get("result"),
                    state=state,
                    step=inv.get("step"),
                    extra=_rest(raw, _TOOL_PART_KEYS),
                    invocation_extra=_rest(inv, _TOOL_INVOCATION_KEYS),
                )
        if kind == "file" and isinstance(raw.get("mimeType", ""), str):
            return FilePart(
                data=raw.get("data"),
                url=raw.get("url"),
                mime_type=str(raw.get("mimeType", "application/octet-stream")),
                filename=raw.get("filename"),
                extra=_rest(raw, _FILE_KEYS),
            )
    except Exception:  # falls through to RawPart, nothing is lost
        pass
    return RawPart(type=str(kind or "unknown"), data={k: v for k, v in raw.items() if k != "type"})


_CONTENT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""``json.dumps`` with these options, without building an encoder per call (stateless, so shared)."""

_encode_string: Callable[[str], str] = json.encoder.encode_basestring
"""The string escaping of :data:`_CONTENT_ENCODER` (``ensure_ascii=False``): the C one when built."""


class MessageContent(_Model):
    """The content of a message, format 2.

    Attributes:
        format: Always 2.
        parts: The ordered parts.
        metadata: Application metadata (JSON).
        extra: Other top-level keys found in stored content (e.g. the legacy ``content`` string
            or ``toolInvocations``), kept so a round trip loses nothing.
    """

    format: Literal[2] = 2
    parts: list[Part] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def to_storage(self) -> dict[str, Any]:
        """Return the original's JSON shape: ``{"format": 2, "parts": [...], ...}``."""
        out: dict[str, Any] = dict(self.extra)
        out["format"] = 2
        out["parts"] = [_part_to_storage(p) for p in self.parts]
        if self.metadata:
            out["metadata"] = self.metadata
        return out

    def to_json(self) -> str:
        """Serialise :meth:`to_storage` compactly (the stored ``content`` column).

        Raises:
            ValidationError: if metadata or tool arguments/results are not JSON-serialisable.
        """
        if not self.extra and not self.metadata:
            parts = self.parts
            if all(type(p) is TextPart and not p.extra for p in parts):
                # the common shape, written as the encoder would (tested equal): 2.1 us against 4.3
                return (
                    '{"format":2,"parts":['
                    + ",".join(['{"type":"text","text":' + _encode_string(p.text) + "}" for p in parts])  # type: ignore[union-attr]
                    + "]}"
                )
        try:
            return _CONTENT_ENCODER(self.to_storage())
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValidationError(f"message content is not JSON-serialisable: {exc}") from exc

    @classmethod
    def from_storage(cls, raw: Any) -> MessageContent:
        """Read stored content: a format-2 dict, its JSON text, or a legacy plain string."""
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode("utf-8")
        if isinstance(raw, str):
            try:
                raw = loads_json(raw)
            except ValueError:
                return cls(parts=[TextPart(text=raw)])
        if isinstance(raw, str):
            return cls(parts=[TextPart(text=raw)])
        if not isinstance(raw, dict):
            return cls(parts=[TextPart(text=json.dumps(raw))])
        parts_raw = raw.get("parts")
        parts: list[Any]
        parts = [_part_from_storage(p) for p in parts_raw if isinstance(p, dict)] if isinstance(parts_raw, list) else []
        extra = {} if raw.keys() <= _CONTENT_KEYS else {k: v for k, v in raw.items() if k not in _CONTENT_KEYS}
        if not parts and isinstance(extra.get("content"), str):
            parts = [TextPart(text=extra.pop("content"))]
        metadata = raw.get("metadata")
        return construct_from(
            cls,
            {"format": 2, "parts": parts, "metadata": metadata if isinstance(metadata, dict) else {}, "extra": extra},
        )

    @property
    def text(self) -> str:
        """The text parts joined with newlines."""
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


def validate_content(content: MessageContent, what: str = "message content") -> None:
    """Check that message content is storable everywhere: its text has no lone surrogates, and
    its metadata, tool arguments/results and kept keys are JSON nested at most
    :data:`MAX_JSON_DEPTH` levels (:func:`validate_json`). U+0000 is accepted here: content is
    stored as JSON text (``\u0000`` escaped) in a text column and reads back unchanged.

    Raises:
        ValidationError: naming the first problem found.
    """
    if not content.metadata and not content.extra and all(type(p) is TextPart and not p.extra for p in content.parts):
        for part in content.parts:  # the common shape: plain text parts, no walk needed
            problem = text_problem(part.text, allow_nul=True)  # type: ignore[union-attr]
            if problem is not None:
                raise ValidationError(f"{what} contains {problem}")
        return
    validate_json(content.to_storage(), what, allow_nul=True)


class Message(_Model):
    """One stored message.

    Attributes:
        id: Unique id (1-255 characters); a UUID4 when not given.
        thread_id: The thread it belongs to.
        resource_id: The owning resource; filled from the thread when saved through Memory.
        role: ``user``, ``assistant``, ``system`` (never stored) or ``tool``.
        created_at: UTC time, millisecond precision; order within a thread is ``(created_at, id)``.
        content: Format-2 content.
        type: Always ``"v2"``.
    """

    id: str = Field(default_factory=new_id)
    thread_id: str
    resource_id: str | None = None
    role: Role
    created_at: datetime = Field(default_factory=now_utc)
    content: MessageContent = Field(default_factory=MessageContent)
    type: str = "v2"

    _content_json: str | None = PrivateAttr(default=None)

    _validate_ids = field_validator("id", "thread_id")(_check_id)

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are equal; the cached stored JSON (a private detail of where the
        message came from) does not count."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable model, as pydantic's own

    def content_json(self) -> str:
        """The stored JSON of ``content``; reuses the text read from or prepared for storage."""
        private = self.__pydantic_private__  # direct: pydantic's __getattr__ costs 2 µs a call
        cached = private.get("_content_json") if private else None
        return cached if cached is not None else self.content.to_json()

    @field_validator("resource_id")
    @classmethod
    def _check_resource(cls, value: str | None) -> str | None:
        return None if value is None else validate_id(value, "resource_id")

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return truncate_ms(value)

    @field_validator("content", mode="before")
    @classmethod
    def _coerce_content(cls, value: Any) -> Any:
        if isinstance(value, str):
            return MessageContent(parts=[TextPart(text=value)])
        if (
            isinstance(value, dict)
            and isinstance(value.get("parts"), list)
            and any(
                isinstance(p, dict) and not p.keys() <= _MODEL_PART_KEYS.get(p.get("type"), _RAW_PART_KEYS)
                for p in value["parts"]
            )
        ):
            # the stored shape (e.g. a message exported by Mastra), not this model's field names
            return MessageContent.from_storage(value)
        return value

    @property
    def text(self) -> str:
        """The text parts joined with newlines."""
        return self.content.text

    @classmethod
    def user(cls, text: str, thread_id: str, **kwargs: Any) -> Message:
        """Build a user text message."""
        return cls(role="user", thread_id=thread_id, content=MessageContent(parts=[TextPart(text=text)]), **kwargs)

    @classmethod
    def assistant(cls, text: str, thread_id: str, **kwargs: Any) -> Message:
        """Build an assistant text message."""
        return cls(role="assistant", thread_id=thread_id, content=MessageContent(parts=[TextPart(text=text)]), **kwargs)


class Thread(_Model):
    """A conversation, owned by one resource (a user, an org, ...).

    Attributes:
        id: Unique id (1-255 characters).
        resource_id: The owning resource.
        title: Title, ``""`` by default.
        metadata: JSON metadata. ``metadata["clone"]`` holds clone provenance
            (``sourceThreadId``, ``clonedAt``, ``lastMessageId``); ``metadata["workingMemory"]``
            thread-scoped working memory; key spelling follows the original.
        created_at: Creation time (UTC).
        updated_at: Last change (UTC); also bumped when messages are saved.
    """

    id: str = Field(default_factory=new_id)
    resource_id: str
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)

    _validate_ids = field_validator("id", "resource_id")(_check_id)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return truncate_ms(value)

    @field_validator("metadata", mode="before")
    @classmethod
    def _json(cls, value: Any) -> dict[str, Any]:
        return validate_json_object(value)

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: Any) -> str:
        return validate_text(value, "title")


class Resource(_Model):
    """A resource (user, org, ...) with resource-scoped working memory and metadata."""

    id: str
    working_memory: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)

    _validate_ids = field_validator("id")(_check_id)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return truncate_ms(value)

    @field_validator("metadata", mode="before")
    @classmethod
    def _json(cls, value: Any) -> dict[str, Any]:
        return validate_json_object(value)

    @field_validator("working_memory", mode="before")
    @classmethod
    def _working_memory(cls, value: Any) -> str | None:
        return None if value is None else validate_text(value, "working_memory")


class IncludeSpec(_Model):
    """Ask storage for a message plus neighbours in its thread (an ``include`` window).

    Attributes:
        id: The message id.
        thread_id: Its thread, if known (saves a lookup).
        with_previous_messages: How many earlier messages of the same thread to add.
        with_next_messages: How many later messages of the same thread to add.
    """

    id: str
    thread_id: str | None = None
    with_previous_messages: int = Field(default=0, ge=0)
    with_next_messages: int = Field(default=0, ge=0)


class ThreadPage(_Model):
    """One page of threads. ``total`` counts all matches; ``page`` counts from 0."""

    threads: list[Thread]
    total: int
    page: int
    per_page: int | Literal[False]
    has_more: bool


class SemanticHit(_Model):
    """One semantic-recall hit, in rank order in :attr:`RecallResult.semantic_hits`.

    Attributes:
        message_id: The matching message.
        thread_id: Its thread.
        score: Relevance, higher is better, comparable within one query: cosine similarity;
            with hybrid retrieval the fused score in [0, 1], plus ``date_boost`` for a message
            written in a period the query names, less ``thread_diversity`` per better hit of
            its thread (never increasing down the ranking).
    """

    message_id: str
    thread_id: str
    score: float


class RecallResult(_Model):
    """Messages in chronological ``(created_at, id)`` order plus pagination of the history page.

    ``total`` counts all messages matching the history query (included neighbours are extra).
    ``semantic_hits`` lists the semantic-recall hits best first (empty without a search).
    """

    messages: list[Message]
    total: int
    page: int
    per_page: int | Literal[False]
    has_more: bool
    semantic_hits: list[SemanticHit] = Field(default_factory=list)


class CloneResult(_Model):
    """The result of cloning a thread: the new thread and the copied messages."""

    thread: Thread
    cloned_messages: list[Message]
    message_id_map: dict[str, str] = Field(default_factory=dict)


# Names that moved to modules which import this one: resolved on first use (PEP 562), so
# ``from mastra_memory.types import to_chat_messages`` keeps working without an import cycle.
_MOVED = {
    "from_chat_messages": "mastra_memory.chat",
    "to_chat_messages": "mastra_memory.chat",
    "message_from_row": "mastra_memory.storage._rows",
    "_text_only_content": "mastra_memory.storage._rows",
}


def __getattr__(name: str) -> object:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
