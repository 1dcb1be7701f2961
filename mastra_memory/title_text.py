"""The pure parts of title generation (no I/O): the title event, the prompt, the clean-up of
the model's reply. :mod:`mastra_memory.titles` (generated from ``titles_async.py``) runs it."""

from __future__ import annotations

import re

from mastra_memory.types import Message

__all__ = [
    "DEFAULT_TITLE_INSTRUCTIONS",
    "MAX_TITLE_CHARS",
    "ThreadTitleEvent",
    "clean_title",
    "transcript",
]

MAX_TITLE_CHARS = 80
EVENT_TIMEOUT = 60.0
"""Seconds a streamed turn with ``emit_event`` waits for its title before it finishes."""
DEFAULT_TITLE_INSTRUCTIONS = (
    "You write the title of a conversation. Reply with a short title (at most 80 characters) that "
    "summarises what the user wants, based on the conversation below. No quotes, no colons, no "
    "punctuation at the end: your whole reply is the title."
)
_TRANSCRIPT_CHARS = 4_000
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)


class ThreadTitleEvent(str):
    """A stream item announcing a generated title (``type == "data-thread-title"``).

    It is an empty string, so code that joins or prints the text deltas of a stream is not
    affected; check ``isinstance(item, ThreadTitleEvent)`` to pick it out.

    Attributes:
        thread_id: The thread that got the title.
        thread_title: The stored title (``title`` would shadow ``str.title``).
        data: ``{"threadId", "title"}``, the original chunk's ``data``.
    """

    type = "data-thread-title"
    thread_id: str
    thread_title: str

    def __new__(cls, thread_id: str, thread_title: str) -> ThreadTitleEvent:
        event = super().__new__(cls, "")
        event.thread_id = thread_id
        event.thread_title = thread_title
        return event

    @property
    def data(self) -> dict[str, str]:
        return {"threadId": self.thread_id, "title": self.thread_title}

    def __repr__(self) -> str:
        return f"ThreadTitleEvent(thread_id={self.thread_id!r}, thread_title={self.thread_title!r})"


def clean_title(text: str) -> str:
    """The title in a model's reply: ``<think>`` blocks, surrounding quotes, a ``Title:``
    prefix and trailing punctuation removed, first non-empty line, at most 80 characters."""
    text = _THINK.sub("", text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(title)\s*:\s*", "", line, flags=re.I)
    while True:
        stripped = line.strip().strip("\"'`*#_").rstrip(".!:;").strip()
        if stripped == line:
            break
        line = stripped
    if len(line) > MAX_TITLE_CHARS:
        line = line[:MAX_TITLE_CHARS].rsplit(" ", 1)[0].rstrip() or line[:MAX_TITLE_CHARS]
    return line


def transcript(messages: list[Message]) -> str:
    lines = [f"{m.role}: {m.text}" for m in messages if m.role in ("user", "assistant") and m.text.strip()]
    return "\n".join(lines)[:_TRANSCRIPT_CHARS]
