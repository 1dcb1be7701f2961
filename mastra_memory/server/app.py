"""The FastAPI application: state, error mapping, health and housekeeping.

Routes live in :mod:`.routes_kv` and :mod:`.routes_memory`; this module wires them. Every error
is answered as RFC 9457 problem details by the app-wide handlers of :mod:`.problems` (library
errors map to HTTP statuses in one place, :data:`STATUS`); :mod:`.docs` serves the OpenAPI
document and the interactive docs behind the API keys.
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mastra_memory.errors import AccessDeniedError, ConfigurationError, MastraMemoryError
from mastra_memory.memory import Memory
from mastra_memory.memory_async import AsyncMemory
from mastra_memory.server import docs, inspector, problems, routes_botwire, routes_kv, routes_memory
from mastra_memory.server.config import ApiKey, ServerLimits
from mastra_memory.server.deps import ServerState, state
from mastra_memory.server.guards import KeyRing, RateLimiter, UsageTracker
from mastra_memory.server.problems import STATUS, error_response, problem_response
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.registry import open_async_storage, open_storage, resolve_storage_url

__all__ = ["STATUS", "create_app", "error_statuses"]

logger = logging.getLogger(__name__)

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
        except (HTTPException, MastraMemoryError, NotImplementedError) as exc:
            response = error_response(exc)
        await response(scope, receive, send)


class _BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes with a problem-details 413,
    by its ``Content-Length`` before anything is read, and while streaming a chunked body (the
    route's body read then fails with the same 413), so a huge body is never buffered."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            status, text = (413, f"body of {declared.decode()} bytes is over the limit of {self.limit} bytes")
            if not declared.isdigit():
                status, text = 400, "invalid Content-Length"
            await problem_response(status, text)(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.limit:
                    raise problems.ProblemError(413, f"body is over the limit of {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


class Health(BaseModel):
    status: str
    version: str
    storage: str
    auth: bool


def _serving_memory(memory: Memory | AsyncMemory | None, storage_url: str | None) -> tuple[AsyncMemory, Any]:
    """The async memory the routes call and the sync store of the key-value routes: ``memory``
    itself, an ``AsyncMemory`` over a sync ``Memory``'s store and options, or one on the store
    ``storage_url`` names (natively async where the backend has it, with a sync twin on the
    same database for the key-value routes)."""
    if isinstance(memory, AsyncMemory):
        return memory, _sync_store(memory.storage)
    if isinstance(memory, Memory):
        served = AsyncMemory(
            storage=memory.storage,
            vector=memory.vector,
            embedder=memory.embedder if memory.vector is not None else None,
            options=memory.config,
            processors=memory.processors,
        )
        return served, memory.storage
    if memory is not None:
        raise ConfigurationError(f"memory must be a Memory or an AsyncMemory, not {type(memory).__name__}")
    url = resolve_storage_url(storage_url)
    served = AsyncMemory(open_async_storage(url))
    sync = getattr(served.storage, "sync", None)
    return served, sync if sync is not None else open_storage(url)


def _sync_store(storage: Any) -> Any:
    """The sync store under an async one (``ThreadedAsyncStorage.sync``), else the store."""
    sync = getattr(storage, "sync", None)
    return sync if sync is not None else storage


def _is_embedded(storage: Any) -> bool:
    return bool(getattr(storage, "is_embedded", False))


def create_app(
    memory: Memory | AsyncMemory | None = None,
    api_keys: Sequence[ApiKey | str] | None = None,
    limits: ServerLimits | dict[str, Any] | None = None,
    inline_storage: bool | None = None,
    close_on_shutdown: bool | None = None,
    storage_url: str | None = None,
) -> FastAPI:
    """Build the HTTP application.

    Args:
        memory: The :class:`~mastra_memory.memory_async.AsyncMemory` (or
            :class:`~mastra_memory.memory.Memory`) to serve; its storage also holds the
            key-value memory. The routes call the async API on the event loop: a ``Memory`` is
            served through an ``AsyncMemory`` over the same store and options. Default: an
            ``AsyncMemory`` on the store ``storage_url`` names (natively async where the
            backend has it).
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
        A FastAPI app; OpenAPI at ``/openapi.json``, interactive docs at ``/docs`` (both need
        a key when ``api_keys`` are given); every error answers as problem details.

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
    mem, storage = _serving_memory(memory, storage_url)
    close_memory = memory is None if close_on_shutdown is None else close_on_shutdown
    if isinstance(storage, AsyncMemoryStorage):
        raise ConfigurationError(
            "the server needs a sync store beside an async one for its key-value routes: "
            "pass create_app(storage_url=...) or a Memory"
        )
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
    st.usage.call = st.call  # key-value quota checks await the store as the routes do

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
                await mem.close()
                if storage is not _sync_store(mem.storage):
                    storage.close()

    app = FastAPI(
        title="mastra-memory",
        version=__version__,
        description=_OPENAPI_DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served by .docs, behind the API keys
        docs_url=None,
        redoc_url=None,
    )
    app.state.mastra = st
    app.add_middleware(_KeyRoutesFastPath)
    # every body is bounded (413); the key-value routes apply their own, smaller limits
    app.add_middleware(_BodyLimit, limit=max(server_limits.max_request_bytes, 2 * server_limits.max_value_bytes + 1024))

    problems.install(app)

    @app.get(
        "/health",
        response_model=Health,
        tags=["service"],
        summary="Liveness and storage check",
        responses={503: {"description": "The store does not answer"}},
    )
    async def health(request: Request) -> JSONResponse:
        """200 when the storage answers a read; 503 otherwise. Needs no API key."""
        s = state(request)
        try:
            await s.call(s.storage.kv_exists, "_health", "ping")
        except Exception as exc:
            logger.warning("health check failed: %s", exc)
            return problem_response(503, f"the store does not answer: {type(exc).__name__}")
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

    @app.delete("/admin/resources/{resource_id}", tags=["service"], summary="Erase everything of a resource")
    async def erase_resource(resource_id: str, request: Request) -> JSONResponse:
        """Erase a resource's threads, messages, vectors, working memory, observational memory
        and clones (:meth:`mastra_memory.Memory.delete_resource`). Needs an admin key (every
        namespace, every resource, not read-only). Idempotent."""
        s = state(request)
        caller = s.keys.authenticate(request.headers.get("authorization"))
        if caller is not None and not (caller.is_admin and caller.all_resources):
            raise AccessDeniedError("erasing a resource needs an admin API key ('*' namespaces and resources)", 403)
        return JSONResponse({"deleted": await s.memory.delete_resource(resource_id)})

    app.include_router(routes_kv.router)
    app.include_router(routes_memory.router)
    app.include_router(routes_botwire.router)
    app.include_router(inspector.router)
    _declare_openapi(app, server_limits)
    docs.install(app)
    return app


_PUBLIC = {"/health"}
"""Paths that need no API key."""


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer with, by its shape (so routers added later
    are documented too; a route adds more with ``responses={...}``).

    Args:
        path: The OpenAPI path (``/threads/{thread_id}``).
        method: Lower-case HTTP method.
        operation: Its OpenAPI operation object.

    Returns:
        Statuses >= 400: 401/403/422/503 everywhere but public paths; 400/413/415 with a body;
        404 with a path parameter; 409 on conversation routes; 429/507/501 on key-value routes.
    """
    if path in _PUBLIC:
        return {503}
    codes = {401, 403, 422, 503}
    if "requestBody" in operation or method in ("post", "put", "patch"):
        codes |= {400, 413, 415}
    if "{" in path:
        codes.add(404)
    if path.startswith("/threads"):
        codes.add(409)
    if path.startswith("/memory/"):
        codes.add(501)
        if method in ("put", "post"):
            codes |= {429, 507}
    return codes


_THREAD_OPERATIONS = {
    "/threads/{thread_id}": ("get", "patch", "delete"),
    "/threads/{thread_id}/clone": ("post",),
    "/threads/{thread_id}/messages": ("get", "post"),
    "/threads/{thread_id}/recall": ("get",),
    "/threads/{thread_id}/working-memory": ("get", "put"),
    "/threads/{thread_id}/observational-memory": ("get",),
}


def _declare_links(schema: dict[str, Any]) -> None:
    """OpenAPI links: a created thread's ``id`` feeds every ``/threads/{thread_id}`` operation,
    and a saved message's ``id`` the message delete (what stateful testers and client
    generators follow)."""
    paths = schema.get("paths", {})

    def link(operation_path: str, method: str, parameters: dict[str, str]) -> dict[str, Any] | None:
        operation = paths.get(operation_path, {}).get(method)
        if operation is None or "operationId" not in operation:
            return None
        return {"operationId": operation["operationId"], "parameters": parameters}

    for source, method in (("/threads", "post"), ("/threads/{thread_id}/clone", "post")):
        created = paths.get(source, {}).get(method, {}).get("responses", {}).get("201")
        if created is None:
            continue
        links = {}
        for target, methods in _THREAD_OPERATIONS.items():
            for target_method in methods:
                found = link(target, target_method, {"thread_id": "$response.body#/id"})
                if found is not None:
                    links[f"{target_method}_{target.rsplit('/', 1)[-1].strip('{}')}"] = found
        created["links"] = links
    saved = paths.get("/threads/{thread_id}/messages", {}).get("post", {}).get("responses", {}).get("201")
    delete = link(
        "/threads/{thread_id}/messages/{message_id}",
        "delete",
        {"thread_id": "$request.path.thread_id", "message_id": "$response.body#/messages/0/id"},
    )
    if saved is not None and delete is not None:
        saved["links"] = {"delete_message": delete}


def _declare_openapi(app: FastAPI, server_limits: ServerLimits) -> None:
    """Build the OpenAPI document once, on first use: the Bearer scheme for every route but
    ``/health`` (one declaration instead of a security dependency on each route, which would
    cost a dependency resolution per request), and the problem-details error responses of each
    operation (:func:`error_statuses`)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key"}
            }
            schema["security"] = [{"bearerAuth": []}]
            for path in _PUBLIC:
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = []
            statuses = {
                (path, method): error_statuses(path, method, op)
                for path, ops in schema["paths"].items()
                for method, op in ops.items()
                if isinstance(op, dict)
            }
            problems.document_problems(schema, statuses)
            schema["components"]["schemas"][routes_memory.JSON_SCHEMA_NAME] = routes_memory.JSON_SCHEMA
            routes_kv.document_names(schema, server_limits.max_key_length)
            _declare_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
