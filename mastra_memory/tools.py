"""Tools the agent can call: a Python callable plus the JSON schema of its arguments.

``Tool.from_function`` derives the schema from the signature and type hints with pydantic, and
the first paragraph of the docstring becomes the description (the common convention of
OpenAI-style function tools).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic import ValidationError as PydanticValidationError

from mastra_memory.errors import ValidationError

__all__ = ["Tool", "as_tool"]


class Tool(BaseModel):
    """A callable tool.

    Attributes:
        name: Name the model calls it by (``^[a-zA-Z0-9_-]{1,64}$``).
        description: What it does, for the model.
        parameters: JSON schema (``type: object``) of the keyword arguments.
        fn: The function, called with the validated keyword arguments.
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

    def invoke(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` and call the function.

        Raises:
            ValidationError: if the arguments do not match the schema.
        """
        if not isinstance(arguments, dict):
            raise ValidationError(f"tool {self.name!r} expects an object of arguments")
        if self.args_model is not None:
            try:
                parsed = self.args_model.model_validate(arguments)
            except PydanticValidationError as exc:
                raise ValidationError(f"invalid arguments for tool {self.name!r}: {exc}") from exc
            arguments = {k: getattr(parsed, k) for k in type(parsed).model_fields}
        return self.fn(**arguments)


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """Return ``obj`` as a :class:`Tool` (functions are converted with :meth:`Tool.from_function`)."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool.from_function(obj)
    raise ValidationError(f"not a tool: {obj!r}")


def result_to_text(result: Any) -> str:
    """Render a tool result for the model (JSON for non-strings)."""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
