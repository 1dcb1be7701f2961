"""Builds the model input for one turn as a pure function of what memory loaded.

Order of the chat messages sent to the model:

1. the agent's instructions (system);
2. memory system messages (working memory, observations, other threads' recalled messages),
   each its own system message as in the original;
3. history: recalled messages of this thread in ``(created_at, id)`` order;
4. the new input messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mastra_memory.config import MemoryConfig
from mastra_memory.tools import Tool
from mastra_memory.types import Message, Thread, to_chat_messages

__all__ = ["TurnContext", "build_chat_messages"]


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
    """

    thread: Thread
    resource_id: str
    config: MemoryConfig
    system_messages: list[str] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    created_thread: bool = False
    state: dict[str, Any] = field(default_factory=dict)


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
