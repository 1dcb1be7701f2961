"""SQLAlchemy 2 Core backend (``pip install "mastra-memory[sqlalchemy]"``) for any dialect.

``SQLAlchemyStore`` runs on SQLAlchemy's sync engine; ``AsyncSQLAlchemyStore`` is its native async
face on ``create_async_engine`` (aiosqlite, psycopg 3, aiomysql).
"""

from __future__ import annotations

from storage_adapters.sqlalchemy.store import SQLAlchemyStore
from storage_adapters.sqlalchemy.store_async import AsyncSQLAlchemyStore

__all__ = ["AsyncSQLAlchemyStore", "SQLAlchemyStore"]
