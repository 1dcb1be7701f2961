"""MastraChatStore against the real llama-index-core package."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core", reason="needs the [llama-index] extra")

from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.storage.chat_store.base import BaseChatStore

from mastra_memory import Memory, ResourceMismatchError
from mastra_memory.errors import ValidationError
from mastra_memory.integrations.llama_index import MastraChatStore
from mastra_memory.types import Message, ToolInvocationPart
from storage_adapters.libsql import LibSQLStore
from tests.servers import FACTORIES


@pytest.fixture(params=["libsql-file", "postgres", "mongodb"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memory]:
    with FACTORIES[request.param](tmp_path) as store:
        yield Memory(storage=store)


def test_chat_store_protocol(memory: Memory) -> None:
    store = MastraChatStore(memory=memory, resource_id="ana")
    assert isinstance(store, BaseChatStore)
    assert store.get_messages("t1") == [] and store.delete_last_message("t1") is None
    store.add_message("t1", ChatMessage(role=MessageRole.USER, content="Hi, I am Ana."))
    store.add_message("t1", ChatMessage(role=MessageRole.ASSISTANT, content="Hello Ana."))
    store.add_message("t1", ChatMessage(role=MessageRole.USER, content="first"), idx=0)
    assert [m.content for m in store.get_messages("t1")] == ["first", "Hi, I am Ana.", "Hello Ana."]
    assert (store.delete_message("t1", 0) or ChatMessage()).content == "first"
    assert store.delete_message("t1", 7) is None
    assert (store.delete_last_message("t1") or ChatMessage()).content == "Hello Ana."
    store.set_messages("t2", [ChatMessage(role="user", content="a"), ChatMessage(role="assistant", content="b")])
    assert sorted(store.get_keys()) == ["t1", "t2"]
    assert [m.content for m in store.delete_messages("t2") or []] == ["a", "b"]
    assert store.get_messages("t2") == [] and store.delete_messages("t2") is None
    # the other surfaces see ordinary messages
    assert [m.text for m in memory.list_messages("t1", "ana", per_page=False).messages] == ["Hi, I am Ana."]


def test_tool_calls_round_trip_and_are_stored_as_invocations(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/li.db") as db:
        memory = Memory(storage=db)
        store = MastraChatStore(memory=memory, resource_id="ana")
        call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
        messages = [
            ChatMessage(role="user", content="1+1?"),
            ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]}),
            ChatMessage(role="tool", content="2", additional_kwargs={"tool_call_id": "c1", "name": "add"}),
            ChatMessage(role="assistant", content="It is 2."),
        ]
        store.set_messages("t", messages)
        assert store.get_messages("t") == messages
        stored = memory.list_messages("t", "ana", per_page=False).messages
        assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
        part = stored[1].content.parts[0]
        assert isinstance(part, ToolInvocationPart) and (part.tool_name, part.args) == ("add", {"a": 1})
        # messages written by another surface convert too
        memory.save_messages([Message.user("from the HTTP API", "t", resource_id="ana")])
        assert store.get_messages("t")[-1] == ChatMessage(role="user", content="from the HTTP API")


def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/bad.db") as db:
        memory = Memory(storage=db)
        store = MastraChatStore(memory=memory, resource_id="ana")
        store.set_messages("t", [ChatMessage(role="user", content="keep me")])
        with pytest.raises(ValidationError):
            store.set_messages("t", [ChatMessage(role="user", content="x"), ChatMessage(role="system", content="y")])
        assert [m.content for m in store.get_messages("t")] == ["keep me"]
        with pytest.raises(ResourceMismatchError):
            MastraChatStore(memory=memory, resource_id="mallory").add_message("t", ChatMessage(content="hi"))
        assert [m.content for m in store.get_messages("t")] == ["keep me"]


def test_chat_memory_buffer_and_async_methods(tmp_path: Path) -> None:
    db = f"file:{tmp_path}/buf.db"
    with LibSQLStore(db) as storage:
        store = MastraChatStore(memory=Memory(storage=storage), resource_id="ana")
        buffer = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="t", token_limit=10_000)
        buffer.put(ChatMessage(role="user", content="My name is Ana."))
        buffer.put(ChatMessage(role="assistant", content="Nice to meet you, Ana."))
    with LibSQLStore(db) as storage:  # a restart: the buffer reads the thread back
        store = MastraChatStore(memory=Memory(storage=storage), resource_id="ana")
        buffer = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="t", token_limit=10_000)
        assert [m.content for m in buffer.get()] == ["My name is Ana.", "Nice to meet you, Ana."]

        async def run() -> None:
            await store.async_add_message("t", ChatMessage(role="user", content="async"))
            assert [m.content for m in await store.aget_messages("t")][-1] == "async"
            assert (await store.adelete_last_message("t") or ChatMessage()).content == "async"
            assert await store.aget_keys() == ["t"]

        asyncio.run(run())
