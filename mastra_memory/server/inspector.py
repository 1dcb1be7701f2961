"""The web memory inspector at ``/ui``: a read-only page over the server's memory.

It shows the threads of a resource (search by id or title, paging), a thread's messages with
their tool calls, working memory, the observation log with its token counts against the
thresholds and the buffering status, and the keys and values of a key-value namespace.

The page and its script and style sheet ship in the package (``server/inspector_static``): no
CDN, nothing fetched from the network, so it works offline. The page itself holds no data; it
reads ``/ui/api/...`` (GET only, nothing here writes), which checks the same API keys and
scopes as the rest of the server: with keys configured the page asks for one and sends it as a
Bearer header (kept in the tab's ``sessionStorage``).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic_core import to_jsonable_python

from mastra_memory.config import ObservationalMemoryConfig
from mastra_memory.server.deps import Caller, state
from mastra_memory.server.guards import KeyRing
from mastra_memory.server.routes_kv import _names
from mastra_memory.types import Thread

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)

_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> str:
    return resources.files("mastra_memory.server").joinpath("inspector_static", name).read_text(encoding="utf-8")


@router.get("")
@router.get("/")
async def page() -> HTMLResponse:
    """The inspector page (no data in it; needs no key)."""
    return HTMLResponse(_asset("index.html"), headers=_HEADERS)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    """The page's script and style sheet, from the package."""
    if name not in _ASSETS:
        raise HTTPException(404, "no such asset")
    return Response(_asset(name), media_type=_ASSETS[name], headers=_HEADERS)


async def _thread_for(request: Request, caller: Any, thread_id: str) -> Thread:
    st = state(request)
    thread = await st.memory.get_thread_by_id(thread_id)
    if thread is None or (caller is not None and not caller.allows_resource(thread.resource_id)):
        raise HTTPException(404, f"thread {thread_id!r} not found")
    return thread


@router.get("/api/info")
def info(request: Request, caller: Caller) -> JSONResponse:
    """What the server runs with: storage, whether semantic recall and OM are on."""
    from mastra_memory import __version__

    st = state(request)
    config = st.memory.config
    return JSONResponse(
        {
            "version": __version__,
            "storage": type(st.storage).__name__,
            "semantic_recall": config.semantic_recall is not False,
            "observational_memory": config.observational_memory is not False,
            "working_memory": config.working_memory.enabled,
            "key": None if caller is None else caller.name,
        }
    )


@router.get("/api/threads")
async def threads(
    request: Request,
    caller: Caller,
    resource_id: Annotated[str, Query(min_length=1)],
    q: str | None = None,
    page: Annotated[int, Query(ge=0)] = 0,
    per_page: Annotated[int, Query(ge=1, le=200)] = 20,
) -> JSONResponse:
    """Threads of a resource, most recently updated first; ``q`` keeps those whose id or title
    contains it (case-insensitive)."""
    st = state(request)
    KeyRing.require_resource(caller, resource_id, write=False)
    if not q:
        result = await st.memory.list_threads(resource_id, None, page, per_page, "updated_at", "DESC")
        rows, total, more = result.threads, result.total, result.has_more
    else:
        needle = q.casefold()
        everything = (await st.memory.list_threads(resource_id, None, 0, False, "updated_at", "DESC")).threads
        matching = [t for t in everything if needle in t.id.casefold() or needle in (t.title or "").casefold()]
        total = len(matching)
        rows = matching[page * per_page : (page + 1) * per_page]
        more = (page + 1) * per_page < total
    return JSONResponse(
        {"threads": to_jsonable_python(rows), "total": total, "page": page, "per_page": per_page, "has_more": more}
    )


async def _om_status(st: Any, thread: Thread) -> dict[str, Any] | None:
    """The observation log with token counts against the thresholds and buffering status."""
    try:
        record = await st.memory.get_observational_memory(thread.id, thread.resource_id)
    except Exception:
        return None
    server_om = st.memory.config.observational_memory
    om = server_om if isinstance(server_om, ObservationalMemoryConfig) else ObservationalMemoryConfig()
    limits = {
        "message_tokens": om.observation.message_tokens,
        "observation_tokens": om.reflection.observation_tokens,
    }
    if record is None:
        return {"record": None, "thresholds": limits, "enabled": server_om is not False}
    stored = (record.config or {}) if isinstance(record.config, dict) else {}
    limits["message_tokens"] = stored.get("observation", {}).get("messageTokens", limits["message_tokens"])
    limits["observation_tokens"] = stored.get("reflection", {}).get("observationTokens", limits["observation_tokens"])
    return {
        "enabled": server_om is not False,
        "thresholds": limits,
        "record": {
            "generation": record.generation_count,
            "origin": record.origin_type,
            "scope": record.scope,
            "observations": record.active_observations,
            "observation_tokens": record.observation_token_count,
            "pending_message_tokens": record.pending_message_tokens,
            "total_tokens_observed": record.total_tokens_observed,
            "last_observed_at": to_jsonable_python(record.last_observed_at),
            "updated_at": to_jsonable_python(record.updated_at),
            "buffered_chunks": len(record.buffered_observation_chunks),
            "buffered_reflection": record.buffered_reflection is not None,
            "is_observing": record.is_observing,
            "is_reflecting": record.is_reflecting,
            "is_buffering_observation": record.is_buffering_observation,
            "is_buffering_reflection": record.is_buffering_reflection,
        },
    }


@router.get("/api/threads/{thread_id}")
async def thread_detail(
    thread_id: str,
    request: Request,
    caller: Caller,
    page: Annotated[int, Query(ge=0)] = 0,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """A thread with one page of messages (page 0 = newest, oldest first within the page), its
    working memory and its observational-memory status."""
    st = state(request)
    thread = await _thread_for(request, caller, thread_id)
    messages = await st.memory.list_messages(thread.id, thread.resource_id, per_page, page, "DESC")
    wm_scope = st.memory.config.working_memory.scope
    if wm_scope == "thread":
        working = thread.metadata.get("workingMemory")
    else:
        resource = await st.memory.storage.get_resource_by_id(thread.resource_id)
        working = resource.working_memory if resource is not None else None
    return JSONResponse(
        {
            "thread": to_jsonable_python(thread),
            "messages": to_jsonable_python(messages.messages),
            "total": messages.total,
            "page": page,
            "per_page": per_page,
            "has_more": messages.has_more,
            "working_memory": {"scope": wm_scope, "content": working if isinstance(working, str) else None},
            "observational_memory": await _om_status(st, thread),
        }
    )


@router.get("/api/kv/{namespace}")
def kv_namespace(
    namespace: str,
    request: Request,
    caller: Caller,
    prefix: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """The first ``limit`` keys of a namespace with their values (values over 2,000 characters
    of JSON are cut), and its usage."""
    import json

    st = state(request)
    ns, _ = _names(st, namespace)
    st.keys.require_namespace(caller, ns, write=False)
    page = st.storage.kv_list_keys(ns, prefix, None, limit)
    entries = []
    for key in page.keys:
        entry = st.storage.kv_get(ns, key)
        if entry is None:
            continue
        text = json.dumps(entry.value, ensure_ascii=False)
        entries.append(
            {
                "key": key,
                "value": text if len(text) <= 2000 else text[:2000] + "…",
                "expires_at": to_jsonable_python(entry.expires_at),
                "updated_at": to_jsonable_python(entry.updated_at),
            }
        )
    stats = st.storage.kv_stats(ns)
    return JSONResponse(
        {
            "namespace": ns,
            "entries": entries,
            "has_more": page.next_after is not None,
            "stats": to_jsonable_python(stats),
        }
    )
