"""Shared helpers for the observational-memory tests (scripted Observer/Reflector, turns)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import mastra_memory  # noqa: F401  (core before storage)
from mastra_memory import Memory, Message
from mastra_memory.testing import ScriptedModel

MARK = re.compile(r"\bm(\d+)-(\w+)\b")
BASE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def observer_reply(messages: list[dict[str, Any]]) -> str:
    """An Observer double: one 🔴 line per message marker (``m<n>-<x>``) in the transcript."""
    user = messages[-1]["content"]
    transcript = user.split("## Previous Observations")[0]
    markers = list(dict.fromkeys(m.group(0) for m in MARK.finditer(transcript)))
    lines = "\n".join(f"* 🔴 (09:00) noted {mk}" for mk in markers)
    return (
        f"<observations>\nDate: Mar 1, 2025\n{lines}\n</observations>\n"
        "<current-task>\nPrimary: chatting\n</current-task>\n"
        "<suggested-response>\nKeep going.\n</suggested-response>\n"
        "<thread-title>\nMarker chat\n</thread-title>"
    )


def reflector_reply(messages: list[dict[str, Any]]) -> str:
    """A Reflector double: keeps one line summarising how many lines it read."""
    text = messages[-1]["content"]
    n = text.count("noted m")
    return f"<observations>\nDate: Mar 1, 2025\n* 🔴 (09:00) summary of {n} noted lines\n</observations>"


def om_options(model: Any, **overrides: Any) -> dict[str, Any]:
    observation = {"message_tokens": 300, "buffer_tokens": False, **overrides.pop("observation", {})}
    reflection = {"observation_tokens": 100_000, **overrides.pop("reflection", {})}
    return {"observational_memory": {"model": model, "observation": observation, "reflection": reflection, **overrides}}


def scripted() -> ScriptedModel:
    return ScriptedModel(default=observer_reply, name="observer")


def turn(
    memory: Memory,
    thread: str,
    resource: str,
    n: int,
    at: datetime | None = None,
    words: int = 12,
    processors_input: Sequence[Message] | None = None,
) -> tuple[Any, list[Message]]:
    """One simulated agent turn: a user and an assistant message carrying markers m<n>-u/-a."""
    at = at or BASE + timedelta(minutes=n)
    filler = " ".join(["lorem"] * words)
    user = Message.user(f"m{n}-u {filler}", thread, created_at=at)
    reply = Message.assistant(f"m{n}-a {filler}", thread, created_at=at + timedelta(seconds=1))
    ctx = memory.prepare_turn(thread, resource, [user])
    stored = memory.finish_turn(ctx, [user, reply])
    return ctx, stored


def markers_in(text: str) -> list[str]:
    return [m.group(0) for m in MARK.finditer(text)]
