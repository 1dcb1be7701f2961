"""Thread title generation (``generate_title``) with the scripted model, on a libSQL file and on
PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mastra_memory import Agent, Memory
from mastra_memory.errors import ModelError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.titles import ThreadTitleEvent, clean_title
from tests.servers import FACTORIES


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def agent(store: MemoryStorage, model: ScriptedModel, generate_title: object = True) -> Agent:
    memory = Memory(store, options={"generate_title": generate_title})
    return Agent("helper", "Be brief.", model, memory=memory)


def test_title_is_generated_after_the_first_exchange_and_only_once(store: MemoryStorage) -> None:
    model = ScriptedModel(["Green tea is nice.", '"Green Tea Preferences."', "Sure.", "Never used"])
    bot = agent(store, model)
    assert bot.generate("I like green tea", thread="t1", resource="u").text == "Green tea is nice."
    assert bot.memory is not None and bot.memory.settled(10)
    thread = store.get_thread_by_id("t1")
    assert thread is not None and thread.title == "Green Tea Preferences"
    prompt = model.calls[1][0]
    assert prompt[0]["role"] == "system" and "title" in prompt[0]["content"]
    assert "user: I like green tea" in prompt[1]["content"] and "assistant: Green tea is nice." in prompt[1]["content"]
    bot.generate("and black tea?", thread="t1", resource="u")
    assert bot.memory.settled(10)
    assert len(model.calls) == 3  # no second title call: the thread has one
    assert store.get_thread_by_id("t1").title == "Green Tea Preferences"  # type: ignore[union-attr]


def test_a_thread_with_a_title_keeps_it(store: MemoryStorage) -> None:
    model = ScriptedModel(["ok"], default="Should not be used")
    bot = agent(store, model)
    bot.generate("hello", thread={"id": "t2", "title": "Mine"}, resource="u")
    assert bot.memory is not None and bot.memory.settled(10)
    assert store.get_thread_by_id("t2").title == "Mine"  # type: ignore[union-attr]
    assert len(model.calls) == 1


def test_a_failing_title_model_never_fails_the_turn(store: MemoryStorage, caplog: pytest.LogCaptureFixture) -> None:
    title_model = ScriptedModel([ModelError("title model down")])
    bot = agent(store, ScriptedModel(["answer"]), {"model": title_model})
    with caplog.at_level(logging.WARNING, logger="mastra_memory.titles"):
        result = bot.generate("hello", thread="t3", resource="u")
        assert bot.memory is not None and bot.memory.settled(10)
    assert result.text == "answer"
    assert store.get_thread_by_id("t3").title in (None, "")  # type: ignore[union-attr]
    assert "title generation for thread 't3' failed" in caplog.text
    assert len(store.list_messages("t3").messages) == 2


def test_min_messages_custom_model_and_instructions(store: MemoryStorage) -> None:
    title_model = ScriptedModel(["Trip Planning"])
    bot = agent(
        store, ScriptedModel(["one", "two"]), {"model": title_model, "instructions": "One word.", "min_messages": 4}
    )
    bot.generate("plan a trip", thread="t4", resource="u")
    assert bot.memory is not None and bot.memory.settled(10)
    assert title_model.calls == []
    bot.generate("to Lisbon", thread="t4", resource="u")
    assert bot.memory.settled(10)
    assert store.get_thread_by_id("t4").title == "Trip Planning"  # type: ignore[union-attr]
    assert title_model.calls[0][0][0]["content"] == "One word."
    assert "to Lisbon" in title_model.calls[0][0][1]["content"]


def test_stream_yields_the_title_event_with_emit_event(store: MemoryStorage) -> None:
    bot = agent(store, ScriptedModel(["Hi there", "Greetings"]), {"emit_event": True})
    stream = bot.stream("hello", thread="t5", resource="u")
    items = list(stream)
    events = [i for i in items if isinstance(i, ThreadTitleEvent)]
    assert len(events) == 1 and items[-1] is events[0]
    assert (events[0].type, events[0].thread_id, events[0].thread_title) == ("data-thread-title", "t5", "Greetings")
    assert events[0].data == {"threadId": "t5", "title": "Greetings"}
    assert "".join(items) == stream.result.text == "Hi there"
    assert store.get_thread_by_id("t5").title == "Greetings"  # type: ignore[union-attr]
    # without emit_event the stream does not wait and yields text only
    plain = agent(store, ScriptedModel(["Hi", "Later"]))
    assert not any(isinstance(i, ThreadTitleEvent) for i in plain.stream("hello", thread="t6", resource="u"))


def test_a_user_rename_during_title_generation_wins(store: MemoryStorage) -> None:
    """The user renames the thread while the title model runs: the generated title is not
    stored (the write is the store's atomic ``set_thread_title_if_empty``), and no event is
    emitted for it."""

    def rename_then_answer(messages: list[dict[str, object]]) -> str:
        store.update_thread("t8", title="Chosen by the user")
        return "Generated Title"

    bot = agent(store, ScriptedModel(["Hi there", rename_then_answer]), {"emit_event": True})
    items = list(bot.stream("hello", thread="t8", resource="u"))
    assert not any(isinstance(i, ThreadTitleEvent) for i in items)
    assert store.get_thread_by_id("t8").title == "Chosen by the user"  # type: ignore[union-attr]


def test_read_only_memory_generates_no_title(store: MemoryStorage) -> None:
    store.save_thread(__import__("mastra_memory").Thread(id="t7", resource_id="u"))
    model = ScriptedModel(["answer"], default="Not used")
    bot = Agent("helper", "", model, memory=Memory(store, options={"generate_title": True, "read_only": True}))
    bot.generate("hello", thread="t7", resource="u")
    assert bot.memory is not None and bot.memory.settled(10)
    assert len(model.calls) == 1


def test_clean_title() -> None:
    assert clean_title("<think>hmm</think>\n\nTitle: **Budget Review**.") == "Budget Review"
    assert clean_title("") == ""
    long = clean_title("word " * 40)
    assert len(long) <= 80 and not long.endswith(" ")
