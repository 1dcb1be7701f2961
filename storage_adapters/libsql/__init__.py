"""libSQL backend: the embedded default (a local file or ``:memory:``) and remote sqld servers."""

from __future__ import annotations

from storage_adapters.libsql.store import LibSQLStore
from storage_adapters.libsql.vector import LibSQLVector

__all__ = ["LibSQLStore", "LibSQLVector"]
