"""Tools the agent can call: a Python callable plus the JSON schema of its arguments.

``Tool.from_function`` derives the schema from the signature and type hints with pydantic, and
the first paragraph of the docstring becomes the description (the common convention of
OpenAI-style function tools).

A tool's function may be sync or ``async def``. :meth:`Tool.ainvoke` (the async face) awaits an
async function and runs a sync one in a worker thread (:func:`asyncio.to_thread`), so user code
never blocks the event loop; :meth:`Tool.invoke` (the sync face) runs an async function with
:func:`asyncio.run` when no event loop is running in the thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic import ValidationError as PydanticValidationError

from mastra_memory.errors import ConfigurationError, ValidationError

__all__ = ["Tool", "as_tool"]


class Tool(BaseModel):
    """A callable tool.

    Attributes:
        name: Name the model calls it by (``^[a-zA-Z0-9_-]{1,64}$``).
        description: What it does, for the model.
        parameters: JSON schema (``type: object``) of the keyword arguments.
        fn: The function (sync or ``async def``), called with the validated keyword arguments.
        args_model: Optional pydantic model used to validate arguments before the call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    fn: Callable[..., Any]
    args_model: type[BaseModel] | None = None

    @classmethod
    def from_function(cls, fn: Callable[..., Any], name: str | None = None, description: str | None = None) -> Tool:
        """Build a tool from a function's signature, type hints and docstring."""
        try:  # resolve string annotations (modules using `from __future__ import annotations`)
            sig = inspect.signature(fn, eval_str=True)
        except (NameError, TypeError):
            sig = inspect.signature(fn)
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = param.annotation if param.annotation is not inspect.Parameter.empty else Any
            default = param.default if param.default is not inspect.Parameter.empty else ...
            fields[pname] = (annotation, default)
        model = create_model(f"{fn.__name__}_args", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        doc = inspect.getdoc(fn) or ""
        return cls(
            name=name or fn.__name__,
            description=description or doc.split("\n\n")[0].strip(),
            parameters=schema,
            fn=fn,
            args_model=model,
        )

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI/litellm ``tools=[...]`` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    @property
    def is_async(self) -> bool:
        """True when :attr:`fn` is a coroutine function (``async def``)."""
        return _is_coroutine_function(self.fn)

    def _arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The validated keyword arguments of a call."""
        if not isinstance(arguments, dict):
            raise ValidationError(f"tool {self.name!r} expects an object of arguments")
        if self.args_model is not None:
            try:
                parsed = self.args_model.model_validate(arguments)
            except PydanticValidationError as exc:
                raise ValidationError(f"invalid arguments for tool {self.name!r}: {exc}") from exc
            arguments = {k: getattr(parsed, k) for k in type(parsed).model_fields}
        return arguments

    def _run_coroutine(self, make: Callable[[], Any]) -> Any:
        """Run the coroutine ``make()`` returns to completion from sync code, refusing inside a
        running event loop (it would block the loop, or deadlock)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(make())
        raise ConfigurationError(
            f"tool {self.name!r} is an async function and an event loop is running in this thread: "
            "use the async API (await tool.ainvoke(...), Agent.agenerate/astream, AsyncMemory)"
        )

    def invoke(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` and call the function.

        An ``async def`` function is run with :func:`asyncio.run` (there must be no running
        event loop in this thread; use :meth:`ainvoke` from async code).

        Raises:
            ValidationError: if the arguments do not match the schema.
            ConfigurationError: for an async function called while an event loop is running.
        """
        kwargs = self._arguments(arguments)
        if self.is_async:
            return self._run_coroutine(lambda: self.fn(**kwargs))
        result = self.fn(**kwargs)
        if inspect.isawaitable(result):  # a callable that returns an awaitable
            try:
                return self._run_coroutine(lambda: _awaited(result))
            except ConfigurationError:
                if inspect.iscoroutine(result):
                    result.close()
                raise
        return result

    async def ainvoke(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` and call the function without blocking the event loop: an
        ``async def`` function is awaited, a sync one runs in a worker thread
        (:func:`asyncio.to_thread`).

        Raises:
            ValidationError: if the arguments do not match the schema.
        """
        kwargs = self._arguments(arguments)
        if self.is_async:
            return await self.fn(**kwargs)
        result = await asyncio.to_thread(self.fn, **kwargs)
        if inspect.isawaitable(result):  # a callable that returns an awaitable
            return await result
        return result


def _is_coroutine_function(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """Return ``obj`` as a :class:`Tool` (functions, sync or ``async def``, are converted with
    :meth:`Tool.from_function`)."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool.from_function(obj)
    raise ValidationError(f"not a tool: {obj!r}")


def result_to_text(result: Any) -> str:
    """Render a tool result for the model (JSON for non-strings)."""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
