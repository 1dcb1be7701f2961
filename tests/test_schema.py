"""The one schema source (``storage_adapters._sql`` table specs) against what was released.

The SQLite text is pinned character for character: it is stored in ``sqlite_master`` of every
libSQL database, one shared with @mastra/libsql. The PostgreSQL DDL is compared by what the
server makes of it (columns, types, nullability, defaults, collations, primary keys), and the
SQLAlchemy tables by their columns, for every dialect they are built for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from storage_adapters import _sql
from tests import servers

# The released DDL of migrations 1, 3, 4 and 6 (never edited once released).
_RELEASED_SQLITE = (
    "CREATE TABLE IF NOT EXISTS mastra_threads (id TEXT NOT NULL PRIMARY KEY, "
    '"resourceId" TEXT NOT NULL, title TEXT NOT NULL, metadata TEXT, '
    '"createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL)',
    "CREATE TABLE IF NOT EXISTS mastra_messages (id TEXT NOT NULL PRIMARY KEY, "
    "thread_id TEXT NOT NULL, content TEXT NOT NULL, role TEXT NOT NULL, "
    'type TEXT NOT NULL, "createdAt" TEXT NOT NULL, "resourceId" TEXT)',
    "CREATE TABLE IF NOT EXISTS mastra_resources (id TEXT NOT NULL PRIMARY KEY, "
    '"workingMemory" TEXT, metadata TEXT, "createdAt" TEXT NOT NULL, '
    '"updatedAt" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS mastra_kv (namespace TEXT NOT NULL, "key" TEXT NOT NULL, '
    'value TEXT NOT NULL, "expiresAt" TEXT, "createdAt" TEXT NOT NULL, '
    '"updatedAt" TEXT NOT NULL, PRIMARY KEY (namespace, "key"))',
    "CREATE TABLE IF NOT EXISTS mastra_memory_thread_stats (thread_id TEXT NOT NULL PRIMARY KEY, "
    "message_count INTEGER NOT NULL)",
    'CREATE TABLE IF NOT EXISTS mastra_observational_memory ("id" TEXT NOT NULL PRIMARY KEY, '
    '"lookupKey" TEXT NOT NULL, "scope" TEXT NOT NULL, "resourceId" TEXT, "threadId" TEXT, '
    '"activeObservations" TEXT NOT NULL, "activeObservationsPendingUpdate" TEXT, "originType" TEXT, '
    '"config" TEXT NOT NULL, "generationCount" INTEGER, "lastObservedAt" TEXT, "lastReflectionAt" TEXT, '
    '"pendingMessageTokens" INTEGER, "totalTokensObserved" INTEGER, "observationTokenCount" INTEGER, '
    '"isObserving" INTEGER, "isReflecting" INTEGER, "observedMessageIds" TEXT, "observedTimezone" TEXT, '
    '"bufferedObservations" TEXT, "bufferedObservationTokens" INTEGER, "bufferedMessageIds" TEXT, '
    '"bufferedReflection" TEXT, "bufferedReflectionTokens" INTEGER, "bufferedReflectionInputTokens" INTEGER, '
    '"reflectedObservationLineCount" INTEGER, "bufferedObservationChunks" TEXT, '
    '"isBufferingObservation" INTEGER, "isBufferingReflection" INTEGER, "lastBufferedAtTokens" INTEGER, '
    '"lastBufferedAtTime" TEXT, "metadata" TEXT, "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL)',
)

_RELEASED_SQLITE_INDEXES = (
    'CREATE INDEX IF NOT EXISTS mm_messages_thread_created_id ON mastra_messages (thread_id, "createdAt", id)',
    'CREATE INDEX IF NOT EXISTS mm_messages_resource_created ON mastra_messages ("resourceId", "createdAt")',
    'CREATE INDEX IF NOT EXISTS mm_threads_resource_created ON mastra_threads ("resourceId", "createdAt")',
    'CREATE INDEX IF NOT EXISTS mm_threads_resource_updated ON mastra_threads ("resourceId", "updatedAt")',
    'CREATE INDEX IF NOT EXISTS mm_om_lookup_key ON mastra_observational_memory ("lookupKey")',
    "CREATE UNIQUE INDEX IF NOT EXISTS mm_om_lookup_generation ON mastra_observational_memory "
    '("lookupKey", "generationCount")',
    'CREATE INDEX IF NOT EXISTS mm_kv_expires ON mastra_kv ("expiresAt") WHERE "expiresAt" IS NOT NULL',
    # migration 12: retention (oldest rows first)
    'CREATE INDEX IF NOT EXISTS mm_messages_created_id ON mastra_messages ("createdAt", id)',
    'CREATE INDEX IF NOT EXISTS mm_threads_updated_id ON mastra_threads ("updatedAt", id)',
    'CREATE INDEX IF NOT EXISTS mm_resources_updated_id ON mastra_resources ("updatedAt", id)',
    'CREATE INDEX IF NOT EXISTS mm_om_created ON mastra_observational_memory ("createdAt")',
)

_RELEASED_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS {s}.mastra_threads (id TEXT PRIMARY KEY NOT NULL, "
    '"resourceId" TEXT NOT NULL, title TEXT NOT NULL, metadata JSONB, '
    '"createdAt" TIMESTAMP NOT NULL, "updatedAt" TIMESTAMP NOT NULL, '
    '"createdAtZ" TIMESTAMPTZ DEFAULT NOW(), "updatedAtZ" TIMESTAMPTZ DEFAULT NOW())',
    "CREATE TABLE IF NOT EXISTS {s}.mastra_messages (id TEXT PRIMARY KEY NOT NULL, "
    "thread_id TEXT NOT NULL, content TEXT NOT NULL, role TEXT NOT NULL, "
    'type TEXT NOT NULL, "createdAt" TIMESTAMP NOT NULL, "resourceId" TEXT, '
    '"createdAtZ" TIMESTAMPTZ DEFAULT NOW())',
    "CREATE TABLE IF NOT EXISTS {s}.mastra_resources (id TEXT PRIMARY KEY NOT NULL, "
    '"workingMemory" TEXT, metadata JSONB, "createdAt" TIMESTAMP NOT NULL, '
    '"updatedAt" TIMESTAMP NOT NULL, "createdAtZ" TIMESTAMPTZ DEFAULT NOW(), '
    '"updatedAtZ" TIMESTAMPTZ DEFAULT NOW())',
    'CREATE TABLE IF NOT EXISTS {s}.mastra_kv (namespace TEXT NOT NULL, "key" TEXT COLLATE "C" NOT NULL, '
    'value TEXT NOT NULL, "expiresAt" TIMESTAMPTZ, "createdAt" TIMESTAMPTZ NOT NULL, '
    '"updatedAt" TIMESTAMPTZ NOT NULL, PRIMARY KEY (namespace, "key"))',
    _RELEASED_SQLITE[-1].replace("mastra_observational_memory", "{s}.mastra_observational_memory"),
    "CREATE INDEX IF NOT EXISTS mm_messages_thread_created_id ON {s}.mastra_messages "
    '(thread_id, "createdAt", id COLLATE "C")',
    "CREATE INDEX IF NOT EXISTS mm_messages_resource_created_id ON {s}.mastra_messages "
    '("resourceId", "createdAt", id COLLATE "C")',
    "CREATE INDEX IF NOT EXISTS mm_threads_resource_created ON {s}.mastra_threads "
    '("resourceId", "createdAt", id COLLATE "C")',
    "CREATE INDEX IF NOT EXISTS mm_threads_resource_updated ON {s}.mastra_threads "
    '("resourceId", "updatedAt", id COLLATE "C")',
    'CREATE INDEX IF NOT EXISTS mm_om_lookup_key ON {s}.mastra_observational_memory ("lookupKey")',
    "CREATE UNIQUE INDEX IF NOT EXISTS mm_om_lookup_generation ON {s}.mastra_observational_memory "
    '("lookupKey", "generationCount")',
    'CREATE INDEX IF NOT EXISTS mm_kv_expires ON {s}.mastra_kv ("expiresAt") WHERE "expiresAt" IS NOT NULL',
    # migration 12: retention (oldest rows first)
    'CREATE INDEX IF NOT EXISTS mm_messages_created_id ON {s}.mastra_messages ("createdAt", id COLLATE "C")',
    'CREATE INDEX IF NOT EXISTS mm_threads_updated_id ON {s}.mastra_threads ("updatedAt", id COLLATE "C")',
    'CREATE INDEX IF NOT EXISTS mm_resources_updated_id ON {s}.mastra_resources ("updatedAt", id COLLATE "C")',
    'CREATE INDEX IF NOT EXISTS mm_om_created ON {s}.mastra_observational_memory ("createdAt")',
)


def _generated(migrations: list[_sql.Migration], kind: str = "CREATE TABLE") -> list[str]:
    return [s for m in migrations for s in m.statements if s.startswith(kind)]


def test_sqlite_ddl_is_the_released_text() -> None:
    migrations = _sql.sqlite_migrations()
    assert sorted(_generated(migrations)) == sorted(_RELEASED_SQLITE)
    indexes = _generated(migrations, "CREATE INDEX") + _generated(migrations, "CREATE UNIQUE INDEX")
    assert sorted(indexes) == sorted(_RELEASED_SQLITE_INDEXES)


def test_every_spec_column_has_a_known_type_and_the_primary_key_exists() -> None:
    for spec in (*_sql.TABLES, _sql.THREAD_STATS_TABLE):
        names = [c.name for c in spec.columns]
        assert len(set(names)) == len(names), spec.name
        assert set(spec.primary_key) <= set(names), spec.name
        assert {c.type for c in spec.columns} <= set(_sql.LOGICAL_TYPES), spec.name
    assert [c.name for c in _sql.OM_TABLE.columns] == [name for name, _, _ in _sql.OM_COLUMNS]


@contextmanager
def _pg_schema() -> Iterator[tuple[Any, str]]:
    import psycopg

    url = servers.url_or_skip(servers.PG)
    schema = servers.unique("mmschema")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            yield conn, schema
    finally:
        servers.drop_pg_schema(url, schema)


def _catalog(conn: Any, schema: str) -> dict[str, Any]:
    columns = conn.execute(
        "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, "
        "collation_name FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 3",
        (schema,),
    ).fetchall()
    keys = conn.execute(
        "SELECT tc.table_name, kcu.column_name, kcu.ordinal_position FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
        "AND kcu.table_schema = tc.table_schema WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY' "
        "ORDER BY 1, 3",
        (schema,),
    ).fetchall()
    indexes = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY indexname", (schema,))
    return {
        "columns": columns,
        "primary keys": keys,
        "indexes": [r[0].replace(f"{schema}.", "S.") for r in indexes.fetchall()],
    }


def test_postgres_ddl_makes_the_released_tables() -> None:
    with _pg_schema() as (conn, released), _pg_schema() as (conn2, generated):
        for stmt in _RELEASED_POSTGRES:
            conn.execute(stmt.format(s=f'"{released}"'))
        for stmt in _generated(_sql.postgres_migrations(_sql.postgres_dialect(generated)), "CREATE"):
            conn2.execute(stmt)
        released_catalog = _catalog(conn, released)
        assert len(released_catalog["indexes"]) == 16  # 5 primary keys, 11 of ours
        assert released_catalog == _catalog(conn2, generated)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql", "mariadb"])
def test_sqlalchemy_tables_follow_the_specs(dialect: str) -> None:
    pytest.importorskip("sqlalchemy")
    from storage_adapters.sqlalchemy.store import _Tables

    tables = _Tables(dialect, None)
    for spec in _sql.TABLES:
        table = tables.md.tables[spec.name]
        twins = [f"{n}Z" for n in spec.twins()] if dialect == "postgresql" else []
        assert [c.name for c in table.columns] == [c.name for c in spec.columns] + twins
        for col in spec.columns:
            assert table.c[col.name].nullable == (col.nullable and col.name not in spec.primary_key)
        assert [c.name for c in table.primary_key.columns] == list(spec.primary_key)


def test_a_database_of_the_released_schema_opens_and_migrates(tmp_path: Path) -> None:
    """A libSQL file written by the previous version (released DDL, migrations 1-4 applied)
    opens, gets the later migrations and keeps its rows."""
    import libsql

    from storage_adapters.libsql import LibSQLStore

    path = tmp_path / "old.db"
    conn = libsql.connect(str(path), isolation_level=None)
    conn.execute(
        f"CREATE TABLE {_sql.MIGRATIONS_TABLE} "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for stmt in _RELEASED_SQLITE:
        if "thread_stats" not in stmt:
            conn.execute(stmt)
    for version in (1, 2, 3, 4):
        conn.execute(
            f"INSERT INTO {_sql.MIGRATIONS_TABLE} VALUES (?, 'released', '2026-01-01T00:00:00.000Z')", (version,)
        )
    conn.execute(
        "INSERT INTO mastra_threads VALUES ('t1', 'r1', 'old', jsonb('{}'), '2026-01-01T00:00:00.000Z', "
        "'2026-01-01T00:00:00.000Z')"
    )
    conn.execute(
        'INSERT INTO mastra_messages VALUES (\'m1\', \'t1\', \'{"format":2,"parts":[{"type":"text","text":"hi"}]}\', '
        "'user', 'v2', '2026-01-01T00:00:01.000Z', 'r1')"
    )
    conn.close()
    with LibSQLStore(f"file:{path}") as store:
        thread = store.get_thread_by_id("t1")
        assert thread is not None and thread.title == "old"
        assert store.list_messages("t1").total == 1  # the trigger-kept count of migration 6, backfilled
        with pytest.raises(Exception, match="not found for resource"):
            store.save_thread(thread.model_copy(update={"resource_id": "r2"}))
        versions = [m.version for m in store.migrations()]
        stored = store._conn().execute(f"SELECT version FROM {_sql.MIGRATIONS_TABLE} ORDER BY 1").fetchall()
        assert [r[0] for r in stored] == sorted(versions)
