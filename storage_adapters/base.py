"""Moved to :mod:`mastra_memory.storage.base` (the storage contract lives in the core now). This alias keeps the
old import path working for one release and will be removed in 0.3."""

from __future__ import annotations

import warnings
from typing import Any

from mastra_memory.storage import base as _moved
from mastra_memory.storage.base import *  # noqa: F403

warnings.warn("storage_adapters.base moved to mastra_memory.storage.base", DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
