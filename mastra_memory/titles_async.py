"""Thread title generation (``generate_title``), off the user's critical path.

After a turn is saved, :func:`schedule` starts a background task when the thread has no title
yet (``None`` or empty, as the original's ``createThread`` leaves it) and holds at least
``min_messages`` messages. The task asks a model (``generate_title.model``, by default the
agent's) for a short title from the conversation so far and stores it in the thread's
``title`` column, where the original keeps it. A failing or empty model answer is logged and
leaves the thread untitled; it never fails the turn. With ``emit_event=True``,
:meth:`mastra_memory.Agent.stream` waits for the title and yields a :class:`ThreadTitleEvent`
before it finishes (the original's transient ``data-thread-title`` chunk).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mastra_memory.config import GenerateTitleConfig
from mastra_memory.title_text import (
    DEFAULT_TITLE_INSTRUCTIONS,
    EVENT_TIMEOUT,
    MAX_TITLE_CHARS,
    ThreadTitleEvent,
    clean_title,
    transcript,
)
from mastra_memory.types import Message

if TYPE_CHECKING:
    from mastra_memory.context import TurnContext
    from mastra_memory.memory_async import AsyncMemory
    from mastra_memory.models.base import ChatModel

from mastra_memory import _io_async as _io

__all__ = [
    "DEFAULT_TITLE_INSTRUCTIONS",
    "MAX_TITLE_CHARS",
    "ThreadTitleEvent",
    "clean_title",
    "schedule",
    "wait_for_event",
]

logger = logging.getLogger(__name__)


async def schedule(
    memory: AsyncMemory,
    context: TurnContext,
    saved: list[Message],
    agent_model: ChatModel,
    call_settings: dict[str, Any] | None = None,
) -> bool:
    """Start title generation for the turn's thread when it is due (see the module doc), as
    background work of ``memory`` (``memory.settled()`` waits for it).

    Args:
        memory: The agent's memory.
        context: The finished turn's context (its effective config and thread).
        saved: The messages the turn stored.
        agent_model: The agent's model (used when ``generate_title.model`` is not set).
        call_settings: Settings the agent passes to its model on every call.

    Returns:
        True when title generation was started. It never raises into the turn.
    """
    config = context.config.generate_title
    if config is False or context.config.read_only or not saved:
        return False
    thread = context.thread
    if thread.title:
        return False
    history = [m for m in context.history if m.thread_id == thread.id]
    # the loaded history may be a window: count the stored thread when it looks too short
    if (
        len(history) + len(saved) < config.min_messages
        and (await memory.storage.list_messages(thread.id, per_page=1)).total < config.min_messages
    ):
        return False
    started = memory._titles.submit(
        f"title:{thread.id}",
        _generate,
        memory,
        context.state,
        thread.id,
        [*history, *saved],
        config,
        agent_model,
        call_settings,
    )
    if started:
        context.state["title_pending"] = True
    return started


async def wait_for_event(
    memory: AsyncMemory, context: TurnContext | None, timeout: float = EVENT_TIMEOUT
) -> ThreadTitleEvent | None:
    """The title event a streamed turn yields before it finishes: only with ``emit_event``,
    when a title was due and stored within ``timeout`` seconds; else ``None``."""
    if context is None or not context.state.get("title_pending"):
        return None
    config = context.config.generate_title
    if config is False or not config.emit_event:
        return None
    if not await memory._titles.settle(timeout):
        logger.warning("title generation for thread %r: no title within %.0f s", context.thread.id, timeout)
        return None
    title = context.state.get("title")
    return None if title is None else ThreadTitleEvent(context.thread.id, title)


async def _generate(
    memory: AsyncMemory,
    state: dict[str, Any],
    thread_id: str,
    messages: list[Message],
    config: GenerateTitleConfig,
    agent_model: ChatModel,
    call_settings: dict[str, Any] | None,
) -> str | None:
    try:
        if config.model is not None:
            from mastra_memory.models import resolve_model

            model, settings = resolve_model(config.model), {}
        else:
            model, settings = agent_model, dict(call_settings or {})
        prompt = [
            {"role": "system", "content": config.instructions or DEFAULT_TITLE_INSTRUCTIONS},
            {"role": "user", "content": transcript(messages)},
        ]
        title = clean_title((await _io.generate(model, prompt, **settings)).text)
        if not title:
            logger.warning("title generation for thread %r: the model returned no title", thread_id)
            return None
        # one atomic conditional write: a title set meanwhile (a user's rename) always wins
        if not await memory.storage.set_thread_title_if_empty(thread_id, title):
            return None  # deleted, or titled meanwhile: keep what is there
        state["title"] = title
        return title
    except Exception:
        logger.warning("title generation for thread %r failed", thread_id, exc_info=True)
        return None
