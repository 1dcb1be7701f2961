"""BotWire-compatible key-value routes under ``/botwire``: point the unmodified ``botwire``
client (PyPI ``botwire`` 0.2.1) at this server with ``BOTWIRE_URL=http://HOST:PORT/botwire``.

BotWire's wire format (read from the client's source):

* ``PUT /botwire/memory/{namespace}/{key}`` with body ``{"value": <string>}``: the client sends a
  string as it is and any other value as its ``json.dumps`` text;
* ``GET /botwire/memory/{namespace}/{key}`` -> ``{"key": ..., "value": ...}`` or 404;
* ``DELETE /botwire/memory/{namespace}/{key}`` -> 200 (404 when there was no such key, which the
  client reports as ``False``);
* ``GET /botwire/memory/{namespace}`` -> ``{"keys": [...]}`` (every live key, sorted).

Types round-trip (BotWire's own server hands every value back as a string): a string whose
text is a JSON number, ``true``/``false``/``null``, array or object is stored as that JSON
value, so ``set(k, 3)`` reads back ``3`` and ``set(k, None)`` reads back ``None``. The
wire format can not tell ``set(k, "3")`` from ``set(k, 3)``: such a string also comes back as
the number (the client itself already decodes strings starting with ``[`` or ``{``). Any other
string is stored as it is. A body whose ``value`` is already a non-string JSON value (another
client) is stored as it is. Entries are the same as the native ``/memory`` routes' (same
namespaces, same storage), so both views see the same data.

Auth and limits are the server's: API keys and their namespace scopes, ``max_value_bytes``,
``max_key_length``, per-namespace rate and quotas. The BotWire client sends no headers, so a
key travels in the URL's user-info, which ``httpx`` turns into Basic auth:
``BOTWIRE_URL=http://botwire:<API key>@HOST:PORT/botwire`` (the user name is ignored). A Bearer
header works too.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mastra_memory.errors import AccessDeniedError, ValidationError
from mastra_memory.server.deps import ServerState, read_json_body, state
from mastra_memory.server.routes_kv import _admit_write, _encoded_size, _names

__all__ = ["decode_botwire_value", "router"]

# BotWire's own wire format (its client, not ours, defines it): served, documented in
# docs/server.md, and kept out of this server's OpenAPI document, which describes our API.
router = APIRouter(prefix="/botwire/memory", tags=["botwire"], include_in_schema=False)

_JSON_START = frozenset("-0123456789[{tfn")


class BotWireKeys(BaseModel):
    namespace: str
    keys: list[str]


class BotWireValue(BaseModel):
    key: str
    value: Any


class BotWireWritten(BaseModel):
    ok: bool
    key: str


def decode_botwire_value(value: Any) -> Any:
    """The JSON value a BotWire ``PUT`` carries: a string that is the JSON text of a number,
    boolean, null, array or object becomes that value; any other value is kept as it is.

    Args:
        value: The ``value`` field of the request body.

    Returns:
        The value to store.
    """
    if not isinstance(value, str) or not value or value[0] not in _JSON_START:
        return value
    try:
        decoded = json.loads(value, parse_constant=_reject)
    except (ValueError, RecursionError):
        return value
    return value if isinstance(decoded, str) else decoded


def _reject(name: str) -> Any:
    raise ValueError(name)


def _authorization(request: Request) -> str | None:
    """The request's credentials as a Bearer header: Basic auth (from a URL's user-info) carries
    the API key as its password."""
    header = request.headers.get("authorization")
    if header is None or header[:6].lower() != "basic ":
        return header
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AccessDeniedError("malformed Basic credentials", 401) from None
    _, _, password = decoded.partition(":")
    return f"Bearer {password}"


def _authorized(request: Request, namespace: str, key: str | None, write: bool) -> tuple[ServerState, str, str]:
    st = state(request)
    caller = st.keys.authenticate(_authorization(request))
    ns, k = _names(st, namespace, key)
    st.keys.require_namespace(caller, ns, write=write)
    return st, ns, k


@router.get("/{namespace}", response_model=BotWireKeys, summary="BotWire: list keys")
async def botwire_keys(namespace: str, request: Request) -> JSONResponse:
    """Every live key of the namespace, in code-point order."""
    st, ns, _ = _authorized(request, namespace, None, write=False)
    keys: list[str] = []
    after: str | None = None
    while True:
        page = await st.call(st.storage.kv_list_keys, ns, None, after, 1000)
        keys.extend(page.keys)
        if page.next_after is None:
            break
        after = page.next_after
    return JSONResponse({"namespace": ns, "keys": keys})


@router.put("/{namespace}/{key:path}", response_model=BotWireWritten, summary="BotWire: set a value")
async def botwire_set(namespace: str, key: str, request: Request) -> JSONResponse:
    """Body ``{"value": ...}``; see the module notes for how strings are decoded."""
    st, ns, k = _authorized(request, namespace, key, write=True)
    body = await read_json_body(request, 2 * st.limits.max_value_bytes + 1024)
    if not isinstance(body, dict) or "value" not in body:
        raise ValidationError('body must be a JSON object {"value": ...}')
    value = decode_botwire_value(body["value"])
    size = _encoded_size(st, value)
    await _admit_write(st, ns, k, size)
    await st.call(st.storage.kv_set, ns, k, value, None)
    return JSONResponse({"ok": True, "key": k})


@router.get("/{namespace}/{key:path}", response_model=BotWireValue, summary="BotWire: get a value")
async def botwire_get(namespace: str, key: str, request: Request) -> JSONResponse:
    """``{"key", "value"}`` with the value's JSON type; 404 for a missing or expired key."""
    st, ns, k = _authorized(request, namespace, key, write=False)
    entry = await st.call(st.storage.kv_get, ns, k)
    if entry is None:
        return JSONResponse({"detail": f"no key {k!r} in namespace {ns!r}"}, status_code=404)
    return JSONResponse({"key": k, "value": entry.value})


@router.delete("/{namespace}/{key:path}", summary="BotWire: delete a key")
async def botwire_delete(namespace: str, key: str, request: Request) -> JSONResponse:
    """200 ``{"deleted": true}``, or 404 when there was no such key."""
    st, ns, k = _authorized(request, namespace, key, write=True)
    deleted = await st.call(st.storage.kv_delete, ns, k)
    return JSONResponse({"deleted": bool(deleted)}, status_code=200 if deleted else 404)
