"""The OpenAPI document (``/openapi.json``) and the interactive docs (``/docs``), behind the keys.

When the server has API keys, both need one: ``Authorization: Bearer <key>``, or HTTP Basic
with the key as the password (any user name), which is what a browser sends after its login
prompt. ``/docs`` is Swagger UI served from the ``swagger-ui-bundle`` package (part of the
``[server]`` extra), so it works without internet access; its static files under
``/docs/assets/`` are public (they are the same for every server).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from mastra_memory.errors import AccessDeniedError, MissingDependencyError
from mastra_memory.server.deps import state
from mastra_memory.server.problems import ProblemError

__all__ = ["ASSETS", "install", "swagger_ui_dir"]

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
"""The Swagger UI files ``/docs`` loads (from ``/docs/assets/``)."""

_BASIC_CHALLENGE = 'Basic realm="mastra-memory", charset="UTF-8"'


def swagger_ui_dir() -> Path:
    """The folder of the installed Swagger UI files.

    Raises:
        MissingDependencyError: if ``swagger-ui-bundle`` is not installed (the ``[server]`` extra).
    """
    try:
        import swagger_ui_bundle
    except ImportError as exc:
        raise MissingDependencyError("swagger-ui-bundle", "server") from exc
    return Path(swagger_ui_bundle.swagger_ui_path)


def _authenticate(request: Request, challenge: str) -> None:
    """Accept a Bearer key or HTTP Basic with the key as password; 401 with ``challenge``."""
    keys = state(request).keys
    if not keys.enabled:
        return
    header = request.headers.get("authorization") or ""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            _user, _, password = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            password = ""
        header = f"Bearer {password}" if password else ""
    try:
        keys.authenticate(header)
    except AccessDeniedError as exc:
        raise ProblemError(401, str(exc), headers={"WWW-Authenticate": challenge}) from None


def install(app: FastAPI) -> None:
    """Add ``/openapi.json``, ``/docs`` and ``/docs/assets/{name}`` to ``app`` (not in the
    OpenAPI document themselves)."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        _authenticate(request, "Bearer")
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        _authenticate(request, _BASIC_CHALLENGE)
        swagger_ui_dir()  # 501 naming the extra, instead of a page that can not load
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise ProblemError(404, f"no docs asset {name!r}")
        return FileResponse(swagger_ui_dir() / name)
