"""Storage backends for mastra-memory, one subpackage per backend.

Import a backend from its own module so optional drivers load only when used::

    from storage_adapters.libsql import LibSQLStore      # core dependency
    from storage_adapters.pg import PostgresStore        # pip install "mastra-memory[pg]"

The contract every backend implements is :class:`storage_adapters.base.MemoryStorage`.
"""

from __future__ import annotations

from storage_adapters.base import MemoryStorage

__all__ = ["MemoryStorage"]
