"""A turn loads each input once: storage calls of one ``Agent.generate`` turn, counted.

A spy over a real libSQL file store counts every call of a public :class:`MemoryStorage`
method and of every ``_`` hook (a public method calls its hook, so both show up); the turn runs
with a scripted model, working memory and semantic recall on (a real in-memory vector store and
the deterministic hashing embedder). The counts printed here are the numbers of the report
(``pytest -s tests/test_turn_loads.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory
from mastra_memory.agent import Agent
from mastra_memory.config import MemoryConfig
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.testing.embedders import HashingEmbedder
from mastra_memory.types import Message
from storage_adapters.inmemory_vector import InMemoryVector
from storage_adapters.libsql import LibSQLStore

_COUNTED = frozenset(n for n in dir(MemoryStorage) if not n.startswith("__") and callable(getattr(MemoryStorage, n)))


class SpyStore(LibSQLStore):
    """A libSQL store that counts calls of the storage contract's methods and hooks while
    :attr:`recording` is on (attribute look-ups of a callable, i.e. calls)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls: Counter[str] = Counter()
        self.recording = False

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _COUNTED and object.__getattribute__(self, "recording") and callable(value):
            object.__getattribute__(self, "calls")[name] += 1
        return value

    @property
    def public(self) -> dict[str, int]:
        """Calls of public methods (what the memory layer asked for)."""
        return {k: v for k, v in sorted(self.calls.items()) if not k.startswith("_")}

    @property
    def hooks(self) -> dict[str, int]:
        """Calls of ``_`` hooks (what reached the backend)."""
        return {k: v for k, v in sorted(self.calls.items()) if k.startswith("_")}


@pytest.fixture
def merges(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every ``MemoryConfig.merged`` call (each ``Memory.resolved_config`` makes one)."""
    seen: list[object] = []
    original = MemoryConfig.merged

    def merged(self: MemoryConfig, overrides: Any) -> MemoryConfig:
        seen.append(overrides)
        return original(self, overrides)

    monkeypatch.setattr(MemoryConfig, "merged", merged)
    yield seen


OPTIONS: dict[str, Any] = {
    "last_messages": 10,
    "working_memory": {"enabled": True},
    "semantic_recall": {"top_k": 2, "message_range": 1},
}


def _memory(tmp_path: Path, options: dict[str, Any]) -> tuple[Memory, SpyStore]:
    store = SpyStore(f"file:{tmp_path / 'turn.db'}")
    memory = Memory(store, vector=InMemoryVector(), embedder=HashingEmbedder(), options=options)
    return memory, store


def _seed(memory: Memory) -> None:
    """An existing thread with history, working memory and embedded messages."""
    memory.create_thread("ana", "t1", title="tea")
    memory.save_messages(
        [
            Message.user("I like green tea in the morning", "t1"),
            Message.assistant("Noted: green tea.", "t1"),
            Message.user("and I live in Lisbon", "t1"),
            Message.assistant("Lisbon, got it.", "t1"),
        ]
    )
    memory.update_working_memory("t1", "ana", "# User\n- Name: Ana\n")


def _turn(memory: Memory, store: SpyStore, merges: list[object], thread: str, text: str) -> tuple[Agent, Any]:
    model = ScriptedModel(default="ok")
    agent = Agent("a", "Be brief.", model, memory=memory)
    store.calls.clear()
    merges.clear()
    store.recording = True
    try:
        result = agent.generate(text, thread=thread, resource="ana")
    finally:
        store.recording = False
    print(f"\n{thread}: {sum(store.public.values())} storage calls {store.public}; hooks {store.hooks}")
    return model, result


def test_one_turn_on_an_existing_thread_reads_the_thread_once(tmp_path: Path, merges: list[object]) -> None:
    memory, store = _memory(tmp_path, OPTIONS)
    with memory:
        _seed(memory)
        model, result = _turn(memory, store, merges, "t1", "what tea do I like?")

        assert store.calls["_get_thread"] == 1  # the row is read once, by get_or_create_thread
        assert store.calls["get_thread_by_id"] == 0
        assert len(merges) == 1  # the configuration is resolved once
        assert store.public == {
            "get_or_create_thread": 1,  # thread + ownership
            "get_resource_by_id": 1,  # resource-scope working memory
            "list_messages": 1,  # history page + semantic windows
            "save_messages": 1,  # the turn's messages, one transaction
            "search_messages": 1,  # hybrid recall's keyword half, in the database
        }
        assert sum(store.hooks.values()) <= 8

        # the model saw what was loaded: working memory, the history, the new input
        chat = model.calls[0][0]
        assert "Name: Ana" in chat[1]["content"]
        texts = [m["content"] for m in chat[2:]]
        assert texts[0] == "I like green tea in the morning" and texts[-1] == "what tea do I like?"
        assert [m.role for m in result.messages] == ["user", "assistant"]
        # saved and embedded with the previous message as context, as before
        assert memory.list_messages("t1").total == 6
        hits = memory.recall("t1", "ana", vector_search_string="what tea do I like", per_page=0).semantic_hits
        assert hits and hits[0].message_id in {m.id for m in result.messages}


def test_thread_scope_working_memory_comes_from_the_loaded_thread(tmp_path: Path, merges: list[object]) -> None:
    memory, store = _memory(tmp_path, {**OPTIONS, "working_memory": {"enabled": True, "scope": "thread"}})
    with memory:
        _seed(memory)
        model, _ = _turn(memory, store, merges, "t1", "what tea do I like?")

        assert store.calls["_get_thread"] == 1
        assert store.calls["_get_resource"] == 0
        assert len(merges) == 1
        assert store.public == {
            "get_or_create_thread": 1,
            "list_messages": 1,
            "save_messages": 1,
            "search_messages": 1,
        }
        assert "Name: Ana" in model.calls[0][0][1]["content"]


def test_one_turn_on_a_new_thread(tmp_path: Path, merges: list[object]) -> None:
    memory, store = _memory(tmp_path, OPTIONS)
    with memory:
        _seed(memory)
        model, _ = _turn(memory, store, merges, "t2", "where do I live?")

        assert store.calls["_get_thread"] == 1
        assert store.calls["_create_thread"] == 1
        assert len(merges) == 1
        # a new thread has no history: the only read of messages is the other thread's hit
        assert store.public == {
            "get_or_create_thread": 1,
            "get_resource_by_id": 1,
            "list_messages": 1,
            "save_messages": 1,
            "search_messages": 1,
        }
        system = [m["content"] for m in model.calls[0][0] if m["role"] == "system"]
        assert any("Lisbon" in s and "remembered_from_other_conversation" in s for s in system)
        assert memory.list_messages("t2").total == 2


def test_one_turn_with_observational_memory(tmp_path: Path, merges: list[object]) -> None:
    observer = ScriptedModel(default="<observations>\n* 🔴 Ana likes green tea\n</observations>")
    memory, store = _memory(tmp_path, {**OPTIONS, "observational_memory": {"model": observer}})
    with memory:
        _seed(memory)
        model, _ = _turn(memory, store, merges, "t1", "what tea do I like?")
        memory.settled()

        assert store.calls["_get_thread"] == 1
        assert len(merges) == 1
        assert store.public == {
            "get_or_create_thread": 1,
            "get_resource_by_id": 1,
            "get_observational_memory": 1,  # the head record
            "list_message_refs": 1,  # the unobserved tail
            "list_messages_by_id": 1,  # its content (not in this process's cache yet)
            "list_messages": 1,  # semantic windows only: the tail replaces last-N history
            "save_messages": 1,
            "search_messages": 1,
        }
        # the unobserved messages are the history (no observation yet: under the threshold)
        texts = [m["content"] for m in model.calls[0][0] if m["role"] != "system"]
        assert texts[0] == "I like green tea in the morning"


def test_observational_memory_on_a_new_thread_with_semantic_recall(tmp_path: Path, merges: list[object]) -> None:
    """A new thread with observational memory and resource-scope recall (the hits are in
    another thread) works on libSQL and reads the thread once."""
    observer = ScriptedModel(default="<observations>\n* 🔴 Ana lives in Lisbon\n</observations>")
    memory, store = _memory(tmp_path, {**OPTIONS, "observational_memory": {"model": observer}})
    with memory:
        _seed(memory)
        model, _ = _turn(memory, store, merges, "t3", "where do I live?")
        memory.settled()

        assert store.calls["_get_thread"] == 1
        assert len(merges) == 1
        assert sum(store.public.values()) <= 7  # with hybrid recall's keyword search
        system = [m["content"] for m in model.calls[0][0] if m["role"] == "system"]
        assert any("Lisbon" in s for s in system)


def test_the_working_memory_tool_uses_the_loaded_thread(tmp_path: Path, merges: list[object]) -> None:
    memory, store = _memory(tmp_path, {**OPTIONS, "working_memory": {"enabled": True, "scope": "thread"}})
    with memory:
        _seed(memory)
        store.calls.clear()
        merges.clear()
        store.recording = True
        try:
            model = ScriptedModel(
                [
                    ScriptedModel.tool_call("update_working_memory", {"memory": "# User\n- Name: Ana\n- Tea: green\n"}),
                    "ok",
                ]
            )
            Agent("a", "", model, memory=memory).generate("I drink green tea", thread="t1", resource="ana")
        finally:
            store.recording = False

        assert store.calls["_get_thread"] == 1  # the tool did not read the thread again
        assert len(merges) == 1
        assert memory.get_working_memory("t1", "ana") == "# User\n- Name: Ana\n- Tea: green\n"


def test_new_messages_are_embedded_with_the_previous_message_as_context(tmp_path: Path, merges: list[object]) -> None:
    """The context text of an embedded message comes from the loaded history (no read), and
    is the one a read would give: the message before it in the thread."""
    memory, store = _memory(tmp_path, OPTIONS)
    with memory:
        _seed(memory)
        _, result = _turn(memory, store, merges, "t1", "what tea do I like?")
        user = result.messages[0]
        sr = memory.config.semantic_recall
        assert sr is not False and memory._semantic is not None
        expected = HashingEmbedder().embed_one("what tea do I like?\nLisbon, got it.")
        index = memory._semantic.index_name(sr)
        hit = memory.vector.query(index, expected, top_k=1, filter={"message_id": user.id})
        assert hit and hit[0].score > 0.999


def test_a_subclass_overriding_load_turn_is_used_by_the_agent(tmp_path: Path) -> None:
    class Tagged(Memory):
        def load_turn(self, *args: Any, **kwargs: Any) -> Any:
            ctx = super().load_turn(*args, **kwargs)
            ctx.system_messages.append("tagged")
            return ctx

    with Tagged(LibSQLStore(f"file:{tmp_path / 'sub.db'}")) as memory:
        model = ScriptedModel(default="ok")
        Agent("a", "", model, memory=memory).generate("hi", thread="t", resource="r")
        assert {"role": "system", "content": "tagged"} in model.calls[0][0]
        assert memory.prepare_turn("t", "r", []).system_messages == ["tagged"]
