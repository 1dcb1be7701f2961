"""Memory processors: transforms of the history memory hands the model each turn.

``Memory(processors=[ToolCallFilter(), TokenLimiter(8_000)])`` runs them in
:meth:`mastra_memory.Memory.prepare_turn` after history (last-N messages, semantic hits or
observational memory's unobserved messages) was loaded. Filters run before limiters whatever
the list order (each processor's ``order``: filters 0, limiters 100), which is the placement
Mastra recommends (``[memory, ToolCallFilter(), TokenLimiterProcessor(N)]``), so the limiter
counts what is actually sent. They are transient: storage keeps everything.
"""

from __future__ import annotations

from mastra_memory.processors.base import MemoryProcessor, ProcessorContext, apply_processors
from mastra_memory.processors.token_limiter import TokenLimiter
from mastra_memory.processors.tool_call_filter import ToolCallFilter

__all__ = ["MemoryProcessor", "ProcessorContext", "TokenLimiter", "ToolCallFilter", "apply_processors"]
