"""The framework bridges on the async API: on a native async store (PostgreSQL through psycopg's
async pool) their async methods make no worker-thread call, and one event loop serves many
concurrent sessions; concurrent pops of one session return distinct items."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mastra_memory import AsyncMemory, Memory
from mastra_memory.errors import ConfigurationError, ResourceMismatchError
from mastra_memory.integrations.openai_agents import MastraSession
from tests.servers import PG, drop_pg_schema, unique, url_or_skip


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL naming a schema of its own (dropped afterwards)."""
    url = url_or_skip(PG)
    schema = unique("mmbridge")
    try:
        yield f"{url}?schema={schema}"
    finally:
        drop_pg_schema(url, schema)


@pytest.fixture
def worker_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``asyncio.to_thread`` call made while the test runs (the function's name)."""
    calls: list[str] = []
    real = asyncio.to_thread

    async def counting(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__qualname__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    return calls


def test_every_bridge_runs_on_the_event_loop_with_a_native_store(pg_url: str, worker_threads: list[str]) -> None:
    llama = pytest.importorskip("mastra_memory.integrations.llama_index", reason="needs the [llama-index] extra")
    langgraph = pytest.importorskip("mastra_memory.integrations.langgraph", reason="needs the [langgraph] extra")
    pai = pytest.importorskip("mastra_memory.integrations.pydantic_ai", reason="needs the [pydantic-ai] extra")
    from langchain_core.messages import AIMessage, HumanMessage
    from llama_index.core.llms import ChatMessage
    from pydantic_ai.messages import ModelRequest, UserPromptPart

    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    async def main() -> None:
        async with AsyncMemory(pg_url) as memory:
            session = MastraSession(memory, "s1", "ana")
            await session.add_items([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
            assert [i["content"] for i in await session.get_items()] == ["hi", "hello"]
            assert (await session.pop_item()) == {"role": "assistant", "content": "hello"}
            await session.clear_session()
            assert await session.get_items() == []

            chat_store = llama.MastraChatStore(memory=memory, resource_id="ana")
            await chat_store.aset_messages("c1", [ChatMessage(role="user", content="a")])
            await chat_store.async_add_message("c1", ChatMessage(role="assistant", content="b"))
            await chat_store.aset_messages("c1", [ChatMessage(role="user", content="x")])  # one transaction
            assert [m.content for m in await chat_store.aget_messages("c1")] == ["x"]
            last = await chat_store.adelete_last_message("c1")
            assert last is not None and last.content == "x"
            assert "c1" in await chat_store.aget_keys()

            history = pai.MastraMessageHistory(memory, "p1", "ana")
            await history.asave([ModelRequest(parts=[UserPromptPart(content="2+3?")])])
            assert (await history.amessages())[0].parts[0].content == "2+3?"

            lc = MastraChatMessageHistory(memory, "l1", "ana")
            await lc.aadd_messages([HumanMessage("hey"), AIMessage("ho")])
            assert [m.content for m in await lc.aget_messages()] == ["hey", "ho"]
            await lc.aclear()
            assert await lc.aget_messages() == []

            store = langgraph.MastraStore(memory)
            await store.aput(("users", "ana"), "prefs", {"color": "blue"}, ttl=5)
            item = await store.aget(("users", "ana"), "prefs")
            assert item is not None and item.value == {"color": "blue"}
            assert [i.key for i in await store.asearch(("users",))] == ["prefs"]
            assert await store.alist_namespaces() == [("users", "ana")]
            await store.adelete(("users", "ana"), "prefs")
            assert await store.aget(("users", "ana"), "prefs") is None
            with pytest.raises(ConfigurationError, match="abatch"):
                store.get(("users", "ana"), "prefs")  # the sync face needs sync storage

    asyncio.run(main())
    assert worker_threads == [], f"worker-thread calls on a native async store: {worker_threads}"


def test_many_concurrent_sessions_in_one_event_loop(pg_url: str, worker_threads: list[str]) -> None:
    sessions, turns = 40, 3

    async def main() -> None:
        async with AsyncMemory(pg_url) as memory:

            async def converse(n: int) -> list[str]:
                session = MastraSession(memory, f"t-{n}", f"user-{n}")
                for turn in range(turns):
                    await session.add_items([{"role": "user", "content": f"{n}:{turn}"}])
                    await asyncio.sleep(0)
                popped = await session.pop_item()
                assert popped is not None and popped["content"] == f"{n}:{turns - 1}"
                return [i["content"] for i in await session.get_items()]

            results = await asyncio.gather(*(converse(n) for n in range(sessions)))
            for n, contents in enumerate(results):
                assert contents == [f"{n}:{turn}" for turn in range(turns - 1)]
            with pytest.raises(ResourceMismatchError):
                await MastraSession(memory, "t-0", "mallory").get_items()

    asyncio.run(main())
    assert worker_threads == []


def test_concurrent_pops_of_one_session_return_distinct_items(pg_url: str) -> None:
    n = 24

    async def main() -> None:
        async with AsyncMemory(pg_url) as memory:
            session = MastraSession(memory, "shared", "ana")
            await session.add_items([{"role": "user", "content": f"item {i}"} for i in range(n)])
            popped = await asyncio.gather(*(session.pop_item() for _ in range(n + 4)))
            contents = [p["content"] for p in popped if p is not None]
            assert sorted(contents) == sorted(f"item {i}" for i in range(n)), "an item popped twice or lost"
            assert popped.count(None) == 4
            assert await session.get_items() == []

    asyncio.run(main())


def test_constructors_take_a_memory_an_async_memory_or_a_url(tmp_path: Any, worker_threads: list[str]) -> None:
    url = f"file:{tmp_path}/faces.db"
    with Memory(url) as memory:
        sync_session = MastraSession(memory, "t", "ana")
        sync_session.add_items_sync([{"role": "user", "content": "from sync"}])
        assert worker_threads == []
        assert asyncio.run(sync_session.get_items()) == [
            {"role": "user", "content": "from sync"}
        ]  # async face, same store
        assert worker_threads, "the embedded libSQL driver blocks: its calls run in worker threads (and are counted)"
    url_session = MastraSession(url, "t", "ana")
    assert url_session.get_items_sync() == [{"role": "user", "content": "from sync"}]
    assert asyncio.run(url_session.pop_item()) == {"role": "user", "content": "from sync"}

    async def on_async_memory() -> None:
        async with AsyncMemory(url) as amemory:
            session = MastraSession(amemory, "t", "ana")
            assert await session.get_items() == []
            with pytest.raises(ConfigurationError, match="get_items"):
                session.get_items_sync()

    asyncio.run(on_async_memory())
    with pytest.raises(ConfigurationError):
        MastraSession(42, "t", "ana")
