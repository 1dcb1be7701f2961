"""Observational-memory hooks with the scripted Observer/Reflector, on a libSQL file and on
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message
from mastra_memory.errors import ConfigurationError
from mastra_memory.observational.hooks import OMCycle
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.types import MessageContent, TextPart
from tests.om_support import om_options, reflector_reply, scripted, turn
from tests.servers import FACTORIES

EMAIL = re.compile(r"\S+@\S+")


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def redact(messages: list[Message]) -> list[Message]:
    return [
        m.model_copy(update={"content": MessageContent(parts=[TextPart(text=EMAIL.sub("[email]", m.text))])})
        for m in messages
    ]


def test_hooks_see_every_cycle_with_usage_and_transforms_apply(store: MemoryStorage) -> None:
    events: list[tuple[str, OMCycle]] = []

    def record(name: str) -> Any:
        return lambda cycle: events.append((name, cycle))

    def broken(cycle: OMCycle) -> None:
        raise RuntimeError("a buggy hook")

    observer = scripted()
    reflector = ScriptedModel(default=reflector_reply, name="reflector")
    hooks = {
        "on_observation_start": broken,  # a failing notification hook changes nothing
        "on_observation_end": record("observation_end"),
        "on_reflection_start": record("reflection_start"),
        "on_reflection_end": record("reflection_end"),
        "before_observation": redact,
        "after_observation": lambda text: text + "\n* 🟢 (09:00) reviewed",
    }
    memory = Memory(
        storage=store,
        options=om_options(observer, reflection={"observation_tokens": 80, "model": reflector}, hooks=hooks),
    )
    memory.create_thread("r1", thread_id="t1")
    for n in range(9):
        at_n = turn(memory, "t1", "r1", n)[1]
        assert at_n
    memory.save_messages([Message.user("write to ana@example.com m99-u " + "lorem " * 200, "t1")])
    memory.observe("t1", "r1")

    ends = [c for name, c in events if name == "observation_end"]
    assert ends and all(c.kind == "observation" and c.error is None and c.message_count > 0 for c in ends)
    assert all(c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0 and c.duration >= 0 for c in ends)
    assert all(c.cost is None for c in ends)  # a scripted model has no price
    assert len(ends) == len(observer.calls)
    assert any(name == "reflection_start" for name, _ in events)
    reflections = [c for name, c in events if name == "reflection_end"]
    assert reflections and reflections[0].kind == "reflection" and reflections[0].usage.total_tokens > 0
    prompts = "\n".join(str(m["content"]) for call in observer.calls for m in call[0])
    assert "ana@example.com" not in prompts and "[email]" in prompts  # redacted before the Observer
    history = memory.get_observational_memory_history("t1")
    assert any("reviewed" in r.active_observations for r in history)  # after_observation applied
    stored = [m.text for m in memory.list_messages("t1", per_page=False).messages]
    assert any("ana@example.com" in t for t in stored)  # the stored messages are untouched


def test_a_failing_transform_fails_the_cycle_closed(store: MemoryStorage) -> None:
    observer = scripted()
    ends: list[OMCycle] = []

    def boom(messages: list[Message]) -> list[Message]:
        raise ValueError("redaction service down")

    hooks = {"before_observation": boom, "on_observation_end": ends.append}
    memory = Memory(storage=store, options=om_options(observer, hooks=hooks))
    memory.create_thread("r1", thread_id="t1")
    memory.save_messages([Message.user("secret ana@example.com " + "lorem " * 200, "t1")])
    with pytest.raises(Exception, match="before_observation failed"):
        memory.observe("t1", "r1")
    assert observer.calls == []  # nothing unredacted was sent
    assert memory.get_observational_memory("t1") is None


def test_unknown_or_uncallable_hooks_are_configuration_errors(store: MemoryStorage) -> None:
    for bad in ({"on_observe": print}, {"after_observation": "not callable"}):
        with pytest.raises(ConfigurationError):
            Memory(storage=store, options=om_options(scripted(), hooks=bad))


def test_temporal_markers_mark_pauses_of_ten_minutes_or_more() -> None:
    from datetime import timedelta

    from mastra_memory.observational.prompts import format_transcript
    from tests.om_support import BASE

    msgs = [
        Message.user("first", "t", created_at=BASE),
        Message.assistant("quick reply", "t", created_at=BASE + timedelta(minutes=9, seconds=59)),
        Message.user("back after lunch", "t", created_at=BASE + timedelta(hours=2, minutes=15)),
        Message.user("next day", "t", created_at=BASE + timedelta(days=1, hours=2, minutes=25)),
    ]
    text = format_transcript(msgs)
    assert "[2 hours 5 minutes later]" in text and "[1 day 10 minutes later]" in text
    assert text.count("later]") == 2  # 9:59 is no pause
    assert "later]" not in format_transcript(msgs, temporal_markers=False)


def test_the_observer_sees_the_markers(store: MemoryStorage) -> None:
    from datetime import timedelta

    from tests.om_support import BASE

    observer = scripted()
    memory = Memory(storage=store, options=om_options(observer))
    memory.create_thread("r1", thread_id="t1")
    memory.save_messages(
        [
            Message.user("m1-u " + "lorem " * 150, "t1", created_at=BASE),
            Message.user("m2-u " + "lorem " * 150, "t1", created_at=BASE + timedelta(minutes=45)),
        ]
    )
    memory.observe("t1", "r1")
    assert "[45 minutes later]" in observer.calls[0][0][-1]["content"]
