"""Moved to :mod:`mastra_memory.storage.thread_tags` (the storage contract lives in the core now). This alias keeps the
old import path working for one release and will be removed in 0.3."""

from __future__ import annotations

import warnings
from typing import Any

from mastra_memory.storage import thread_tags as _moved
from mastra_memory.storage.thread_tags import *  # noqa: F403

warnings.warn(
    "mastra_memory.observational.thread_tags moved to mastra_memory.storage.thread_tags",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
