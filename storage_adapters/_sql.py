"""What the SQL stores share: table names, the migrations list, timestamp text, row decoding and
query builders. No I/O here: backends execute what these functions return.

Table and column names are the original's (@mastra/libsql 1.23, read off a real database), so a
database written by Mastra's TypeScript packages opens here and the other way round. Timestamps
are ISO-8601 text with milliseconds and a ``Z`` (``2026-11-21T11:38:57.381Z``), which sorts
lexicographically in time order.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mastra_memory.storage._rows import message_from_row
from mastra_memory.storage.base import MessageQuery, ThreadQuery
from mastra_memory.storage.records import ObservationalMemoryRecord
from mastra_memory.types import (
    Message,
    Resource,
    Thread,
    construct,
    format_timestamp,
    gc_paused,
    loads_json,
    parse_timestamp,
)

__all__ = [
    "KV",
    "MESSAGES",
    "MIGRATIONS_TABLE",
    "OBSERVATIONAL_MEMORY",
    "RESOURCES",
    "THREADS",
    "Dialect",
    "Migration",
    "format_ts",
    "parse_ts",
]

THREADS = "mastra_threads"
MESSAGES = "mastra_messages"
RESOURCES = "mastra_resources"
OBSERVATIONAL_MEMORY = "mastra_observational_memory"
MIGRATIONS_TABLE = "mastra_memory_migrations"
THREAD_STATS = "mastra_memory_thread_stats"
KV = "mastra_kv"

THREAD_ORDER_COLUMNS = {"created_at": '"createdAt"', "updated_at": '"updatedAt"'}


format_ts = format_timestamp
parse_ts = parse_timestamp


def load_json(value: Any) -> Any:
    """Decode a JSON column (text, bytes or an already-decoded value); ``None`` -> ``{}``."""
    if value is None:
        return {}
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8")
    if isinstance(value, str):
        return loads_json(value) if value else {}
    return value


@dataclass(frozen=True)
class Migration:
    """One schema step. ``statements`` run in order in one transaction.

    ``applies_if`` (optional) is a query run first, in that transaction: when it returns no row
    the statements are skipped and the migration is only recorded as applied (a step that
    upgrades something the database may not have, such as a keyword index built on first use).
    """

    version: int
    name: str
    statements: tuple[str, ...]
    applies_if: str | None = None


@dataclass(frozen=True)
class Dialect:
    """SQL spelling differences between backends.

    Attributes:
        name: ``"sqlite"`` (libSQL) or ``"postgres"``.
        param: Placeholder (``?`` or ``%s``).
        json_in: Wraps a JSON text parameter for a jsonb column (``jsonb(?)`` in libSQL, as the
            original writes it).
        json_out: Wraps a jsonb column to read it as JSON text.
        table_prefix: Qualifies table names (a PostgreSQL schema, ``"app."``).
        native_ts: Timestamps are bound as naive UTC ``datetime`` (PostgreSQL ``TIMESTAMP``
            columns, as @mastra/pg declares them) instead of ISO-8601 text.
        id_col: How ``id`` is spelled in ORDER BY and row comparisons (PostgreSQL uses
            ``id COLLATE "C"`` so ties sort by code point whatever the database collation).
    """

    name: str
    param: str = "?"
    json_in: str = "jsonb({})"
    json_out: str = "json({})"
    table_prefix: str = ""
    native_ts: bool = False
    id_col: str = "id"

    def t(self, table: str) -> str:
        return f"{self.table_prefix}{table}"

    def ts(self, value: datetime) -> Any:
        """A timestamp as this dialect binds it (text, or a naive UTC datetime)."""
        if self.native_ts:
            return value.astimezone(UTC).replace(tzinfo=None)
        return format_ts(value)

    def meta_match(self, column: str) -> str:
        """SQL testing one top-level metadata key for JSON equality (two params: key, JSON)."""
        p = self.param
        if self.name == "postgres":
            return f"({column} -> {p}) = {p}::jsonb"
        return f"({column} -> ('$.' || {p})) = json({p})"

    def meta_params(self, key: str, value: Any) -> list[Any]:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return [key, encoded]


SQLITE = Dialect("sqlite")


def sqlite_migrations(d: Dialect = SQLITE) -> list[Migration]:
    """The numbered migrations of the libSQL/SQLite schema (never edited once released)."""
    return [
        Migration(
            1,
            "core tables as @mastra/libsql creates them",
            tuple(create_table_sql(spec, d) for spec in (THREADS_TABLE, MESSAGES_TABLE, RESOURCES_TABLE)),
        ),
        Migration(
            2,
            "indexes for the hot paths",
            tuple(create_index_sql(i, d) for i in SQLITE_HOT_INDEXES),
        ),
        Migration(3, "observational memory (one row per generation)", om_table_statements(d)),
        Migration(
            4,
            "key-value memory",
            (
                create_table_sql(KV_TABLE, d),
                *(create_index_sql(i, d) for i in KV_INDEXES),
            ),
        ),
        Migration(
            6,
            "per-thread message counts kept by triggers (a page's total without counting rows)",
            (
                create_table_sql(THREAD_STATS_TABLE, d),
                f"DELETE FROM {d.t(THREAD_STATS)}",
                f"INSERT INTO {d.t(THREAD_STATS)} (thread_id, message_count) "
                f"SELECT thread_id, count(*) FROM {d.t(MESSAGES)} GROUP BY thread_id",
                f"CREATE TRIGGER IF NOT EXISTS mm_messages_count_insert AFTER INSERT ON {d.t(MESSAGES)} BEGIN "
                f"INSERT INTO {d.t(THREAD_STATS)} (thread_id, message_count) VALUES (NEW.thread_id, 1) "
                "ON CONFLICT (thread_id) DO UPDATE SET message_count = message_count + 1; END",
                f"CREATE TRIGGER IF NOT EXISTS mm_messages_count_delete AFTER DELETE ON {d.t(MESSAGES)} BEGIN "
                f"UPDATE {d.t(THREAD_STATS)} SET message_count = message_count - 1 "
                "WHERE thread_id = OLD.thread_id; END",
                f"CREATE TRIGGER IF NOT EXISTS mm_messages_count_move AFTER UPDATE OF thread_id ON {d.t(MESSAGES)} "
                "WHEN OLD.thread_id <> NEW.thread_id BEGIN "
                f"UPDATE {d.t(THREAD_STATS)} SET message_count = message_count - 1 WHERE thread_id = OLD.thread_id; "
                f"INSERT INTO {d.t(THREAD_STATS)} (thread_id, message_count) VALUES (NEW.thread_id, 1) "
                "ON CONFLICT (thread_id) DO UPDATE SET message_count = message_count + 1; END",
            ),
        ),
        retention_migration(d),
    ]


# -- observational memory -------------------------------------------------------------------------

# (column, SQLite type, kind) in the original's order; kind drives encoding:
# text | int | bool | ts | json (JSON text).
OM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "TEXT NOT NULL PRIMARY KEY", "text"),
    ("lookupKey", "TEXT NOT NULL", "text"),
    ("scope", "TEXT NOT NULL", "text"),
    ("resourceId", "TEXT", "text"),
    ("threadId", "TEXT", "text"),
    ("activeObservations", "TEXT NOT NULL", "text"),
    ("activeObservationsPendingUpdate", "TEXT", "text"),
    ("originType", "TEXT", "text"),
    ("config", "TEXT NOT NULL", "json"),
    ("generationCount", "INTEGER", "int"),
    ("lastObservedAt", "TEXT", "ts"),
    ("lastReflectionAt", "TEXT", "ts"),
    ("pendingMessageTokens", "INTEGER", "int"),
    ("totalTokensObserved", "INTEGER", "int"),
    ("observationTokenCount", "INTEGER", "int"),
    ("isObserving", "INTEGER", "bool"),
    ("isReflecting", "INTEGER", "bool"),
    ("observedMessageIds", "TEXT", "json"),
    ("observedTimezone", "TEXT", "text"),
    ("bufferedObservations", "TEXT", "text"),
    ("bufferedObservationTokens", "INTEGER", "int"),
    ("bufferedMessageIds", "TEXT", "json"),
    ("bufferedReflection", "TEXT", "text"),
    ("bufferedReflectionTokens", "INTEGER", "int"),
    ("bufferedReflectionInputTokens", "INTEGER", "int"),
    ("reflectedObservationLineCount", "INTEGER", "int"),
    ("bufferedObservationChunks", "TEXT", "json"),
    ("isBufferingObservation", "INTEGER", "bool"),
    ("isBufferingReflection", "INTEGER", "bool"),
    ("lastBufferedAtTokens", "INTEGER", "int"),
    ("lastBufferedAtTime", "TEXT", "ts"),
    ("metadata", "TEXT", "json"),
    ("createdAt", "TEXT NOT NULL", "ts"),
    ("updatedAt", "TEXT NOT NULL", "ts"),
)
_OM_DEPRECATED = {"bufferedObservations", "bufferedObservationTokens", "bufferedMessageIds"}


# -- the schema: one declarative source ----------------------------------------------------------
#
# Every table is declared once, with logical column types; the SQLite DDL, the PostgreSQL DDL and
# (in storage_adapters.sqlalchemy) the SQLAlchemy Table objects are generated from it. The
# numbered migrations below run the generated CREATE TABLE statements; tests pin the SQLite text
# (the schema shared with @mastra/libsql) and the PostgreSQL catalog to the released ones.

LOGICAL_TYPES = ("id", "text", "long", "json", "ts", "tstz", "kvkey", "omkey", "iso", "int")
"""Logical column types, spelled per dialect:

* ``id``: an identifier (TEXT; ``VARCHAR(255)`` binary collation on MySQL);
* ``text`` / ``long``: short and long text (``long`` is ``LONGTEXT`` on MySQL);
* ``json``: a JSON document (TEXT in SQLite, JSONB in PostgreSQL);
* ``ts``: a timestamp as @mastra stores it (ISO text in SQLite; ``TIMESTAMP`` plus a
  ``TIMESTAMPTZ`` twin ``<name>Z DEFAULT NOW()`` in PostgreSQL);
* ``tstz``: a timestamp with time zone (ISO text in SQLite, ``TIMESTAMPTZ`` in PostgreSQL);
* ``kvkey``: a key-value key, ordered by code point (``COLLATE "C"``; binary on MySQL);
* ``omkey``: an observational-memory lookup key (``VARCHAR(300)`` binary on MySQL);
* ``iso``: a timestamp kept as ISO text on every dialect;
* ``int``: an integer (booleans too: 0/1).
"""

_SQLITE_TYPES = dict.fromkeys(LOGICAL_TYPES, "TEXT") | {"int": "INTEGER"}
_POSTGRES_TYPES = dict.fromkeys(LOGICAL_TYPES, "TEXT") | {
    "json": "JSONB",
    "ts": "TIMESTAMP",
    "tstz": "TIMESTAMPTZ",
    "kvkey": 'TEXT COLLATE "C"',
    "int": "INTEGER",
}
_ALWAYS_QUOTED = {"key"}


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, logical type (see :data:`LOGICAL_TYPES`) and nullability."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One table: columns in order, the primary key, and whether every name is quoted in DDL
    (as the original writes ``mastra_observational_memory``) or only those that need it."""

    name: str
    columns: tuple[ColumnSpec, ...]
    primary_key: tuple[str, ...]
    quote_all: bool = False

    def quoted(self, name: str) -> str:
        if self.quote_all or not name.islower() or name in _ALWAYS_QUOTED:
            return f'"{name}"'
        return name

    def twins(self) -> tuple[str, ...]:
        """Names of the ``ts`` columns, which get a ``TIMESTAMPTZ`` twin on PostgreSQL."""
        return tuple(c.name for c in self.columns if c.type == "ts")


def _col(name: str, type_: str, null: bool = True) -> ColumnSpec:
    return ColumnSpec(name, type_, null)


THREADS_TABLE = TableSpec(
    THREADS,
    (
        _col("id", "id", False),
        _col("resourceId", "id", False),
        _col("title", "text", False),
        _col("metadata", "json"),
        _col("createdAt", "ts", False),
        _col("updatedAt", "ts", False),
    ),
    ("id",),
)
MESSAGES_TABLE = TableSpec(
    MESSAGES,
    (
        _col("id", "id", False),
        _col("thread_id", "id", False),
        _col("content", "long", False),
        _col("role", "text", False),
        _col("type", "text", False),
        _col("createdAt", "ts", False),
        _col("resourceId", "id"),
    ),
    ("id",),
)
RESOURCES_TABLE = TableSpec(
    RESOURCES,
    (
        _col("id", "id", False),
        _col("workingMemory", "long"),
        _col("metadata", "json"),
        _col("createdAt", "ts", False),
        _col("updatedAt", "ts", False),
    ),
    ("id",),
)
KV_TABLE = TableSpec(
    KV,
    (
        _col("namespace", "id", False),
        _col("key", "kvkey", False),
        _col("value", "long", False),
        _col("expiresAt", "tstz"),
        _col("createdAt", "tstz", False),
        _col("updatedAt", "tstz", False),
    ),
    ("namespace", "key"),
)
THREAD_STATS_TABLE = TableSpec(
    THREAD_STATS, (_col("thread_id", "id", False), _col("message_count", "int", False)), ("thread_id",)
)
"""Per-thread message counts kept by SQLite triggers (libSQL only, migration 6)."""


def _om_logical_type(name: str, kind: str) -> str:
    if name in ("id", "resourceId", "threadId"):
        return "id"
    if name == "lookupKey":
        return "omkey"
    return {"text": "long", "json": "long", "ts": "iso", "int": "int", "bool": "int"}[kind]


OM_TABLE = TableSpec(
    OBSERVATIONAL_MEMORY,
    tuple(_col(name, _om_logical_type(name, kind), "NOT NULL" not in sqltype) for name, sqltype, kind in OM_COLUMNS),
    ("id",),
    quote_all=True,
)

TABLES: tuple[TableSpec, ...] = (THREADS_TABLE, MESSAGES_TABLE, RESOURCES_TABLE, OM_TABLE, KV_TABLE)
"""The tables every SQL backend creates (the thread-stats table is libSQL's alone)."""


@dataclass(frozen=True)
class IndexSpec:
    """One index. A column named ``id`` is spelled as the dialect orders ids (``id COLLATE "C"``
    on PostgreSQL); ``where_not_null`` makes it a partial index over rows where that column is
    set."""

    name: str
    table: TableSpec
    columns: tuple[str, ...]
    unique: bool = False
    where_not_null: str | None = None


SQLITE_HOT_INDEXES = (
    IndexSpec("mm_messages_thread_created_id", MESSAGES_TABLE, ("thread_id", "createdAt", "id")),
    IndexSpec("mm_messages_resource_created", MESSAGES_TABLE, ("resourceId", "createdAt")),
    IndexSpec("mm_threads_resource_created", THREADS_TABLE, ("resourceId", "createdAt")),
    IndexSpec("mm_threads_resource_updated", THREADS_TABLE, ("resourceId", "updatedAt")),
)
"""The hot-path indexes of the libSQL schema (released in migration 2; their names are what a
database shared with @mastra/libsql holds)."""

HOT_INDEXES = (
    IndexSpec("mm_messages_thread_created_id", MESSAGES_TABLE, ("thread_id", "createdAt", "id")),
    IndexSpec("mm_messages_resource_created_id", MESSAGES_TABLE, ("resourceId", "createdAt", "id")),
    IndexSpec("mm_threads_resource_created", THREADS_TABLE, ("resourceId", "createdAt", "id")),
    IndexSpec("mm_threads_resource_updated", THREADS_TABLE, ("resourceId", "updatedAt", "id")),
)
"""The hot-path indexes of PostgreSQL and SQLAlchemy: every one ends in the id, the tie-breaker
of each ordering they serve."""

OM_INDEXES = (
    IndexSpec("mm_om_lookup_key", OM_TABLE, ("lookupKey",)),
    IndexSpec("mm_om_lookup_generation", OM_TABLE, ("lookupKey", "generationCount"), unique=True),
)
"""The unique ``(lookupKey, generationCount)`` index makes a duplicated generation impossible."""

KV_INDEXES = (IndexSpec("mm_kv_expires", KV_TABLE, ("expiresAt",), where_not_null="expiresAt"),)

RETENTION_VERSION = 12
RETENTION_INDEXES = (
    IndexSpec("mm_messages_created_id", MESSAGES_TABLE, ("createdAt", "id")),
    IndexSpec("mm_threads_updated_id", THREADS_TABLE, ("updatedAt", "id")),
    IndexSpec("mm_resources_updated_id", RESOURCES_TABLE, ("updatedAt", "id")),
    IndexSpec("mm_om_created", OM_TABLE, ("createdAt",)),
)
"""Indexes of the retention queries (migration 12, every SQL backend): each ``prune_*`` selects
the oldest rows before a cutoff (``WHERE <ts> < ? ORDER BY <ts>, id LIMIT n``), a range scan of
one of these instead of a scan of the table. The names are ours (``mm_``): @mastra/libsql's
indexes are ``idx_*``, so a database shared with the TypeScript original holds both sets."""


def retention_migration(d: Dialect) -> Migration:
    """Migration 12: :data:`RETENTION_INDEXES` in ``d``'s spelling."""
    return Migration(
        RETENTION_VERSION,
        "indexes for retention (oldest rows first)",
        tuple(create_index_sql(i, d) for i in RETENTION_INDEXES),
    )


def create_index_sql(spec: IndexSpec, d: Dialect) -> str:
    """``CREATE [UNIQUE] INDEX IF NOT EXISTS`` of ``spec`` in ``d``'s spelling."""
    cols = ", ".join(d.id_col if c == "id" else spec.table.quoted(c) for c in spec.columns)
    sql = f"CREATE {'UNIQUE ' if spec.unique else ''}INDEX IF NOT EXISTS {spec.name} ON {d.t(spec.table.name)} ({cols})"
    if spec.where_not_null is not None:
        sql += f" WHERE {spec.table.quoted(spec.where_not_null)} IS NOT NULL"
    return sql


def create_table_sql(spec: TableSpec, d: Dialect) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of ``spec`` in ``d``'s spelling (``sqlite``/``postgres``)."""
    types = _POSTGRES_TYPES if d.name == "postgres" else _SQLITE_TYPES
    single_pk = len(spec.primary_key) == 1
    parts: list[str] = []
    for col in spec.columns:
        part = f"{spec.quoted(col.name)} {types[col.type]}"
        if not col.nullable:
            part += " NOT NULL"
        if single_pk and col.name == spec.primary_key[0]:
            part += " PRIMARY KEY"
        parts.append(part)
    if d.name == "postgres":
        parts += [f'"{name}Z" TIMESTAMPTZ DEFAULT NOW()' for name in spec.twins()]
    if not single_pk:
        parts.append(f"PRIMARY KEY ({', '.join(spec.quoted(n) for n in spec.primary_key)})")
    return f"CREATE TABLE IF NOT EXISTS {d.t(spec.name)} ({', '.join(parts)})"


def om_table_statements(d: Dialect) -> tuple[str, ...]:
    """DDL of ``mastra_observational_memory`` (columns as the original's) and its indexes; the
    unique ``(lookupKey, generationCount)`` index makes a duplicated generation impossible."""
    return (create_table_sql(OM_TABLE, d), *(create_index_sql(i, d) for i in OM_INDEXES))


def om_select_columns(d: Dialect) -> str:
    """The select list for OM rows (JSON columns read as JSON text)."""
    out = []
    for name, _, kind in OM_COLUMNS:
        col = f'"{name}"'
        out.append(d.json_out.format(col) if kind == "json" and d.name == "sqlite" else col)
    return ", ".join(out)


def om_row_to_record(row: Sequence_) -> ObservationalMemoryRecord:
    """Decode an OM row selected with :func:`om_select_columns`."""
    data: dict[str, Any] = {}
    for (name, _, kind), value in zip(OM_COLUMNS, row, strict=True):
        if name in _OM_DEPRECATED or value is None:
            continue
        if kind == "json":
            value = load_json(value)
        elif kind == "ts":
            value = parse_ts(value)
        elif kind == "bool":
            value = bool(value)
        data[name] = value
    if not isinstance(data.get("observedMessageIds"), list):
        data["observedMessageIds"] = []
    if not isinstance(data.get("bufferedObservationChunks"), list):
        data["bufferedObservationChunks"] = []
    return ObservationalMemoryRecord.model_validate(data)


def om_record_params(record: ObservationalMemoryRecord) -> list[Any]:
    """Parameters for :func:`om_upsert_sql`, in column order."""
    data = record.model_dump(by_alias=True, mode="python")
    data["bufferedObservationChunks"] = [
        c.model_dump(by_alias=True, mode="json", exclude_none=True) for c in record.buffered_observation_chunks
    ]
    out: list[Any] = []
    for name, _, kind in OM_COLUMNS:
        value = data.get(name)
        if name in _OM_DEPRECATED:
            value = None
        elif value is None:
            pass
        elif kind == "json":
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        elif kind == "ts":
            value = format_ts(value)
        elif kind == "bool":
            value = 1 if value else 0
        out.append(value)
    return out


def om_upsert_sql(d: Dialect) -> str:
    names = [name for name, _, _ in OM_COLUMNS]
    cols = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join(d.param for _ in names)
    updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n != "id")
    return f"INSERT INTO {d.t(OBSERVATIONAL_MEMORY)} ({cols}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}"


def om_changed_columns(
    new: ObservationalMemoryRecord, old: ObservationalMemoryRecord, d: Dialect = SQLITE
) -> tuple[str, list[Any]] | None:
    """An ``UPDATE`` of only the columns that differ between two versions of one row (a lease
    or cursor change does not rewrite the observation text); ``None`` when nothing changed.
    Returns ``(sql, params)``."""
    changed = [
        (name, value)
        for (name, _, _), value, before in zip(OM_COLUMNS, om_record_params(new), om_record_params(old), strict=True)
        if value != before and name != "id"
    ]
    if not changed:
        return None
    sets = ", ".join(f'"{name}" = {d.param}' for name, _ in changed)
    sql = f"UPDATE {d.t(OBSERVATIONAL_MEMORY)} SET {sets} WHERE id = {d.param}"
    return sql, [v for _, v in changed] + [new.id]


def om_writes(
    record: ObservationalMemoryRecord, head: ObservationalMemoryRecord | None, d: Dialect = SQLITE
) -> list[tuple[str, list[Any]]]:
    """The statements ``(sql, params)`` that store ``record`` of a commit whose head was ``head``:
    only the changed columns of the head itself (:func:`om_changed_columns`), else an upsert."""
    if head is not None and record.id == head.id:
        update = om_changed_columns(record, head, d)
        return [] if update is None else [update]
    return [(om_upsert_sql(d), om_record_params(record))]


def om_delete_sql(d: Dialect) -> str:
    """Delete every generation of a lookup key (param: lookupKey)."""
    return f'DELETE FROM {d.t(OBSERVATIONAL_MEMORY)} WHERE "lookupKey" = {d.param}'


def om_head_sql(d: Dialect) -> str:
    """Head of a lookup key (param: lookupKey)."""
    return om_history_sql(d, limited=False) + " LIMIT 1"


def om_history_sql(d: Dialect, limited: bool) -> str:
    """Generations newest first (params: lookupKey[, limit, offset])."""
    sql = (
        f'SELECT {om_select_columns(d)} FROM {d.t(OBSERVATIONAL_MEMORY)} WHERE "lookupKey" = {d.param} '
        'ORDER BY "generationCount" DESC'
    )
    return sql + (f" LIMIT {d.param} OFFSET {d.param}" if limited else "")


def om_floor_sql(d: Dialect, n: int) -> str:
    """Latest cursor per lookup key among ``n`` keys (params: keys)."""
    marks = ", ".join(d.param for _ in range(n))
    return (
        f'SELECT "lookupKey", max("lastObservedAt") FROM {d.t(OBSERVATIONAL_MEMORY)} '
        f'WHERE "lookupKey" IN ({marks}) GROUP BY "lookupKey"'
    )


def message_refs_summary_sql(d: Dialect, n_threads: int | None, after: bool) -> str:
    """``count(*)`` and summed ``length(content)`` of the rows :func:`message_refs_sql` selects."""
    sql = message_refs_sql(d, n_threads, after, False)
    where = sql[sql.index(" WHERE ") : sql.index(" ORDER BY ")]
    return f"SELECT count(*), coalesce(sum(length(content)), 0) FROM {d.t(MESSAGES)}{where}"


def message_refs_sql(d: Dialect, n_threads: int | None, after: bool, limited: bool) -> str:
    """Refs ``(id, thread_id, createdAt, length(content))`` ordered by ``(createdAt, id)``:
    params are the thread ids (or the resource id when ``n_threads`` is None), then the
    ``after`` time and the limit when given. Served by the ``(thread_id, createdAt, id)`` and
    ``(resourceId, createdAt)`` indexes."""
    if n_threads is None:
        where = f'"resourceId" = {d.param}'
    elif n_threads == 1:
        where = f"thread_id = {d.param}"
    else:
        where = f"thread_id IN ({', '.join(d.param for _ in range(n_threads))})"
    if after:
        where += f' AND "createdAt" > {d.param}'
    sql = (
        f'SELECT id, thread_id, "createdAt", length(content) FROM {d.t(MESSAGES)} WHERE {where} '
        f'ORDER BY "createdAt", {d.id_col}'
    )
    return sql + (f" LIMIT {d.param}" if limited else "")


# -- row decoding ---------------------------------------------------------------------------------

THREAD_COLUMNS = 'id, "resourceId", title, {meta}, "createdAt", "updatedAt"'
MESSAGE_COLUMNS = 'id, thread_id, "resourceId", role, "createdAt", content, type'
RESOURCE_COLUMNS = 'id, "workingMemory", {meta}, "createdAt", "updatedAt"'


def thread_columns(d: Dialect) -> str:
    return THREAD_COLUMNS.format(meta=d.json_out.format("metadata"))


def resource_columns(d: Dialect) -> str:
    return RESOURCE_COLUMNS.format(meta=d.json_out.format("metadata"))


def row_to_thread(row: Sequence_) -> Thread:
    return construct(
        Thread,
        id=row[0],
        resource_id=row[1],
        title=row[2] or "",
        metadata=load_json(row[3]) or {},
        created_at=parse_ts(row[4]),
        updated_at=parse_ts(row[5]),
    )


row_to_message = message_from_row
"""Decode a ``MESSAGE_COLUMNS`` row without re-validation (rows were validated when written);
the content text is kept so a copy (clone) does not re-encode it."""


def row_to_resource(row: Sequence_) -> Resource:
    return Resource.model_construct(
        id=row[0],
        working_memory=row[1],
        metadata=load_json(row[2]) or {},
        created_at=parse_ts(row[3]),
        updated_at=parse_ts(row[4]),
    )


Sequence_ = Any  # a DB-API row


def thread_params(thread: Thread) -> list[Any]:
    return [
        thread.id,
        thread.resource_id,
        thread.title,
        json.dumps(thread.metadata, ensure_ascii=False, separators=(",", ":")),
        format_ts(thread.created_at),
        format_ts(thread.updated_at),
    ]


def message_params(m: Message) -> list[Any]:
    return [m.id, m.thread_id, m.content_json(), m.role, m.type or "v2", format_ts(m.created_at), m.resource_id]


# -- query builders -------------------------------------------------------------------------------


def save_thread_sql(d: Dialect) -> str:
    """Insert or replace a thread without ever changing its owner: on a conflict the row is
    updated only when the stored ``resourceId`` is the new one's. Returns a row when written
    (none: the id belongs to another resource)."""
    p = d.param
    return (
        f'INSERT INTO {d.t(THREADS)} AS t (id, "resourceId", title, metadata, "createdAt", "updatedAt") '
        f"VALUES ({p}, {p}, {p}, {d.json_in.format(p)}, {p}, {p}) "
        "ON CONFLICT (id) DO UPDATE SET title = excluded.title, metadata = excluded.metadata, "
        '"createdAt" = excluded."createdAt", "updatedAt" = excluded."updatedAt" '
        'WHERE t."resourceId" = excluded."resourceId" RETURNING 1'
    )


def title_if_empty_sql(d: Dialect, title: str, now: datetime) -> tuple[str, list[Any]]:
    """Set a thread's title and ``updatedAt`` (and its PostgreSQL twin) only where the title is
    NULL or empty: one statement, so the check and the write are atomic; params end with the
    thread id. Returns a row when the title was set."""
    p = d.param
    twin = f', "updatedAtZ" = {p}' if d.name == "postgres" else ""
    params: list[Any] = [title, d.ts(now), *([now] if d.name == "postgres" else [])]
    return (
        f'UPDATE {d.t(THREADS)} SET title = {p}, "updatedAt" = {p}{twin} '
        f"WHERE id = {p} AND (title IS NULL OR title = '') RETURNING 1",
        params,
    )


def insert_thread_sql(d: Dialect) -> str:
    p = d.param
    return (
        f'INSERT INTO {d.t(THREADS)} (id, "resourceId", title, metadata, "createdAt", "updatedAt") '
        f"VALUES ({p}, {p}, {p}, {d.json_in.format(p)}, {p}, {p})"
    )


def upsert_message_sql(d: Dialect) -> str:
    p = d.param
    return (
        f'INSERT INTO {d.t(MESSAGES)} (id, thread_id, content, role, type, "createdAt", "resourceId") '
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
        "ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id, content = excluded.content, "
        'role = excluded.role, type = excluded.type, "createdAt" = excluded."createdAt", '
        '"resourceId" = excluded."resourceId"'
    )


def select_threads_sql(d: Dialect, q: ThreadQuery) -> tuple[str, list[Any], str, list[Any]]:
    """Return ``(page_sql, page_params, count_sql, count_params)`` for ``list_threads``."""
    where: list[str] = []
    params: list[Any] = []
    if q.resource_id is not None:
        where.append(f'"resourceId" = {d.param}')
        params.append(q.resource_id)
    for key, value in q.metadata.items():
        where.append(d.meta_match("metadata"))
        params.extend(d.meta_params(key, value))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    col = THREAD_ORDER_COLUMNS[q.order_by]
    order = f"{col} {q.direction}, {d.id_col} {q.direction}"
    sql = f"SELECT {thread_columns(d)} FROM {d.t(THREADS)}{clause} ORDER BY {order}"
    page_params = list(params)
    if q.per_page is not False:
        sql += f" LIMIT {d.param} OFFSET {d.param}"
        page_params += [q.per_page, q.offset]
    return sql, page_params, f"SELECT count(*) FROM {d.t(THREADS)}{clause}", params


def _thread_filter(d: Dialect, q: MessageQuery) -> tuple[str, list[Any]]:
    params: list[Any] = list(q.thread_ids)
    if len(q.thread_ids) == 1:
        where = [f"thread_id = {d.param}"]
    else:
        where = [f"thread_id IN ({', '.join(d.param for _ in q.thread_ids)})"]
    if q.start is not None:
        where.append(f'"createdAt" >= {d.param}')
        params.append(d.ts(q.start))
    if q.end is not None:
        where.append(f'"createdAt" <= {d.param}')
        params.append(d.ts(q.end))
    return " AND ".join(where), params


def select_messages_sql(d: Dialect, q: MessageQuery) -> tuple[str, list[Any], str, list[Any]]:
    """Return ``(page_sql, page_params, count_sql, count_params)``; the page comes in
    ``q.direction`` order (reverse it for DESC)."""
    where, params = _thread_filter(d, q)
    order = f'"createdAt" {q.direction}, {d.id_col} {q.direction}'
    sql = f"SELECT {MESSAGE_COLUMNS} FROM {d.t(MESSAGES)} WHERE {where} ORDER BY {order}"
    page_params = list(params)
    if q.per_page is not False:
        sql += f" LIMIT {d.param} OFFSET {d.param}"
        page_params += [q.per_page, q.offset]
    return sql, page_params, f"SELECT count(*) FROM {d.t(MESSAGES)} WHERE {where}", params


def messages_by_resource_sql(d: Dialect, direction: str, limited: bool) -> tuple[str, str]:
    """``(page_sql, count_sql)`` of a resource's messages: the page's params are the resource
    id (then limit and offset when ``limited``), the count's the resource id."""
    p = d.param
    where = f'FROM {d.t(MESSAGES)} WHERE "resourceId" = {p}'
    sql = f'SELECT {MESSAGE_COLUMNS} {where} ORDER BY "createdAt" {direction}, {d.id_col} {direction}'
    return sql + (f" LIMIT {p} OFFSET {p}" if limited else ""), f"SELECT count(*) {where}"


def migrations_table_sql(d: Dialect) -> str:
    """The table recording applied migrations (``applied_at`` ISO text, or ``TIMESTAMPTZ``)."""
    applied = "TIMESTAMPTZ NOT NULL DEFAULT NOW()" if d.name == "postgres" else "TEXT NOT NULL"
    return (
        f"CREATE TABLE IF NOT EXISTS {d.t(MIGRATIONS_TABLE)} (version INTEGER PRIMARY KEY, "
        f"name TEXT NOT NULL, applied_at {applied})"
    )


def record_migration_sql(d: Dialect, migration: Migration) -> tuple[str, list[Any]]:
    """``(sql, params)`` recording ``migration`` as applied now."""
    p, table = d.param, d.t(MIGRATIONS_TABLE)
    if d.name == "postgres":  # applied_at defaults to NOW() in the server's clock
        return f"INSERT INTO {table} (version, name) VALUES ({p}, {p})", [migration.version, migration.name]
    stamp = format_ts(datetime.now(UTC))
    return (
        f"INSERT INTO {table} (version, name, applied_at) VALUES ({p}, {p}, {p})",
        [migration.version, migration.name, stamp],
    )


def stats_count_sql(threads: int) -> str:
    """The trigger-kept message count of ``threads`` thread ids (libSQL, migration 6)."""
    if threads == 1:
        return f"SELECT message_count FROM {THREAD_STATS} WHERE thread_id = ?"
    return f"SELECT sum(message_count) FROM {THREAD_STATS} WHERE thread_id IN ({', '.join('?' * threads)})"


def neighbour_sql(d: Dialect, before: bool) -> str:
    """Indexed range query for an include window: params ``(thread_id, createdAt, createdAt, id, limit)``."""
    p = d.param
    if before:
        cond, order = f'("createdAt" < {p} OR ("createdAt" = {p} AND id < {p}))', "DESC"
    else:
        cond, order = f'("createdAt" > {p} OR ("createdAt" = {p} AND id > {p}))', "ASC"
    return (
        f"SELECT {MESSAGE_COLUMNS} FROM {{table}} WHERE thread_id = {p} AND {cond} "
        f'ORDER BY "createdAt" {order}, id {order} LIMIT {p}'
    ).replace("{table}", d.t(MESSAGES))


def sort_key(m: Message) -> tuple[datetime, str]:
    return (m.created_at, m.id)


BULK_ROWS = 256
"""Row count from which decoding pauses the garbage collector (see ``gc_paused``)."""


def rows_to_messages(rows: Sequence_) -> list[Message]:
    """Decode ``MESSAGE_COLUMNS`` rows in their order; large results with the collector paused."""
    if len(rows) < BULK_ROWS:
        return [row_to_message(r) for r in rows]
    with gc_paused():
        return [row_to_message(r) for r in rows]


def dedupe_sorted(rows: list[Any]) -> list[Message]:
    """Rows in ``MESSAGE_COLUMNS`` order -> messages deduplicated by id, oldest first."""
    seen: dict[str, Any] = {}
    for r in rows:
        seen.setdefault(r[0], r)
    return rows_to_messages(sorted(seen.values(), key=lambda r: (r[4], r[0])))


# -- PostgreSQL -----------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """Double-quote a SQL identifier (schema names are user input)."""
    return '"' + name.replace('"', '""') + '"'


def postgres_dialect(schema_name: str = "public") -> Dialect:
    """The PostgreSQL spelling, with tables qualified by ``schema_name``."""
    return Dialect(
        "postgres",
        param="%s",
        json_in="{}::jsonb",
        json_out="{}",
        table_prefix=f"{quote_ident(schema_name)}.",
        native_ts=True,
        id_col='id COLLATE "C"',
    )


def postgres_migrations(d: Dialect) -> list[Migration]:
    """The numbered migrations of the PostgreSQL schema (never edited once released).

    Tables mirror @mastra/pg's DDL (mastra-ai/mastra ``stores/pg/src/storage/db/index.ts``,
    ``generateTableSQL``): ``TIMESTAMP`` columns plus a ``TIMESTAMPTZ`` twin named ``<col>Z``
    for every timestamp, ``JSONB`` metadata, ``TEXT`` content, so a database shared with the
    TypeScript store means the same thing on both sides. Versions 3-5 are reserved
    (observational memory, key-value, semantic recall).
    """
    return [
        Migration(
            1,
            "core tables as @mastra/pg creates them",
            (
                *(create_table_sql(spec, d) for spec in (THREADS_TABLE, MESSAGES_TABLE, RESOURCES_TABLE)),
                f'ALTER TABLE {d.t(MESSAGES)} ADD COLUMN IF NOT EXISTS "resourceId" TEXT',
            ),
        ),
        Migration(
            2,
            "indexes for the hot paths",
            tuple(create_index_sql(i, d) for i in HOT_INDEXES),
        ),
        Migration(3, "observational memory (one row per generation)", om_table_statements(d)),
        Migration(
            4,
            "key-value memory",
            (
                create_table_sql(KV_TABLE, d),  # keys in the "C" collation: code-point order
                *(create_index_sql(i, d) for i in KV_INDEXES),
            ),
        ),
        retention_migration(d),
    ]


# -- key-value memory (table mastra_kv) -----------------------------------------------------------
# Every statement addresses rows by the primary key (namespace, "key") or by the partial index on
# "expiresAt"; prefix listing is a range on the primary key. Timestamp parameters are whatever the
# backend stores in its timestamp columns (ISO text in libSQL).

KV_LIVE = '("expiresAt" IS NULL OR "expiresAt" > {p})'


def kv_upsert_sql(d: Dialect) -> str:
    """Params ``(namespace, key, value_json, expiresAt, createdAt, updatedAt)``; an overwrite keeps
    ``createdAt`` unless the old entry had expired."""
    p, t = d.param, d.t(KV)
    return (
        f'INSERT INTO {t} AS kv (namespace, "key", value, "expiresAt", "createdAt", "updatedAt") '
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}) "
        'ON CONFLICT (namespace, "key") DO UPDATE SET value = excluded.value, '
        '"expiresAt" = excluded."expiresAt", "updatedAt" = excluded."updatedAt", '
        '"createdAt" = CASE WHEN kv."expiresAt" IS NOT NULL AND kv."expiresAt" <= excluded."updatedAt" '
        'THEN excluded."createdAt" ELSE kv."createdAt" END'
    )


def kv_select_sql(d: Dialect, for_update: bool = False) -> str:
    """Params ``(namespace, key)``; the row whether live or not."""
    p = d.param
    lock = " FOR UPDATE" if for_update and d.name == "postgres" else ""
    return (
        f'SELECT value, "expiresAt", "createdAt", "updatedAt" FROM {d.t(KV)} '
        f'WHERE namespace = {p} AND "key" = {p}{lock}'
    )


def kv_exists_sql(d: Dialect) -> str:
    """Params ``(namespace, key, now)``."""
    p = d.param
    return f'SELECT 1 FROM {d.t(KV)} WHERE namespace = {p} AND "key" = {p} AND {KV_LIVE.format(p=p)}'


def kv_delete_sql(d: Dialect) -> str:
    """Params ``(namespace, key)``; returns the deleted row's ``expiresAt``."""
    p = d.param
    return f'DELETE FROM {d.t(KV)} WHERE namespace = {p} AND "key" = {p} RETURNING "expiresAt"'


def kv_delete_expired_one_sql(d: Dialect) -> str:
    """Params ``(namespace, key, now)``: delete the row only if it has expired."""
    p = d.param
    return f'DELETE FROM {d.t(KV)} WHERE namespace = {p} AND "key" = {p} AND "expiresAt" <= {p}'


def kv_list_keys_sql(
    d: Dialect, namespace: str, prefix: str, upper: str | None, after_key: str | None, now: Any, limit: int
) -> tuple[str, list[Any]]:
    """A primary-key range scan for one page of live keys (see ``prefix_upper_bound``)."""
    p = d.param
    where = [f"namespace = {p}", KV_LIVE.format(p=p)]
    params: list[Any] = [namespace, now]
    if prefix:
        where.append(f'"key" >= {p}')
        params.append(prefix)
    if upper is not None and prefix:
        where.append(f'"key" < {p}')
        params.append(upper)
    if after_key is not None:
        where.append(f'"key" > {p}')
        params.append(after_key)
    sql = f'SELECT "key" FROM {d.t(KV)} WHERE {" AND ".join(where)} ORDER BY "key" LIMIT {p}'
    return sql, [*params, limit]


def kv_clear_sql(d: Dialect) -> str:
    """Params ``(namespace,)``."""
    return f"DELETE FROM {d.t(KV)} WHERE namespace = {d.param}"


def kv_stats_sql(d: Dialect) -> str:
    """Params ``(namespace, now)``: ``(live keys, bytes of their values)``."""
    p = d.param
    size = "octet_length(value)" if d.name == "postgres" else "length(CAST(value AS BLOB))"
    return f"SELECT count(*), coalesce(sum({size}), 0) FROM {d.t(KV)} WHERE namespace = {p} AND {KV_LIVE.format(p=p)}"


def kv_purge_sql(d: Dialect) -> str:
    """Params ``(now, limit)``: delete one batch of expired rows, found by the expiry index."""
    p, t = d.param, d.t(KV)
    return (
        f'DELETE FROM {t} WHERE (namespace, "key") IN (SELECT namespace, "key" FROM {t} '
        f'WHERE "expiresAt" <= {p} LIMIT {p})'
    )


# -- the write path in as few statements as possible (libSQL) ------------------------------------


def create_thread_sql(d: Dialect) -> str:
    """Insert-only thread creation in one statement: ``INSERT ... ON CONFLICT (id) DO NOTHING``.

    Params as :func:`thread_params`. Its row count is 1 when the thread was created and 0 when
    the id exists (the stored thread, owner included, is left as it was): one autocommit
    statement, atomic by itself, with no read before the write.
    """
    return insert_thread_sql(d) + " ON CONFLICT (id) DO NOTHING"


@functools.lru_cache(maxsize=32)
def claim_threads_sql(d: Dialect, n: int, newest: bool) -> str:
    """Bump ``updatedAt`` of ``n`` threads and return what a save checks, in one statement.

    Params: ``(updatedAt, *thread_ids)``. Returns one row per thread that exists: ``(id,
    resourceId, observation cursor[, newest createdAt])``: the owner (a save refuses messages of
    another resource); the latest ``lastObservedAt`` of the thread's and its resource's
    observational-memory records (new messages never land at or before it; one subquery over
    both lookup keys); and, when ``newest``, the ``createdAt`` of the thread's newest stored
    message (one seek on ``(thread_id, createdAt, id)``). A missing thread returns no row. Run
    inside the save's transaction, so the bump is undone when a check fails.
    """
    p = d.param
    own = d.t(THREADS)
    marks = ", ".join(p for _ in range(n))
    where = f"id = {p}" if n == 1 else f"id IN ({marks})"
    cols = [
        "id",
        '"resourceId"',
        f'(SELECT max("lastObservedAt") FROM {d.t(OBSERVATIONAL_MEMORY)} '
        f"WHERE \"lookupKey\" IN ('thread:' || {own}.id, 'resource:' || {own}.\"resourceId\"))",
    ]
    if newest:
        cols.append(
            f'(SELECT "createdAt" FROM {d.t(MESSAGES)} WHERE thread_id = {own}.id ORDER BY "createdAt" DESC LIMIT 1)'
        )
    return f'UPDATE {own} SET "updatedAt" = {p} WHERE {where} RETURNING {", ".join(cols)}'


MESSAGE_ROW_PARAMS = 7
"""Parameters per message row of :func:`insert_messages_sql` (as :func:`message_params`)."""


@functools.lru_cache(maxsize=32)
def insert_messages_sql(d: Dialect, n: int) -> str:
    """Upsert ``n`` messages in one multi-row statement that never moves a message to another
    thread.

    Params: the :func:`message_params` of each message, flattened. An id stored in the same
    thread is updated; an id stored in another thread is left alone (``DO UPDATE ... WHERE``
    the stored ``thread_id`` is the new one), so the statement's row count is below ``n``
    exactly when some id belongs to another thread: the caller then rolls back. About 2x the
    throughput of ``executemany`` with one row per statement at 100 rows.
    """
    p = d.param
    row = "(" + ", ".join(p for _ in range(MESSAGE_ROW_PARAMS)) + ")"
    table = d.t(MESSAGES)
    return (
        f'INSERT INTO {table} (id, thread_id, content, role, type, "createdAt", "resourceId") '
        f"VALUES {', '.join(row for _ in range(n))} "
        "ON CONFLICT (id) DO UPDATE SET content = excluded.content, role = excluded.role, type = excluded.type, "
        f'"createdAt" = excluded."createdAt", "resourceId" = excluded."resourceId" '
        f"WHERE {table}.thread_id = excluded.thread_id"
    )


# -- keyword search (issue 11) ---------------------------------------------------------------------
# The index lives in the database and is kept by triggers on mastra_messages, so writes made by
# Mastra's TypeScript packages are indexed too and every delete (retention, erasure, thread
# deletion) cleans it in the same transaction. Mastra's own tables are not altered.

SEARCH = "mm_message_search"
SEARCH_IDS = "mm_message_search_ids"
TEXT_SEARCH_VERSION = 11


def sqlite_tokenizer(language: str) -> str:
    """The FTS5 tokenizer of a language: Porter stemming for English, none otherwise."""
    base = "unicode61 remove_diacritics 2"
    return f"porter {base}" if language == "english" else base


def _sqlite_text(column: str) -> str:
    """SQL extracting a message's searchable text from its content JSON (text parts joined;
    the legacy ``content`` string when there are none; the raw column when it is not JSON)."""
    return (
        f"CASE WHEN json_valid({column}) THEN coalesce((SELECT group_concat(json_extract(p.value, '$.text'), ' ') "
        f"FROM json_each({column}, '$.parts') p WHERE json_extract(p.value, '$.type') = 'text'), "
        f"CASE WHEN json_type({column}, '$.content') = 'text' THEN json_extract({column}, '$.content') END, '') "
        f"ELSE {column} END"
    )


CONTEXT_WEIGHT = 0.5
"""Weight of the previous message's words (a message's context) against its own (1.0)."""


def _sqlite_previous_text(row: str, msgs: str) -> str:
    """SQL: the text of the message before ``row`` in its thread (by ``(createdAt, id)``), or ''."""
    return (
        f"coalesce((SELECT {_sqlite_text('p.content')} FROM {msgs} p WHERE p.thread_id = {row}.thread_id "
        f'AND (p."createdAt", p.id) < ({row}."createdAt", {row}.id) ORDER BY p."createdAt" DESC, p.id DESC '
        "LIMIT 1), '')"
    )


def sqlite_text_search_migration(d: Dialect, language: str = "english") -> Migration:
    """FTS5 keyword index kept by triggers on ``mastra_messages`` (filled for existing rows).

    ``mm_message_search_ids`` maps each message id to a stable integer (an ``INTEGER PRIMARY
    KEY``, which VACUUM never renumbers) used as the FTS5 rowid. Column ``body`` holds the
    message's text, ``context`` the previous message's in its thread when the row was written
    (scored at :data:`CONTEXT_WEIGHT`), so a short reply is found by what it answers.
    """
    ids, fts, msgs = d.t(SEARCH_IDS), d.t(SEARCH), d.t(MESSAGES)
    docid = f"(SELECT docid FROM {ids} WHERE id = {{}}.id)"
    add = (
        f"INSERT OR IGNORE INTO {ids} (id) VALUES (NEW.id); "
        f"INSERT INTO {fts} (rowid, body, context) VALUES ({docid.format('NEW')}, {_sqlite_text('NEW.content')}, "
        f"{_sqlite_previous_text('NEW', msgs)}); "
    )
    drop = f"DELETE FROM {fts} WHERE rowid = {docid.format('OLD')}; DELETE FROM {ids} WHERE id = OLD.id; "

    def refresh_next(row: str) -> str:  # the next message's context was ``row``'s text
        following = (
            f"(SELECT nx.id FROM {msgs} nx WHERE nx.thread_id = {row}.thread_id AND "
            f'(nx."createdAt", nx.id) > ({row}."createdAt", {row}.id) ORDER BY nx."createdAt", nx.id LIMIT 1)'
        )
        return (
            f"UPDATE {fts} SET context = (SELECT {_sqlite_previous_text('n', msgs)} FROM {msgs} n "
            f"WHERE n.id = {following}) WHERE rowid = (SELECT docid FROM {ids} WHERE id = {following}); "
        )

    return Migration(
        TEXT_SEARCH_VERSION,
        "keyword search: FTS5 index kept by triggers on mastra_messages",
        (
            f"CREATE TABLE IF NOT EXISTS {ids} (docid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(body, context, "
            f"tokenize = '{sqlite_tokenizer(language)}')",
            f"DELETE FROM {fts}",
            f"DELETE FROM {ids}",
            f"INSERT INTO {ids} (id) SELECT id FROM {msgs}",
            f"INSERT INTO {fts} (rowid, body, context) SELECT i.docid, {_sqlite_text('m.content')}, "
            f"{_sqlite_previous_text('m', msgs)} FROM {msgs} m JOIN {ids} i ON i.id = m.id",
            f"CREATE TRIGGER IF NOT EXISTS mm_message_search_insert AFTER INSERT ON {msgs} "
            f"BEGIN {add}{refresh_next('NEW')}END",
            f"CREATE TRIGGER IF NOT EXISTS mm_message_search_update AFTER UPDATE OF id, content ON {msgs} "
            f"BEGIN {drop}{add}{refresh_next('NEW')}END",
            f"CREATE TRIGGER IF NOT EXISTS mm_message_search_delete AFTER DELETE ON {msgs} "
            f"BEGIN {drop}{refresh_next('OLD')}END",
        ),
    )


SEARCH_ROWID_VERSION = 13


def _sqlite_search_triggers(d: Dialect) -> tuple[str, ...]:
    """The three triggers that keep the FTS5 index of migration 13 (see
    :func:`sqlite_search_rowid_migration`)."""
    fts, msgs = d.t(SEARCH), d.t(MESSAGES)

    def next_of(row: str) -> str:  # the message after ``row`` in its thread, by (createdAt, id)
        return (
            f"(SELECT nx.rowid FROM {msgs} nx WHERE nx.thread_id = {row}.thread_id AND "
            f'(nx."createdAt", nx.id) > ({row}."createdAt", {row}.id) ORDER BY nx."createdAt", nx.id LIMIT 1)'
        )

    def refresh(row: str, first: str) -> str:
        """Drop the next message's entry, then index the rows from ``row`` on (``>=``: ``row``
        itself and the next; ``>``: the next) in one range read of the thread's index."""
        return (
            f"DELETE FROM {fts} WHERE rowid = {next_of(row)}; "
            f"INSERT INTO {fts} (rowid, body, context) SELECT m.rowid, {_sqlite_text('m.content')}, "
            f"{_sqlite_previous_text('m', msgs)} FROM {msgs} m WHERE m.thread_id = {row}.thread_id AND "
            f'(m."createdAt", m.id) {first} ({row}."createdAt", {row}.id) ORDER BY m."createdAt", m.id '
            f"LIMIT {2 if first == '>=' else 1}; "
        )

    return (
        f"CREATE TRIGGER IF NOT EXISTS mm_message_search_insert AFTER INSERT ON {msgs} BEGIN {refresh('NEW', '>=')}END",
        f"CREATE TRIGGER IF NOT EXISTS mm_message_search_update AFTER UPDATE OF id, content ON {msgs} "
        f"BEGIN DELETE FROM {fts} WHERE rowid = OLD.rowid; {refresh('NEW', '>=')}END",
        f"CREATE TRIGGER IF NOT EXISTS mm_message_search_delete AFTER DELETE ON {msgs} "
        f"BEGIN DELETE FROM {fts} WHERE rowid = OLD.rowid; {refresh('OLD', '>')}END",
    )


def _sqlite_fill_search(d: Dialect) -> tuple[str, ...]:
    """Index every stored message (rowid = the message's rowid), then merge the segments."""
    fts, msgs = d.t(SEARCH), d.t(MESSAGES)
    return (
        f"INSERT INTO {fts} (rowid, body, context) SELECT m.rowid, {_sqlite_text('m.content')}, "
        f"{_sqlite_previous_text('m', msgs)} FROM {msgs} m",
        f"INSERT INTO {fts} ({fts}) VALUES ('optimize')",
    )


def sqlite_search_rowid_migration(d: Dialect) -> Migration:
    """Migration 13: the FTS5 index keyed by the message row's rowid, kept by one statement per
    trigger.

    Before it, every message also had a row in ``mm_message_search_ids`` (a docid table with a
    UNIQUE index on the message id), so each indexed message wrote two more B-trees and every
    trigger looked its docid up; the insert trigger compiled the text extraction four times.
    Now the FTS5 rowid is ``mastra_messages.rowid``: the triggers read ``NEW.rowid`` /
    ``OLD.rowid`` and a search hit joins its message by a rowid seek. That rowid is stable:
    rows are only ever updated in place or deleted, and ``VACUUM`` keeps the rowids of a table
    that has an index (``mastra_messages`` always has its primary-key index; SQLite's
    ``xferOptimization`` copies rowids then: https://sqlite.org/src/file/src/insert.c; tested in
    ``tests/test_keyword_search.py``).

    Each trigger drops the entries whose text or context it changes (the written row's, and the
    next message's of its thread, whose context is the written row's text) and indexes those rows
    again with one ``INSERT ... SELECT`` over one range of the ``(thread_id, createdAt, id)``
    index, so the text extraction is compiled once per trigger (the ``libsql`` driver prepares
    every statement anew, triggers included) and no ``IN`` list is built per row. Measured with
    callgrind on the raw ``libsql`` driver: 1.67 M instructions per single-message save against
    2.19 M before, 296 k against 291 k per message in batches of 100. Not ``INSERT OR REPLACE``:
    inside a trigger fired by an upsert, the upsert's conflict policy replaces the trigger's.
    The index keeps its tokenizer (its rows are re-keyed, the table is not re-created) and ends
    merged (``optimize``).
    """
    fts = d.t(SEARCH)
    return Migration(
        SEARCH_ROWID_VERSION,
        "keyword search: FTS5 rowid = the message's rowid (no id-map table), one statement per trigger",
        (
            "DROP TRIGGER IF EXISTS mm_message_search_insert",
            "DROP TRIGGER IF EXISTS mm_message_search_update",
            "DROP TRIGGER IF EXISTS mm_message_search_delete",
            f"DELETE FROM {fts}",
            f"DROP TABLE IF EXISTS {d.t(SEARCH_IDS)}",
            *_sqlite_fill_search(d),
            *_sqlite_search_triggers(d),
        ),
    )


def sqlite_keyword_index_exists_sql(d: Dialect) -> str:
    """A query returning a row when the FTS5 keyword index exists (no parameters)."""
    return f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{d.t(SEARCH)}'"


def sqlite_keyword_index_statements(d: Dialect, language: str = "english") -> tuple[str, ...]:
    """Build the FTS5 keyword index as migrations 11 and 13 leave it: the table, every stored
    message indexed, merged, and the triggers that keep it from then on. Run in one write
    transaction after checking :func:`sqlite_keyword_index_exists_sql` (the fill is not
    idempotent)."""
    fts, tokenizer = d.t(SEARCH), sqlite_tokenizer(language)
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(body, context, tokenize = '{tokenizer}')",
        *_sqlite_fill_search(d),
        *_sqlite_search_triggers(d),
    )


def sqlite_on_demand_search_migrations(d: Dialect) -> list[Migration]:
    """Migrations 11 and 13 for a store that builds the keyword index on first use (libSQL).

    11 creates nothing (the index is built by :func:`sqlite_keyword_index_statements` when a
    search or ``ensure_keyword_index()`` first needs it, so a database that is never searched
    by keyword pays nothing on its writes); 13 re-keys an index made by an earlier release's
    migration 11 and is skipped where there is none.
    """
    rekey = sqlite_search_rowid_migration(d)
    return [
        Migration(TEXT_SEARCH_VERSION, "keyword search: FTS5 index built on first use", ()),
        Migration(rekey.version, rekey.name, rekey.statements, applies_if=sqlite_keyword_index_exists_sql(d)),
    ]


def sqlite_search_sql(d: Dialect, scope: str, windowed: bool = False) -> str:
    """FTS5 search of one scope (``"resource"`` or ``"thread"``); params ``(match, scope id,
    limit)``, with ``windowed`` ``(match, lowest docid, scope id, limit)``; rows ``(id,
    thread_id, score)`` with score = ``-bm25`` (higher is better).

    The index's rowid is the message row's own rowid (migration 13), so a hit joins its message
    by one rowid seek."""
    column = '"resourceId"' if scope == "resource" else "thread_id"
    fts = d.t(SEARCH)
    window = f" AND {fts}.rowid >= ?" if windowed else ""
    return (
        f"SELECT m.id, m.thread_id, -bm25({fts}, 1.0, {CONTEXT_WEIGHT}) AS score FROM {fts} "
        f"JOIN {d.t(MESSAGES)} m ON m.rowid = {fts}.rowid "
        f"WHERE {fts} MATCH ?{window} AND m.{column} = ? ORDER BY score DESC, m.id LIMIT ?"
    )


def sqlite_window_sql(d: Dialect) -> str:
    """The docid of the ``n``-th newest document matching an FTS5 query (params ``(match,
    n - 1)``; no row when fewer match): FTS5 walks postings newest first and stops there."""
    fts = d.t(SEARCH)
    return f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?"


def sqlite_term_counts_sql(d: Dialect, n: int) -> str:
    """Document frequencies of ``n`` words in the FTS5 index, each counted only up to a bound:
    params ``(phrase, bound) * n`` (a phrase as :func:`fts5_match` quotes it); one row of ``n``
    counts. FTS5 walks a term's postings lazily, so a count stops at its bound and a common word
    costs no more than ``bound`` postings (``fts5vocab`` would walk them all)."""
    fts = d.t(SEARCH)
    one = f"(SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT ?))"
    return "SELECT " + ", ".join(one for _ in range(n))


def fts5_match(words: Sequence_) -> str:
    """An FTS5 query OR-ing ``words`` (each ``[a-z0-9]+``, quoted as a phrase)."""
    return " OR ".join(f'"{w}"' for w in words)


_PG_LANGUAGE = re.compile(r"^[a-z_]+$")


def postgres_text_search_migration(d: Dialect, language: str = "english") -> Migration:
    """A ``tsvector`` side table with a GIN index kept by a trigger on ``mastra_messages``.

    ``language`` is a PostgreSQL text search configuration (``english``, ``german``,
    ``simple``...): stemming and stop words come from it.
    """
    if not _PG_LANGUAGE.match(language):
        raise ValueError(f"invalid text search configuration {language!r}")
    schema = d.table_prefix
    table, msgs = d.t(SEARCH), d.t(MESSAGES)
    text_fn, sync_fn, clear_fn = (
        f"{schema}mm_message_text",
        f"{schema}mm_message_search_sync",
        (f"{schema}mm_message_search_clear"),
    )

    def vector(row: str) -> str:
        previous = (
            f"coalesce((SELECT {text_fn}(p.content) FROM {msgs} p WHERE p.thread_id = {row}.thread_id "
            f'AND (p."createdAt", p.id COLLATE "C") < ({row}."createdAt", {row}.id COLLATE "C") '
            f'ORDER BY p."createdAt" DESC, p.id COLLATE "C" DESC LIMIT 1), \'\')'
        )
        return (
            f"setweight(to_tsvector('{language}'::regconfig, {text_fn}({row}.content)), 'A') || "
            f"setweight(to_tsvector('{language}'::regconfig, {previous}), 'B')"
        )

    def refresh_next(row: str) -> str:  # the next message's context was ``row``'s text
        return (
            f"UPDATE {table} s SET tsv = {vector('n')} FROM {msgs} n WHERE s.id = n.id AND n.id = "
            f"(SELECT nx.id FROM {msgs} nx WHERE nx.thread_id = {row}.thread_id AND "
            f'(nx."createdAt", nx.id COLLATE "C") > ({row}."createdAt", {row}.id COLLATE "C") '
            f'ORDER BY nx."createdAt", nx.id COLLATE "C" LIMIT 1);'
        )

    return Migration(
        TEXT_SEARCH_VERSION,
        "keyword search: tsvector table with a GIN index kept by a trigger on mastra_messages",
        (
            f'CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, "resourceId" TEXT, '
            "tsv tsvector NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS mm_message_search_tsv ON {table} USING GIN (tsv)",
            f'CREATE INDEX IF NOT EXISTS mm_message_search_resource ON {table} ("resourceId")',
            f"CREATE INDEX IF NOT EXISTS mm_message_search_thread ON {table} (thread_id)",
            f"CREATE OR REPLACE FUNCTION {text_fn}(content text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$ "
            "DECLARE doc jsonb; BEGIN doc := content::jsonb; "
            "IF jsonb_typeof(doc) <> 'object' THEN RETURN content; END IF; "
            "RETURN coalesce((SELECT string_agg(p->>'text', ' ') FROM jsonb_array_elements("
            "CASE WHEN jsonb_typeof(doc->'parts') = 'array' THEN doc->'parts' ELSE '[]'::jsonb END) p "
            "WHERE p->>'type' = 'text'), "
            "CASE WHEN jsonb_typeof(doc->'content') = 'string' THEN doc->>'content' END, ''); "
            "EXCEPTION WHEN others THEN RETURN content; END $f$",
            f"CREATE OR REPLACE FUNCTION {sync_fn}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
            f"IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id) THEN "
            f"DELETE FROM {table} WHERE id = OLD.id; END IF; "
            f"IF TG_OP = 'DELETE' THEN {refresh_next('OLD')} RETURN OLD; END IF; "
            f'INSERT INTO {table} (id, thread_id, "resourceId", tsv) VALUES (NEW.id, NEW.thread_id, NEW."resourceId", '
            f"{vector('NEW')}) ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id, "
            '"resourceId" = excluded."resourceId", tsv = excluded.tsv; '
            f"{refresh_next('NEW')} RETURN NEW; END $f$",
            f"CREATE OR REPLACE FUNCTION {clear_fn}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
            f"DELETE FROM {table}; RETURN NULL; END $f$",
            f"CREATE OR REPLACE TRIGGER mm_message_search_sync AFTER INSERT OR DELETE OR UPDATE OF id, thread_id, "
            f'"resourceId", content ON {msgs} FOR EACH ROW EXECUTE FUNCTION {sync_fn}()',
            f"CREATE OR REPLACE TRIGGER mm_message_search_clear AFTER TRUNCATE ON {msgs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {clear_fn}()",
            f"DELETE FROM {table}",
            f'INSERT INTO {table} (id, thread_id, "resourceId", tsv) SELECT m.id, m.thread_id, m."resourceId", '
            f"{vector('m')} FROM {msgs} m",
        ),
    )


def postgres_search_sql(d: Dialect, scope: str, language: str = "english") -> str:
    """tsvector search of one scope; params ``(tsquery text, scope id, limit)``; rows ``(id,
    thread_id, score)`` ranked by ``ts_rank_cd`` normalised by document length (flag 1), the
    message's own words (weight A) at 1.0 and its context (B) at :data:`CONTEXT_WEIGHT`."""
    if not _PG_LANGUAGE.match(language):
        raise ValueError(f"invalid text search configuration {language!r}")
    column = '"resourceId"' if scope == "resource" else "thread_id"
    return (
        f"SELECT s.id, s.thread_id, ts_rank_cd('{{0.1, 0.2, {CONTEXT_WEIGHT}, 1.0}}', s.tsv, q, 1) AS score "
        f"FROM {d.t(SEARCH)} s, "
        f"to_tsquery('{language}'::regconfig, %s) q WHERE s.{column} = %s AND s.tsv @@ q "
        f'ORDER BY score DESC, s.id COLLATE "C" LIMIT %s'
    )


def postgres_weighted_search_sql(d: Dialect, scope: str, language: str, n: int) -> str:
    """tsvector search of one scope ranked BM25-like: ``sum(idf(w) * ts_rank_cd(tsv, w))`` over
    the ``n`` query words (the same weights and length normalisation as
    :func:`postgres_search_sql`, which has no idf: a common word counted as much as a rare one).
    Params ``(word, idf) * n, scope id, tsquery text of all words, limit``."""
    if not _PG_LANGUAGE.match(language):
        raise ValueError(f"invalid text search configuration {language!r}")
    column = '"resourceId"' if scope == "resource" else "thread_id"
    config = f"'{language}'::regconfig"
    one = f"ts_rank_cd('{{0.1, 0.2, {CONTEXT_WEIGHT}, 1.0}}', s.tsv, to_tsquery({config}, %s), 1) * %s"
    return (
        f"SELECT s.id, s.thread_id, {' + '.join(one for _ in range(n))} AS score FROM {d.t(SEARCH)} s "
        f"WHERE s.{column} = %s AND s.tsv @@ to_tsquery({config}, %s) "
        f'ORDER BY score DESC, s.id COLLATE "C" LIMIT %s'
    )


def postgres_term_stats_sql() -> str:
    """The planner's statistics of the keyword index: params ``(schema, table)``; one row
    ``(most common lexemes, their document frequencies (shares of rows) followed by their min, max
    and null share, rows in the table)``, the first two NULL before the first ANALYZE."""
    return (
        "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = 'tsv' "
        "WHERE n.nspname = %s AND c.relname = %s"
    )


def tsquery_text(words: Sequence_) -> str:
    """A ``to_tsquery`` text OR-ing ``words`` (each ``[a-z0-9]+``)."""
    return " | ".join(words)
