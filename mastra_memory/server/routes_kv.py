"""Key-value routes: ``/memory/{namespace}`` and ``/memory/{namespace}/{key}``.

The body of ``PUT`` is the JSON value itself (``curl -X PUT --json '{"a": 1}' .../memory/ns/k``)
and the TTL a query parameter (``?ttl=60``, seconds). Keys may contain ``/`` and any character
that is percent-encoded in the URL; ``.`` and ``..`` segments are refused (400) so no proxy can
normalise a key into another path. Storage calls run inline for embedded stores and in the thread
pool otherwise (``ServerState.inline_storage``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mastra_memory.errors import ValidationError
from mastra_memory.kv import decode_cursor, encode_cursor
from mastra_memory.server.deps import ServerState, read_json_body, state
from mastra_memory.server.problems import problem_response
from mastra_memory.storage.kv import (
    KV_MAX_NAMESPACE_LENGTH,
    KV_MISSING,
    KVEntry,
    encode_kv_value,
    validate_kv_key,
    validate_kv_namespace,
    validate_kv_number,
    validate_kv_ttl,
)
from mastra_memory.types import format_timestamp

__all__ = ["router"]

router = APIRouter(prefix="/memory", tags=["key-value"])


class KVWritten(BaseModel):
    namespace: str
    key: str
    bytes: int
    ttl: float | None


class KVKeys(BaseModel):
    """One page of keys; pass ``next_cursor`` as ``cursor`` for the next (null on the last)."""

    namespace: str
    keys: list[str]
    next_cursor: str | None


class KVDeleted(BaseModel):
    deleted: bool | int


class KVIncremented(BaseModel):
    value: int | float


class KVSwapped(BaseModel):
    swapped: bool


_JSON_BODY = {
    "requestBody": {
        "required": True,
        "description": "The value: any JSON document (object, array, string, number, true/false, null).",
        "content": {"application/json": {"schema": {}}},
    }
}


def _authorized(request: Request, namespace: str, key: str | None, write: bool) -> tuple[ServerState, str, str]:
    """Authenticate (401), validate the names (422) and check the key's scope (403), in that
    order, before any body is read."""
    st = state(request)
    caller = st.keys.authenticate(request.headers.get("authorization"))
    ns, k = _names(st, namespace, key)
    st.keys.require_namespace(caller, ns, write=write)
    return st, ns, k


def _names(st: ServerState, namespace: str, key: str | None = None) -> tuple[str, str]:
    ns = validate_kv_namespace(namespace)
    if key is None:
        return ns, ""
    if len(key) > st.limits.max_key_length:
        raise ValidationError(f"key is longer than {st.limits.max_key_length} characters")
    return ns, validate_kv_key(key)


def _encoded_size(st: ServerState, value: Any) -> int:
    """Bytes of the value's stored JSON; 413 if over ``max_value_bytes``, 422 if not JSON."""
    size = len(encode_kv_value(value, 2**62).encode("utf-8"))
    if size > st.limits.max_value_bytes:
        raise HTTPException(413, f"value is {size} bytes of JSON, over the limit of {st.limits.max_value_bytes} bytes")
    return size


async def _admit_write(st: ServerState, ns: str, key: str, size: int) -> None:
    limits = st.limits.for_namespace(ns)
    st.rates.take(ns, limits)
    if limits.max_keys is not None or limits.max_bytes is not None:
        await st.usage.check_write(ns, key, size, limits)


def _query(request: Request, name: str) -> str | None:
    """One query parameter. The hot routes read their few query parameters themselves: FastAPI's
    per-request resolution of declared ``Query`` parameters costs about a third of a small
    request's CPU here. They are declared for OpenAPI with :func:`_doc_params` instead."""
    if not request.scope.get("query_string"):
        return None
    return request.query_params.get(name)


def _query_number(request: Request, name: str, kind: type[int] | type[float], low: float, high: float) -> Any:
    raw = _query(request, name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise ValidationError(f"query parameter {name!r} must be a number, got {raw!r}") from None
    if not low <= value <= high:  # also false for NaN
        raise ValidationError(f"query parameter {name!r} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _doc_params(*params: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": schema, "description": d} for n, schema, d in params
        ]
    }


_MAX_TTL = 100 * 365 * 86400
_TTL_PARAM = (
    "ttl",
    {"type": "number", "exclusiveMinimum": 0, "maximum": _MAX_TTL},
    "Seconds until the key expires (default: never; at most 100 years)",
)
_TTL_SCHEMA = {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": _MAX_TTL}, {"type": "null"}]}
_INT64 = 2**63
_CONTROL = "\\x00-\\x1f\\x7f"
NAMESPACE_PATTERN = f"^([^{_CONTROL}/.][^{_CONTROL}/]*|\\.[^{_CONTROL}/.][^{_CONTROL}/]*|\\.\\.[^{_CONTROL}/]+)$"
"""A namespace: one path segment without control characters, not ``.`` or ``..``."""
KEY_PATTERN = f"^[^{_CONTROL}]+$"
"""A key: no control characters (``.`` and ``..`` segments are refused too, see
:func:`~mastra_memory.storage.kv.validate_kv_key`)."""


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


_INCREMENT_BODY = _body(
    {
        "type": "object",
        "properties": {
            "by": {"type": "number", "default": 1, "minimum": -_INT64, "maximum": _INT64 - 1},
            "ttl": _TTL_SCHEMA,
        },
        "additionalProperties": False,
    },
    "The step (default 1) and a TTL in seconds for a key this creates",
)
_CAS_BODY = _body(
    {
        "type": "object",
        "properties": {"expected": {}, "expect_missing": {"type": "boolean"}, "value": {}, "ttl": _TTL_SCHEMA},
        "required": ["value"],
        "additionalProperties": False,
        "oneOf": [
            {"required": ["expected"], "properties": {"expect_missing": {"const": False}}},
            {
                "required": ["expect_missing"],
                "properties": {"expect_missing": {"const": True}},
                "not": {"required": ["expected"]},
            },
        ],
    },
    "Give exactly one of expected (any JSON) or expect_missing: true",
)


def _object(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise ValidationError(f"unknown fields: {sorted(unknown)}")
    return body


@router.get(
    "/{namespace}",
    response_model=KVKeys,
    summary="List keys (prefix, cursor pagination)",
    openapi_extra=_doc_params(
        (
            "prefix",
            {"type": "string", "maxLength": 512, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
            "Only keys starting with this text",
        ),
        ("cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}, "next_cursor of the previous page"),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}, "Keys per page"),
    ),
)
async def list_keys(namespace: str, request: Request) -> JSONResponse:
    """Live keys in code-point order, ``limit`` per page; follow ``next_cursor`` to the end."""
    st, ns, _ = _authorized(request, namespace, None, write=False)
    limit = _query_number(request, "limit", int, 1, 10_000) or 1000
    cursor = decode_cursor(_query(request, "cursor"))
    page = await st.call(st.storage.kv_list_keys, ns, _query(request, "prefix"), cursor, limit)
    return JSONResponse({"namespace": ns, "keys": page.keys, "next_cursor": encode_cursor(page.next_after)})


@router.delete("/{namespace}", response_model=KVDeleted, summary="Delete every key of a namespace")
async def clear_namespace(namespace: str, request: Request) -> JSONResponse:
    st, ns, _ = _authorized(request, namespace, None, write=True)
    deleted = await st.call(st.storage.kv_clear, ns)
    st.usage.forget(ns)
    return JSONResponse({"deleted": deleted})


@router.post(
    "/{namespace}/{key:path}/increment",
    response_model=KVIncremented,
    summary="Atomic increment",
    openapi_extra=_INCREMENT_BODY,
)
async def increment(namespace: str, key: str, request: Request) -> JSONResponse:
    """Body ``{"by": 1, "ttl": null}`` (both optional). A missing key counts as 0; ``ttl``
    applies only when the key is created. 422 if the stored value is not a number."""
    st, ns, k = _authorized(request, namespace, key, write=True)
    body = _object(await read_json_body(request, 1024), {"by", "ttl"})
    by = validate_kv_number(body.get("by", 1))
    if not -_INT64 <= by <= _INT64 - 1:
        raise ValidationError(f"by must be between {-_INT64} and {_INT64 - 1}")
    ttl = validate_kv_ttl(body.get("ttl"))
    await _admit_write(st, ns, k, 32)
    value = await st.call(st.storage.kv_increment, ns, k, by, ttl)
    return JSONResponse({"value": value})


@router.post(
    "/{namespace}/{key:path}/compare-and-set",
    response_model=KVSwapped,
    summary="Atomic compare-and-set",
    openapi_extra=_CAS_BODY,
)
async def compare_and_set(namespace: str, key: str, request: Request) -> JSONResponse:
    """Body ``{"expected": <json>, "value": <json>, "ttl": null}``, or ``"expect_missing": true``
    instead of ``expected`` to create only if absent. Equality is type-strict."""
    st, ns, k = _authorized(request, namespace, key, write=True)
    limit = 2 * st.limits.max_value_bytes + 1024
    body = _object(await read_json_body(request, limit), {"expected", "value", "ttl", "expect_missing"})
    if "value" not in body:
        raise ValidationError("body needs 'value'")
    missing = body.get("expect_missing", False)
    if not isinstance(missing, bool) or (missing and "expected" in body) or (not missing and "expected" not in body):
        raise ValidationError("give exactly one of 'expected' or 'expect_missing': true")
    expected = KV_MISSING if missing else body["expected"]
    ttl = validate_kv_ttl(body.get("ttl"))
    size = _encoded_size(st, body["value"])
    await _admit_write(st, ns, k, size)
    swapped = await st.call(st.storage.kv_compare_and_set, ns, k, expected, body["value"], ttl)
    return JSONResponse({"swapped": swapped})


@router.put(
    "/{namespace}/{key:path}",
    response_model=KVWritten,
    summary="Store a JSON value",
    openapi_extra={**_JSON_BODY, **_doc_params(_TTL_PARAM)},
)
async def put_value(namespace: str, key: str, request: Request) -> JSONResponse:
    """The body is the value. 413 if it is over the server's ``max_value_bytes``."""
    st, ns, k = _authorized(request, namespace, key, write=True)
    seconds = validate_kv_ttl(_query_number(request, "ttl", float, 0, float("inf")))
    value = await read_json_body(request, st.limits.max_value_bytes)
    size = _encoded_size(st, value)
    await _admit_write(st, ns, k, size)
    await st.call(st.storage.kv_set, ns, k, value, seconds)
    return JSONResponse({"namespace": ns, "key": k, "bytes": size, "ttl": seconds})


@router.head(
    "/{namespace}/{key:path}",
    summary="Does the key exist? (200 or 404, no body)",
    responses={404: {"description": "No such key, or it expired"}},
)
async def head_value(namespace: str, key: str, request: Request) -> Response:
    st, ns, k = _authorized(request, namespace, key, write=False)
    found = await st.call(st.storage.kv_exists, ns, k)
    return Response(status_code=200 if found else 404)


@router.get(
    "/{namespace}/{key:path}",
    response_model=KVEntry,
    summary="Read a value",
    responses={404: {"description": "No such key, or it expired"}},
)
async def get_value(namespace: str, key: str, request: Request) -> JSONResponse:
    st, ns, k = _authorized(request, namespace, key, write=False)
    entry = await st.call(st.storage.kv_get, ns, k)
    if entry is None:
        return problem_response(404, f"no key {k!r} in namespace {ns!r}")
    return JSONResponse(
        {
            "namespace": ns,
            "key": k,
            "value": entry.value,
            "expires_at": format_timestamp(entry.expires_at) if entry.expires_at else None,
            "created_at": format_timestamp(entry.created_at),
            "updated_at": format_timestamp(entry.updated_at),
        }
    )


@router.delete("/{namespace}/{key:path}", response_model=KVDeleted, summary="Delete a key")
async def delete_value(namespace: str, key: str, request: Request) -> JSONResponse:
    st, ns, k = _authorized(request, namespace, key, write=True)
    deleted = await st.call(st.storage.kv_delete, ns, k)
    return JSONResponse({"deleted": deleted})


def document_names(schema: dict[str, Any], max_key_length: int) -> None:
    """Write the namespace and key rules into the path parameters of the key-value operations
    of an OpenAPI document (``schema``, changed in place): the route functions read them raw.

    Args:
        schema: The OpenAPI document.
        max_key_length: The server's ``ServerLimits.max_key_length``.
    """
    rules = {
        "namespace": {
            "type": "string",
            "minLength": 1,
            "maxLength": KV_MAX_NAMESPACE_LENGTH,
            "pattern": NAMESPACE_PATTERN,
        },
        "key": {"type": "string", "minLength": 1, "maxLength": max_key_length, "pattern": KEY_PATTERN},
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(router.prefix + "/"):
            continue
        for operation in operations.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") == "path" and param.get("name") in rules:
                    param["schema"] = {**param.get("schema", {}), **rules[param["name"]]}
