"""The split of ``mastra_memory.types``: models stay, helpers moved, old imports keep working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mastra_memory import _fast, chat, types
from mastra_memory.storage import _rows
from mastra_memory.types import Message, MessageContent, TextPart

ROOT = Path(__file__).resolve().parents[1]

MOVED = {
    _fast: list(_fast.__all__),
    chat: ["from_chat_messages", "to_chat_messages"],
    _rows: ["message_from_row", "_text_only_content"],
}


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in MOVED.items() for n in names])
def test_moved_names_are_still_importable_from_types(module: object, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from mastra_memory.types import {name}", namespace)  # the import statement users wrote
    assert namespace[name] is getattr(module, name)
    assert getattr(types, name) is getattr(module, name)


def test_star_import_and_unknown_names() -> None:
    namespace: dict[str, object] = {}
    exec("from mastra_memory.types import *", namespace)
    assert namespace["to_chat_messages"] is chat.to_chat_messages
    with pytest.raises(ImportError):
        exec("from mastra_memory.types import not_a_name", {})


@pytest.mark.parametrize(
    "module", ["mastra_memory.types", "mastra_memory._fast", "mastra_memory.chat", "mastra_memory.storage._rows"]
)
def test_split_modules_import_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content",
    [
        '{"format":2,"parts":[{"type":"text","text":"hi"}]}',
        {"format": 2, "parts": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
        {"format": 2, "parts": [{"type": "text", "text": "hi"}], "metadata": {"k": 1}},
        {"format": 2, "parts": [{"type": "reasoning", "reasoning": "hm"}, {"type": "text", "text": "ok"}]},
        b'{"format":2,"parts":[{"type":"text","text":"bytes"}]}',
    ],
)
def test_row_decoding_equals_the_general_content_reader(content: object) -> None:
    """The row decoder's text-only fast path (also for driver-decoded dicts) builds the same
    objects as :meth:`MessageContent.from_storage`."""
    row = ("m1", "t1", "r1", "user", "2025-01-02T03:04:05.678Z", content, None)
    message = _rows.message_from_row(row)
    assert isinstance(message, Message)
    assert message.content == MessageContent.from_storage(content)
    assert message.content == MessageContent.model_validate(message.content.model_dump())


def test_text_only_fast_path_refuses_other_shapes() -> None:
    assert _rows._text_only_content({"format": 2, "parts": [{"type": "text", "text": "x"}]}) == MessageContent(
        parts=[TextPart(text="x")]
    )
    assert _rows._text_only_content({"format": 2, "parts": [{"type": "text", "text": "x", "extra": 1}]}) is None
    assert _rows._text_only_content({"format": 2, "parts": [], "content": "legacy"}) is None
    assert _rows._text_only_content("text") is None
