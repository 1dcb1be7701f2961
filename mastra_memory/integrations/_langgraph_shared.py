"""The pure parts of the LangGraph store (no I/O): entry keys, filters, namespace matching.

Used by :mod:`mastra_memory.integrations._lg_ops_async` (and its generated sync face).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from mastra_memory.errors import MissingDependencyError, ValidationError

try:
    from langgraph.store.base import MatchCondition
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("langgraph", "langgraph") from exc

PAGE = 500
"""Keys read per key-value listing call."""


def _part(text: str) -> str:
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def entry_key(namespace: tuple[str, ...], key: str) -> str:
    return "/".join(_part(label) for label in namespace) + "//" + _part(key)


def prefix_key(prefix: tuple[str, ...]) -> str:
    return "".join(_part(label) + "/" for label in prefix)


def split_key(entry_key: str) -> tuple[tuple[str, ...], str]:
    head, _, key = entry_key.partition("//")
    return tuple(unquote(label) for label in head.split("/")), unquote(key)


def item_id(entry_key: str) -> str:
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


def check_filter(conditions: Mapping[str, Any] | None) -> None:
    """Refuse operators LangGraph's filter language does not have (before any I/O).

    Raises:
        ValidationError: on an unknown ``$operator``.
    """
    for expected in (conditions or {}).values():
        if isinstance(expected, Mapping):
            for op in expected:
                if str(op).startswith("$") and op not in _OPERATORS:
                    raise ValidationError(f"unsupported filter operator {op!r} (use {', '.join(_OPERATORS)})")


def matches(value: Mapping[str, Any], conditions: Mapping[str, Any] | None) -> bool:
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


def namespace_matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(want == "*" or want == got for want, got in zip(path, part, strict=True))
