"""Write transactions that are one HTTP request to sqld (Hrana over HTTP, ``/v3/pipeline``).

The ``libsql`` package runs an interactive transaction over HTTP as a server-side stream that
outlives each request: when the client dies inside it (kill -9, a crash), sqld keeps the
transaction, and the database write lock with it, until the stream is dropped, and every other
writer waits (measured with sqld 0.24.1: more than five minutes). :class:`HranaBatcher` sends a
whole transaction in one request instead: a Hrana *batch* whose steps are ``BEGIN IMMEDIATE``,
the statements (each run only if the one before succeeded), ``COMMIT`` if they all did and
``ROLLBACK`` otherwise, followed by ``close`` of the stream in the same pipeline. sqld runs the
batch to its end whatever the client does meanwhile, so no transaction outlives a request and
the write lock is held only for the server-side duration of the batch.

A batch can not carry a Python decision in its middle. Writes that depend on what they read
therefore read first (outside the transaction) and make the batch check, in SQL, that what they
read still holds: a *guard* step (:func:`guard_sql`) fails with an SQL error when it does not,
so the batch rolls back and the caller reads again (:class:`GuardFailed`).

Protocol: https://github.com/tursodatabase/libsql/blob/main/docs/HRANA_3_SPEC.md (batches,
conditions, values) and ``docs/HTTP_V2_SPEC.md`` (the pipeline endpoint).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BatchResult", "GuardFailed", "HranaBatcher", "HranaStepError", "guard_sql"]

_GUARD_FAILED = "mastra-memory guard"


def guard_sql(condition: str) -> str:
    """A statement that succeeds when the SQL ``condition`` is true and fails otherwise.

    ``json()`` of a non-JSON text raises "malformed JSON"; its argument depends on
    ``condition`` (never constant), so SQLite evaluates it only once the condition is known.
    """
    return f"SELECT json(CASE WHEN {condition} THEN '1' ELSE '{_GUARD_FAILED}' END)"


class HranaStepError(Exception):
    """A statement of a batch failed (the batch was rolled back).

    Attributes:
        step: Index of the failed statement in the list given to :meth:`HranaBatcher.transaction`.
        message: sqld's error text, e.g. ``"SQLite error: database is locked"``.
        code: sqld's error code, e.g. ``"SQLITE_BUSY"``.
    """

    def __init__(self, step: int, message: str, code: str | None) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.step = step
        self.message = message
        self.code = code


class GuardFailed(HranaStepError):
    """A guard statement (:func:`guard_sql`) found its condition false: what the caller read
    before the batch changed meanwhile (or a row count was not the expected one). The batch was
    rolled back; nothing was written."""


@dataclass(frozen=True)
class BatchResult:
    """What one statement of a batch returned: its rows (tuples of Python values) and its
    affected row count."""

    rows: list[tuple[Any, ...]]
    rowcount: int


def _encode(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "integer", "value": str(int(value))}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"type": "blob", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    kind = value.get("type")
    if kind == "null":
        return None
    if kind == "integer":
        return int(value["value"])
    if kind == "float":
        return float(value["value"])
    if kind == "text":
        return value["value"]
    if kind == "blob":
        data: str = value["base64"]
        return base64.b64decode(data + "=" * (-len(data) % 4))
    raise ValueError(f"unknown Hrana value type {kind!r}")


def http_base_url(url: str) -> str:
    """The HTTP base URL of a sqld URL (``libsql://`` is HTTPS)."""
    if url.startswith("libsql://"):
        url = "https://" + url[len("libsql://") :]
    return url.split("?", 1)[0].rstrip("/")


class HranaBatcher:
    """Runs lists of statements on sqld as single-request transactions.

    Args:
        url: ``http://``, ``https://`` or ``libsql://`` URL of the server.
        auth_token: Optional bearer token.
        timeout: Seconds an HTTP request may take.

    Raises:
        MissingDependencyError: if ``httpx`` is not installed.
    """

    def __init__(self, url: str, auth_token: str | None = None, timeout: float = 60.0) -> None:
        import httpx

        self.timeout = timeout
        headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._client = httpx.Client(base_url=http_base_url(url), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[BatchResult]:
        """Run ``statements`` in one transaction, sent as one request.

        Args:
            statements: ``(sql, params)`` pairs, run in order; a statement made by
                :func:`guard_sql` aborts the transaction when its condition is false.

        Returns:
            One :class:`BatchResult` per statement.

        Raises:
            GuardFailed: a guard's condition was false; nothing was written.
            HranaStepError: a statement (or ``BEGIN``/``COMMIT``) failed; nothing was written.
            httpx.HTTPError: the request failed; the outcome is unknown to the caller (sqld
                runs a received batch to its end: committed entirely or not at all).
        """
        n = len(statements)
        steps: list[dict[str, Any]] = [{"stmt": {"sql": "BEGIN IMMEDIATE", "want_rows": False}}]
        for i, (sql, params) in enumerate(statements):
            stmt = {"sql": sql, "args": [_encode(p) for p in params], "want_rows": True}
            steps.append({"stmt": stmt, "condition": {"type": "ok", "step": i}})
        commit = n + 1
        steps.append({"stmt": {"sql": "COMMIT", "want_rows": False}, "condition": {"type": "ok", "step": n}})
        steps.append(
            {
                "stmt": {"sql": "ROLLBACK", "want_rows": False},
                "condition": {"type": "not", "cond": {"type": "ok", "step": commit}},
            }
        )
        body = {"baton": None, "requests": [{"type": "batch", "batch": {"steps": steps}}, {"type": "close"}]}
        response = self._client.post("/v3/pipeline", json=body)
        response.raise_for_status()
        first = response.json()["results"][0]
        if first.get("type") != "ok":
            error = first.get("error") or {}
            raise HranaStepError(-1, str(error.get("message", first)), error.get("code"))
        result = first["response"]["result"]
        errors: list[dict[str, Any] | None] = result["step_errors"]
        for index in range(commit + 1):  # BEGIN, the statements, COMMIT: the first error wins
            error = errors[index]
            if error is not None:
                message, code = str(error.get("message", "")), error.get("code")
                step = min(max(index - 1, -1), n)  # -1: BEGIN, n: COMMIT
                if 0 <= step < n and "malformed JSON" in message and _GUARD_FAILED in statements[step][0]:
                    raise GuardFailed(step, message, code)
                raise HranaStepError(step, message, code)
        out: list[BatchResult] = []
        for raw in result["step_results"][1 : n + 1]:
            rows = [tuple(_decode(v) for v in row) for row in raw.get("rows", [])]
            out.append(BatchResult(rows, int(raw.get("affected_row_count", 0))))
        return out
