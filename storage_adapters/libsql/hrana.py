"""A DB-API-shaped connection over ``libsql-client`` for remote ``ws://``/``wss://`` URLs.

:class:`~storage_adapters.libsql.LibSQLStore` talks to a DB-API connection (``execute``,
``executemany``, ``fetchone``/``fetchall``, ``BEGIN``/``COMMIT``/``ROLLBACK`` statements). The
``libsql`` package covers files and ``http(s)://``/``libsql://`` URLs; for WebSocket URLs the
store uses ``libsql-client`` (extra ``[libsql-client]``), whose interactive transactions need a
WebSocket stream. This module maps one onto the other: ``BEGIN`` opens a
``client.transaction()``, statements run inside it until ``COMMIT``/``ROLLBACK``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mastra_memory.errors import MissingDependencyError

__all__ = ["HranaConnection"]

_BEGIN = {"BEGIN", "BEGIN IMMEDIATE", "BEGIN DEFERRED", "BEGIN EXCLUSIVE"}


class _Cursor:
    def __init__(self, rows: Sequence[Any], rowcount: int = -1) -> None:
        self._rows = list(rows)
        self.rowcount = rowcount

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


class HranaConnection:
    """Connection to sqld over the hrana WebSocket protocol (``libsql_client``).

    Args:
        url: ``ws://host:port`` or ``wss://...``.
        auth_token: Optional bearer token.

    Raises:
        MissingDependencyError: if ``libsql-client`` is not installed.
    """

    def __init__(self, url: str, auth_token: str | None = None) -> None:
        try:
            import libsql_client
        except ImportError as exc:
            raise MissingDependencyError("libsql-client", "libsql-client") from exc
        self._client = libsql_client.create_client_sync(url, auth_token=auth_token)
        self._tx: Any = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        """Run one statement (inside the open transaction, if any)."""
        word = " ".join(sql.split()).upper().rstrip(";")
        if word in _BEGIN:
            if self._tx is not None:
                raise RuntimeError("cannot start a transaction within a transaction")
            self._tx = self._client.transaction()
            return _Cursor([])
        if word in ("COMMIT", "END", "ROLLBACK"):
            tx, self._tx = self._tx, None
            if tx is not None:
                if word == "ROLLBACK":
                    tx.rollback()
                else:
                    tx.commit()
                tx.close()
            return _Cursor([])
        target = self._tx if self._tx is not None else self._client
        result = target.execute(sql, list(params))
        return _Cursor(result.rows, result.rows_affected)

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any]]) -> _Cursor:
        """Run one statement per parameter row (one round trip each)."""
        count = 0
        for params in seq_of_params:
            count += max(self.execute(sql, params).rowcount, 0)
        return _Cursor([], count)

    def close(self) -> None:
        if self._tx is not None:
            try:
                self._tx.rollback()
            finally:
                self._tx = None
        self._client.close()
