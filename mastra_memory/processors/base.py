"""The processor protocol and the function that applies a list of processors in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mastra_memory.tokens import TokenCounter, default_counter
from mastra_memory.types import Message

__all__ = ["PINNED_IDS", "MemoryProcessor", "ProcessorContext", "apply_processors"]

PINNED_IDS = frozenset({"om-continuation"})
"""Synthetic history messages no processor removes (observational memory's reminder)."""


@dataclass
class ProcessorContext:
    """What a processor may look at besides the history.

    Attributes:
        system_messages: Memory's system messages of the turn (never trimmed).
        input_messages: The turn's new messages (never trimmed).
        counter: Token counter.
    """

    system_messages: list[str] = field(default_factory=list)
    input_messages: list[Message] = field(default_factory=list)
    counter: TokenCounter = field(default_factory=default_counter)


@runtime_checkable
class MemoryProcessor(Protocol):
    """Transforms the history (oldest first) shown to the model; returns the new list.

    ``order`` sorts processors before they run (stable): filters 0, limiters 100.
    """

    order: int

    def process(self, messages: list[Message], context: ProcessorContext) -> list[Message]: ...


def apply_processors(
    processors: Sequence[MemoryProcessor], messages: list[Message], context: ProcessorContext
) -> list[Message]:
    """Run ``processors`` sorted by ``order`` (stable) over ``messages``."""
    for processor in sorted(processors, key=lambda p: getattr(p, "order", 50)):
        messages = processor.process(messages, context)
    return messages
