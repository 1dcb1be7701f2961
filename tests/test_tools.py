"""Tool schemas from Python functions, including modules with postponed annotations."""

from __future__ import annotations

import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.tools import Tool


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Longer description that is not sent.
    """
    return a + b


def test_schema_from_string_annotations() -> None:
    tool = Tool.from_function(add)
    assert tool.parameters["properties"]["a"] == {"type": "integer"}
    assert tool.parameters["required"] == ["a"]
    assert tool.description == "Add two numbers."
    assert tool.invoke({"a": 3}) == 5
    with pytest.raises(ValidationError):
        tool.invoke({"a": "not a number"})
