"""``TokenLimiter``: keep history within a token budget (Mastra's ``TokenLimiterProcessor``,
input side).

System messages and the turn's new input are never trimmed; older history is kept newest
first while it fits. Counting uses :class:`~mastra_memory.tokens.TokenCounter` (o200k_base,
3.8 tokens per message, 24 per conversation).
"""

from __future__ import annotations

from typing import Literal

from mastra_memory.errors import ValidationError
from mastra_memory.processors.base import PINNED_IDS, ProcessorContext
from mastra_memory.tokens import CONVERSATION_OVERHEAD, MESSAGE_OVERHEAD
from mastra_memory.types import Message

__all__ = ["TokenLimiter"]


class TokenLimiter:
    """Trim history to a token budget.

    Args:
        limit: Total budget for the prompt in tokens (system messages + history + input). There
            is no default, as in the original.
        trim_mode: ``"best-fit"`` (default) skips a message that does not fit and tries older,
            smaller ones; ``"contiguous"`` stops at the first one that does not fit.
        strategy: ``"truncate"`` (default) drops history; ``"abort"`` raises instead of
            dropping anything.

    Raises:
        ValidationError: at construction on a bad limit; in :meth:`process` when system
            messages and input alone exceed the limit, or on ``strategy="abort"`` when history
            would be trimmed.
    """

    order = 100

    def __init__(
        self,
        limit: int,
        trim_mode: Literal["best-fit", "contiguous"] = "best-fit",
        strategy: Literal["truncate", "abort"] = "truncate",
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("TokenLimiter needs a positive token limit")
        if trim_mode not in ("best-fit", "contiguous"):
            raise ValidationError("trim_mode must be 'best-fit' or 'contiguous'")
        if strategy not in ("truncate", "abort"):
            raise ValidationError("strategy must be 'truncate' or 'abort'")
        self.limit = limit
        self.trim_mode = trim_mode
        self.strategy = strategy

    def process(self, messages: list[Message], context: ProcessorContext) -> list[Message]:
        counter = context.counter
        fixed = float(CONVERSATION_OVERHEAD)
        fixed += sum(counter.count_text(s) + MESSAGE_OVERHEAD for s in context.system_messages)
        fixed += sum(counter.count_message(m) for m in context.input_messages)
        fixed += sum(counter.count_message(m) for m in messages if m.id in PINNED_IDS)
        if fixed > self.limit:
            raise ValidationError(f"system messages and input need {fixed:.0f} tokens, over the limit of {self.limit}")
        budget = self.limit - fixed
        keep: set[str] = set()
        trimmed = False
        for m in reversed(messages):
            if m.id in PINNED_IDS:
                continue
            cost = counter.count_message(m)
            if cost <= budget:
                keep.add(m.id)
                budget -= cost
                continue
            trimmed = True
            if self.trim_mode == "contiguous":
                break
        if trimmed and self.strategy == "abort":
            raise ValidationError(f"history exceeds the token limit of {self.limit}")
        return [m for m in messages if m.id in PINNED_IDS or m.id in keep]
