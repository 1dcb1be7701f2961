"""Memory facade on a real libSQL file: threads, recall, clone utilities, ownership, bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mastra_memory import (
    ConfigurationError,
    Memory,
    Message,
    ResourceMismatchError,
    ThreadNotFoundError,
    ValidationError,
    from_chat_messages,
)
from storage_adapters.libsql import LibSQLStore

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"file:{tmp_path}/memory.db"


@pytest.fixture
def memory(db: str) -> Memory:
    mem = Memory(storage=LibSQLStore(db))
    yield mem
    mem.close()


def _say(memory: Memory, thread_id: str, n: int, start: int = 0) -> list[Message]:
    return memory.save_messages(
        [Message.user(f"turn {i}", thread_id, created_at=T0 + timedelta(seconds=i)) for i in range(start, start + n)]
    )


def test_default_memory_uses_libsql_file_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mem = Memory()
    mem.create_thread("user-ana", "t-1", title="first")
    mem.close()
    assert (tmp_path / "mastra.db").exists()
    again = Memory()
    assert again.get_thread_by_id("t-1").title == "first"  # type: ignore[union-attr]
    assert again.config.last_messages == 10
    again.close()


def test_recall_returns_last_messages_in_order(memory: Memory) -> None:
    memory.create_thread("r1", "t1")
    _say(memory, "t1", 25)
    res = memory.recall("t1")
    assert [m.text for m in res.messages] == [f"turn {i}" for i in range(15, 25)]
    assert res.total == 25 and res.has_more
    assert [m.text for m in memory.recall("t1", per_page=3, page=1).messages] == ["turn 19", "turn 20", "turn 21"]
    assert len(memory.recall("t1", per_page=False).messages) == 25
    assert memory.recall("missing").messages == []


def test_last_messages_option_and_disable(db: str) -> None:
    mem = Memory(storage=LibSQLStore(db), options={"last_messages": 3})
    mem.create_thread("r1", "t1")
    _say(mem, "t1", 6)
    assert [m.text for m in mem.recall("t1").messages] == ["turn 3", "turn 4", "turn 5"]
    assert mem.recall("t1", memory_options={"last_messages": False}).messages == []
    off = Memory(storage=LibSQLStore(db), options={"last_messages": False})
    assert off.recall("t1").messages == []
    assert len(off.recall("t1", per_page=2).messages) == 2


def test_thread_lifecycle(memory: Memory) -> None:
    t = memory.create_thread("r1", title="Trip", metadata={"topic": "travel"})
    assert memory.get_thread_by_id(t.id).title == "Trip"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        memory.create_thread("r1", t.id)
    updated = memory.update_thread(t.id, title="Trip 2", metadata={"stage": 2})
    assert updated.metadata == {"topic": "travel", "stage": 2}
    assert memory.list_threads(resource_id="r1", metadata={"topic": "travel"}).total == 1
    _say(memory, t.id, 3)
    memory.delete_thread(t.id)
    assert memory.get_thread_by_id(t.id) is None
    assert memory.recall(t.id).messages == []


def test_resource_ownership_enforced(memory: Memory) -> None:
    memory.create_thread("alice", "t1")
    _say(memory, "t1", 2)
    with pytest.raises(ResourceMismatchError):
        memory.recall("t1", resource_id="bob")
    with pytest.raises(ResourceMismatchError):
        memory.get_thread_by_id("t1", resource_id="bob")
    with pytest.raises(ResourceMismatchError):
        memory.save_messages([Message.user("hi", "t1", resource_id="bob")])
    assert memory.recall("t1", resource_id="alice").total == 2


def test_bad_input_is_typed_and_writes_nothing(memory: Memory) -> None:
    memory.create_thread("r1", "t1")
    with pytest.raises(ThreadNotFoundError):
        memory.save_messages([Message.user("hi", "t1"), Message.user("lost", "nope")])
    with pytest.raises(ValidationError):
        memory.create_thread("r1", "bad\nid")
    with pytest.raises(ValidationError):
        memory.create_thread("r1", metadata={"x": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        memory.save_messages([Message.user("ok", "t1"), Message.user("", "t1")])
    with pytest.raises(ValidationError):
        memory.save_messages([Message.user("x" * (5 * 1024 * 1024), "t1")])
    with pytest.raises(ThreadNotFoundError):
        memory.update_thread("nope", title="x")
    assert memory.recall("t1").total == 0
    assert memory.list_threads().total == 1


def test_max_message_bytes_is_configurable(db: str) -> None:
    mem = Memory(storage=LibSQLStore(db), options={"max_message_bytes": 1000})
    mem.create_thread("r1", "t1")
    with pytest.raises(ValidationError):
        mem.save_messages([Message.user("x" * 2000, "t1")])
    mem.save_messages([Message.user("x" * 500, "t1")])


def test_invalid_options_raise_configuration_error(db: str) -> None:
    with pytest.raises(ConfigurationError):
        Memory(storage=LibSQLStore(db), options={"last_messages": -1})
    with pytest.raises(ConfigurationError):
        Memory(storage=LibSQLStore(db), options={"no_such_option": 1})
    with pytest.raises(ConfigurationError):
        Memory(storage=LibSQLStore(db), options={"semantic_recall": True})


def test_clone_utilities(memory: Memory) -> None:
    memory.create_thread("r1", "src", title="Plan", metadata={"topic": "trip"})
    msgs = _say(memory, "src", 10)
    result = memory.clone_thread("src", title="what-if")
    clone = result.thread
    assert clone.title == "what-if" and clone.resource_id == "r1"
    assert clone.metadata["topic"] == "trip"
    assert clone.metadata["clone"]["sourceThreadId"] == "src"
    assert clone.metadata["clone"]["lastMessageId"] == result.cloned_messages[-1].id
    assert clone.metadata["clone"]["clonedAt"].endswith("Z")
    assert [m.text for m in memory.recall(clone.id, per_page=False).messages] == [m.text for m in msgs]
    assert Memory.is_clone(clone) and not Memory.is_clone(memory.get_thread_by_id("src"))
    assert memory.get_source_thread(clone.id).id == "src"  # type: ignore[union-attr]
    grandchild = memory.clone_thread(clone.id, new_thread_id="gc", message_limit=2, resource_id="r1").thread
    assert [t.id for t in memory.get_clone_history("gc")] == ["src", clone.id, "gc"]
    assert [t.id for t in memory.list_clones("src")] == [clone.id]
    assert len(memory.recall(grandchild.id).messages) == 2
    other = memory.clone_thread("src", resource_id="r2", message_filter={"message_ids": [msgs[0].id]})
    assert other.thread.resource_id == "r2" and [m.text for m in other.cloned_messages] == ["turn 0"]
    with pytest.raises(ValidationError):
        memory.clone_thread("src", message_filter={"bogus": 1})
    with pytest.raises(ThreadNotFoundError):
        memory.clone_thread("nope")
    memory.save_messages([Message.user("only in source", "src")])
    assert memory.recall(clone.id).total == 10


def test_working_memory_roundtrip(db: str) -> None:
    mem = Memory(storage=LibSQLStore(db), options={"working_memory": {"enabled": True}})
    mem.create_thread("r1", "t1")
    assert mem.get_working_memory("t1", "r1") is None
    mem.update_working_memory("t1", "r1", "# User\n- Name: Ana")
    assert mem.get_working_memory("t1", "r1") == "# User\n- Name: Ana"
    mem.create_thread("r1", "t2")
    assert mem.get_working_memory("t2", "r1") == "# User\n- Name: Ana"  # resource scope is shared
    thread_scoped = Memory(storage=LibSQLStore(db), options={"working_memory": {"enabled": True, "scope": "thread"}})
    thread_scoped.update_working_memory("t1", "r1", "thread notes")
    assert thread_scoped.get_working_memory("t1") == "thread notes"
    assert thread_scoped.get_working_memory("t2") is None
    with pytest.raises(ConfigurationError):
        Memory(storage=LibSQLStore(db)).update_working_memory("t1", "r1", "x")


def test_read_only_saves_nothing(db: str) -> None:
    mem = Memory(storage=LibSQLStore(db), options={"read_only": True})
    mem.create_thread("r1", "t1")
    assert mem.save_messages([Message.user("hi", "t1")]) == []
    assert mem.recall("t1").total == 0


def test_second_process_sees_what_first_saved(db: str, tmp_path: Path) -> None:
    memory = Memory(storage=LibSQLStore(db))
    memory.create_thread("r1", "shared")
    _say(memory, "shared", 3)
    memory.close()
    script = textwrap.dedent(
        f"""
        from mastra_memory import Memory, Message
        from storage_adapters.libsql import LibSQLStore
        m = Memory(storage=LibSQLStore({db!r}))
        seen = [x.text for x in m.recall("shared").messages]
        print("|".join(seen))
        m.save_messages([Message.user("from the child", "shared")])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    assert out.stdout.strip() == "turn 0|turn 1|turn 2"
    again = Memory(storage=LibSQLStore(db))
    assert again.recall("shared").messages[-1].text == "from the child"


def test_appends_keep_order_after_a_spaced_batch(memory: Memory) -> None:
    """A batch saved "now" is spaced 1 ms apart into the future; a message created right after
    must still sort after the batch's tail (auto-stamped messages append after the newest)."""
    memory.create_thread("r1", "t1")
    memory.save_messages([Message.user(f"batch {i}", "t1") for i in range(50)])
    memory.save_messages([Message.user("right after", "t1")])
    from_chat = from_chat_messages([{"role": "user", "content": "then chat"}], "t1")
    memory.save_messages(from_chat)
    texts = [m.text for m in memory.recall("t1", per_page=False).messages]
    assert texts == [f"batch {i}" for i in range(50)] + ["right after", "then chat"]
    old = Message.user("imported", "t1", created_at=T0)  # explicit times are respected
    memory.save_messages([old])
    assert memory.recall("t1", per_page=False).messages[0].text == "imported"
