"""The HTTP service (``mastra-memory serve``): FastAPI + uvicorn, extra ``[server]``.

Nothing here imports FastAPI until :func:`create_app` is called, so ``import
mastra_memory.server`` works without the extra and fails with a clear message only when used::

    from mastra_memory.server import ApiKey, create_app

    app = create_app(api_keys=[ApiKey(token="a-long-random-token", namespaces=("agent-*",))])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mastra_memory.errors import MissingDependencyError
from mastra_memory.server.config import ApiKey, NamespaceLimits, ServerLimits, load_api_keys

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi import FastAPI

    from mastra_memory.memory import Memory

__all__ = ["ApiKey", "NamespaceLimits", "ServerLimits", "create_app", "load_api_keys"]


def create_app(
    memory: Memory | None = None,
    api_keys: Sequence[ApiKey | str] | None = None,
    limits: ServerLimits | dict[str, Any] | None = None,
    inline_storage: bool | None = None,
    close_on_shutdown: bool | None = None,
) -> FastAPI:
    """Build the FastAPI app; see :func:`mastra_memory.server.app.create_app`.

    Raises:
        MissingDependencyError: if FastAPI is not installed (``pip install "mastra-memory[server]"``).
    """
    try:
        import fastapi  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "server") from exc
    from mastra_memory.server.app import create_app as _create_app

    return _create_app(memory, api_keys, limits, inline_storage, close_on_shutdown)
