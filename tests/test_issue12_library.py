"""Regression tests for issue 12, library side: each defect found by fuzzing, by attacks and by a
real conversation, on real stores (libSQL file, PostgreSQL, MongoDB, SQLAlchemy/SQLite and the
in-memory store) through tests/servers.py FACTORIES."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message, MessageContent, TextPart
from mastra_memory.errors import (
    MessageIdUnavailableError,
    ModelError,
    ResourceMismatchError,
    ThreadExistsError,
    ValidationError,
)
from mastra_memory.ingest import ingest, load_file
from mastra_memory.storage.base import MAX_PAGE, MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.types import MAX_JSON_DEPTH
from tests.om_support import BASE, markers_in, observer_reply, om_options, turn
from tests.servers import FACTORIES

BACKENDS = ["inmemory", "libsql-file", "postgres", "mongodb", "sqlalchemy-sqlite", "redis"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as s:
        yield s


@pytest.fixture
def memory(store: MemoryStorage) -> Memory:
    m = Memory(storage=store, options={"working_memory": {"enabled": True, "scope": "resource"}})
    m.create_thread("r1", "t1", title="kept", metadata={"a": 1})
    m.save_messages([Message.user("hello", "t1", id="m1")])
    return m


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = {"k": value}
    return {"k": value} if depth else value


def state(memory: Memory) -> Any:
    """Every thread with its messages, and resource r1 (what a refused call must not change)."""
    threads = memory.list_threads(per_page=False).threads
    return (
        [t.model_dump() for t in threads],
        {t.id: [m.model_dump() for m in memory.list_messages(t.id, per_page=False).messages] for t in threads},
        memory.storage.get_resource_by_id("r1"),
    )


# 1. deep nesting: refused at write with a documented limit, never a RecursionError


def test_depth_limit_is_enforced_at_write_and_depth_at_limit_round_trips(memory: Memory) -> None:
    before = state(memory)
    for depth in (MAX_JSON_DEPTH + 1, 255, 10_000):
        with pytest.raises(ValidationError, match="nested deeper than 100"):
            memory.update_thread("t1", metadata={"x": nested(depth)})
        with pytest.raises(ValidationError, match="nested deeper"):
            memory.create_thread("r1", "t-deep", metadata={"x": nested(depth)})
        content = MessageContent(parts=[TextPart(text="hi")], metadata={"x": nested(depth)})
        with pytest.raises(ValidationError, match="nested deeper"):
            memory.save_messages([Message(thread_id="t1", role="user", content=content)])
        with pytest.raises(ValidationError):
            memory.storage.update_resource("r1", metadata={"x": nested(depth)})
    assert state(memory) == before
    ok = nested(MAX_JSON_DEPTH - 1)  # with the metadata dict itself: exactly the limit
    memory.update_thread("t1", metadata={"x": ok})
    assert memory.get_thread_by_id("t1").metadata["x"] == ok  # type: ignore[union-attr]


# 2. pages after the first of an empty or unknown thread


def test_pages_after_the_first_of_empty_and_unknown_threads(memory: Memory) -> None:
    memory.create_thread("r1", "t-empty")
    for tid in ("t-empty", "t-unknown"):
        for page in (1, 2, 50):
            result = memory.list_messages(tid, per_page=10, page=page)
            assert result.messages == [] and result.total == 0 and not result.has_more
    assert memory.list_messages("t1", per_page=1, page=5).total == 1


# 3. huge page / per_page


@pytest.mark.parametrize("page, per_page", [(2**63, 10), (0, 2**63), (MAX_PAGE + 1, 1), (1, 2**70), (-1, 10)])
def test_huge_pagination_is_a_validation_error(memory: Memory, page: int, per_page: int) -> None:
    with pytest.raises(ValidationError, match="page"):
        memory.list_messages("t1", per_page=per_page, page=page)
    with pytest.raises(ValidationError, match="page"):
        memory.list_threads(page=page, per_page=per_page)
    with pytest.raises(ValidationError, match="page"):
        memory.storage.list_messages_by_resource_id("r1", per_page=per_page, page=page)


def test_largest_page_is_accepted(memory: Memory) -> None:
    assert memory.list_messages("t1", per_page=1, page=MAX_PAGE).messages == []
    assert memory.list_threads(per_page=MAX_PAGE, page=0).total >= 1
    with pytest.raises(ValidationError, match="offset"):
        memory.list_messages("t1", per_page=2, page=MAX_PAGE)


# 4. NUL bytes and 5. lone surrogates: refused everywhere, nothing written


BAD_TEXT = ["a\x00b", "\x00", "x\ud800y", "\udfff"]


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_unstorable_text_is_refused_everywhere(memory: Memory, bad: str) -> None:
    before = state(memory)
    calls = [
        lambda: memory.update_thread("t1", title=bad),
        lambda: memory.update_thread("t1", metadata={"k": bad}),
        lambda: memory.update_thread("t1", metadata={bad: 1}),
        lambda: memory.create_thread("r1", "t-new", title=bad),
        lambda: memory.create_thread("r1", "t-new", metadata={"k": [bad]}),
        lambda: memory.update_working_memory("t1", "r1", bad),
        lambda: memory.storage.update_resource("r1", working_memory=bad),
    ]
    if "\x00" not in bad:  # message content keeps NUL (JSON-escaped text): see the next test
        calls += [
            lambda: memory.save_messages([Message.user(f"text {bad}", "t1")]),
            lambda: memory.save_messages([Message.user("ok", "t1", id="m1"), Message.user(bad, "t1")]),
        ]
    if "\x00" not in bad:  # ids refuse control characters already
        calls += [
            lambda: memory.create_thread("r1", f"t{bad}"),
            lambda: memory.create_thread(f"r{bad}"),
            lambda: memory.list_messages(f"t{bad}"),
            lambda: memory.get_thread_by_id(f"t{bad}"),
        ]
    for call in calls:
        with pytest.raises(ValidationError, match=r"NUL|surrogate|control"):
            call()
    assert state(memory) == before
    assert memory.get_thread_by_id("t1").title == "kept"  # type: ignore[union-attr]


def test_nul_in_message_content_round_trips_on_every_backend(memory: Memory) -> None:
    content = MessageContent(parts=[TextPart(text="a\x00b")], metadata={"k\x00": "v\x00"})
    memory.save_messages([Message(id="m-nul", thread_id="t1", role="user", content=content)])
    (back,) = memory.storage.list_messages_by_id(["m-nul"])
    assert back.text == "a\x00b" and back.content.metadata == {"k\x00": "v\x00"}


def test_text_round_trips_exactly_when_accepted(memory: Memory) -> None:
    text = "tab\t, newline\n, emoji 🎉, 日本語, \x7f, '; --"
    memory.update_thread("t1", title=text, metadata={"t": text})
    memory.update_working_memory("t1", "r1", text)
    memory.save_messages([Message.user(text, "t1", id="m-rt")])
    thread = memory.get_thread_by_id("t1")
    assert thread is not None and thread.title == text and thread.metadata["t"] == text
    assert memory.get_working_memory("t1", "r1") == text
    assert memory.storage.list_messages_by_id(["m-rt"])[0].text == text


def test_integers_outside_64_bits_are_refused(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="64-bit"):
        memory.update_thread("t1", metadata={"n": 2**63})
    memory.update_thread("t1", metadata={"n": 2**63 - 1, "m": -(2**63)})
    assert memory.get_thread_by_id("t1").metadata["n"] == 2**63 - 1  # type: ignore[union-attr]


# 6. wrong types


def test_wrong_types_are_validation_errors(memory: Memory) -> None:
    before = state(memory)
    calls = [
        lambda: memory.recall(None),  # type: ignore[arg-type]
        lambda: memory.save_messages(None),  # type: ignore[arg-type]
        lambda: memory.save_messages(object()),  # type: ignore[arg-type]
        lambda: memory.delete_messages(None),  # type: ignore[arg-type]
        lambda: memory.update_thread("t1", metadata=1.5),  # type: ignore[arg-type]
        lambda: memory.update_thread("t1", metadata=[("a", 1)]),  # type: ignore[arg-type]
        lambda: memory.create_thread("r1", "t-new", metadata=[("a", 1)]),  # type: ignore[arg-type]
        lambda: memory.create_thread("r1", "t-new", metadata={1: "int key"}),  # type: ignore[dict-item]
        lambda: memory.create_thread("r1", "t-new", title=b"bytes"),  # type: ignore[arg-type]
        lambda: memory.storage.update_resource("r1", metadata=[("a", 1)]),  # type: ignore[arg-type]
        lambda: memory.list_messages("t1", start="2024-01-01"),  # type: ignore[arg-type]
        lambda: memory.storage.list_messages("t1", include=[{"id": 5}]),
        lambda: memory.storage.list_messages(None),  # type: ignore[arg-type]
        lambda: memory.storage.list_message_refs(["t1"], after="yesterday"),  # type: ignore[arg-type]
        lambda: memory.clone_thread("t1", message_limit="2"),  # type: ignore[arg-type]
        lambda: memory.storage.update_working_memory_atomic(lambda _: 5, resource_id="r1"),  # type: ignore[arg-type,return-value]
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    assert state(memory) == before


# 7. error texts do not confirm another resource's ids


def test_error_texts_do_not_confirm_other_resources_ids(memory: Memory) -> None:
    memory.create_thread("r-other", "t-other")
    memory.save_messages([Message.user("secret", "t-other", id="m-other")])
    with pytest.raises(ResourceMismatchError) as mismatch:
        memory.get_thread_by_id("t-other", resource_id="r1")
    assert "r-other" not in str(mismatch.value) and "belongs" not in str(mismatch.value)
    assert mismatch.value.expected_resource_id == "r-other"  # for trusted callers only
    with pytest.raises(MessageIdUnavailableError) as taken:
        memory.save_messages([Message.user("mine", "t1", id="m-other")])
    assert "another thread" not in str(taken.value) and "exists" not in str(taken.value)
    assert isinstance(taken.value, ValidationError)
    with pytest.raises(ThreadExistsError) as exists:
        memory.create_thread("r1", "t-other")
    assert "exists" not in str(exists.value) and "r-other" not in str(exists.value)
    assert memory.list_messages("t-other").messages[0].text == "secret"


# 10. observational memory: nothing new is normal, a failing Observer never fails the turn


@pytest.mark.parametrize("store", ["inmemory", "libsql-file"], indirect=True)
def test_observer_with_nothing_new_counts_messages_as_observed(store: MemoryStorage) -> None:
    first: list[str] = []

    def observer(messages: list[dict[str, Any]]) -> str:
        if not first:  # the first cycle observes; later ones repeat the record or say nothing
            first.append(observer_reply(messages))
            return first[0]
        return "<observations>\n</observations>" if len(messages) % 2 else first[0]

    model = ScriptedModel(default=observer)
    memory = Memory(storage=store, options=om_options(model, observation={"failure_policy": "throw"}))
    for n in range(30):
        turn(memory, "t1", "r1", n)  # never raises, also with "throw"
    engine = memory.observational_engine
    assert engine.stats.failures == 0 and engine.stats.unusable_outputs == 0
    assert len(model.calls) >= 3  # several cycles, all but the first with nothing new
    record = memory.get_observational_memory("t1")
    assert record is not None and record.last_observed_at is not None
    observed = markers_in(record.active_observations)
    newest_noted = max(int(m.split("-")[0][1:]) for m in observed)
    assert record.last_observed_at > BASE + timedelta(minutes=newest_noted + 1)  # cursor moved on


@pytest.mark.parametrize("store", ["inmemory", "libsql-file"], indirect=True)
def test_failing_observer_never_fails_the_turn_by_default(
    store: MemoryStorage, caplog: pytest.LogCaptureFixture
) -> None:
    model = ScriptedModel(default=ModelError("provider down"))
    memory = Memory(storage=store, options=om_options(model))
    with caplog.at_level(logging.WARNING):
        for n in range(20):
            _, stored = turn(memory, "t1", "r1", n)
            assert len(stored) == 2
    assert "continuing unobserved" in caplog.text
    assert len(memory.list_messages("t1", per_page=False).messages) == 40
    engine = memory.observational_engine
    assert engine.stats.failures >= 1
    assert len(model.calls) < 2 * 20  # backed off: not called on every turn


def test_failure_policy_throw_is_still_available(tmp_path: Path) -> None:
    with FACTORIES["libsql-file"](tmp_path) as store:
        model = ScriptedModel(default=ModelError("provider down"))
        memory = Memory(storage=store, options=om_options(model, observation={"failure_policy": "throw"}))
        with pytest.raises(ModelError):
            for n in range(20):
                turn(memory, "t1", "r1", n)


# 12. ingest is all-or-nothing per thread and names file positions


@pytest.mark.parametrize("store", ["libsql-file", "postgres", "mongodb"], indirect=True)
def test_ingest_is_atomic_per_thread_and_names_file_positions(store: MemoryStorage, tmp_path: Path) -> None:
    memory = Memory(storage=store)
    data = {
        "threads": [
            {"id": "good", "resource_id": "u1", "messages": [{"role": "user", "content": "hi"}]},
            {
                "id": "bad",
                "resource_id": "u1",
                "messages": [
                    {"role": "user", "content": "fine"},
                    {"role": "assistant", "content": "x" * (5 * 1024 * 1024)},
                ],
            },
        ]
    }
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(data))
    _, batches = load_file(path)
    with pytest.raises(ValidationError) as err:
        ingest(memory, batches)
    text = str(err.value)
    assert "threads[1].messages[1]" in text and "over the limit" in text
    assert not any(m.id in text for m in batches[1].messages)  # no generated UUID in the text
    assert memory.get_thread_by_id("good") is not None  # earlier threads stay
    assert memory.get_thread_by_id("bad") is None  # no empty thread left behind
    assert memory.list_messages("bad").messages == []


def test_ingest_rolls_back_a_created_thread_when_the_save_fails(tmp_path: Path) -> None:
    with FACTORIES["libsql-file"](tmp_path) as store:
        memory = Memory(storage=store)
        memory.create_thread("someone-else", "t-x")
        memory.save_messages([Message.user("theirs", "t-x", id="shared-id")])
        path = tmp_path / "chat.json"
        path.write_text(
            json.dumps(
                {
                    "threads": [
                        {
                            "id": "mine",
                            "resource_id": "u1",
                            "messages": [{"id": "shared-id", "role": "user", "content": "a"}],
                        }
                    ]
                }
            )
        )
        _, batches = load_file(path)
        with pytest.raises(ValidationError, match=r"threads\[0\]"):
            ingest(memory, batches)
        assert memory.get_thread_by_id("mine") is None
        assert memory.storage.list_messages_by_id(["shared-id"])[0].thread_id == "t-x"
