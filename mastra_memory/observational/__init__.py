"""Observational memory: an Observer that turns long history into a dated, prioritised
observation log, and a Reflector that condenses the log when it grows, both driven by token
thresholds and safe across processes (see ``docs/observational-memory.md``).

Modules, each small: :mod:`.records` (the stored record), :mod:`.prompts` (prompt text),
:mod:`.parsing` (output parsing and degenerate-output checks), :mod:`.observer`,
:mod:`.reflector`, :mod:`.thresholds` (pure budget math), :mod:`.engine` (per-turn lifecycle,
buffering, activation) and :mod:`.cli` (``mastra-memory om show``).

Only the record types are imported eagerly, so storage backends can use them cheaply.
"""

from __future__ import annotations

from mastra_memory.storage.records import (
    BufferedChunk,
    ObservationalMemoryRecord,
    ObservationCursor,
)

__all__ = ["BufferedChunk", "ObservationCursor", "ObservationalMemoryRecord"]
