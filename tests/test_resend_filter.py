"""The re-sent history input filter (on by default, ``retain_full_input=True`` turns it off), with
the scripted model, on a libSQL file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mastra_memory import Agent, Memory
from mastra_memory.resend_filter import drop_resent_history
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.types import Message
from tests.servers import FACTORIES


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def stored_texts(store: MemoryStorage, thread_id: str = "t") -> list[str]:
    return [m.text for m in store.list_messages(thread_id, per_page=False).messages]


def test_a_client_that_resends_the_conversation_stores_and_sends_each_message_once(store: MemoryStorage) -> None:
    model = ScriptedModel(["Hello!", "Fine, thanks.", "Bye."])
    agent = Agent("a", "Be brief.", model, memory=Memory(store))
    agent.generate([u("hi")], thread="t", resource="r")
    agent.generate([u("hi"), a("Hello!"), u("how are you?")], thread="t", resource="r")
    agent.generate([u("hi"), a("Hello!"), u("how are you?"), a("Fine, thanks."), u("bye")], thread="t", resource="r")
    assert stored_texts(store) == ["hi", "Hello!", "how are you?", "Fine, thanks.", "bye", "Bye."]
    last_call = [(c["role"], c["content"]) for c in model.calls[2][0]]
    assert last_call == [
        ("system", "Be brief."),
        ("user", "hi"),
        ("assistant", "Hello!"),
        ("user", "how are you?"),
        ("assistant", "Fine, thanks."),
        ("user", "bye"),
    ]


def test_retain_full_input_keeps_what_the_client_sent(store: MemoryStorage) -> None:
    model = ScriptedModel(["Hello!", "Fine."])
    agent = Agent("a", "", model, memory=Memory(store, options={"retain_full_input": True}))
    agent.generate([u("hi")], thread="t", resource="r")
    agent.generate([u("hi"), a("Hello!"), u("how are you?")], thread="t", resource="r")
    assert stored_texts(store) == ["hi", "Hello!", "hi", "Hello!", "how are you?", "Fine."]


def test_input_that_does_not_continue_the_stored_end_is_kept(store: MemoryStorage) -> None:
    model = ScriptedModel(["Hello!", "ok"])
    agent = Agent("a", "", model, memory=Memory(store))
    agent.generate([u("hi")], thread="t", resource="r")
    # "hi" repeats a stored message but the input does not continue after "Hello!": keep both.
    agent.generate([u("hi"), u("again")], thread="t", resource="r")
    assert stored_texts(store) == ["hi", "Hello!", "hi", "again", "ok"]


def test_drop_resent_history_rules() -> None:
    stored = [Message.user("one", "t"), Message.assistant("two", "t"), Message.user("three", "t")]
    sent = [
        Message.user(x, "t") if i % 2 == 0 else Message.assistant(x, "t") for i, x in enumerate(["one", "two", "three"])
    ]
    assert [m.text for m in drop_resent_history([*sent, Message.user("four", "t")], stored)] == ["four"]
    # the last input is never dropped: input that only repeats the stored end is kept whole
    assert [m.text for m in drop_resent_history(sent, stored)] == ["one", "two", "three"]
    # older history than the loaded window is dropped too
    older = [Message.user("zero", "t"), Message.assistant("0.5", "t")]
    assert [m.text for m in drop_resent_history([*older, *sent, Message.user("four", "t")], stored[1:])] == ["four"]
    # whitespace does not matter; a role change does
    assert [m.text for m in drop_resent_history([Message.user(" three ", "t"), Message.user("x", "t")], stored)] == [
        "x"
    ]
    assert len(drop_resent_history([Message.assistant("three", "t"), Message.user("x", "t")], stored)) == 2
    assert drop_resent_history([], stored) == []
