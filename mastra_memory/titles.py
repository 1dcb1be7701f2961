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
import re
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from mastra_memory.config import GenerateTitleConfig
from mastra_memory.types import Message

if TYPE_CHECKING:
    from mastra_memory.context import TurnContext
    from mastra_memory.memory import Memory
    from mastra_memory.models.base import ChatModel

__all__ = [
    "DEFAULT_TITLE_INSTRUCTIONS",
    "MAX_TITLE_CHARS",
    "ThreadTitleEvent",
    "clean_title",
    "schedule",
    "settle",
    "wait_for_event",
]

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 80
EVENT_TIMEOUT = 60.0
"""Seconds a streamed turn with ``emit_event`` waits for its title before it finishes."""
DEFAULT_TITLE_INSTRUCTIONS = (
    "You write the title of a conversation. Reply with a short title (at most 80 characters) that "
    "summarises what the user wants, based on the conversation below. No quotes, no colons, no "
    "punctuation at the end: your whole reply is the title."
)
_TRANSCRIPT_CHARS = 4_000
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_pending: weakref.WeakKeyDictionary[Memory, set[Future[str | None]]] = weakref.WeakKeyDictionary()


class ThreadTitleEvent(str):
    """A stream item announcing a generated title (``type == "data-thread-title"``).

    It is an empty string, so code that joins or prints the text deltas of a stream is not
    affected; check ``isinstance(item, ThreadTitleEvent)`` to pick it out.

    Attributes:
        thread_id: The thread that got the title.
        thread_title: The stored title (``title`` would shadow ``str.title``).
        data: ``{"threadId", "title"}``, the original chunk's ``data``.
    """

    type = "data-thread-title"
    thread_id: str
    thread_title: str

    def __new__(cls, thread_id: str, thread_title: str) -> ThreadTitleEvent:
        event = super().__new__(cls, "")
        event.thread_id = thread_id
        event.thread_title = thread_title
        return event

    @property
    def data(self) -> dict[str, str]:
        return {"threadId": self.thread_id, "title": self.thread_title}

    def __repr__(self) -> str:
        return f"ThreadTitleEvent(thread_id={self.thread_id!r}, thread_title={self.thread_title!r})"


def clean_title(text: str) -> str:
    """The title in a model's reply: ``<think>`` blocks, surrounding quotes, a ``Title:``
    prefix and trailing punctuation removed, first non-empty line, at most 80 characters."""
    text = _THINK.sub("", text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(title)\s*:\s*", "", line, flags=re.I)
    while True:
        stripped = line.strip().strip("\"'`*#_").rstrip(".!:;").strip()
        if stripped == line:
            break
        line = stripped
    if len(line) > MAX_TITLE_CHARS:
        line = line[:MAX_TITLE_CHARS].rsplit(" ", 1)[0].rstrip() or line[:MAX_TITLE_CHARS]
    return line


def _transcript(messages: list[Message]) -> str:
    lines = [f"{m.role}: {m.text}" for m in messages if m.role in ("user", "assistant") and m.text.strip()]
    return "\n".join(lines)[:_TRANSCRIPT_CHARS]


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mm-title")
        return _executor


def schedule(
    memory: Memory,
    context: TurnContext,
    saved: list[Message],
    agent_model: ChatModel,
    call_settings: dict[str, Any] | None = None,
) -> Future[str | None] | None:
    """Start title generation for the turn's thread when it is due (see the module doc).

    Args:
        memory: The agent's memory.
        context: The finished turn's context (its effective config and thread).
        saved: The messages the turn stored.
        agent_model: The agent's model (used when ``generate_title.model`` is not set).
        call_settings: Settings the agent passes to its model on every call.

    Returns:
        A future of the stored title (``None`` if none was stored), or ``None`` when no title
        is due. The future never raises.
    """
    config = context.config.generate_title
    if config is False or context.config.read_only or not saved:
        return None
    thread = context.thread
    if thread.title:
        return None
    history = [m for m in context.history if m.thread_id == thread.id]
    # the loaded history may be a window: count the stored thread when it looks too short
    if (
        len(history) + len(saved) < config.min_messages
        and memory.storage.list_messages(thread.id, per_page=1).total < config.min_messages
    ):
        return None
    future = _get_executor().submit(
        _generate, memory, thread.id, [*history, *saved], config, agent_model, call_settings
    )
    pending = _pending.setdefault(memory, set())
    pending.add(future)
    future.add_done_callback(pending.discard)
    context.state["title_future"] = future
    return future


def wait_for_event(context: TurnContext | None, timeout: float = EVENT_TIMEOUT) -> ThreadTitleEvent | None:
    """The title event a streamed turn yields before it finishes: only with ``emit_event``,
    when a title was due and stored within ``timeout`` seconds; else ``None``."""
    if context is None:
        return None
    future = context.state.get("title_future")
    config = context.config.generate_title
    if future is None or config is False or not config.emit_event:
        return None
    try:
        title = future.result(timeout=timeout)
    except TimeoutError:
        logger.warning("title generation for thread %r: no title within %.0f s", context.thread.id, timeout)
        return None
    return None if title is None else ThreadTitleEvent(context.thread.id, title)


def _generate(
    memory: Memory,
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
            {"role": "user", "content": _transcript(messages)},
        ]
        title = clean_title(model.generate(prompt, **settings).text)
        if not title:
            logger.warning("title generation for thread %r: the model returned no title", thread_id)
            return None
        current = memory.storage.get_thread_by_id(thread_id)
        if current is None or current.title:  # deleted, or titled meanwhile: keep what is there
            return None
        memory.storage.update_thread(thread_id, title=title)
        return title
    except Exception:
        logger.warning("title generation for thread %r failed", thread_id, exc_info=True)
        return None


def settle(memory: Memory, timeout: float | None = None) -> bool:
    """Wait for ``memory``'s pending title tasks; True when none is left."""
    pending = list(_pending.get(memory, ()))
    if not pending:
        return True
    _, not_done = wait(pending, timeout=timeout)
    return not not_done
