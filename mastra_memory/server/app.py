"""The FastAPI application: state, error mapping, health and housekeeping.

Routes live in :mod:`.routes_kv` and :mod:`.routes_memory`; this module wires them. Library
errors map to HTTP statuses in one place (:data:`STATUS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mastra_memory.errors import (
    AccessDeniedError,
    ConcurrencyError,
    ConfigurationError,
    MastraMemoryError,
    MissingDependencyError,
    NoDataError,
    QuotaExceededError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.memory import Memory
from mastra_memory.server import inspector, routes_botwire, routes_kv, routes_memory
from mastra_memory.server.config import ApiKey, ServerLimits
from mastra_memory.server.deps import ServerState, state
from mastra_memory.server.guards import KeyRing, RateLimiter, UsageTracker
from mastra_memory.storage.registry import open_storage, resolve_storage_url

__all__ = ["STATUS", "create_app"]

logger = logging.getLogger(__name__)

STATUS: dict[type[BaseException], int] = {
    ValidationError: 422,
    ResourceMismatchError: 403,
    ThreadConflictError: 409,
    ThreadNotFoundError: 404,
    ConfigurationError: 409,
    MissingDependencyError: 501,
    ConcurrencyError: 409,
    NoDataError: 503,
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


class _KeyRoutesFastPath:
    """ASGI middleware: ``GET``/``HEAD``/``PUT``/``DELETE /memory/{namespace}/{key}`` go straight
    to their route functions (:mod:`.routes_kv`), skipping the router's route matching and
    dependency resolution, which cost more than the storage call on these small requests (about
    half of their CPU time in ``benchmarks/kv_load.py``). The routes stay declared on the app for
    the OpenAPI document and behave the same either way: same functions, same error mapping;
    anything unexpected still reaches the app's outer error handling (500)."""

    _PATH = re.compile(r"^/memory/([^/]+)/(.*)$", re.S)
    _ROUTES: ClassVar[dict[str, Callable[..., Awaitable[Response]]]] = {
        "GET": routes_kv.get_value,
        "HEAD": routes_kv.head_value,
        "PUT": routes_kv.put_value,
        "DELETE": routes_kv.delete_value,
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._ROUTES.get(scope.get("method", "")) if scope["type"] == "http" else None
        match = self._PATH.match(scope["path"]) if route is not None else None
        if route is None or match is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await route(match.group(1), match.group(2), Request(scope, receive))
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        except (MastraMemoryError, NotImplementedError) as exc:
            response = _error_response(exc)
        await response(scope, receive, send)


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


def _is_embedded(storage: Any) -> bool:
    return bool(getattr(storage, "is_embedded", False))


def create_app(
    memory: Memory | None = None,
    api_keys: Sequence[ApiKey | str] | None = None,
    limits: ServerLimits | dict[str, Any] | None = None,
    inline_storage: bool | None = None,
    close_on_shutdown: bool | None = None,
    storage_url: str | None = None,
) -> FastAPI:
    """Build the HTTP application.

    Args:
        memory: The :class:`~mastra_memory.memory.Memory` to serve; its storage also holds the
            key-value memory. Default: a ``Memory`` on the store ``storage_url`` names.
        api_keys: Accepted keys: :class:`~mastra_memory.server.config.ApiKey` objects (scoped)
            or token strings (full access). ``None``/empty: no authentication (only sensible on
            a loopback address; ``mastra-memory serve`` refuses otherwise).
        limits: A :class:`~mastra_memory.server.config.ServerLimits` or a dict of its fields.
        inline_storage: Run key-value storage calls on the event loop (no thread-pool hop).
            Default: on for embedded stores (InMemoryStore, a local libSQL file), off otherwise.
            Turn it off when other processes hold the libSQL file's write lock for long.
        close_on_shutdown: Close the memory (its store) when the app shuts down. Default: only
            when ``memory`` is None (the app made it).
        storage_url: When ``memory`` is None, the store URL opened through
            :func:`~mastra_memory.storage.open_storage`; ``None``: ``$MASTRA_MEMORY_DB``, else
            ``file:./mastra.db``. Ignored when ``memory`` is given.

    Returns:
        A FastAPI app; OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.

    Raises:
        ConfigurationError: on invalid limits or keys.
        UnknownSchemeError: if ``storage_url`` has a scheme no backend handles.
        MissingDependencyError: if the backend of ``storage_url`` is not installed.
    """
    from mastra_memory import __version__

    try:
        server_limits = limits if isinstance(limits, ServerLimits) else ServerLimits.model_validate(limits or {})
        keys = KeyRing(api_keys or ())
    except ValueError as exc:
        raise ConfigurationError(f"invalid server configuration: {exc}") from exc
    mem = memory if memory is not None else Memory(open_storage(resolve_storage_url(storage_url)))
    close_memory = memory is None if close_on_shutdown is None else close_on_shutdown
    storage = mem.storage
    storage.max_kv_value_bytes = max(storage.max_kv_value_bytes, server_limits.max_value_bytes)
    st = ServerState(
        memory=mem,
        storage=storage,
        keys=keys,
        limits=server_limits,
        rates=RateLimiter(),
        usage=UsageTracker(storage, server_limits.usage_refresh_seconds),
        inline_storage=_is_embedded(storage) if inline_storage is None else inline_storage,
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
            if close_memory:
                mem.close()

    app = FastAPI(
        title="mastra-memory",
        version=__version__,
        description=_OPENAPI_DESCRIPTION,
        lifespan=lifespan,
        # every body is bounded (413); the key-value routes apply their own, smaller limits
        max_body_size=max(server_limits.max_request_bytes, 2 * server_limits.max_value_bytes + 1024),
    )
    app.state.mastra = st
    app.add_middleware(_KeyRoutesFastPath)

    for exc_type in (MastraMemoryError, NotImplementedError):
        app.add_exception_handler(exc_type, _handler)

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness and storage check")
    async def health(request: Request) -> JSONResponse:
        """200 when the storage answers a read; 503 otherwise. Needs no API key."""
        s = state(request)
        try:
            await s.call(s.storage.kv_exists, "_health", "ping")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, 503)
        return JSONResponse(
            {"status": "ok", "version": __version__, "storage": type(s.storage).__name__, "auth": s.keys.enabled}
        )

    @app.post("/admin/purge-expired", tags=["service"], summary="Delete expired key-value entries now")
    async def purge_expired(request: Request) -> JSONResponse:
        """Needs a key scoped to every namespace (``*``) that is not read-only."""
        s = state(request)
        caller = s.keys.authenticate(request.headers.get("authorization"))
        if caller is not None and not caller.is_admin:
            raise AccessDeniedError("purging needs an API key scoped to all namespaces ('*')", 403)
        return JSONResponse({"deleted": await run_in_threadpool(s.storage.kv_purge_expired)})

    app.include_router(routes_kv.router)
    app.include_router(routes_memory.router)
    app.include_router(routes_botwire.router)
    app.include_router(inspector.router)
    _declare_bearer_auth(app)
    return app


def _declare_bearer_auth(app: FastAPI) -> None:
    """Add the Bearer scheme to the OpenAPI document for every route but ``/health`` (one
    declaration instead of a security dependency on each route, which would cost a dependency
    resolution per request)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key"}
            }
            schema["security"] = [{"bearerAuth": []}]
            schema["paths"].get("/health", {}).get("get", {})["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
