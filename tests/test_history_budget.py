"""Token-budget history (``message_history``) with the scripted model, on a libSQL file and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Agent, Memory
from mastra_memory.errors import ConfigurationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.tokens import default_counter
from mastra_memory.types import Message, MessageContent, TextPart, Thread, ToolInvocationPart
from tests.servers import FACTORIES

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
INSTRUCTIONS = "Be brief."


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def seed(store: MemoryStorage, n: int, thread_id: str = "t") -> list[Message]:
    store.save_thread(Thread(id=thread_id, resource_id="u"))
    msgs = [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            thread_id=thread_id,
            id=f"h{i:02d}",
            content=MessageContent(parts=[TextPart(text=f"message {i} " + "lorem ipsum dolor " * 20)]),
            created_at=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]
    return store.save_messages(msgs)


def history_ids(chat: list[dict[str, Any]], texts: dict[str, str]) -> list[str]:
    """Ids of the history messages in a model call (by their unique text)."""
    by_text = {v: k for k, v in texts.items()}
    return [by_text[c["content"]] for c in chat if isinstance(c.get("content"), str) and c["content"] in by_text]


def prompt_tokens(chat: list[dict[str, Any]], memory_msgs: list[Message], inputs: str) -> float:
    counter = default_counter()
    ids = set(history_ids(chat, {m.id: m.text for m in memory_msgs}))
    return (
        counter.count_text(INSTRUCTIONS)
        + counter.sum_messages([m for m in memory_msgs if m.id in ids])
        + counter.sum_messages([Message.user(inputs, "x")])
    )


def test_history_is_dropped_in_chunks_and_the_boundary_survives_a_restart(store: MemoryStorage) -> None:
    msgs = seed(store, 20)
    per = default_counter().count_message(msgs[0])
    budget = int(per * 8)
    options = {"message_history": {"max_tokens": budget, "remove_fraction": 0.25}}
    texts = {m.id: m.text for m in msgs}
    model = ScriptedModel(default="ok")
    agent = Agent("a", INSTRUCTIONS, model, memory=Memory(store, options=options))

    agent.generate("first", thread="t", resource="u")
    first = history_ids(model.calls[0][0], texts)
    assert first and first == sorted(first) and first[-1] == "h19"  # newest kept, in order
    assert len(first) < 20  # the 10-message cap is lifted, then the budget trims
    assert prompt_tokens(model.calls[0][0], msgs, "first") <= budget - budget * 0.25  # a whole chunk freed
    thread = store.get_thread_by_id("t")
    assert thread is not None
    boundary = thread.metadata["memoryTokenLimiter"]
    dropped_newest = f"h{int(first[0][1:]) - 1:02d}"
    assert boundary["messageIds"] == [dropped_newest]
    assert boundary["maxTokens"] == budget and boundary["atMaxRemoveTokens"] == budget * 0.25
    assert boundary["createdAt"].startswith("2025-03-01T")

    agent.generate("second", thread="t", resource="u")
    second = history_ids(model.calls[1][0], texts)
    assert second[0] == first[0]  # the prompt prefix is stable while under budget

    restarted = Agent("a", INSTRUCTIONS, model, memory=Memory(store, options=options))
    restarted.generate("third", thread="t", resource="u")
    assert history_ids(model.calls[2][0], texts)[0] == first[0]  # dropped messages stay out
    assert store.list_messages("t", per_page=False).total == 26  # nothing deleted from storage


def test_a_tool_call_and_its_result_are_dropped_together(store: MemoryStorage) -> None:
    store.save_thread(Thread(id="t", resource_id="u"))
    filler = " ".join(["alpha beta gamma"] * 30)
    call = ToolInvocationPart(tool_call_id="c1", tool_name="lookup", args={"q": filler}, state="call")
    result = ToolInvocationPart(tool_call_id="c1", tool_name="lookup", args={"q": filler}, state="result", result="42")
    msgs = store.save_messages(
        [
            Message.user("question " + filler, "t", id="m0", created_at=T0),
            Message(
                role="assistant",
                thread_id="t",
                id="m1",
                content=MessageContent(parts=[call]),
                created_at=T0 + timedelta(seconds=1),
            ),
            Message(
                role="assistant",
                thread_id="t",
                id="m2",
                content=MessageContent(parts=[result]),
                created_at=T0 + timedelta(seconds=2),
            ),
            Message.user("later " + filler, "t", id="m3", created_at=T0 + timedelta(seconds=3)),
        ]
    )
    counter = default_counter()
    sizes = [counter.count_message(m) for m in msgs]
    # A budget that, dropping message by message, would stop between the call and its result.
    budget = int(
        counter.count_text(INSTRUCTIONS) + sizes[2] + sizes[3] + counter.sum_messages([Message.user("go", "x")]) + 4
    )
    memory = Memory(store, options={"message_history": {"max_tokens": budget, "remove_fraction": 0.0}})
    model = ScriptedModel(default="ok")
    Agent("a", INSTRUCTIONS, model, memory=memory).generate("go", thread="t", resource="u")
    roles = [c["role"] for c in model.calls[0][0]]
    assert "tool" not in roles  # the result went with its call
    assert not any(c.get("tool_calls") for c in model.calls[0][0])
    assert store.get_thread_by_id("t").metadata["memoryTokenLimiter"]["messageIds"] == ["m2"]  # type: ignore[union-attr]


def test_max_tokens_zero_disables_history(store: MemoryStorage) -> None:
    seed(store, 4)
    model = ScriptedModel(default="ok")
    memory = Memory(store, options={"message_history": {"max_tokens": 0}})
    Agent("a", INSTRUCTIONS, model, memory=memory).generate("hello", thread="t", resource="u")
    assert [c["role"] for c in model.calls[0][0]] == ["system", "user"]
    assert "memoryTokenLimiter" not in store.get_thread_by_id("t").metadata  # type: ignore[union-attr]


def test_a_boundary_of_another_budget_is_ignored_and_last_messages_still_caps(store: MemoryStorage) -> None:
    msgs = seed(store, 6)
    store.update_thread(
        "t",
        metadata={
            "memoryTokenLimiter": {
                "createdAt": "2025-03-01T09:04:00.000Z",
                "messageIds": ["h04"],
                "maxTokens": 1,
                "atMaxRemoveTokens": 0,
            }
        },
    )
    model = ScriptedModel(default="ok")
    memory = Memory(store, options={"message_history": {"max_tokens": 100_000}, "last_messages": 3})
    Agent("a", INSTRUCTIONS, model, memory=memory).generate("hello", thread="t", resource="u")
    assert history_ids(model.calls[0][0], {m.id: m.text for m in msgs}) == ["h03", "h04", "h05"]


def test_bad_budgets_are_configuration_errors(store: MemoryStorage) -> None:
    for bad in (
        {"max_tokens": -1},
        {"max_tokens": 10, "remove_fraction": 2},
        {"max_tokens": 10, "at_max_remove_tokens": 11},
        {},
    ):
        with pytest.raises(ConfigurationError):
            Memory(store, options={"message_history": bad})


def test_a_long_thread_is_read_only_as_far_as_the_budget_reaches(
    store: MemoryStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2,500-message thread under a budget of ~40 messages: the turn reads a few pages from
    the newest end, not the 1,000 newest rows, and keeps exactly what reading 1,000 keeps; after
    the boundary is persisted, the next turn starts reading at it."""
    from mastra_memory import history_budget

    n = 2_500
    store.save_thread(Thread(id="long", resource_id="u"))
    msgs = [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            thread_id="long",
            id=f"l{i:04d}",
            content=MessageContent(parts=[TextPart(text=f"message {i} " + "lorem ipsum " * 5)]),
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    for i in range(0, n, 500):
        store.save_messages(msgs[i : i + 500])
    budget = int(default_counter().count_message(msgs[-1]) * 40)
    texts = {m.id: m.text for m in msgs}
    rows: list[int] = []
    original = store._list_messages

    def spy(query: Any) -> Any:  # every message listing of the store, rows counted
        out = original(query)
        rows.append(len(out[0]))
        return out

    monkeypatch.setattr(store, "_list_messages", spy)
    model = ScriptedModel(default="ok")

    def turn(text: str, read_only: bool) -> list[str]:
        options = {"message_history": {"max_tokens": budget}, "read_only": read_only}
        rows.clear()
        Agent("a", INSTRUCTIONS, model, memory=Memory(store, options=options)).generate(
            text, thread="long", resource="u"
        )
        return history_ids(model.calls[-1][0], texts)

    with monkeypatch.context() as m:
        m.setattr(history_budget, "PAGE_SIZE", 1_000)  # the former single read of 1,000 rows
        everything = turn("hello", read_only=True)
        assert sum(rows) == 1_000
    paged = turn("hello", read_only=True)
    assert paged == everything and everything[-1] == "l2499" and 20 < len(paged) < 40
    assert sum(rows) <= 3 * history_budget.PAGE_SIZE  # pages up to the budget, plus one
    turn("hello", read_only=False)  # persists the boundary
    boundary = store.get_thread_by_id("long").metadata["memoryTokenLimiter"]  # type: ignore[union-attr]
    kept = turn("again", read_only=True)
    assert sum(rows) <= 2 * history_budget.PAGE_SIZE and kept[0] > boundary["messageIds"][0]
