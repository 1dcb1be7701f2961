"""``ToolCallFilter``: remove tool calls and results from the prompt (Mastra's
``ToolCallFilter``; storage keeps them)."""

from __future__ import annotations

from collections.abc import Iterable

from mastra_memory.processors.base import PINNED_IDS, ProcessorContext
from mastra_memory.types import Message, ToolInvocationPart

__all__ = ["ToolCallFilter"]


class ToolCallFilter:
    """Drop tool invocations from history.

    Args:
        exclude: Tool names to remove; ``None`` (default) removes every tool call and result.
            A message left with no parts is dropped.
    """

    order = 0

    def __init__(self, exclude: Iterable[str] | None = None) -> None:
        self.exclude = None if exclude is None else frozenset(exclude)

    def _drop(self, part: object) -> bool:
        return isinstance(part, ToolInvocationPart) and (self.exclude is None or part.tool_name in self.exclude)

    def process(self, messages: list[Message], context: ProcessorContext) -> list[Message]:
        out: list[Message] = []
        for m in messages:
            if m.id in PINNED_IDS or not any(self._drop(p) for p in m.content.parts):
                out.append(m)
                continue
            parts = [p for p in m.content.parts if not self._drop(p)]
            if parts:
                out.append(m.model_copy(update={"content": m.content.model_copy(update={"parts": parts})}))
        return out
