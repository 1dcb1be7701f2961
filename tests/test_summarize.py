"""``Memory.summarize_thread`` and ``summarize_conversation`` with the scripted model, on a libSQL
file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mastra_memory import Memory
from mastra_memory.errors import ModelError, ThreadNotFoundError, ValidationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.summarize import summarize_conversation
from mastra_memory.testing import ScriptedModel
from mastra_memory.tokens import default_counter
from mastra_memory.types import Message, Thread
from tests.servers import FACTORIES

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REPLY = "<observations>\nDate: Mar 1, 2025\n* 🔴 (09:00) User likes green tea\n</observations>"


@pytest.fixture(params=["libsql-file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


def seed(store: MemoryStorage, n: int) -> list[Message]:
    store.save_thread(Thread(id="t", resource_id="u"))
    return store.save_messages(
        [
            Message.user(f"note {i} about tea", "t", id=f"n{i:03d}", created_at=T0 + timedelta(minutes=i))
            for i in range(n)
        ]
    )


def transcript(model: ScriptedModel) -> str:
    return "\n".join(str(m["content"]) for m in model.calls[-1][0])


def test_summarize_thread_reads_newest_first_within_bounds_and_writes_nothing(store: MemoryStorage) -> None:
    seed(store, 250)
    memory = Memory(store)
    before = store.list_messages("t", per_page=False).total
    model = ScriptedModel(default=REPLY)
    assert memory.summarize_thread("t", model=model) == "Date: Mar 1, 2025\n* 🔴 (09:00) User likes green tea"
    assert "note 0 about tea" in transcript(model) and "note 249 about tea" in transcript(model)

    memory.summarize_thread("t", model=model, last_messages=3, instructions="For the tea shop owner.")
    seen = transcript(model)
    assert "note 247" in seen and "note 249" in seen and "note 246" not in seen
    assert "For the tea shop owner." in seen

    per = default_counter().count_message(Message.user("note 100 about tea", "t"))
    memory.summarize_thread("t", model=model, max_input_tokens=int(per * 5.5))
    seen = transcript(model)
    assert "note 249" in seen and "note 245" in seen and "note 244" not in seen
    memory.summarize_thread("t", model=model, max_input_tokens=1)  # the newest is always included
    assert "note 249" in transcript(model) and "note 248" not in transcript(model)

    assert store.list_messages("t", per_page=False).total == before
    assert store.get_observational_memory("t", "u") is None


def test_summarize_errors(store: MemoryStorage) -> None:
    seed(store, 2)
    memory = Memory(store)
    with pytest.raises(ThreadNotFoundError):
        memory.summarize_thread("missing", model=ScriptedModel(default=REPLY))
    with pytest.raises(ValidationError):
        memory.summarize_thread("t", model=ScriptedModel(default=REPLY), last_messages=0)
    with pytest.raises(ValidationError):
        memory.summarize_thread("t", model=ScriptedModel(default=REPLY), max_input_tokens=0)
    with pytest.raises(ModelError):
        memory.summarize_thread("t", model=ScriptedModel([ModelError("down"), ModelError("down")]))
    from mastra_memory.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        memory.summarize_thread("t")  # no model and no observational-memory model


def test_summarize_conversation_standalone() -> None:
    model = ScriptedModel([REPLY])
    messages = [Message.user("I like green tea", "x", created_at=T0), Message.assistant("Noted!", "x", created_at=T0)]
    assert summarize_conversation(messages, model) == "Date: Mar 1, 2025\n* 🔴 (09:00) User likes green tea"
    assert summarize_conversation([], model) == "" and len(model.calls) == 1
