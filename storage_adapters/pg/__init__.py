"""PostgreSQL backend (``pip install "mastra-memory[pg]"``): ``PostgresStore`` (psycopg 3 with a
connection pool), its native async twin ``AsyncPostgresStore`` (psycopg's async pool), and
``PgVector`` (pgvector) with its async twin ``AsyncPgVector``."""

from __future__ import annotations

from storage_adapters.pg.store import PostgresStore
from storage_adapters.pg.store_async import AsyncPostgresStore
from storage_adapters.pg.vector import PgVector
from storage_adapters.pg.vector_async import AsyncPgVector

__all__ = ["AsyncPgVector", "AsyncPostgresStore", "PgVector", "PostgresStore"]
