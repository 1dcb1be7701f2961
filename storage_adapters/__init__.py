"""Storage backends for mastra-memory, one subpackage per backend.

The contract they implement lives in the core, :mod:`mastra_memory.storage`; this package imports
it and is never imported by the core except through the URL registry
(:func:`mastra_memory.storage.open_storage`). Import a backend from its own module so optional
drivers load only when used::

    from storage_adapters.libsql import LibSQLStore      # core dependency
    from storage_adapters.pg import PostgresStore        # pip install "mastra-memory[pg]"
"""

from __future__ import annotations

from mastra_memory.storage.base import MemoryStorage

__all__ = ["MemoryStorage"]
