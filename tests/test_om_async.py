"""The async face of observational memory: ``AsyncObservationalMemoryEngine`` on an event loop,
over an async store (``ThreadedAsyncStorage`` around a libSQL file and around PostgreSQL), with
scripted Observer/Reflector models.

Each test runs its own loop (``asyncio.run``). Background buffering must be a task on the running
loop that never blocks it, never fails the user's turn, and runs once per key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import mastra_memory  # noqa: F401  (core before storage)
from mastra_memory import Message, ModelError, Thread
from mastra_memory.config import ObservationalMemoryConfig
from mastra_memory.models.base import ModelResponse
from mastra_memory.observational.engine_async import AsyncObservationalMemoryEngine
from mastra_memory.storage.threaded import ThreadedAsyncStorage
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore
from tests import servers
from tests.om_support import BASE, markers_in, observer_reply, reflector_reply

BUFFERED = "leave out <current-task>"  # in the Observer prompt of a buffered (background) cycle


@pytest.fixture(params=["libsql", "pg"])
def astore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadedAsyncStorage]:
    if request.param == "pg":
        with servers.postgres_store() as pg:
            yield ThreadedAsyncStorage(pg)
        return
    store = LibSQLStore(f"file:{tmp_path}/om-async.db")
    yield ThreadedAsyncStorage(store)
    store.close()


class AsyncModel:
    """A model with a native ``agenerate``: sleeps on the loop (``asyncio.sleep``), records the
    task it ran in, then answers like the scripted model it wraps."""

    def __init__(self, scripted: ScriptedModel, delay: float = 0.0) -> None:
        self.name = "async-scripted"
        self.scripted = scripted
        self.delay = delay
        self.tasks: list[str] = []

    def generate(self, messages: list[dict[str, Any]], **settings: Any) -> ModelResponse:
        raise AssertionError("the async engine must await agenerate")

    async def agenerate(self, messages: list[dict[str, Any]], **settings: Any) -> ModelResponse:
        task = asyncio.current_task()
        self.tasks.append(task.get_name() if task is not None else "")
        await asyncio.sleep(self.delay)
        return self.scripted.generate(messages, **settings)


class BlockingModel:
    """A sync-only model (no ``agenerate``) whose call blocks: the async face must run it in a
    worker thread."""

    def __init__(self, scripted: ScriptedModel, delay: float = 0.0) -> None:
        self.name = "blocking-scripted"
        self.scripted = scripted
        self.delay = delay

    def generate(self, messages: list[dict[str, Any]], **settings: Any) -> ModelResponse:
        time.sleep(self.delay)
        return self.scripted.generate(messages, **settings)


def om_config(model: Any, **observation: Any) -> ObservationalMemoryConfig:
    return ObservationalMemoryConfig(
        model=model,
        observation={"message_tokens": 300, "buffer_tokens": False, **observation},
        reflection={"observation_tokens": 100_000, "model": ScriptedModel(default=reflector_reply)},
    )


async def new_thread(store: ThreadedAsyncStorage, thread_id: str = "t1", resource_id: str = "r1") -> Thread:
    thread: Thread = await store.save_thread(Thread(id=thread_id, resource_id=resource_id))
    return thread


async def aturn(
    engine: AsyncObservationalMemoryEngine,
    store: ThreadedAsyncStorage,
    config: ObservationalMemoryConfig,
    thread: Thread,
    n: int,
    words: int = 12,
) -> dict[str, Any]:
    """One simulated turn (the async twin of ``tests.om_support.turn``): prepare, save the user
    message and the reply (markers m<n>-u / m<n>-a), then ``after_turn``; returns its report."""
    at = BASE + timedelta(minutes=n)
    filler = " ".join(["lorem"] * words)
    state = await engine.prepare(config, thread, thread.resource_id)
    user = Message.user(f"m{n}-u {filler}", thread.id, created_at=at)
    reply = Message.assistant(f"m{n}-a {filler}", thread.id, created_at=at + timedelta(seconds=1))
    stored = await store.save_messages([user, reply])
    report: dict[str, Any] = await engine.after_turn(state, stored)
    return report


def om_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("mastra-om:")]


def test_observation_and_reflection_commit(astore: ThreadedAsyncStorage) -> None:
    async def main() -> None:
        model = ScriptedModel(default=observer_reply, name="observer")
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(model, message_tokens=100)
        thread = await new_thread(astore)
        observed_turns = 0
        for n in range(6):
            report = await aturn(engine, astore, config, thread, n)
            observed_turns += any(a.startswith("observed 1") for a in report["actions"])
        assert observed_turns >= 2
        head = await engine.head(config, "t1", "r1")
        assert head is not None and head.generation_count == 0
        observed = markers_in(head.active_observations)
        assert observed and len(observed) == len(set(observed))
        # the context of the next turn carries the observations
        state = await engine.prepare(config, thread, "r1")
        assert state.system_message is not None and observed[0] in state.system_message
        assert state.reminder is not None
        # flush what is left, then reflect into a new generation
        await engine.observe(config, "t1", "r1", use_lease=False)
        assert await engine.reflect(config, "t1", "r1", force=True)
        head = await engine.head(config, "t1", "r1")
        assert head is not None and head.generation_count == 1
        assert "summary of" in head.active_observations
        history = await astore.get_observational_memory_history("t1", "r1")
        assert [r.generation_count for r in history] == [1, 0]
        assert engine.stats.observations_committed >= 3 and engine.stats.reflections_committed == 1
        assert await engine.settle(5)
        await engine.close()

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["agenerate", "worker-thread"])
def test_buffering_is_a_task_on_the_running_loop_and_never_blocks_it(astore: ThreadedAsyncStorage, kind: str) -> None:
    delay = 0.5
    scripted = ScriptedModel(default=observer_reply, name="observer")
    model: AsyncModel | BlockingModel = (
        AsyncModel(scripted, delay) if kind == "agenerate" else BlockingModel(scripted, delay)
    )

    async def main() -> None:
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(model, message_tokens=400, buffer_tokens=0.25)
        thread = await new_thread(astore)
        engine.counter.count_text("warm up")  # the tokenizer loads once per process (about a second)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.get_running_loop().create_task(ticker())
        started = time.monotonic()
        report = await aturn(engine, astore, config, thread, 0, words=60)
        turn_seconds = time.monotonic() - started
        assert "buffering started" in report["actions"]
        assert turn_seconds < delay, "the turn waited for the background Observer"
        running = om_tasks()
        assert len(running) == 1 and running[0].get_name() == "mastra-om:buffer:thread:t1"
        assert isinstance(running[0], asyncio.Task) and not running[0].done()
        assert running[0].get_loop() is asyncio.get_running_loop()
        ticks_before = ticks
        assert await engine.settle(10)
        ticking.cancel()
        assert ticks - ticks_before >= 10, f"the loop was blocked while the Observer ran ({ticks - ticks_before})"
        assert not om_tasks()
        assert engine.stats.chunks_buffered == 1 and engine.stats.failures == 0
        head = await engine.head(config, "t1", "r1")
        assert head is not None and len(head.buffered_observation_chunks) == 1
        assert sorted(markers_in(head.buffered_observation_chunks[0].observations)) == ["m0-a", "m0-u"]
        if isinstance(model, AsyncModel):
            assert model.tasks == ["mastra-om:buffer:thread:t1"]
        assert all(BUFFERED in c[0][-1]["content"] for c in scripted.calls)
        await engine.close()

    asyncio.run(main())


@pytest.mark.parametrize("policy", ["warn", "throw"])
def test_a_failing_background_observer_never_raises_into_the_turn(
    astore: ThreadedAsyncStorage, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        if BUFFERED in messages[-1]["content"]:
            raise ModelError("buffer model down")
        return observer_reply(messages)

    async def main() -> None:
        model = AsyncModel(ScriptedModel(default=reply), delay=0.05)
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(model, message_tokens=400, buffer_tokens=0.25, failure_policy=policy)
        thread = await new_thread(astore)
        report = await aturn(engine, astore, config, thread, 0, words=60)
        assert "buffering started" in report["actions"]
        assert await engine.settle(10)  # the task finished; its failure stayed inside it
        assert engine.stats.failures == 1 and engine.stats.chunks_buffered == 0
        # the failure is backed off: the next turn does not call the failing model again at once
        report = await aturn(engine, astore, config, thread, 1, words=5)
        assert "observation backing off after a failure" in report["actions"]
        assert await engine.settle(10)
        head = await engine.head(config, "t1", "r1")
        assert head is None or not head.buffered_observation_chunks
        await engine.close()

    asyncio.run(main())
    assert "observational memory background buffer failed: " in caplog.text


def test_settle_and_close_wait_for_the_tasks(astore: ThreadedAsyncStorage) -> None:
    async def main() -> None:
        model = AsyncModel(ScriptedModel(default=observer_reply), delay=0.4)
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(model, message_tokens=400, buffer_tokens=0.25)
        one, two = await new_thread(astore, "t1"), await new_thread(astore, "t2")
        assert "buffering started" in (await aturn(engine, astore, config, one, 0, words=60))["actions"]
        assert not await engine.settle(0.05)  # still running after 50 ms
        assert len(om_tasks()) == 1
        assert await engine.settle(10)
        assert engine.stats.chunks_buffered == 1
        # close() waits for running work too, and the engine stays usable afterwards
        assert "buffering started" in (await aturn(engine, astore, config, two, 0, words=60))["actions"]
        running = om_tasks()
        await engine.close()
        assert running and all(t.done() for t in running)
        assert engine.stats.chunks_buffered == 2
        for tid in ("t1", "t2"):
            head = await engine.head(config, tid, "r1")
            assert head is not None and len(head.buffered_observation_chunks) == 1
        assert await engine.settle(0)

    asyncio.run(main())


def test_concurrent_after_turns_on_one_thread_buffer_once(astore: ThreadedAsyncStorage) -> None:
    async def main() -> None:
        scripted = ScriptedModel(default=observer_reply)
        model = AsyncModel(scripted, delay=0.3)
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(model, message_tokens=400, buffer_tokens=0.25)
        thread = await new_thread(astore)
        # two turns of the same thread interleaved on one loop (two requests of one user)
        reports = await asyncio.gather(
            aturn(engine, astore, config, thread, 0, words=60), aturn(engine, astore, config, thread, 1, words=60)
        )
        started = [r for r in reports if "buffering started" in r["actions"]]
        assert len(started) == 1, reports
        assert len(om_tasks()) == 1
        assert await engine.settle(10)
        assert engine.stats.chunks_buffered == 1 and engine.stats.observer_calls == 1
        assert len(scripted.calls) == 1
        await engine.close()

    asyncio.run(main())


def test_the_sync_engine_is_generated_from_the_async_source() -> None:
    from mastra_memory.observational import engine, engine_async

    assert engine.ObservationalMemoryEngine.__module__ == "mastra_memory.observational.engine"
    assert engine.__file__ is not None
    assert Path(engine.__file__).read_text(encoding="utf-8").startswith("# WARNING: generated by scripts/gen_sync.py")
    for name in ("prepare", "after_turn", "observe", "reflect", "settle", "close", "head", "load_unobserved"):
        assert asyncio.iscoroutinefunction(getattr(engine_async.AsyncObservationalMemoryEngine, name)), name
        assert not asyncio.iscoroutinefunction(getattr(engine.ObservationalMemoryEngine, name)), name


def test_observe_and_reflect_spans_cover_the_awaited_model_calls(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra and opentelemetry-sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mastra_memory import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = LibSQLStore(f"file:{tmp_path}/om-trace.db")
    astore = ThreadedAsyncStorage(store)

    async def main() -> None:
        engine = AsyncObservationalMemoryEngine(astore)
        config = om_config(AsyncModel(ScriptedModel(default=observer_reply), delay=0.01), message_tokens=100)
        thread = await new_thread(astore)
        for n in range(3):
            await aturn(engine, astore, config, thread, n)
        assert await engine.reflect(config, "t1", "r1", force=True)
        await engine.close()

    tracing.configure(provider)
    try:
        asyncio.run(main())
    finally:
        tracing.configure(None)
        provider.shutdown()
        store.close()
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def parent_name(span: Any) -> str | None:
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        return parent.name if parent is not None else None

    chats = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]
    callers = {(s.attributes or {})["mastra_memory.caller"]: parent_name(s) for s in chats}
    assert callers == {"observer": "mastra_memory.observe", "reflector": "mastra_memory.reflect"}
    commits = [s for s in spans if s.name.startswith("commit_observations ")]
    assert commits and all(parent_name(s) == "mastra_memory.observe" for s in commits)
    # the observe span stays open over the awaited commit, not just over creating the coroutine
    assert all(s.end_time <= by_id[s.parent.span_id].end_time for s in commits)  # type: ignore[operator,union-attr]


def test_async_memory_runs_observational_memory_on_the_async_engine(tmp_path: Path) -> None:
    from mastra_memory import AsyncMemory
    from tests.om_support import om_options

    async def main() -> None:
        model = AsyncModel(ScriptedModel(default=observer_reply), delay=0.01)
        memory = AsyncMemory(
            storage=LibSQLStore(f"file:{tmp_path}/am.db"),
            options=om_options(model, observation={"message_tokens": 300, "buffer_tokens": 0.25}),
        )
        filler = " ".join(["lorem"] * 12)
        for n in range(10):
            at = BASE + timedelta(minutes=n)
            user = Message.user(f"m{n}-u {filler}", "t1", created_at=at)
            reply = Message.assistant(f"m{n}-a {filler}", "t1", created_at=at + timedelta(seconds=1))
            ctx = await memory.prepare_turn("t1", "r1", [user])
            await memory.finish_turn(ctx, [user, reply])
            assert await memory.settled(10)
        assert isinstance(memory.observational_engine, AsyncObservationalMemoryEngine)
        stats = memory.observational_engine.stats
        assert stats.chunks_buffered >= 1 and stats.failures == 0
        assert model.tasks and all(t.startswith("mastra-om:buffer:") for t in model.tasks)
        record = await memory.get_observational_memory("t1")
        assert record is not None and markers_in(record.active_observations)
        await memory.close()

    asyncio.run(main())


def test_the_engine_on_the_native_async_postgres_store() -> None:
    url = servers.url_or_skip(servers.PG)
    schema = servers.unique("mmomasync")
    from storage_adapters.pg import AsyncPostgresStore

    async def main() -> None:
        store = AsyncPostgresStore(url, schema_name=schema)
        await store.setup()
        try:
            model = AsyncModel(ScriptedModel(default=observer_reply), delay=0.2)
            engine = AsyncObservationalMemoryEngine(store)
            config = om_config(model, message_tokens=400, buffer_tokens=0.25)
            thread = await store.save_thread(Thread(id="t1", resource_id="r1"))
            report = await aturn(engine, store, config, thread, 0, words=60)  # type: ignore[arg-type]
            assert "buffering started" in report["actions"] and len(om_tasks()) == 1
            assert await engine.settle(10)
            assert engine.stats.chunks_buffered == 1 and model.tasks == ["mastra-om:buffer:thread:t1"]
            assert await engine.observe(config, "t1", "r1", use_lease=False) == 1
            assert await engine.reflect(config, "t1", "r1", force=True)
            head = await engine.head(config, "t1", "r1")
            assert head is not None and head.generation_count == 1
            await engine.close()
        finally:
            await store.close()

    try:
        asyncio.run(main())
    finally:
        servers.drop_pg_schema(url, schema)
