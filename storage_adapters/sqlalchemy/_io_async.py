"""The async SQLAlchemy shell: where :class:`AsyncSQLAlchemyStore` and :class:`SQLAlchemyStore` differ.

``store_async.py`` is the source of ``store.py`` (``scripts/gen_sync.py`` maps this module onto
:mod:`storage_adapters.sqlalchemy._io_sync`, its sync twin with the same names). The async face
runs on SQLAlchemy's asyncio extension (``create_async_engine``, ``AsyncConnection``), which needs
an async DBAPI driver; the sync URL a user gives is mapped onto one here (:func:`engine_url`).
SQLAlchemy's sync-only APIs (DDL with ``checkfirst``, the inspector, engine events) run through
``AsyncConnection.run_sync`` and ``AsyncEngine.sync_engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ASYNC_DRIVERS", "create_engine", "engine_url", "run_sync", "sync_engine"]

T = TypeVar("T")

ASYNC_DRIVERS: dict[str, str] = {
    "sqlite": "aiosqlite",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
    "postgresql": "psycopg",
}
"""The async driver the async face uses per dialect when the URL names none or a sync one."""

_SYNC_DRIVERS = frozenset({"", "pysqlite", "pymysql", "mysqldb", "mysqlconnector", "psycopg2", "pg8000"})
"""Drivers (``""``: the dialect's default) that :func:`engine_url` replaces by the async one."""


def engine_url(url: str) -> str:
    """The URL with an async driver: ``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``,
    ``mysql+pymysql://`` / ``mariadb://`` -> ``...+aiomysql://``, ``postgresql://`` /
    ``postgresql+psycopg2://`` -> ``postgresql+psycopg://`` (psycopg 3 is async under
    ``create_async_engine``). A URL naming another driver (an async one, or one of a dialect
    without an entry in :data:`ASYNC_DRIVERS`) is returned unchanged. (The sync face: ``url``.)"""
    scheme, sep, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    async_driver = ASYNC_DRIVERS.get(dialect.lower())
    if not sep or async_driver is None or driver.lower() not in _SYNC_DRIVERS:
        return url
    return f"{dialect}+{async_driver}://{rest}"


def create_engine(url: str, **options: Any) -> Any:
    """``sqlalchemy.ext.asyncio.create_async_engine`` on :func:`engine_url` of ``url``.

    Raises:
        ImportError: when greenlet (SQLAlchemy's asyncio bridge) or the URL's driver is missing.
    """
    import greenlet  # noqa: F401 - SQLAlchemy's asyncio extension runs on it; fail here, not on first use
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(engine_url(url), **options)


def sync_engine(engine: Any) -> Any:
    """The ``Engine`` that engine events attach to: ``AsyncEngine.sync_engine`` (the sync face:
    the engine itself)."""
    return engine.sync_engine


async def run_sync(conn: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(sync_connection, *args, **kwargs)`` for SQLAlchemy's sync-only APIs (``Table.create``
    with ``checkfirst``, ``inspect``): ``await conn.run_sync(...)`` on an ``AsyncConnection``."""
    result: T = await conn.run_sync(fn, *args, **kwargs)
    return result
