"""Request plumbing shared by the routers: the app state, the caller's API key, bounded bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from mastra_memory.memory_async import AsyncMemory
from mastra_memory.server.config import ApiKey, ServerLimits
from mastra_memory.server.guards import KeyRing, RateLimiter, UsageTracker
from mastra_memory.server.problems import ProblemError
from mastra_memory.storage.base import MemoryStorage

__all__ = ["Caller", "ServerState", "caller", "read_json_body", "state"]

T = TypeVar("T")


@dataclass
class ServerState:
    """Everything the routes need, built once by :func:`~mastra_memory.server.create_app`.

    Attributes:
        inline_storage: Run key-value storage calls on the event loop instead of the thread
            pool. Right for embedded stores whose calls take microseconds (a thread-pool hop
            costs more than the call); wrong for stores that wait on a network. With a natively
            async store (PostgreSQL) the key-value calls await it instead.
    """

    memory: AsyncMemory
    storage: MemoryStorage
    keys: KeyRing
    limits: ServerLimits
    rates: RateLimiter
    usage: UsageTracker
    inline_storage: bool = False

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a storage call: inline (see ``inline_storage``); a method of the sync store on
        the memory's store when that one is natively async (its coroutine twin, on the event
        loop); anything else in the thread pool."""
        if self.inline_storage:
            return fn(*args)
        if getattr(fn, "__self__", None) is self.storage and self.memory.storage is not None:
            native = self.memory.storage
            if getattr(native, "sync", None) is None:  # not ThreadedAsyncStorage: native async I/O
                result: T = await getattr(native, fn.__name__)(*args)
                return result
        return await run_in_threadpool(fn, *args)


def state(request: Request) -> ServerState:
    """The app's :class:`ServerState` (a plain function for route bodies)."""
    value: ServerState = request.app.state.mastra
    return value


async def caller(request: Request) -> ApiKey | None:
    """The authenticated API key (``None`` when the server runs without keys). ``async`` so
    FastAPI runs it on the event loop instead of a thread-pool hop (it does no I/O). The
    OpenAPI document declares the Bearer scheme once for every route (see ``app.py``).

    Raises:
        AccessDeniedError: 401 on a missing, malformed or unknown key.
    """
    return state(request).keys.authenticate(request.headers.get("authorization"))


Caller = Annotated[ApiKey | None, Depends(caller)]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_body(request: Request, limit: int) -> Any:
    """Read at most ``limit`` bytes of body and parse them as strict JSON (no NaN/Infinity).

    Raises:
        HTTPException: 413 if the body is larger than ``limit`` (checked against
            Content-Length first, then while streaming, so a huge body is never buffered),
            415 if the Content-Type is not JSON, 400 if the body is not valid JSON or is empty.
    """
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        # also keeps browsers from sending "simple" cross-site requests to a keyless server
        raise HTTPException(415, f"Content-Type must be application/json, not {ctype!r}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit} bytes")
        body = await request.body()  # the server stops at Content-Length
    else:  # chunked: count while streaming
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
    if not body.strip():
        raise ProblemError(400, "empty body: send a JSON value", "invalid_json")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProblemError(400, f"body is not valid JSON: {str(exc)[:200]}", "invalid_json") from None
