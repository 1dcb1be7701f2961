"""The data model: threads, resources, messages with content parts, pages and results.

Messages use the original's "format 2" content (``{"format": 2, "parts": [...]}``), so a row
written by Mastra's TypeScript packages reads here and the other way round. Part types this
library does not model (``step-start``, ``source``, ``data-*``, ...) are kept verbatim as
:class:`RawPart` so nothing is lost on a round trip.

All times are timezone-aware UTC ``datetime`` values with millisecond precision (the storage
format is ISO-8601 text with milliseconds and a ``Z`` suffix).
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from mastra_memory.errors import ValidationError

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
_M = TypeVar("_M", bound=BaseModel)

MAX_ID_LENGTH = 255
_ID_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


def now_utc() -> datetime:
    """Return the current UTC time truncated to milliseconds (the storage precision)."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(value: datetime) -> datetime:
    """Return ``value`` in UTC with microseconds truncated to whole milliseconds.

    Naive datetimes are taken to be UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def format_timestamp(value: datetime) -> str:
    """``datetime`` -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds), the stored text format."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_timestamp(value: Any) -> datetime:
    """Parse stored timestamp text (or pass a ``datetime`` through) into an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value if isinstance(value, str) else str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_new_object = object.__new__
_set_attribute = object.__setattr__
# pydantic's BaseModel keeps its bookkeeping in slots; their descriptors set them without the
# (validating) BaseModel.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(cls: type[_M], _private: dict[str, Any] | None = None, **values: Any) -> _M:
    """Build a model from already-valid values without validation (hot read paths only).

    Every field must be given. About 10x cheaper than ``model_construct``; used for rows read
    back from storage, which were validated when written.
    """
    return construct_from(cls, values, _private)


def construct_from(cls: type[_M], values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
    """:func:`construct` taking the field dict itself (which the model then owns)."""
    obj = _new_object(cls)
    _set_attribute(obj, "__dict__", values)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, private)
    return obj


def loads_json(text: str | bytes) -> Any:
    """Decode JSON text with orjson (about 4x faster than :func:`json.loads` on stored content),
    falling back to :mod:`json` for what orjson refuses but Python accepts (integers wider than
    64 bits, ``NaN``), so reading never becomes stricter than writing.

    Raises:
        ValueError: if the text is not JSON for either decoder.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def new_id() -> str:
    """Return a new random id (a UUID4 string), the format the original uses.

    Cut from the hex of 16 random bytes (version and variant digits set in the text): 1.2 µs
    against 3 µs through ``uuid.uuid4``, on every thread created without an id.
    """
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"  # RFC 4122 variant: the 17th hex digit is 10xx


def new_ids(n: int) -> list[str]:
    """Return ``n`` new UUID4 strings from one ``os.urandom`` call (bulk copies, e.g. clones).

    The version and variant bits are set on the bytes and the text is cut from one ``hex()``:
    about 0.3 µs per id against 2 µs through ``uuid.UUID``.
    """
    raw = bytearray(os.urandom(16 * n))
    for i in range(6, 16 * n, 16):
        raw[i] = (raw[i] & 0x0F) | 0x40  # version 4
        raw[i + 2] = (raw[i + 2] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects (bulk reads, clones).

    Every few hundred container allocations CPython runs a collection, and the older
    generations rescan every live object; decoding 10,000 stored messages measured 4-7x slower
    with the collector on (0.13-0.23 s against 0.035 s). Nested or concurrent use is safe: only
    the outermost pause that found the collector enabled turns it back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def validate_id(value: Any, what: str = "id") -> str:
    """Check that ``value`` is a usable id and return it.

    An id is a non-empty string of at most 255 characters with no control characters and no
    leading or trailing whitespace.

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
    return value


def validate_json(value: Any, what: str = "metadata") -> Any:
    """Check that ``value`` is JSON-serialisable (no NaN/Infinity) and return it.

    Raises:
        ValidationError: if the value cannot be stored as JSON.
    """
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from exc
    return value


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
        try:
            return _CONTENT_ENCODER(self.to_storage())
        except (TypeError, ValueError) as exc:
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
        fast = _text_only_content(raw)
        if fast is not None:
            return fast
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


_from_iso = datetime.fromisoformat
_orjson_loads = orjson.loads
_OrjsonDecodeError = orjson.JSONDecodeError


def _text_only_content(raw: Any) -> MessageContent | None:
    """Decode the common stored shape ``{"format": 2, "parts": [{"type": "text", "text": ...}]}``
    (any number of text parts, optionally ``metadata``) without the general per-part dispatch;
    ``None`` for anything else (the caller then takes :meth:`MessageContent.from_storage`).
    The objects are built as :func:`construct_from` would, inlined: this is the read hot path."""
    if type(raw) is not dict:
        return None
    parts_raw = raw.get("parts")
    if type(parts_raw) is not list:
        return None
    metadata = raw.get("metadata")
    if len(raw) != (2 if metadata is None else 3) or "format" not in raw:
        return None
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        return None
    parts: list[Any] = []
    for p in parts_raw:
        if type(p) is not dict or len(p) != 2 or p.get("type") != "text" or type(text := p.get("text")) is not str:
            return None
        part = _new_object(TextPart)
        _set_attribute(part, "__dict__", {"type": "text", "text": text, "extra": {}})
        _set_fields_set(part, {"type", "text", "extra"})
        _set_extra(part, None)
        _set_private(part, None)
        parts.append(part)
    content = _new_object(MessageContent)
    _set_attribute(content, "__dict__", {"format": 2, "parts": parts, "metadata": metadata, "extra": {}})
    _set_fields_set(content, {"format", "parts", "metadata", "extra"})
    _set_extra(content, None)
    _set_private(content, None)
    return content


def message_from_row(row: Sequence[Any]) -> Message:
    """Build a :class:`Message` from stored columns without re-validation (rows were validated
    when written): the read hot path of the SQL adapters.

    Args:
        row: ``(id, thread_id, resource_id, role, created_at, content, type)``: the timestamp as
            stored text (``...Z``) or a ``datetime``; the content as JSON text, bytes or a
            decoded dict; ``type`` ``None`` reads as ``"v2"``. Extra trailing columns are ignored.

    About 2 µs for a one-text-part message (orjson decode plus three objects built directly),
    against 6 µs through :meth:`MessageContent.from_storage` and validation.
    """
    content = row[5]
    decoded = None
    if type(content) is str:
        try:  # noqa: SIM105  (contextlib.suppress costs more than the decode it guards)
            decoded = _text_only_content(_orjson_loads(content))
        except _OrjsonDecodeError:
            pass
    elif isinstance(content, (bytes, bytearray, memoryview)):
        content = bytes(content).decode("utf-8")
    if decoded is None:
        decoded = MessageContent.from_storage(content)
    created = row[4]
    if type(created) is str:
        created = _from_iso(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
    else:
        created = parse_timestamp(created)
    message = _new_object(Message)
    _set_attribute(
        message,
        "__dict__",
        {
            "id": row[0],
            "thread_id": row[1],
            "resource_id": row[2],
            "role": row[3],
            "created_at": created,
            "content": decoded,
            "type": row[6] or "v2",
        },
    )
    _set_fields_set(message, {"id", "thread_id", "resource_id", "role", "created_at", "content", "type"})
    _set_extra(message, None)
    _set_private(message, {"_content_json": content if type(content) is str else None})
    return message


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

    @field_validator("metadata")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_json(value)  # type: ignore[no-any-return]


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

    @field_validator("metadata")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_json(value)  # type: ignore[no-any-return]


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
        score: Relevance, higher is better: cosine similarity, or the fused score in [0, 1]
            with hybrid retrieval.
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


# ---------------------------------------------------------------------------------------------
# Conversion to and from OpenAI / litellm chat messages


def _content_text(content: Any) -> tuple[str, list[FilePart]]:
    """Flatten OpenAI content (string or list of content parts) into text and files."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    files: list[FilePart] = []
    for item in content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            if item.get("type") == "text":
                texts.append(str(item.get("text", "")))
            elif item.get("type") == "image_url":
                url = item.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                files.append(FilePart(url=str(url), mime_type="image/*"))
    return "\n".join(texts), files


def _parse_args(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return {"_raw": arguments}
    return arguments if arguments is not None else {}


def _parse_result(content: Any) -> Any:
    """A tool message's content: decoded JSON when it is JSON, else the text as is."""
    if isinstance(content, str):
        try:
            return json.loads(content)
        except json.JSONDecodeError:
            return content
    text, _ = _content_text(content)
    return text


def _stamp(t: datetime | None) -> dict[str, Any]:
    return {} if t is None else {"created_at": t}


def from_chat_messages(
    chat_messages: Iterable[dict[str, Any]],
    thread_id: str,
    resource_id: str | None = None,
    start: datetime | None = None,
) -> list[Message]:
    """Convert OpenAI/litellm chat messages into stored messages.

    An assistant message's ``tool_calls`` become :class:`ToolInvocationPart` parts; a following
    ``role="tool"`` message fills in the matching part's result (``state="result"``) instead of
    becoming a message of its own, as the original stores them. A tool message with no
    matching call is kept as a ``role="tool"`` message. With ``start``, timestamps are
    ``start`` plus 1 ms per message; without it they are left to ``save_messages``, which
    appends them in order after the thread's newest message.

    Args:
        chat_messages: Dicts with ``role`` and ``content`` (string or content parts),
            optional ``tool_calls``, ``tool_call_id``, ``name`` and ``id``.
        thread_id: Thread of the new messages.
        resource_id: Owning resource.
        start: Time of the first message.

    Raises:
        ValidationError: on a role that is not user/assistant/system/tool.
    """
    out: list[Message] = []
    pending: dict[str, ToolInvocationPart] = {}
    t: datetime | None = truncate_ms(start) if start else None
    for raw in chat_messages:
        role = raw.get("role")
        if role not in ("user", "assistant", "system", "tool"):
            raise ValidationError(f"unsupported chat role: {role!r}")
        if role == "tool":
            call_id = str(raw.get("tool_call_id", ""))
            result = _parse_result(raw.get("content"))
            if call_id in pending:
                part = pending.pop(call_id)
                part.result = result
                part.state = "result"
                continue
            part = ToolInvocationPart(
                tool_call_id=call_id, tool_name=str(raw.get("name", "")), result=result, state="result"
            )
            out.append(
                Message(
                    role="tool",
                    thread_id=thread_id,
                    resource_id=resource_id,
                    **_stamp(t),
                    content=MessageContent(parts=[part]),
                )
            )
            t = t + timedelta(milliseconds=1) if t else None
            continue
        text, files = _content_text(raw.get("content"))
        parts: list[Any] = []
        if text:
            parts.append(TextPart(text=text))
        parts.extend(files)
        for call in raw.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            part = ToolInvocationPart(
                tool_call_id=str(call.get("id", "")),
                tool_name=str(fn.get("name", "")),
                args=_parse_args(fn.get("arguments")),
            )
            pending[part.tool_call_id] = part
            parts.append(part)
        kwargs: dict[str, Any] = {}
        if raw.get("id"):
            kwargs["id"] = str(raw["id"])
        out.append(
            Message(
                role=role,
                thread_id=thread_id,
                resource_id=resource_id,
                **_stamp(t),
                content=MessageContent(parts=parts),
                **kwargs,
            )
        )
        t = t + timedelta(milliseconds=1) if t else None
    return out


def _file_to_openai(part: FilePart) -> dict[str, Any]:
    # Mastra stores a file's URL or data: URI in ``data`` (no ``url`` key)
    url = part.url or (part.data if part.data and part.data.startswith(("http://", "https://", "data:")) else None)
    if url:
        return {"type": "image_url", "image_url": {"url": url}}
    if part.mime_type.startswith("image/") and part.data:
        return {"type": "image_url", "image_url": {"url": f"data:{part.mime_type};base64,{part.data}"}}
    return {"type": "text", "text": f"[file {part.filename or ''} ({part.mime_type})]"}


def _tool_result_text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def _flush_step(out: list[dict[str, Any]], text_buf: list[str], calls: list[ToolInvocationPart]) -> None:
    """Emit one assistant step (text + tool calls) and its tool results, then reset the buffers."""
    if not text_buf and not calls:
        return
    entry: dict[str, Any] = {"role": "assistant", "content": "\n".join(text_buf) if text_buf else None}
    if calls:
        entry["tool_calls"] = [
            {
                "id": c.tool_call_id,
                "type": "function",
                "function": {"name": c.tool_name, "arguments": json.dumps(c.args, ensure_ascii=False)},
            }
            for c in calls
        ]
    out.append(entry)
    for c in calls:
        out.append({"role": "tool", "tool_call_id": c.tool_call_id, "content": _tool_result_text(c.result)})
    text_buf.clear()
    calls.clear()


_CHAT_ROLES = frozenset({"user", "assistant", "system", "tool"})


def to_chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Convert stored messages into OpenAI/litellm chat messages.

    An assistant message whose parts interleave text and tool invocations is split into the
    provider's sequence: ``assistant`` (text + ``tool_calls``), one ``tool`` message per result,
    then the next assistant step. Tool invocations without a result (``state != "result"``) are
    dropped, as the original does with incomplete calls, because providers reject a call
    without its result. Reasoning parts and unknown parts are not sent, nor are messages of
    roles this library does not model (the ``signal`` messages, reminders and state, that a
    Mastra TypeScript agent may keep in a shared thread); they are still stored and recalled.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role not in _CHAT_ROLES:
            continue
        if msg.role == "tool":
            for part in msg.content.parts:
                if isinstance(part, ToolInvocationPart) and part.state == "result":
                    out.append(
                        {"role": "tool", "tool_call_id": part.tool_call_id, "content": _tool_result_text(part.result)}
                    )
            continue
        if msg.role in ("user", "system"):
            texts = [p.text for p in msg.content.parts if isinstance(p, TextPart)]
            files = [p for p in msg.content.parts if isinstance(p, FilePart)]
            if files and msg.role == "user":
                content: Any = [{"type": "text", "text": t} for t in texts] + [_file_to_openai(f) for f in files]
            else:
                content = "\n".join(texts)
            out.append({"role": msg.role, "content": content})
            continue
        # assistant: split into steps at each text that follows tool calls
        text_buf: list[str] = []
        calls: list[ToolInvocationPart] = []
        for part in msg.content.parts:
            if isinstance(part, TextPart):
                if calls:
                    _flush_step(out, text_buf, calls)
                text_buf.append(part.text)
            elif isinstance(part, ToolInvocationPart):
                if part.state == "result":
                    calls.append(part)
            elif isinstance(part, RawPart) and part.type == "step-start" and calls:
                _flush_step(out, text_buf, calls)
        _flush_step(out, text_buf, calls)
    return out
