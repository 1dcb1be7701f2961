"""Key-value memory: the value types, validation and encoding every backend shares (no I/O).

:class:`~mastra_memory.storage.base.MemoryStorage` validates once with these helpers and hands its
``_kv_*`` hooks clean input: a namespace and key that passed :func:`validate_kv_namespace` and
:func:`validate_kv_key`, and a value already encoded once as compact JSON text
(:func:`encode_kv_value`, ``json.dumps(..., allow_nan=False)``). Backends store that text
verbatim and return it verbatim, so every JSON value comes back with its type: ``1`` stays an
``int``, ``1.0`` a ``float``, ``True`` a ``bool``, ``None`` ``None``, nested lists and objects
as they were.

Keys sort by code point (byte order of their UTF-8 encoding), which is also the order SQLite's
``BINARY`` collation, PostgreSQL's ``"C"`` collation and MongoDB's default string comparison
use; prefix listing is an indexed range ``prefix <= key < prefix_upper_bound(prefix)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mastra_memory.errors import ValidationError

__all__ = [
    "DEFAULT_MAX_KV_VALUE_BYTES",
    "KV_MAX_KEY_LENGTH",
    "KV_MAX_NAMESPACE_LENGTH",
    "KV_MISSING",
    "KVEntry",
    "KVKeyPage",
    "KVModifier",
    "KVRow",
    "KVStats",
    "KVWrite",
    "canonical_json",
    "decode_kv_value",
    "encode_kv_value",
    "prefix_upper_bound",
    "validate_kv_key",
    "validate_kv_namespace",
    "validate_kv_number",
    "validate_kv_prefix",
    "validate_kv_ttl",
]

KV_MAX_KEY_LENGTH: Final = 512
"""Longest key, in characters."""

KV_MAX_NAMESPACE_LENGTH: Final = 255
"""Longest namespace, in characters (the length of every other id in the schema)."""

DEFAULT_MAX_KV_VALUE_BYTES: Final = 4 * 1024 * 1024
"""Largest encoded value a store accepts by default, in bytes of UTF-8 JSON (4 MiB)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_CODE_POINT = 0x10FFFF


class _Missing:
    """The type of :data:`KV_MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KV_MISSING"

    def __bool__(self) -> bool:
        return False


KV_MISSING: Final = _Missing()
"""Sentinel for "no such key" in compare-and-set (``None`` is a storable JSON value)."""


@dataclass(frozen=True, slots=True)
class KVRow:
    """A stored entry as a backend returns it: the JSON text exactly as it was written."""

    value_json: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KVWrite:
    """What a read-modify-write decides to store: encoded JSON text and the expiry time."""

    value_json: str
    expires_at: datetime | None


KVModifier = Callable[[KVRow | None], KVWrite | None]
"""Called by ``_kv_modify`` inside the backend's transaction with the live row (or ``None``);
returns what to write, or ``None`` to leave the entry unchanged. It may raise to abort."""


@dataclass(frozen=True, slots=True)
class KVEntry:
    """A live key-value entry.

    Attributes:
        namespace: The namespace.
        key: The key.
        value: The decoded JSON value, with its original type.
        expires_at: When it expires (UTC), or ``None`` for never.
        created_at: When the key was first written (UTC; reset when an expired key is rewritten).
        updated_at: The last write (UTC).
    """

    namespace: str
    key: str
    value: Any
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KVKeyPage:
    """One page of keys in ascending code-point order.

    Attributes:
        keys: The keys of this page.
        next_after: Pass as ``after_key`` to get the next page; ``None`` on the last page.
    """

    keys: list[str]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class KVStats:
    """Usage of one namespace (live entries only).

    Attributes:
        keys: Number of live keys.
        value_bytes: Sum of the encoded values' sizes, in bytes of UTF-8 JSON.
    """

    keys: int
    value_bytes: int


def _check_text(value: Any, what: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(f"{what} must not be empty")
    if len(value) > max_length:
        raise ValidationError(f"{what} is longer than {max_length} characters")
    if _CONTROL.search(value):
        raise ValidationError(f"{what} contains control characters: {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid Unicode text (lone surrogate)") from exc
    return value


def validate_kv_namespace(namespace: Any) -> str:
    """Check a namespace and return it.

    A namespace is a non-empty string of at most 255 characters with no control characters, no
    ``/`` and not ``.`` or ``..``, so that it is one URL path segment
    (``/memory/{namespace}/{key}``).

    Raises:
        ValidationError: if the namespace is not acceptable.
    """
    _check_text(namespace, "namespace", KV_MAX_NAMESPACE_LENGTH)
    if "/" in namespace or namespace in (".", ".."):
        raise ValidationError(f"namespace may not contain '/' or be '.' or '..': {namespace!r}")
    return str(namespace)


def validate_kv_key(key: Any, max_length: int = KV_MAX_KEY_LENGTH) -> str:
    """Check a key and return it.

    A key is a non-empty string of at most ``max_length`` (512) characters with no control
    characters. ``/`` is allowed (``"user/42/name"``), but no ``/``-separated segment may be
    ``.`` or ``..``: such a key could not be addressed by URL without a proxy or client
    normalising it into another path, so it is refused everywhere for one consistent contract.

    Raises:
        ValidationError: if the key is not acceptable.
    """
    _check_text(key, "key", max_length)
    if any(seg in (".", "..") for seg in key.split("/")):
        raise ValidationError(f"key may not contain '.' or '..' path segments: {key!r}")
    return str(key)


def validate_kv_prefix(prefix: Any) -> str:
    """Check a listing prefix: a string of at most 512 characters without control characters
    (it may end anywhere, so ``.`` segments are allowed).

    Raises:
        ValidationError: if the prefix is not acceptable.
    """
    if prefix == "":
        return ""
    return _check_text(prefix, "prefix", KV_MAX_KEY_LENGTH)


def validate_kv_ttl(ttl: Any) -> float | None:
    """Check a time-to-live in seconds (``None`` = never expires; otherwise a finite number > 0).

    Raises:
        ValidationError: on a bool, a non-number, zero, a negative or a non-finite value.
    """
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise ValidationError(f"ttl must be a number of seconds, got {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValidationError(f"ttl must be a finite number of seconds > 0, got {ttl!r}")
    if ttl > 100 * 365 * 86400:
        raise ValidationError("ttl is longer than 100 years; omit it for no expiry")
    return float(ttl)


def validate_kv_number(value: Any, what: str = "by") -> int | float:
    """Check an increment step: an ``int`` or a finite ``float`` (``bool`` is refused).

    Raises:
        ValidationError: if it is not such a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{what} must be an int or a float, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{what} must be finite, got {value!r}")
    return value


def _check_json_value(value: Any) -> None:
    """Refuse what ``json.dumps`` would silently change: non-string object keys (``{1: x}``
    would come back as ``{"1": x}``) and values of other types. Iterative, so hostile nesting
    can not exhaust the stack here."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (str, int)):  # bool is an int
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"value contains a non-finite float ({item!r}); JSON has none")
            continue
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    raise ValidationError(f"object keys must be strings (JSON would turn {k!r} into a string)")
                stack.append(v)
            continue
        if isinstance(item, (list, tuple)):
            stack.extend(item)
            continue
        raise ValidationError(f"value is not JSON: {type(item).__name__} is not a JSON type")


def encode_kv_value(value: Any, max_bytes: int) -> str:
    """Encode a JSON value once, as compact text, and check its size.

    Tuples are stored as arrays (they come back as lists).

    Args:
        value: Any JSON value: ``None``, ``bool``, ``int``, ``float`` (finite), ``str``,
            lists/tuples and dicts with string keys, nested.
        max_bytes: Largest accepted encoding, in bytes of UTF-8.

    Returns:
        The JSON text (``json.dumps(value, allow_nan=False)``, compact separators, non-ASCII kept).

    Raises:
        ValidationError: if the value is not JSON, too deeply nested, or over ``max_bytes``.
    """
    _check_json_value(value)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        size = len(text.encode("utf-8"))
    except RecursionError as exc:
        raise ValidationError("value is nested too deeply to encode") from exc
    except UnicodeEncodeError as exc:
        raise ValidationError("value contains invalid Unicode text (lone surrogate)") from exc
    except (TypeError, ValueError) as exc:  # pragma: no cover - _check_json_value catches these
        raise ValidationError(f"value is not JSON-serialisable: {exc}") from exc
    if size > max_bytes:
        raise ValidationError(f"value is {size} bytes of JSON, over the limit of {max_bytes} bytes")
    return text


def decode_kv_value(text: str | bytes) -> Any:
    """Decode stored JSON text (the inverse of :func:`encode_kv_value`)."""
    return json.loads(text)


def canonical_json(value: Any) -> str:
    """A type-strict canonical form for comparisons: ``1``, ``1.0`` and ``true`` all differ,
    object key order does not matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    Keys with the prefix are exactly ``prefix <= key < bound`` in code-point order (which is the
    byte order of UTF-8), so a backend answers a prefix query with an index range scan instead
    of ``LIKE`` (which would need escaping of ``%`` and ``_`` and ignores indexes on many
    collations). Returns ``None`` when no bound exists (the prefix is all U+10FFFF).
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last == _MAX_CODE_POINT:
            continue
        nxt = last + 1
        if 0xD800 <= nxt <= 0xDFFF:  # skip the surrogate block: not encodable in UTF-8
            nxt = 0xE000
        return "".join(chars) + chr(nxt)
    return None
