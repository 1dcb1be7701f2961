"""Builds the model input for one turn as a pure function of what memory loaded.

:meth:`mastra_memory.Memory.load_turn` loads each input of a turn once into a
:class:`TurnInputs` (the thread, the rendered working-memory block, the observations, history
and recalled messages) and :func:`assemble` turns it into a :class:`TurnContext`: the system
messages and history the model sees, with no I/O. :func:`build_chat_messages` then lays out the
chat messages sent to the model:

1. the agent's instructions (system);
2. memory system messages (working memory, observations, other threads' recalled messages),
   each its own system message as in the original;
3. history: recalled messages of this thread in ``(created_at, id)`` order;
4. the new input messages.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from mastra_memory.chat import to_chat_messages
from mastra_memory.config import MemoryConfig
from mastra_memory.tools import Tool
from mastra_memory.types import Message, SemanticHit, Thread

if TYPE_CHECKING:
    from mastra_memory.processors.base import MemoryProcessor

__all__ = ["ThreadTail", "TurnContext", "TurnInputs", "assemble", "build_chat_messages", "format_other_threads"]


@dataclass(frozen=True)
class ThreadTail:
    """The newest stored messages of a thread as loaded before the turn, oldest first.

    Attributes:
        messages: A contiguous run of the thread's newest messages (nothing newer is stored).
        whole_thread: True when ``messages`` is the whole thread.
    """

    messages: tuple[Message, ...]
    whole_thread: bool


@dataclass
class TurnInputs:
    """What memory loaded for one turn: the input of :func:`assemble`.

    Attributes:
        thread: The resolved thread (created on first use).
        resource_id: The owning resource.
        config: The effective memory configuration of the turn (resolved once).
        created_thread: True if the turn created the thread.
        working_memory: The rendered working-memory system message, or ``None``.
        observations: The observational-memory system message, or ``None``.
        om_reminder: The continuation reminder shown after the observations, or ``None``.
        om_messages: With observational memory on, the unobserved messages of this thread,
            oldest first (they replace last-N history).
        recalled: Messages from the history page and semantic-recall windows, of any thread
            of the resource, oldest first; ``None`` when nothing was recalled (history off and
            semantic recall off).
        semantic_hits: The semantic-recall hits, best first.
        tools: Tools memory adds for the turn (e.g. ``update_working_memory``).
        tail: The thread's newest stored messages, when known from what was loaded (lets
            ``finish_turn`` embed the new messages with their context without a read).
        state: Per-feature data carried from load to finish (e.g. ``state["om"]``).
    """

    thread: Thread
    resource_id: str
    config: MemoryConfig
    created_thread: bool = False
    working_memory: str | None = None
    observations: str | None = None
    om_reminder: Message | None = None
    om_messages: list[Message] = field(default_factory=list)
    recalled: list[Message] | None = None
    semantic_hits: list[SemanticHit] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tail: ThreadTail | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnContext:
    """What memory contributes to one agent turn.

    Attributes:
        thread: The resolved thread (created on first use).
        resource_id: The owning resource.
        config: The effective memory configuration of this call.
        system_messages: Extra system messages from memory features, in order.
        history: Prior messages of the thread to show the model, oldest first.
        tools: Tools memory adds for this turn (e.g. ``update_working_memory``).
        created_thread: True if the thread was created by this turn.
        state: Per-feature scratch data carried from prepare to finish (e.g. OM record).
        inputs: What was loaded (``None`` for a context built by hand).
    """

    thread: Thread
    resource_id: str
    config: MemoryConfig
    system_messages: list[str] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    created_thread: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    inputs: TurnInputs | None = None


def assemble(
    inputs: TurnInputs, new_messages: Sequence[Message], processors: Sequence[MemoryProcessor] = ()
) -> TurnContext:
    """Turn what was loaded into what the model sees (pure: no I/O).

    System messages come in this order: working memory, observations, then other threads'
    recalled messages as one block (:func:`format_other_threads`). History is the continuation
    reminder and unobserved messages (observational memory), merged with this thread's recalled
    messages (deduplicated by id, ``(created_at, id)`` order), then run through ``processors``
    (which see the system messages and ``new_messages``).

    Args:
        inputs: What :meth:`mastra_memory.Memory.load_turn` loaded.
        new_messages: The turn's new input messages (not stored yet).
        processors: Memory processors for the history, applied in their ``order``.

    Returns:
        The turn context; its ``state`` is ``inputs.state`` (shared, so the load's per-feature
        data reaches ``finish_turn``) and its ``tools`` a copy of ``inputs.tools``.
    """
    system = [s for s in (inputs.working_memory, inputs.observations) if s]
    history = ([inputs.om_reminder] if inputs.om_reminder else []) + list(inputs.om_messages)
    if inputs.recalled is not None:
        tid = inputs.thread.id
        seen = {m.id for m in history}
        same = [m for m in inputs.recalled if m.thread_id == tid and m.id not in seen]
        history = sorted([*history, *same], key=lambda m: (m.created_at, m.id))
        others = [m for m in inputs.recalled if m.thread_id != tid]
        if others:
            system.append(format_other_threads(others))
    if processors:
        from mastra_memory.processors.base import ProcessorContext, apply_processors

        history = apply_processors(
            processors, history, ProcessorContext(system_messages=list(system), input_messages=list(new_messages))
        )
    return TurnContext(
        thread=inputs.thread,
        resource_id=inputs.resource_id,
        config=inputs.config,
        system_messages=system,
        history=history,
        tools=list(inputs.tools),
        created_thread=inputs.created_thread,
        state=inputs.state,
        inputs=inputs,
    )


def format_other_threads(messages: Sequence[Message]) -> str:
    """Render other threads' recalled messages as one system block, as the original does.

    Messages are sorted by ``(created_at, thread_id, role, id)``; a date line starts each new day;
    each message reads ``Message from previous conversation at 3:04 PM: User: text``. Text is
    XML-escaped (``& < >``) because it is user-derived data inside tags.
    """
    ordered = sorted(messages, key=lambda m: (m.created_at, m.thread_id, m.role, m.id))
    lines = [
        "The following messages were remembered from a different conversation with this user. "
        "They are background, not part of the current conversation:",
        "<remembered_from_other_conversation>",
    ]
    day = None
    for m in ordered:
        at = m.created_at.astimezone(UTC)
        current = (at.year, at.month, at.day)
        if current != day:
            day = current
            lines.append(f"the following messages are from {at.year}, {at.strftime('%b')}, {at.day}")
        clock = at.strftime("%I:%M %p").lstrip("0")
        text = html.escape(m.text, quote=False)
        lines.append(f"Message from previous conversation at {clock}: {m.role.capitalize()}: {text}")
    lines.append("</remembered_from_other_conversation>")
    return "\n".join(lines)


def build_chat_messages(
    instructions: str | None, context: TurnContext | None, new_messages: Sequence[Message]
) -> list[dict[str, Any]]:
    """Return the chat messages for the model call (see the module docstring for the order).

    Input messages whose id is already in the history are not repeated, so a client that sends
    the full conversation does not duplicate it (the original's #11993).
    """
    chat: list[dict[str, Any]] = []
    if instructions:
        chat.append({"role": "system", "content": instructions})
    history: list[Message] = []
    if context is not None:
        chat.extend({"role": "system", "content": s} for s in context.system_messages if s)
        history = list(context.history)
    seen = {m.id for m in history}
    chat.extend(to_chat_messages(history))
    chat.extend(to_chat_messages([m for m in new_messages if m.id not in seen]))
    return chat
