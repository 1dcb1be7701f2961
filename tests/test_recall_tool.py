"""The ``recall`` tool (``observational_memory.retrieval``) with the scripted model, on a libSQL
file and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mastra_memory import Agent, Memory, Message
from mastra_memory.errors import MastraMemoryError, ValidationError
from mastra_memory.recall_tool import make_recall_tool
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from tests.om_support import BASE, om_options, scripted
from tests.servers import FACTORIES


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def seed(memory: Memory) -> None:
    memory.create_thread("ana", thread_id="t1", title="Drinks")
    memory.save_messages(
        [
            Message.user(
                f"day {i}: " + ("I switched to green tea" if i == 7 else "nothing special"),
                "t1",
                created_at=BASE + timedelta(days=i),
            )
            for i in range(25)
        ]
    )
    memory.create_thread("ana", thread_id="t2", title="Travel")
    memory.save_messages([Message.user("Lisbon in May", "t2", created_at=BASE + timedelta(days=30))])
    memory.create_thread("bob", thread_id="b1")
    memory.save_messages([Message.user("bob likes green tea too", "b1")])


def test_the_agent_gets_the_tool_and_reads_raw_messages(store: MemoryStorage) -> None:
    memory = Memory(store, options=om_options(scripted(), retrieval=True))
    seed(memory)
    model = ScriptedModel(
        [ScriptedModel.tool_call("recall", {"mode": "search", "query": "green tea"}), "You switched on day 7."]
    )
    agent = Agent("a", "Use recall when unsure.", model, memory=memory)
    result = agent.generate("When did I switch to tea?", thread="t2", resource="ana")
    assert result.text == "You switched on day 7."
    assert any(t["function"]["name"] == "recall" for t in model.calls[0][1] or [])
    tool_reply = next(m for m in model.calls[1][0] if m["role"] == "tool")
    found = json.loads(tool_reply["content"])
    texts = [m["text"] for m in found["messages"]]
    # the store's keyword index (FTS5, tsvector) ranks the message itself first; the next message
    # may follow at a lower score (a message is indexed with its predecessor's words at half weight)
    assert texts[0] == "day 7: I switched to green tea"
    assert all(t.startswith("day ") for t in texts)  # never bob's, another resource's
    assert found["messages"][0]["score"] > max([m["score"] for m in found["messages"][1:]], default=0)
    plain = Agent("a", "", ScriptedModel(["hi"]), memory=Memory(store, options=om_options(scripted())))
    plain.generate("hello", thread="t2", resource="ana")
    assert plain.model.calls[0][1] is None or all(t["function"]["name"] != "recall" for t in plain.model.calls[0][1])  # type: ignore[attr-defined]


def test_modes_are_paged_and_scoped_to_the_resource(store: MemoryStorage) -> None:
    memory = Memory(store)
    seed(memory)
    recall = make_recall_tool(memory, "t2", "ana", page_size=10).fn
    first, last = recall(mode="messages", thread_id="t1"), recall(mode="messages", thread_id="t1", page=2)
    assert [m["text"][:6] for m in first["messages"]][:2] == ["day 0:", "day 1:"] and first["has_more"]
    assert len(last["messages"]) == 5 and not last["has_more"]
    window = recall(mode="messages", thread_id="t1", start="2025-03-06", end="2025-03-08T23:59:59Z")
    assert [m["text"][:6] for m in window["messages"]] == ["day 5:", "day 6:", "day 7:"]
    assert [m["text"] for m in recall(mode="messages")["messages"]] == ["Lisbon in May"]  # current thread
    threads = recall(mode="threads")
    assert [t["id"] for t in threads["threads"]] == ["t2", "t1"] and not threads["has_more"]
    assert recall(mode="search", query="nothing special", page=1)["messages"]  # page 2 of 24 hits
    with pytest.raises(MastraMemoryError):
        recall(mode="messages", thread_id="b1")  # another resource's thread
    with pytest.raises(ValidationError):
        recall(mode="search")
    with pytest.raises(ValidationError):
        recall(mode="everything")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        recall(mode="messages", start="last tuesday")
