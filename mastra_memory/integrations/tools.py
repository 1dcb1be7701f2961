"""Key-value memory as plain tool functions: ``remember``, ``recall`` and ``forget``.

They are ordinary Python functions with type hints and Google-style docstrings, so any agent
framework that builds tools from functions can register them (mastra-memory's
:class:`~mastra_memory.tools.Tool`, LangChain's ``StructuredTool.from_function``, OpenAI
function schemas built with pydantic, ...)::

    from mastra_memory.kv import KVMemory
    from mastra_memory.integrations.tools import make_kv_tools

    remember, recall, forget = make_kv_tools(KVMemory("agent-42"))
    remember("user/city", "Lisbon")
    recall("user/city")   # {"key": "user/city", "found": True, "value": "Lisbon"}
"""

# No ``from __future__ import annotations`` here: the tool functions carry real annotation
# objects, because many frameworks read ``inspect.signature`` without evaluating strings.
from collections.abc import Callable
from typing import Any, TypeAlias

from mastra_memory.kv import KVMemory

__all__ = ["JSONValue", "make_kv_tools"]

JSONValue: TypeAlias = str | int | float | bool | list[Any] | dict[str, Any] | None
"""Any JSON value (the type hint tool schemas are built from)."""


def make_kv_tools(kv: KVMemory) -> list[Callable[..., Any]]:
    """Build ``[remember, recall, forget]`` bound to one :class:`~mastra_memory.kv.KVMemory`.

    Args:
        kv: The key-value memory (one namespace; embedded or over HTTP).

    Returns:
        Three functions; each returns a small JSON object describing what happened, which reads
        well as a tool result for a model. Invalid input raises
        :class:`~mastra_memory.errors.ValidationError`.
    """

    def remember(key: str, value: JSONValue, ttl_seconds: float | None = None) -> dict[str, Any]:
        """Remember a value under a key, replacing whatever was stored there before.

        Args:
            key: A short, stable name for the fact, e.g. "user/favourite_color".
            value: The value to store: text, a number, true/false, a list or an object.
            ttl_seconds: Forget it automatically after this many seconds; omit to keep it.
        """
        kv.set(key, value, ttl=ttl_seconds)
        return {"key": key, "remembered": True, "expires_in_seconds": ttl_seconds}

    def recall(key: str) -> dict[str, Any]:
        """Recall the value remembered under a key.

        Args:
            key: The name the value was remembered under.
        """
        entry = kv.get_entry(key)
        if entry is None:
            return {"key": key, "found": False, "value": None}
        return {"key": key, "found": True, "value": entry.value}

    def forget(key: str) -> dict[str, Any]:
        """Forget the value remembered under a key.

        Args:
            key: The name the value was remembered under.
        """
        return {"key": key, "forgotten": kv.delete(key)}

    return [remember, recall, forget]
