"""AsyncMemory and Agent.agenerate/astream: the async face of the facade, on real stores.

The sync face (Memory, Agent.generate/stream) is generated from the same source
(scripts/gen_sync.py), so these tests check that the async face behaves like the sync one and that
it really is async: concurrent turns share one event loop and never block it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Agent, AsyncMemory, Memory
from mastra_memory.errors import ConfigurationError, ResourceMismatchError, ThreadNotFoundError, ValidationError
from mastra_memory.storage import open_storage
from mastra_memory.testing import ScriptedModel
from mastra_memory.titles import ThreadTitleEvent
from mastra_memory.types import Message
from tests import servers
from tests.test_races import _backend_url

BACKENDS = ["libsql-file", "postgres"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _backend_url(request.param, tmp_path) as u:
        yield u


def _open_async(url: str) -> Any:
    """The async store for ``url``: native where the backend has one, else worker threads."""
    try:
        from mastra_memory.storage import open_async_storage
    except ImportError:  # pragma: no cover - before the async stores exist
        return open_storage(url)
    return open_async_storage(url)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_async_memory_threads_messages_and_recall(url: str) -> None:
    async def main() -> None:
        async with AsyncMemory(storage=_open_async(url), options={"last_messages": 3}) as memory:
            thread = await memory.create_thread("u1", thread_id="t1", title="Trip", metadata={"a": 1})
            assert (thread.id, thread.resource_id, thread.title) == ("t1", "u1", "Trip")
            got, created = await memory.get_or_create_thread("t1", "u1")
            assert (got.id, created) == ("t1", False)
            with pytest.raises(ResourceMismatchError):
                await memory.get_or_create_thread("t1", "intruder")
            await memory.save_messages([Message.user(f"m{i}", "t1", resource_id="u1") for i in range(5)])
            recalled = await memory.recall("t1", "u1")
            assert [m.text for m in recalled.messages] == ["m2", "m3", "m4"]
            page = await memory.list_messages("t1", per_page=False)
            assert page.total == 5
            assert (await memory.update_thread("t1", title="Paris")).title == "Paris"
            clone = await memory.clone_thread("t1", new_thread_id="t2")
            assert len(clone.cloned_messages) == 5 and AsyncMemory.is_clone(clone.thread)
            assert [t.id for t in await memory.get_clone_history("t2")] == ["t1", "t2"]
            with pytest.raises(ThreadNotFoundError):
                await memory.update_thread("missing", title="x")
            with pytest.raises(ValidationError):
                await memory.create_thread("u1", thread_id="bad\x00id")
            counts = await memory.delete_resource("u1")
            assert counts["threads"] == 2
            assert await memory.get_thread_by_id("t1") is None

    run(main())


def test_get_or_create_races_between_tasks_create_once_and_keep_the_owner(url: str) -> None:
    async def main() -> None:
        async with AsyncMemory(storage=_open_async(url)) as memory:

            async def claim(i: int) -> str:
                try:
                    thread, _ = await memory.get_or_create_thread(f"t{i % 10}", f"r{i % 3}")
                    return thread.resource_id
                except ResourceMismatchError as exc:
                    return f"refused:{exc.expected_resource_id}"

            results = await asyncio.gather(*(claim(i) for i in range(120)))
            owners = {}
            for i, result in enumerate(results):
                owner = result.removeprefix("refused:")
                assert owners.setdefault(i % 10, owner) == owner  # every task saw one owner per id
            page = await memory.list_threads(per_page=False)
            assert page.total == 10
            assert {t.id: t.resource_id for t in page.threads} == {f"t{k}": v for k, v in owners.items()}

    run(main())


def test_working_memory_merges_from_concurrent_tasks_all_survive(url: str) -> None:
    options = {"working_memory": {"enabled": True, "scope": "resource", "schema": {"type": "object"}}}

    async def main() -> None:
        async with AsyncMemory(storage=_open_async(url), options=options) as memory:
            await memory.create_thread("u1", thread_id="t1")
            await asyncio.gather(*(memory.merge_working_memory("t1", "u1", {f"k{i}": i}) for i in range(30)))
            import json

            stored = json.loads(await memory.get_working_memory("t1", "u1") or "{}")
            assert stored == {f"k{i}": i for i in range(30)}

    run(main())


def test_agent_agenerate_remembers_and_matches_generate(tmp_path: Path) -> None:
    replies = ["Hi Ada!", "Your name is Ada."]

    async def main() -> list[str]:
        async with AsyncMemory(storage=open_storage(f"file:{tmp_path}/a.db")) as memory:
            agent = Agent("a", "Be brief.", ScriptedModel(list(replies)), memory=memory)
            first = await agent.agenerate("I am Ada", thread="t1", resource="u1")
            second = await agent.agenerate("Who am I?", thread="t1", resource="u1")
            assert [m.role for m in first.messages] == ["user", "assistant"]
            model = agent.model
            assert isinstance(model, ScriptedModel)
            # the second call saw the first turn as history
            assert "I am Ada" in str(model.calls[1][0])
            stored = await memory.list_messages("t1", per_page=False)
            return [second.text, *(m.text for m in stored.messages)]

    got = run(main())
    with Memory(storage=open_storage(f"file:{tmp_path}/s.db")) as memory:
        agent = Agent("a", "Be brief.", ScriptedModel(list(replies)), memory=memory)
        agent.generate("I am Ada", thread="t1", resource="u1")
        second = agent.generate("Who am I?", thread="t1", resource="u1")
        want = [second.text, *(m.text for m in memory.list_messages("t1", per_page=False).messages)]
    assert got == want


def test_astream_yields_the_same_chunks_as_stream(tmp_path: Path) -> None:
    options = {"generate_title": {"emit_event": True}}

    def model() -> ScriptedModel:
        return ScriptedModel(["Hello there, friend.", "Greetings"], default="Greetings")

    async def main() -> tuple[list[Any], Any]:
        async with AsyncMemory(storage=open_storage(f"file:{tmp_path}/a.db"), options=options) as memory:
            agent = Agent("a", "x", model(), memory=memory)
            stream = agent.astream("hi", thread="t1", resource="u1")
            with pytest.raises(RuntimeError):
                _ = stream.result  # not finished yet
            items = [item async for item in stream]
            await memory.settled(5)
            return items, stream.result

    items, result = run(main())
    with Memory(storage=open_storage(f"file:{tmp_path}/s.db"), options=options) as memory:
        stream = Agent("a", "x", model(), memory=memory).stream("hi", thread="t1", resource="u1")
        sync_items = list(stream)
        sync_result = stream.result
    assert [str(i) for i in items] == [str(i) for i in sync_items]
    assert [type(i) for i in items] == [type(i) for i in sync_items]
    assert any(isinstance(i, ThreadTitleEvent) and i.thread_title == "Greetings" for i in items)
    assert result.text == sync_result.text == "Hello there, friend."


def test_a_turn_on_the_other_face_is_refused(tmp_path: Path) -> None:
    with Memory(storage=open_storage(f"file:{tmp_path}/s.db")) as memory:
        agent = Agent("a", "x", ScriptedModel(["x"]), memory=memory)
        with pytest.raises(ConfigurationError, match="AsyncMemory"):
            run(agent.agenerate("hi", thread="t", resource="u"))

    async def main() -> None:
        async with AsyncMemory(storage=open_storage(f"file:{tmp_path}/a.db")) as memory:
            agent = Agent("a", "x", ScriptedModel(["x"]), memory=memory)
            with pytest.raises(ConfigurationError, match="agenerate"):
                agent.generate("hi", thread="t", resource="u")

    run(main())


def test_failed_model_saves_nothing_and_removes_the_new_thread(tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncMemory(storage=open_storage(f"file:{tmp_path}/a.db")) as memory:
            agent = Agent("a", "x", ScriptedModel([RuntimeError("provider down")]), memory=memory)
            from mastra_memory.errors import ModelError

            with pytest.raises(ModelError):
                await agent.agenerate("hi", thread="t1", resource="u1")
            assert await memory.get_thread_by_id("t1") is None

    run(main())


def test_concurrent_turns_share_the_loop_without_blocking_it(tmp_path: Path) -> None:
    """50 conversations against a model answering after 50 ms finish in far less than 50 x 50 ms,
    and a ticker task keeps ticking on time while they run."""

    async def main() -> tuple[float, float]:
        async with AsyncMemory(storage=open_storage(f"file:{tmp_path}/a.db")) as memory:
            model = ScriptedModel(default="ok")
            delay = 0.05

            async def slow_generate(messages: list[dict[str, Any]], **kw: Any) -> Any:
                await asyncio.sleep(delay)
                return model.generate(messages, **kw)

            model.agenerate = slow_generate  # type: ignore[attr-defined]
            agent = Agent("a", "x", model, memory=memory)
            lags: list[float] = []
            stop = asyncio.Event()

            async def ticker() -> None:
                while not stop.is_set():
                    start = time.perf_counter()
                    await asyncio.sleep(0.005)
                    lags.append(time.perf_counter() - start - 0.005)

            tick = asyncio.create_task(ticker())
            started = time.perf_counter()
            await asyncio.gather(*(agent.agenerate("hi", thread=f"t{i}", resource="u") for i in range(50)))
            elapsed = time.perf_counter() - started
            stop.set()
            await tick
            return elapsed, max(lags)

    elapsed, worst_lag = run(main())
    assert elapsed < 50 * 0.05 / 3, elapsed  # turns overlap: far below the serial 2.5 s
    assert worst_lag < 0.5, worst_lag  # the loop kept running (storage in worker threads)


def test_async_memory_parity_with_memory() -> None:
    """Every public method of Memory has its async twin with the same signature and docstring
    summary; fails when a method is added on one side only."""
    import inspect

    def public(cls: type) -> dict[str, Any]:
        return {n: m for n, m in vars(cls).items() if not n.startswith("_") and callable(m)}

    sync, asyn = public(Memory), public(AsyncMemory)
    assert sorted(sync) == sorted(asyn)
    for name, method in sync.items():
        twin = asyn[name]
        assert str(inspect.signature(method)) == str(inspect.signature(twin)).replace("AsyncMemory", "Memory"), name
        assert (method.__doc__ or "").split("\n")[0] == (twin.__doc__ or "").split("\n")[0], name
    for sync_name, async_name in (("generate", "agenerate"), ("stream", "astream")):
        s, a = inspect.signature(getattr(Agent, sync_name)), inspect.signature(getattr(Agent, async_name))
        assert list(s.parameters) == list(a.parameters)
    assert servers.PG  # the PG backend of these tests comes from the shared server list


def test_semantic_recall_gives_the_same_hits_on_both_faces(tmp_path: Path) -> None:
    from mastra_memory.storage import open_vector
    from mastra_memory.testing import HashingEmbedder

    options = {"last_messages": 1, "semantic_recall": {"top_k": 2, "message_range": 0}}
    texts = ["my cat is named Pixel", "the weather is grey today", "I bought new running shoes", "Pixel sleeps a lot"]

    def seed() -> list[Message]:
        return [Message.user(t, "t1", resource_id="u1", id=f"m{i}") for i, t in enumerate(texts)]

    with Memory(
        open_storage(f"file:{tmp_path}/s.db"), open_vector(f"file:{tmp_path}/s.db"), HashingEmbedder(), options
    ) as memory:
        memory.create_thread("u1", thread_id="t1")
        memory.save_messages(seed())
        want = memory.recall("t1", "u1", vector_search_string="what is my cat called")

    async def main() -> Any:
        async with AsyncMemory(
            open_storage(f"file:{tmp_path}/a.db"), open_vector(f"file:{tmp_path}/a.db"), HashingEmbedder(), options
        ) as memory:
            await memory.create_thread("u1", thread_id="t1")
            await memory.save_messages(seed())
            return await memory.recall("t1", "u1", vector_search_string="what is my cat called")

    got = run(main())
    assert [h.message_id for h in got.semantic_hits] == [h.message_id for h in want.semantic_hits]
    assert got.semantic_hits and got.semantic_hits[0].message_id in {"m0", "m3"}
    assert [m.id for m in got.messages] == [m.id for m in want.messages]
