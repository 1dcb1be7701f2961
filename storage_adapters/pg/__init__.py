"""PostgreSQL backend (``pip install "mastra-memory[pg]"``): psycopg 3 with a connection pool."""

from __future__ import annotations

from storage_adapters.pg.store import PostgresStore

__all__ = ["PostgresStore"]
