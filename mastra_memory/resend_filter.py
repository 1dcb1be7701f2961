"""The input filter for re-sent history (on by default; ``retain_full_input=True`` turns it off).

Clients built on the AI SDK's ``useChat``, OpenAI-compatible proxies and many chat UIs send the
whole conversation on every turn. Memory already holds those messages, so without a filter they
would be stored again (with new ids) and shown to the model twice. The filter drops the leading
input messages that repeat the newest stored messages of the thread, and keeps the rest:

* messages are compared by role and text (whitespace-normalised); tool and system messages and
  messages without text are skipped in the comparison, because clients spell tool calls in
  several shapes;
* the dropped prefix must end with the thread's newest stored message (as loaded for the turn),
  so a user who repeats an old sentence is not filtered;
* the last input message is never dropped, so a turn always has input.

An input message whose id is already stored is not repeated either (that rule holds without the
filter too: :func:`mastra_memory.context.build_chat_messages`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mastra_memory.types import Message

__all__ = ["drop_resent_history"]

_COMPARED = ("user", "assistant")


def _key(message: Message) -> tuple[str, str] | None:
    if message.role not in _COMPARED:
        return None
    text = " ".join(message.text.split())
    return (message.role, text) if text else None


def drop_resent_history(inputs: Sequence[Message], stored: Sequence[Message]) -> list[Message]:
    """The input messages without the leading run that repeats the end of ``stored``.

    Args:
        inputs: The turn's input messages, oldest first.
        stored: The thread's newest stored messages as loaded for the turn, oldest first.

    Returns:
        ``inputs[k:]`` for the largest ``k < len(inputs)`` whose compared messages end with the
        compared tail of ``stored`` (all of ``stored`` that fits), else ``inputs`` unchanged.
    """
    if len(inputs) < 2 or not stored:
        return list(inputs)
    tail = [k for k in map(_key, stored) if k is not None]
    if not tail:
        return list(inputs)
    keyed = [(i, k) for i, m in enumerate(inputs) if (k := _key(m)) is not None]
    for pos in range(len(keyed) - 1, -1, -1):
        index, key = keyed[pos]
        if index >= len(inputs) - 1 or key != tail[-1]:
            continue
        before = [k for _, k in keyed[: pos + 1]]
        n = min(len(before), len(tail))
        if before[-n:] == tail[-n:]:
            return list(inputs[index + 1 :])
    return list(inputs)
