"""One error body for every route: RFC 9457 problem details (``application/problem+json``).

Every refusal of the server, whatever raised it (a library error, FastAPI's request validation,
an ``HTTPException``, Starlette's own 404/405/413, an unexpected exception), is answered by
:func:`problem_response` with a stable machine-readable ``code``::

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "thread 't1' not found", "code": "not_found"}

Request validation failures add ``errors``: a list of ``{"loc": [...], "msg": "...", "type":
"..."}``. :func:`install` registers the handlers on an app (global, so routers added later by
other modules get them too); :func:`document_problems` rewrites the OpenAPI document so each
operation lists the error statuses it can answer with this schema.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mastra_memory.errors import (
    AccessDeniedError,
    ConcurrencyError,
    ConfigurationError,
    MastraMemoryError,
    MessageIdUnavailableError,
    MissingDependencyError,
    NoDataError,
    QuotaExceededError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)

__all__ = [
    "CODES",
    "PROBLEM_MEDIA_TYPE",
    "STATUS",
    "Problem",
    "ProblemError",
    "document_problems",
    "error_response",
    "install",
    "problem_response",
]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS: dict[type[BaseException], int] = {
    ResourceMismatchError: 403,
    ThreadConflictError: 409,
    MessageIdUnavailableError: 409,
    ValidationError: 422,
    ThreadNotFoundError: 404,
    MissingDependencyError: 501,
    ConfigurationError: 409,
    ConcurrencyError: 409,
    NoDataError: 503,
    StorageError: 503,
    NotImplementedError: 501,
}
"""HTTP status of each library error (AccessDenied: 401/403; QuotaExceeded: 429 or 507)."""

CODES: dict[int, str] = {
    400: "invalid_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    503: "storage_unavailable",
    507: "storage_full",
}
"""The default ``code`` of each status. Some refusals carry a more precise code:
``thread_exists`` (409 of an insert-only create), ``message_id_taken`` (409: the id is used in
another thread), ``working_memory_disabled`` (409),
``invalid_request`` (400 other than unparseable JSON)."""


class Problem(BaseModel):
    """An error response (RFC 9457 problem details, ``application/problem+json``)."""

    type: str = Field(default="about:blank", description="A URI naming the problem type; about:blank here")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for people")
    code: str = Field(description="Stable machine-readable reason, e.g. not_found, thread_exists")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Request validation only: one {loc, msg, type} per problem"
    )


class ProblemError(HTTPException):
    """An ``HTTPException`` with a specific problem ``code`` (raise it from routes)."""

    def __init__(self, status_code: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(status_code, detail, headers)
        self.code = code or CODES.get(status_code, "error")


def problem_response(
    status: int,
    detail: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """The one error response shape.

    Args:
        status: HTTP status code (4xx or 5xx).
        detail: Human-readable explanation (not a stack trace).
        code: Stable reason; default: :data:`CODES` of ``status``.
        headers: Extra headers (``WWW-Authenticate``, ``Retry-After``).
        errors: Request validation details, ``[{loc, msg, type}]``.

    Returns:
        A ``JSONResponse`` with media type ``application/problem+json``.
    """
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code or CODES.get(status, "error"),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def error_response(exc: BaseException) -> JSONResponse:
    """The problem response of any exception a route can raise (library errors by
    :data:`STATUS`, ``HTTPException`` by its status, anything else 500 without its text)."""
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers) if exc.headers else None
        code = getattr(exc, "code", None)
        if code is None and exc.status_code == 400:
            code = "invalid_request"
        return problem_response(exc.status_code, str(exc.detail), code, headers)
    if isinstance(exc, AccessDeniedError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return problem_response(exc.status_code, str(exc), headers=headers)
    if isinstance(exc, QuotaExceededError):
        if exc.retry_after is not None:
            retry = {"Retry-After": f"{max(exc.retry_after, 0.001):g}"}
            return problem_response(429, str(exc), headers=retry)
        return problem_response(507, str(exc))
    if isinstance(exc, MastraMemoryError | NotImplementedError):
        status = next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 500)
        code = (
            "thread_exists"
            if isinstance(exc, ThreadConflictError)
            else "message_id_taken"
            if isinstance(exc, MessageIdUnavailableError)
            else None
        )
        if status >= 500 and not isinstance(exc, NotImplementedError | MissingDependencyError):
            logger.error("request failed: %s", exc, exc_info=exc)
        return problem_response(status, str(exc), code)
    logger.error("unexpected error", exc_info=exc)
    return problem_response(500, "internal server error (see the server log)")


def _validation_errors(exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(400, "body is not valid JSON", "invalid_json", errors=errors)
    summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]) or "invalid request"
    return problem_response(422, summary, errors=errors)


def _allowed_methods(request: Request) -> str:
    """The methods the OpenAPI document lists for this path (Starlette's own 405 names only
    those of the first route that matched the path)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in operations if m in _METHODS}
    return ", ".join(sorted(methods))


_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RequestValidationError):
        return _validation_errors(exc)
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
        return problem_response(405, "method not allowed", headers={"Allow": _allowed_methods(request)})
    return error_response(exc)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` (and of routers included later) with a problem body."""
    for exc_type in (StarletteHTTPException, RequestValidationError, MastraMemoryError, NotImplementedError):
        app.add_exception_handler(exc_type, _handle)
    app.add_exception_handler(Exception, _handle)  # 500, without the exception's text


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

_ERROR_DESCRIPTIONS = {
    400: "Unparseable JSON body, or a malformed request",
    401: "Missing, malformed or unknown API key",
    403: "The API key is not scoped to this namespace or resource, or is read-only",
    404: "Not found (or not visible to this API key)",
    409: "Conflict: the id is taken, or the feature is disabled",
    413: "Body over the server's limit",
    415: "Content-Type is not application/json",
    422: "Invalid parameters or body",
    429: "Write quota of the namespace exceeded (see Retry-After)",
    501: "The store does not support this",
    503: "The store is unavailable",
    507: "Storage cap of the namespace reached",
}


def document_problems(schema: dict[str, Any], statuses: dict[tuple[str, str], set[int]]) -> None:
    """Make the error responses of ``schema`` (an OpenAPI document) say what the server sends.

    Every operation gets its error statuses (``statuses[(path, method)]``) with the
    :class:`Problem` schema under ``application/problem+json``; FastAPI's own 422 body
    (``HTTPValidationError``) is replaced.

    Args:
        schema: The OpenAPI document, changed in place.
        statuses: ``(path, lower-case method)`` -> error statuses of that operation.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if method == "head":  # a HEAD answer never has a body, whatever its status
                for entry in responses.values():
                    entry.pop("content", None)
            codes = statuses.get((path, method), set())
            for status in sorted(codes | {int(s) for s in responses if s.isdigit() and int(s) >= 400}):
                entry = responses.setdefault(str(status), {})
                entry["description"] = entry.get("description") or _ERROR_DESCRIPTIONS.get(status, "Error")
                if method == "head":
                    entry.pop("content", None)
                else:
                    entry["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
                if status == 422 and entry["description"] == "Validation Error":
                    entry["description"] = _ERROR_DESCRIPTIONS[422]
