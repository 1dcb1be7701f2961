"""Token-budget history (``message_history={"max_tokens": N, "remove_fraction": 0.25}``).

The whole prompt (the agent's instructions, memory's system messages, the remembered history and
the turn's input) is counted against ``max_tokens``. When it is over, the oldest remembered
messages are dropped, a whole group at a time, until the prompt is at most ``max_tokens -
at_max_remove_tokens`` (``at_max_remove_tokens`` defaults to ``remove_fraction * max_tokens``).
Dropping a chunk at once, instead of one message per turn, keeps the start of the prompt the
same for several turns, so provider prompt caches stay warm. Messages linked by a tool call id
(a call and its result stored apart) are dropped together. Instructions, system messages and
the input are never dropped; if they alone exceed the budget the whole history goes.

The dropped messages stay in storage. The boundary (the newest dropped message's
``createdAt`` and the ids at that instant) is persisted per thread in
``thread.metadata["memoryTokenLimiter"]`` exactly as Mastra's TypeScript packages keep it
(``{createdAt, messageIds, maxTokens, atMaxRemoveTokens}``), so later turns (in this process,
another one, or the TypeScript original on a shared database) skip what was dropped; a boundary
written under another budget is ignored. ``max_tokens=0`` disables history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mastra_memory.tokens import default_counter
from mastra_memory.types import Message, ToolInvocationPart, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from mastra_memory.config import MessageHistoryConfig
    from mastra_memory.context import TurnContext
    from mastra_memory.memory_async import AsyncMemory
    from mastra_memory.storage.base_async import AsyncMemoryStorage
    from mastra_memory.types import Thread

__all__ = ["BOUNDARY_KEY", "PAGE_SIZE", "apply_budget", "load_history", "read_boundary"]

logger = logging.getLogger(__name__)

BOUNDARY_KEY = "memoryTokenLimiter"

PAGE_SIZE = 50
"""Messages per page when :func:`load_history` reads a thread backwards from its newest."""


def read_boundary(metadata: dict[str, Any], config: MessageHistoryConfig) -> tuple[datetime, set[str]] | None:
    """The stored boundary ``(createdAt, ids at that instant)`` if it was written under this
    budget (same ``maxTokens`` and ``atMaxRemoveTokens``), else ``None``."""
    value = metadata.get(BOUNDARY_KEY)
    if not isinstance(value, dict):
        return None
    ids = value.get("messageIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    if value.get("maxTokens") != config.max_tokens or value.get("atMaxRemoveTokens") != config.remove_tokens:
        return None
    try:
        return parse_timestamp(value["createdAt"]), set(ids)
    except Exception:
        return None


def _after(message: Message, boundary: tuple[datetime, set[str]]) -> bool:
    at, ids = boundary
    return message.created_at > at or (message.created_at == at and message.id not in ids)


async def load_history(
    storage: AsyncMemoryStorage, thread: Thread, config: MessageHistoryConfig, limit: int
) -> tuple[list[Message], bool]:
    """Read what the token budget can keep of a thread, not more: pages of :data:`PAGE_SIZE`
    messages backwards from the newest, after the persisted boundary (``start=`` its
    ``createdAt``, so dropped messages are not read again), until the pages hold more than
    ``max_tokens`` tokens (the budget then keeps a strict suffix of them), plus one more page so
    that a tool call and its result in neighbouring pages are grouped as when the whole
    history is read; or until ``limit`` messages or the boundary / start of the thread.

    Args:
        storage: The store.
        thread: The loaded thread (its metadata holds the boundary).
        config: The token budget (``max_tokens > 0``).
        limit: At most this many messages (``last_messages``).

    Returns:
        ``(messages oldest first, whole_thread)``; ``whole_thread`` is True when nothing older
        is stored (no boundary, no message left unread).
    """
    boundary = read_boundary(thread.metadata, config)
    start = boundary[0] if boundary is not None else None
    counter = default_counter()
    size = max(1, min(PAGE_SIZE, limit))
    pages: list[list[Message]] = []
    seen: set[str] = set()
    tokens: float = 0.0
    loaded, page, margin = 0, 0, False
    while True:
        result = await storage.list_messages(thread.id, per_page=size, page=page, start=start)
        # offset pages: a message saved meanwhile shifts the pages older by one, so dedupe
        batch = [m for m in result.messages if m.id not in seen and (boundary is None or _after(m, boundary))]
        seen.update(m.id for m in batch)
        pages.insert(0, batch)
        loaded += len(batch)
        tokens += counter.sum_messages(batch)
        page += 1
        # a short page is the end whatever the total says (a total may ignore ``start``)
        exhausted = not result.has_more or len(result.messages) < size
        if exhausted or loaded >= limit or margin:
            break
        margin = tokens > config.max_tokens
    messages = [m for batch in pages for m in batch]
    whole = start is None and exhausted and loaded <= limit
    return messages[-limit:], whole


def _groups(messages: Sequence[Message]) -> list[list[Message]]:
    """Consecutive messages in order, messages sharing a tool call id in one group (a group
    spans from the first to the last message that shares an id with it)."""
    last_index: dict[str, int] = {}
    for i, m in enumerate(messages):
        for part in m.content.parts:
            if isinstance(part, ToolInvocationPart):
                last_index[part.tool_call_id] = i
    groups: list[list[Message]] = []
    end = -1
    for i, m in enumerate(messages):
        if i > end:
            groups.append([])
        groups[-1].append(m)
        for part in m.content.parts:
            if isinstance(part, ToolInvocationPart):
                end = max(end, last_index[part.tool_call_id])
    return groups


async def apply_budget(
    memory: AsyncMemory, context: TurnContext, instructions: str | None, inputs: Sequence[Message]
) -> list[Message]:
    """Trim ``context.history`` to the token budget of ``context.config.message_history`` and
    persist the advanced boundary (not in read-only mode). Does nothing without the option.

    Args:
        memory: The memory (its store keeps the boundary).
        context: The loaded turn; ``context.history`` is replaced.
        instructions: The agent's instructions (counted).
        inputs: The turn's new messages (counted).

    Returns:
        The dropped messages, oldest first.
    """
    config = context.config.message_history
    if config is None:
        return []
    thread = context.thread
    if config.max_tokens == 0:
        everything, context.history = list(context.history), []
        return everything
    boundary = read_boundary(thread.metadata, config)
    history = [m for m in context.history if boundary is None or m.thread_id != thread.id or _after(m, boundary)]
    counter = default_counter()
    protected: float = counter.count_text(instructions or "")
    protected += sum(counter.count_text(s) for s in context.system_messages)
    protected += counter.sum_messages([m for m in inputs if m.id not in {h.id for h in history}])
    total = protected + counter.sum_messages(history)
    dropped: list[Message] = []
    if total > config.max_tokens:
        target = config.max_tokens - config.remove_tokens
        groups = _groups(history)
        while groups and total > target:
            group = groups.pop(0)
            total -= counter.sum_messages(group)
            dropped.extend(group)
        history = [m for g in groups for m in g]
    context.history = history
    own = [m for m in dropped if m.thread_id == thread.id]
    if own and not context.config.read_only:
        await _persist(memory, context, own, boundary, config)
    return dropped


async def _persist(
    memory: AsyncMemory,
    context: TurnContext,
    dropped: list[Message],
    previous: tuple[datetime, set[str]] | None,
    config: MessageHistoryConfig,
) -> None:
    newest = max(m.created_at for m in dropped)
    if previous is not None and newest < previous[0]:
        return
    ids = {m.id for m in dropped if m.created_at == newest}
    if previous is not None and previous[0] == newest:
        ids |= previous[1]
    value = {
        "createdAt": format_timestamp(newest),
        "messageIds": sorted(ids),
        "maxTokens": config.max_tokens,
        "atMaxRemoveTokens": config.remove_tokens,
    }
    try:
        context.thread = await memory.storage.update_thread(context.thread.id, metadata={BOUNDARY_KEY: value})
    except Exception:  # the trim still applies to this turn; the next one trims again
        logger.warning("could not persist the history boundary of thread %r", context.thread.id, exc_info=True)
