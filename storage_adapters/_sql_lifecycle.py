"""SQL text for erasure and retention (libSQL and PostgreSQL spellings); no I/O here.

:class:`storage_adapters._sqlstore.TextSQLStore` runs these statements in one transaction, so
``delete_resource`` is atomic there and every ``prune_*`` batch is too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mastra_memory.types import format_timestamp
from storage_adapters._sql import MESSAGES, OBSERVATIONAL_MEMORY, RESOURCES, THREAD_STATS, THREADS, Dialect

__all__ = [
    "Statement",
    "delete_resource_statements",
    "delete_threads_statements",
    "prune_messages_sql",
    "prune_om_history_sql",
    "prune_resources_sql",
    "stale_threads_sql",
]

Statement = tuple[str, list[Any]]


def _in(d: Dialect, n: int) -> str:
    return ", ".join([d.param] * n)


def delete_threads_statements(d: Dialect, thread_ids: Sequence[str]) -> list[Statement]:
    """Delete threads by id with their messages, observational memory and (libSQL) message
    counts; the last statement's row count is the number of threads deleted."""
    if not thread_ids:
        return []
    ids = list(thread_ids)
    marks = _in(d, len(ids))
    out: list[Statement] = [
        (f"DELETE FROM {d.t(MESSAGES)} WHERE thread_id IN ({marks})", ids),
        (f'DELETE FROM {d.t(OBSERVATIONAL_MEMORY)} WHERE "lookupKey" IN ({marks})', [f"thread:{i}" for i in ids]),
    ]
    if d.name == "sqlite":
        out.append((f"DELETE FROM {d.t(THREAD_STATS)} WHERE thread_id IN ({marks})", ids))
    out.append((f"DELETE FROM {d.t(THREADS)} WHERE id IN ({marks})", ids))
    return out


def delete_resource_statements(d: Dialect, resource_id: str) -> dict[str, Statement]:
    """The statements that erase a resource's own rows, in order (run after the clones' ones):
    keyed ``messages``, ``observational_memory``, ``stats`` (libSQL only), ``threads`` and
    ``resources`` (row counts of the last two are reported)."""
    p, r = d.param, resource_id
    own = f'SELECT id FROM {d.t(THREADS)} WHERE "resourceId" = {p}'
    out: dict[str, Statement] = {
        "messages": (
            f'DELETE FROM {d.t(MESSAGES)} WHERE thread_id IN ({own}) OR "resourceId" = {p}',
            [r, r],
        ),
        "observational_memory": (
            f'DELETE FROM {d.t(OBSERVATIONAL_MEMORY)} WHERE "resourceId" = {p} OR "lookupKey" = {p} '
            f'OR "lookupKey" IN (SELECT \'thread:\' || id FROM {d.t(THREADS)} WHERE "resourceId" = {p})',
            [r, f"resource:{r}", r],
        ),
    }
    if d.name == "sqlite":
        out["stats"] = (f"DELETE FROM {d.t(THREAD_STATS)} WHERE thread_id IN ({own})", [r])
    out["threads"] = (f'DELETE FROM {d.t(THREADS)} WHERE "resourceId" = {p}', [r])
    out["resources"] = (f"DELETE FROM {d.t(RESOURCES)} WHERE id = {p}", [r])
    return out


def stale_threads_sql(d: Dialect, updated_before: datetime, limit: int) -> Statement:
    """Ids of up to ``limit`` threads last updated before the cutoff, oldest first."""
    p = d.param
    return (
        f'SELECT id FROM {d.t(THREADS)} WHERE "updatedAt" < {p} ORDER BY "updatedAt", {d.id_col} LIMIT {p}',
        [d.ts(updated_before), limit],
    )


def prune_messages_sql(d: Dialect, created_before: datetime, limit: int) -> Statement:
    """Delete up to ``limit`` messages created before the cutoff (oldest first), returning ids."""
    p, t = d.param, d.t(MESSAGES)
    return (
        f'DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE "createdAt" < {p} '
        f'ORDER BY "createdAt", {d.id_col} LIMIT {p}) RETURNING id',
        [d.ts(created_before), limit],
    )


def prune_resources_sql(d: Dialect, updated_before: datetime, limit: int) -> Statement:
    """Delete up to ``limit`` resource rows last updated before the cutoff, returning ids."""
    p, t = d.param, d.t(RESOURCES)
    return (
        f'DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE "updatedAt" < {p} '
        f'ORDER BY "updatedAt", {d.id_col} LIMIT {p}) RETURNING id',
        [d.ts(updated_before), limit],
    )


def prune_om_history_sql(d: Dialect, created_before: datetime, limit: int) -> Statement:
    """Delete up to ``limit`` superseded generations (a newer ``generationCount`` exists for the
    same ``lookupKey``) created before the cutoff; a head is never deleted. The record's
    timestamps are ISO text on every dialect."""
    p, t = d.param, d.t(OBSERVATIONAL_MEMORY)
    return (
        f'DELETE FROM {t} WHERE id IN (SELECT o.id FROM {t} o WHERE o."createdAt" < {p} AND EXISTS '
        f'(SELECT 1 FROM {t} n WHERE n."lookupKey" = o."lookupKey" '
        f'AND n."generationCount" > o."generationCount") LIMIT {p}) RETURNING id',
        [format_timestamp(created_before), limit],
    )
