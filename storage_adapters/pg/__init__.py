"""PostgreSQL backend (``pip install "mastra-memory[pg]"``): ``PostgresStore`` (psycopg 3 with a
connection pool) and ``PgVector`` (pgvector)."""

from __future__ import annotations

from storage_adapters.pg.store import PostgresStore
from storage_adapters.pg.vector import PgVector

__all__ = ["PgVector", "PostgresStore"]
