"""The FastAPI application: state, error mapping, body limits, health and housekeeping.

Routes live in :mod:`.routes_kv` and :mod:`.routes_memory`; this module wires them. Library
errors map to HTTP statuses in one place (:data:`STATUS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mastra_memory.errors import (
    AccessDeniedError,
    ConcurrencyError,
    ConfigurationError,
    MastraMemoryError,
    MissingDependencyError,
    QuotaExceededError,
    ResourceMismatchError,
    StorageError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.memory import Memory
from mastra_memory.server import routes_kv, routes_memory
from mastra_memory.server.config import ApiKey, ServerLimits
from mastra_memory.server.deps import Caller, ServerState, state
from mastra_memory.server.guards import KeyRing, RateLimiter, UsageTracker

__all__ = ["STATUS", "create_app"]

logger = logging.getLogger(__name__)

STATUS: dict[type[BaseException], int] = {
    ValidationError: 422,
    ResourceMismatchError: 403,
    ThreadNotFoundError: 404,
    ConfigurationError: 409,
    MissingDependencyError: 501,
    ConcurrencyError: 409,
    StorageError: 503,
    NotImplementedError: 501,
}
"""HTTP status of each library error (AccessDenied: 401/403; QuotaExceeded: 429 or 507)."""

_OPENAPI_DESCRIPTION = """
Self-hosted agent memory: namespaced key-value memory with TTL, and conversation memory
(threads, messages, recall, working memory, observational memory).

Authenticate with `Authorization: Bearer <API key>` when the server has keys (it must when it
listens on a non-loopback address). Keys are scoped to namespaces and resources.
"""


class _BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, by Content-Length
    up front and by counting while the app reads (chunked bodies). The key-value routes apply
    their own, smaller limits."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                response = JSONResponse(
                    {"detail": f"body of {int(value)} bytes is over the limit of {self.limit} bytes"}, 413
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"body is over the limit of {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


class Health(BaseModel):
    status: str
    version: str
    storage: str
    auth: bool


def _error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, AccessDeniedError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": str(exc)}, exc.status_code, headers=headers)
    if isinstance(exc, QuotaExceededError):
        if exc.retry_after is not None:
            return JSONResponse({"detail": str(exc)}, 429, headers={"Retry-After": f"{max(exc.retry_after, 0.001):g}"})
        return JSONResponse({"detail": str(exc)}, 507)
    status = next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 500)
    if status >= 500 and not isinstance(exc, NotImplementedError | MissingDependencyError):
        logger.error("request failed: %s", exc, exc_info=exc)
    return JSONResponse({"detail": str(exc)}, status)


def create_app(
    memory: Memory | None = None,
    api_keys: Sequence[ApiKey | str] | None = None,
    limits: ServerLimits | dict[str, Any] | None = None,
) -> FastAPI:
    """Build the HTTP application.

    Args:
        memory: The :class:`~mastra_memory.memory.Memory` to serve; its storage also holds the
            key-value memory. Default ``Memory()`` (``LibSQLStore("file:./mastra.db")``).
        api_keys: Accepted keys: :class:`~mastra_memory.server.config.ApiKey` objects (scoped)
            or token strings (full access). ``None``/empty: no authentication (only sensible on
            a loopback address; ``mastra-memory serve`` refuses otherwise).
        limits: A :class:`~mastra_memory.server.config.ServerLimits` or a dict of its fields.

    Returns:
        A FastAPI app; OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.

    Raises:
        ConfigurationError: on invalid limits or keys.
    """
    from mastra_memory import __version__

    try:
        server_limits = limits if isinstance(limits, ServerLimits) else ServerLimits.model_validate(limits or {})
        keys = KeyRing(api_keys or ())
    except ValueError as exc:
        raise ConfigurationError(f"invalid server configuration: {exc}") from exc
    mem = memory if memory is not None else Memory()
    storage = mem.storage
    storage.max_kv_value_bytes = max(storage.max_kv_value_bytes, server_limits.max_value_bytes)
    st = ServerState(
        memory=mem, storage=storage, keys=keys, limits=server_limits, rates=RateLimiter(),
        usage=UsageTracker(storage, server_limits.usage_refresh_seconds),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task: asyncio.Task[None] | None = None
        if server_limits.purge_interval_seconds > 0:
            task = asyncio.create_task(_purge_loop(st, server_limits.purge_interval_seconds))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="mastra-memory", version=__version__, description=_OPENAPI_DESCRIPTION, lifespan=lifespan
    )
    app.state.mastra = st
    app.add_middleware(_BodyLimit, limit=max(server_limits.max_request_bytes, 2 * server_limits.max_value_bytes + 1024))

    for exc_type in (MastraMemoryError, NotImplementedError):
        app.add_exception_handler(exc_type, _handler)

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness and storage check")
    async def health(request: Request) -> JSONResponse:
        """200 when the storage answers a read; 503 otherwise. Needs no API key."""
        s = state(request)
        try:
            await run_in_threadpool(s.storage.kv_exists, "_health", "ping")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, 503)
        return JSONResponse(
            {"status": "ok", "version": __version__, "storage": type(s.storage).__name__, "auth": s.keys.enabled}
        )

    @app.post("/admin/purge-expired", tags=["service"], summary="Delete expired key-value entries now")
    async def purge_expired(request: Request, caller: Caller) -> JSONResponse:
        """Needs a key scoped to every namespace (``*``) that is not read-only."""
        s = state(request)
        if caller is not None and not caller.is_admin:
            raise AccessDeniedError("purging needs an API key scoped to all namespaces ('*')", 403)
        return JSONResponse({"deleted": await run_in_threadpool(s.storage.kv_purge_expired)})

    app.include_router(routes_kv.router)
    app.include_router(routes_memory.router)
    return app


async def _handler(request: Request, exc: Exception) -> JSONResponse:
    return _error_response(exc)


async def _purge_loop(st: ServerState, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            deleted = await run_in_threadpool(st.storage.kv_purge_expired)
            if deleted:
                logger.info("purged %d expired key-value entries", deleted)
        except NotImplementedError:
            return
        except Exception:
            logger.warning("background purge of expired entries failed", exc_info=True)

