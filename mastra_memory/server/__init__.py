"""The HTTP service (``mastra-memory serve``): FastAPI + uvicorn, extra ``[server]``.

Nothing here imports FastAPI until :func:`create_app` is first used, so ``import
mastra_memory.server`` works without the extra and fails with a clear message only then::

    from mastra_memory.server import ApiKey, create_app

    app = create_app(api_keys=[ApiKey(token="a-long-random-token", namespaces=("agent-*",))])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mastra_memory.errors import MissingDependencyError
from mastra_memory.server.config import ApiKey, NamespaceLimits, ServerLimits, load_api_keys

if TYPE_CHECKING:
    from mastra_memory.server.app import create_app

__all__ = ["ApiKey", "NamespaceLimits", "ServerLimits", "create_app", "load_api_keys"]


def __getattr__(name: str) -> Any:
    """``create_app`` is imported on first use (see :func:`mastra_memory.server.app.create_app`).

    Raises:
        MissingDependencyError: if FastAPI is not installed (``pip install "mastra-memory[server]"``).
    """
    if name != "create_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import fastapi  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "server") from exc
    from mastra_memory.server.app import create_app

    return create_app
