"""SQLAlchemy 2 Core backend (``pip install "mastra-memory[sqlalchemy]"``) for any dialect."""

from __future__ import annotations

from storage_adapters.sqlalchemy.store import SQLAlchemyStore

__all__ = ["SQLAlchemyStore"]
