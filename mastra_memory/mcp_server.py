"""``mastra-memory mcp``: memory as Model Context Protocol tools for coding agents and chat apps.

Built on the official ``mcp`` SDK (``pip install 'mastra-memory[mcp]'``): stdio by default (the
client starts the server as a subprocess), or streamable HTTP on a loopback address with
``--http PORT`` (endpoint ``http://127.0.0.1:PORT/mcp``).

A server is scoped to one resource (user) and one key-value namespace, both fixed at start-up
(``--resource``, ``--namespace``, or the configuration, see :mod:`mastra_memory.settings`): no
tool takes a resource id, and a thread of another resource is reported as not found. Tools:

* ``remember(key, value, ttl_seconds=None)``, ``recall(key)``, ``forget(key)``,
  ``list_keys(prefix=None)``: key-value memory of the namespace (values are any JSON);
* ``search_history(query, thread_id=None, top_k=5)``: semantic (hybrid: vectors and BM25)
  search over the resource's messages; needs semantic recall (a vector store and an
  embedder, the default with ``[local]``);
* ``get_working_memory(thread_id=None)``, ``update_working_memory(content, thread_id=None)``;
* ``list_threads(page=0, per_page=20)``;
* ``get_observations(thread_id)``: the thread's observational-memory record.

Library errors come back to the client as tool errors (``isError``) carrying the message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastra_memory.config import SemanticRecallConfig
from mastra_memory.errors import MastraMemoryError, MissingDependencyError, ThreadNotFoundError, ValidationError
from mastra_memory.kv import KVMemory
from mastra_memory.types import Message, TextPart, ToolInvocationPart

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mastra_memory.memory import Memory

__all__ = ["build_server", "register"]

logger = logging.getLogger(__name__)

_NO_THREAD = "mcp-resource-scope"  # a valid id of no thread: resource-scope working memory needs none

_INSTRUCTIONS = (
    "Long-term memory of one user. Use remember/recall/forget for facts under stable keys, "
    "search_history to find what was said in past conversations, and the working-memory tools "
    "for the user's profile."
)


def _text(message: Message) -> str:
    parts: list[str] = []
    for part in message.content.parts:
        if isinstance(part, TextPart):
            parts.append(part.text)
        elif isinstance(part, ToolInvocationPart):
            parts.append(f"[tool {part.tool_name}]")
    return "\n".join(parts)


def _message_json(message: Message, score: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": message.id,
        "thread_id": message.thread_id,
        "role": message.role,
        "created_at": message.created_at.isoformat(),
        "text": _text(message),
    }
    speaker = message.content.metadata.get("speaker")
    if speaker:
        out["speaker"] = speaker
    if score is not None:
        out["score"] = round(score, 4)
    return out


def build_server(memory: Memory, resource_id: str, namespace: str) -> MCPServer:
    """The MCP server (the SDK's ``MCPServer``) with the memory tools, scoped to ``resource_id`` and ``namespace``.

    Args:
        memory: The memory to serve (its storage also holds the key-value memory).
        resource_id: The only resource whose threads the tools reach.
        namespace: The key-value namespace of ``remember``/``recall``/``forget``/``list_keys``.

    Raises:
        MissingDependencyError: without the ``[mcp]`` extra.
        ValidationError: on an invalid namespace.
    """
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError as exc:
        raise MissingDependencyError("mcp", "mcp") from exc

    def tool(fn: Callable[..., dict[str, Any]]) -> None:
        """Register ``fn`` as a tool; library errors reach the client as tool errors with their
        message (not as an unexpected crash)."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
            try:
                return fn(*args, **kwargs)
            except MastraMemoryError as exc:
                raise ToolError(str(exc)) from exc

        server.tool()(wrapper)

    kv = KVMemory(namespace, memory.storage)
    server: MCPServer = MCPServer("mastra-memory", instructions=_INSTRUCTIONS, log_level="WARNING")
    wm_options = {"working_memory": memory.config.working_memory.model_copy(update={"enabled": True})}

    def own_thread(thread_id: str) -> None:
        """Threads of other resources are reported as missing (their existence is not revealed)."""
        thread = memory.get_thread_by_id(thread_id)
        if thread is None or thread.resource_id != resource_id:
            raise ThreadNotFoundError(thread_id)

    def wm_thread(thread_id: str | None) -> str:
        """The thread id working memory is read through: in resource scope any id will do."""
        if thread_id is not None:
            own_thread(thread_id)
            return thread_id
        if wm_options["working_memory"].scope == "thread":
            raise ValidationError("working memory is thread-scoped on this server: pass thread_id")
        return _NO_THREAD

    def newest_thread() -> str | None:
        page = memory.list_threads(resource_id=resource_id, per_page=1, order_by="updated_at")
        return page.threads[0].id if page.threads else None

    @tool
    def remember(key: str, value: Any, ttl_seconds: float | None = None) -> dict[str, Any]:
        """Store a fact under a key (any JSON value), replacing what was there; optional TTL in seconds."""
        kv.set(key, value, ttl=ttl_seconds)
        return {"key": key, "stored": True}

    @tool
    def recall(key: str) -> dict[str, Any]:
        """Fetch the value stored under a key; found=false when there is none."""
        entry = kv.get_entry(key)
        if entry is None:
            return {"key": key, "found": False, "value": None}
        return {"key": key, "found": True, "value": entry.value}

    @tool
    def forget(key: str) -> dict[str, Any]:
        """Delete a key; deleted=false when it did not exist."""
        return {"key": key, "deleted": kv.delete(key)}

    @tool
    def list_keys(prefix: str | None = None) -> dict[str, Any]:
        """List the stored keys (sorted), optionally only those starting with a prefix."""
        return {"keys": kv.list_keys(prefix)}

    @tool
    def search_history(query: str, thread_id: str | None = None, top_k: int = 5) -> dict[str, Any]:
        """Search past conversation messages by meaning and keywords (hybrid), best first.

        thread_id limits the search to one thread; default: every thread of the user.
        """
        if not 1 <= top_k <= 50:
            raise ValidationError("top_k must be from 1 to 50")
        sr = memory.config.semantic_recall
        if sr is False or memory.vector is None or memory.embedder is None:
            raise ValidationError(
                "semantic recall is not configured for this server: set a vector store and an embedder "
                "(the default with pip install 'mastra-memory[local]')"
            )
        if thread_id is not None:
            own_thread(thread_id)
        target = thread_id or newest_thread()
        if target is None:
            return {"query": query, "hits": []}
        config = SemanticRecallConfig.model_validate(
            {
                **sr.model_dump(by_alias=True),
                "top_k": top_k,
                "hybrid": True,
                "scope": "thread" if thread_id else "resource",
            }
        )
        result = memory.recall(
            target,
            resource_id,
            vector_search_string=query,
            per_page=0,
            memory_options={"semantic_recall": config},
        )
        scores = {h.message_id: h.score for h in result.semantic_hits}
        by_id = {m.id: m for m in memory.storage.list_messages_by_id(list(scores))} if scores else {}
        hits = [_message_json(by_id[mid], score) for mid, score in scores.items() if mid in by_id]
        return {"query": query, "hits": hits}

    @tool
    def get_working_memory(thread_id: str | None = None) -> dict[str, Any]:
        """Read the user's working memory (Markdown or JSON); thread_id is needed in thread scope."""
        content = memory.get_working_memory(wm_thread(thread_id), resource_id, memory_options=wm_options)
        return {"working_memory": content}

    @tool
    def update_working_memory(content: str, thread_id: str | None = None) -> dict[str, Any]:
        """Replace the user's working memory with new Markdown (or JSON in schema mode)."""
        memory.update_working_memory(wm_thread(thread_id), resource_id, content, memory_options=wm_options)
        return {"updated": True}

    @tool
    def list_threads(page: int = 0, per_page: int = 20) -> dict[str, Any]:
        """List the user's conversation threads, most recently updated first."""
        result = memory.list_threads(resource_id=resource_id, page=page, per_page=per_page, order_by="updated_at")
        return {
            "threads": [
                {
                    "id": t.id,
                    "title": t.title,
                    "created_at": t.created_at.isoformat(),
                    "updated_at": t.updated_at.isoformat(),
                }
                for t in result.threads
            ],
            "total": result.total,
            "has_more": result.has_more,
        }

    @tool
    def get_observations(thread_id: str) -> dict[str, Any]:
        """Read a thread's observational memory: the observations and their token counts."""
        own_thread(thread_id)
        record = memory.get_observational_memory(thread_id, resource_id)
        if record is None:
            return {"thread_id": thread_id, "observations": None, "generation": None}
        return {
            "thread_id": thread_id,
            "observations": record.active_observations,
            "generation": record.generation_count,
            "observation_tokens": record.observation_token_count,
            "last_observed_at": record.last_observed_at.isoformat() if record.last_observed_at else None,
        }

    return server


def mcp_command(
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (see mastra-memory --help).", show_default=False)
    ] = None,
    resource: Annotated[
        str | None, typer.Option(help="The resource (user) the tools act for (default: 'default').", show_default=False)
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Key-value namespace (default: 'default').", show_default=False)
    ] = None,
    http: Annotated[
        int | None,
        typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1:PORT instead of stdio.", show_default=False),
    ] = None,
    vector: Annotated[
        str | None, typer.Option("--vector", help="Vector store URL, 'same' or 'none'.", show_default=False)
    ] = None,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="Embedding model or 'none'.", show_default=False)
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML config file.", show_default=False)] = None,
) -> None:
    """Serve memory tools over the Model Context Protocol (stdio, or --http PORT on loopback)."""
    from mastra_memory._cli_settings import cli_settings, open_settings_memory
    from mastra_memory._cli_support import exit_code, fail, one_line

    settings = cli_settings(db, config, vector=vector, embedder=embedder, resource=resource, namespace=namespace)
    memory = open_settings_memory(settings, read_only=False)
    try:
        try:
            server = build_server(memory, settings.resource, settings.namespace)
        except MastraMemoryError as exc:
            fail(one_line(exc), exit_code(exc))
        if http is None:
            server.run("stdio")
        else:
            typer.echo(f"mastra-memory MCP server on http://127.0.0.1:{http}/mcp", err=True)
            server.run("streamable-http", host="127.0.0.1", port=http)
    finally:
        memory.close()


def register(app: typer.Typer) -> None:
    """Add ``mcp`` to a typer app (the ``mastra-memory`` CLI)."""
    app.command("mcp")(mcp_command)
