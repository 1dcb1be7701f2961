"""The ``recall`` tool (``observational_memory={"retrieval": True}``): from the observation log
back to the raw messages.

Observations are dense and dated; when the agent needs the exact words behind one, it calls
``recall`` with one of three modes, always within the turn's resource and paged:

* ``messages``: messages of a thread (default: the current one), oldest first, optionally
  between ``start`` and ``end`` (ISO dates or datetimes, as the observation log shows them);
* ``threads``: the resource's threads, newest first (id, title, dates);
* ``search``: keyword search over the resource's messages, in the database
  (:meth:`~mastra_memory.storage.base.MemoryStorage.search_messages`: FTS5, ``tsvector``, ...).

Errors (an unknown mode, another resource's thread, a bad date) come back to the model as
``{"error": ...}`` through the agent's tool loop; nothing is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mastra_memory.errors import ValidationError
from mastra_memory.tools import Tool
from mastra_memory.types import Message

if TYPE_CHECKING:
    from mastra_memory.context import TurnContext
    from mastra_memory.memory_async import AsyncMemory

__all__ = ["DEFAULT_PAGE_SIZE", "RECALL_TOOL_NAME", "add_recall_tool", "make_recall_tool"]

RECALL_TOOL_NAME = "recall"
DEFAULT_PAGE_SIZE = 20
_MAX_TEXT = 2_000

_DESCRIPTION = (
    "Look up the raw conversation behind your observations. mode='messages' lists messages of a "
    "thread (default: this one; narrow with start/end dates), mode='threads' lists the user's "
    "conversations, mode='search' finds messages matching a query across them. Results are paged: "
    "ask for page=1, 2, ... while has_more is true."
)

_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": ["messages", "threads", "search"]},
        "thread_id": {"type": "string", "description": "mode=messages: the thread (default: current)"},
        "query": {"type": "string", "description": "mode=search: words to look for"},
        "start": {"type": "string", "description": "mode=messages: ISO date/time, inclusive"},
        "end": {"type": "string", "description": "mode=messages: ISO date/time, inclusive"},
        "page": {"type": "integer", "minimum": 0, "default": 0},
    },
    "required": ["mode"],
}


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO date or datetime, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _message(m: Message) -> dict[str, Any]:
    text = m.text
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "role": m.role,
        "created_at": m.created_at.isoformat(),
        "text": text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + " [...]",
    }


def make_recall_tool(memory: AsyncMemory, thread_id: str, resource_id: str, page_size: int = DEFAULT_PAGE_SIZE) -> Tool:
    """The ``recall`` tool bound to one turn's thread and resource.

    Args:
        memory: The memory to read.
        thread_id: The current thread (default of ``mode="messages"``).
        resource_id: The only resource the tool reads.
        page_size: Items per page (20).

    Returns:
        A :class:`~mastra_memory.tools.Tool` named ``recall``.
    """

    async def recall(
        mode: Literal["messages", "threads", "search"],
        thread_id: str | None = None,
        query: str | None = None,
        start: str | None = None,
        end: str | None = None,
        page: int = 0,
    ) -> dict[str, Any]:
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise ValidationError("page must be a non-negative integer")
        if mode == "threads":
            threads = await memory.storage.list_threads(
                resource_id, page=page, per_page=page_size, order_by="updated_at"
            )
            return {
                "threads": [
                    {
                        "id": t.id,
                        "title": t.title,
                        "created_at": t.created_at.isoformat(),
                        "updated_at": t.updated_at.isoformat(),
                    }
                    for t in threads.threads
                ],
                "page": page,
                "has_more": threads.has_more,
            }
        if mode == "messages":
            target = thread_id or current
            await memory._require_thread(target, resource_id)
            result = await memory.storage.list_messages(
                target,
                resource_id=resource_id,
                per_page=page_size,
                page=page,
                direction="ASC",
                start=_when(start, "start"),
                end=_when(end, "end"),
            )
            return {"messages": [_message(m) for m in result.messages], "page": page, "has_more": result.has_more}
        if mode == "search":
            if not query or not query.strip():
                raise ValidationError("mode='search' needs a query")
            wanted = (page + 1) * page_size + 1
            hits = await memory.storage.search_messages(query, resource_id=resource_id, limit=min(wanted, 1000))
            shown = hits[page * page_size : (page + 1) * page_size]
            found = {m.id: m for m in await memory.storage.list_messages_by_id([h.message_id for h in shown])}
            return {
                "messages": [
                    {**_message(found[h.message_id]), "score": round(h.score, 4)}
                    for h in shown
                    if h.message_id in found
                ],
                "page": page,
                "has_more": len(hits) > (page + 1) * page_size,
            }
        raise ValidationError(f"mode must be 'messages', 'threads' or 'search', not {mode!r}")

    current = thread_id
    return Tool(name=RECALL_TOOL_NAME, description=_DESCRIPTION, parameters=_PARAMETERS, fn=recall)


def add_recall_tool(memory: AsyncMemory, context: TurnContext) -> None:
    """Add the ``recall`` tool to a turn when ``observational_memory.retrieval`` is on."""
    om = context.config.observational_memory
    if om is False or not om.retrieval:
        return
    if all(t.name != RECALL_TOOL_NAME for t in context.tools):
        context.tools.append(make_recall_tool(memory, context.thread.id, context.resource_id))
