"""The sync SQLAlchemy shell, twin of :mod:`storage_adapters.sqlalchemy._io_async` (same names).

``store.py`` is generated from ``store_async.py`` with this module in place of the async shell:
the sync face runs the URL's own driver on ``sqlalchemy.create_engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from storage_adapters.sqlalchemy._io_async import ASYNC_DRIVERS  # the same names as the async shell

__all__ = ["ASYNC_DRIVERS", "create_engine", "engine_url", "run_sync", "sync_engine"]

T = TypeVar("T")


def engine_url(url: str) -> str:
    """``url`` unchanged: the sync face runs the driver the URL names (the async face maps it
    onto an async driver)."""
    return url


def create_engine(url: str, **options: Any) -> Any:
    """``sqlalchemy.create_engine(url, **options)``.

    Raises:
        ImportError: when the URL's driver is missing.
    """
    import sqlalchemy as sa

    return sa.create_engine(url, **options)


def sync_engine(engine: Any) -> Any:
    """The engine events attach to: the engine itself (the async face: ``AsyncEngine.sync_engine``)."""
    return engine


def run_sync(conn: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(conn, *args, **kwargs)`` (the async face runs it through ``AsyncConnection.run_sync``)."""
    return fn(conn, *args, **kwargs)
