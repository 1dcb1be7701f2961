"""Observational memory end to end with scripted Observer/Reflector models, on the in-memory
store and on a real libSQL file."""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message, ModelError
from mastra_memory.observational.engine import OMTurnState
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing import ScriptedModel
from mastra_memory.tokens import TokenCounter
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.libsql import LibSQLStore
from tests import servers
from tests.om_support import BASE, markers_in, om_options, reflector_reply, scripted, turn

SERVER_STORES = {
    "pg": servers.postgres_store,
    "mongodb": servers.mongodb_store,
    "sqlalchemy-pg": functools.partial(servers.sqlalchemy_store, "postgres"),
    "sqlalchemy-mariadb": functools.partial(servers.sqlalchemy_store, "mariadb"),
    "redis": servers.redis_store,
}


@pytest.fixture(params=["inmemory", "libsql", *SERVER_STORES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    if request.param in SERVER_STORES:
        with SERVER_STORES[request.param]() as server_store:
            yield server_store
        return
    s: MemoryStorage = InMemoryStore() if request.param == "inmemory" else LibSQLStore(f"file:{tmp_path}/om.db")
    yield s
    s.close()


def expected_pending(state: OMTurnState, new: list[Message]) -> int:
    return TokenCounter().count_messages([*state.unobserved, *new])


def test_observation_fires_at_the_message_token_threshold(store: MemoryStorage) -> None:
    model = scripted()
    memory = Memory(storage=store, options=om_options(model))
    fired_at: list[int] = []
    for n in range(12):
        ctx, stored = turn(memory, "t1", "r1", n)
        pending = expected_pending(ctx.state["om"], stored)
        report = ctx.state["om_report"]
        assert report["pending_tokens"] == pending
        if any(a.startswith("observed") for a in report["actions"]):
            fired_at.append(pending)
            assert pending >= 300
        else:
            assert pending < 300
    assert fired_at, "observation never fired"
    record = memory.get_observational_memory("t1")
    assert record is not None and record.generation_count == 0
    assert record.total_tokens_observed == sum(fired_at)
    # every observed message appears exactly once; unobserved ones not at all
    observed = markers_in(record.active_observations)
    assert len(observed) == len(set(observed))
    unobserved = {
        m
        for msg in memory.list_messages("t1", per_page=False).messages
        if not record.cursor.is_observed(msg.id, msg.created_at)
        for m in markers_in(msg.text)
    }
    assert not unobserved & set(observed)
    assert len(observed) + len(unobserved) == 24


def test_context_is_observations_reminder_and_unobserved_tail(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted()))
    for n in range(9):
        turn(memory, "t1", "r1", n)
    record = memory.get_observational_memory("t1")
    assert record is not None and record.active_observations
    user = Message.user("m99-u what do you remember?", "t1", created_at=BASE + timedelta(hours=5))
    ctx = memory.prepare_turn("t1", "r1", [user])
    assert len(ctx.system_messages) == 1 and "<observations>" in ctx.system_messages[0]
    assert "noted m0-u" in ctx.system_messages[0] and "<current-task>" in ctx.system_messages[0]
    assert ctx.history[0].id == "om-continuation" and "<system-reminder>" in ctx.history[0].text
    tail = ctx.history[1:]
    assert tail and all(not record.cursor.is_observed(m.id, m.created_at) for m in tail)
    assert [m.created_at for m in tail] == sorted(m.created_at for m in tail)


def test_clone_sees_the_copied_observations_in_its_context(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted()))
    for n in range(9):
        turn(memory, "t1", "r1", n)
    source = memory.get_observational_memory("t1")
    assert source is not None and "noted m0-u" in source.active_observations
    unobserved = [
        m.text
        for m in memory.list_messages("t1", per_page=False).messages
        if not source.cursor.is_observed(m.id, m.created_at)
    ]
    assert unobserved
    memory.clone_thread("t1", new_thread_id="c1")
    user = Message.user("m99-u what do you remember?", "c1", created_at=BASE + timedelta(hours=5))
    ctx = memory.prepare_turn("c1", "r1", [user])
    assert len(ctx.system_messages) == 1 and "noted m0-u" in ctx.system_messages[0]
    assert ctx.history[0].id == "om-continuation"
    tail = ctx.history[1:]  # only the copies of messages the source had not observed yet
    assert [m.text for m in tail] == unobserved and all(m.thread_id == "c1" for m in tail)
    assert memory.observe("c1") >= 1  # observes the unobserved copies, never the observed ones again
    record = memory.get_observational_memory("c1")
    assert record is not None
    observed = markers_in(record.active_observations)
    assert len(observed) == len(set(observed)) and len(observed) == 18
    assert memory.get_observational_memory("t1") == source


def test_reflection_creates_a_new_generation_and_keeps_history(store: MemoryStorage) -> None:
    reflector = ScriptedModel(default=reflector_reply, name="reflector")
    memory = Memory(
        storage=store, options=om_options(scripted(), reflection={"observation_tokens": 80, "model": reflector})
    )
    for n in range(9):
        turn(memory, "t1", "r1", n)
    history = memory.get_observational_memory_history("t1")
    assert [r.generation_count for r in history][-2:] == [1, 0]
    head, first = history[0], history[-1]
    assert head.origin_type == "reflection" and first.origin_type == "initial"
    assert "summary of" in head.active_observations
    assert "noted m0-u" in first.active_observations  # the old generation is kept as it was
    assert head.last_observed_at is not None and head.last_observed_at >= first.last_observed_at  # type: ignore[operator]
    assert reflector.calls, "reflector never called"


def test_reflection_escalates_compression_until_it_fits(store: MemoryStorage) -> None:
    too_long = (
        "<observations>\nDate: Mar 1, 2025\n"
        + "\n".join(f"* 🔴 detail {i} kept verbatim" for i in range(12))
        + "\n</observations>"
    )
    reflector = ScriptedModel([too_long, too_long], default=reflector_reply, name="reflector")
    memory = Memory(
        storage=store, options=om_options(scripted(), reflection={"observation_tokens": 100, "model": reflector})
    )
    for n in range(10):
        turn(memory, "t1", "r1", n)
    prompts = [c[0][-1]["content"] for c in reflector.calls[:3]]
    assert "## COMPRESSION" not in prompts[0]
    assert "Compress slightly more" in prompts[1]
    assert "Compress aggressively" in prompts[2]
    head = memory.get_observational_memory("t1")
    assert head is not None and head.generation_count == 1 and "summary of" in head.active_observations


def test_reflection_without_a_date_header_keeps_the_logs_date(store: MemoryStorage) -> None:
    def headerless(messages: list[dict[str, Any]]) -> str:
        n = messages[-1]["content"].count("noted m")
        return f"* 🔴 (09:00) summary of {n} noted lines"  # no <observations>, no Date: line

    reflector = ScriptedModel(default=headerless, name="reflector")
    memory = Memory(
        storage=store, options=om_options(scripted(), reflection={"observation_tokens": 100, "model": reflector})
    )
    for n in range(10):
        turn(memory, "t1", "r1", n)
    head = memory.get_observational_memory("t1")
    assert head is not None and head.generation_count >= 1
    assert head.active_observations.startswith("Date: Mar 1, 2025\n"), head.active_observations  # not today


def test_share_token_budget_moves_the_threshold(store: MemoryStorage) -> None:
    reflector = ScriptedModel(default=reflector_reply)
    opts = om_options(
        scripted(),
        share_token_budget=True,
        observation={"message_tokens": 200},
        reflection={"observation_tokens": 300, "model": reflector},
    )
    memory = Memory(storage=store, options=opts)
    first_fire = None
    for n in range(14):
        ctx, _ = turn(memory, "t1", "r1", n)
        report = ctx.state["om_report"]
        obs_tokens = ctx.state["om"].record.observation_token_count if ctx.state["om"].record else 0
        assert report["threshold"] == max(500 - obs_tokens, 200)
        if any(a.startswith("observed") for a in report["actions"]):
            first_fire = first_fire or report["pending_tokens"]
    assert first_fire is not None and first_fire >= 500  # 200 + 300 with no observations yet
    record = memory.get_observational_memory("t1")
    assert record is not None
    user = Message.user("m50-u next", "t1", created_at=BASE + timedelta(hours=3))
    ctx = memory.prepare_turn("t1", "r1", [user])
    later = memory.finish_turn(ctx, [user])
    assert later and ctx.state["om_report"]["threshold"] == max(500 - record.observation_token_count, 200)


def test_background_buffering_and_activation(store: MemoryStorage) -> None:
    model = scripted()
    opts = om_options(model, observation={"message_tokens": 400, "buffer_tokens": 0.25, "buffer_activation": 0.8})
    memory = Memory(storage=store, options=opts)
    actions: list[str] = []
    for n in range(14):
        ctx, _ = turn(memory, "t1", "r1", n)
        actions += ctx.state["om_report"]["actions"]
        assert memory.settled(10)
    stats = memory.observational_engine.stats
    assert "buffering started" in actions
    assert stats.chunks_buffered >= 2 and stats.chunks_activated >= 1
    assert not any(a.startswith("observed") for a in actions), "never blocked below block_after"
    buffered_prompts = [c[0][-1]["content"] for c in model.calls]
    assert all("leave out <current-task>" in p for p in buffered_prompts)
    record = memory.get_observational_memory("t1")
    assert record is not None
    # after activation the unobserved tail is near the retention floor, not the whole history
    ctx = memory.prepare_turn("t1", "r1", [])
    assert ctx.state["om"].pending_tokens < 400
    observed = markers_in(record.active_observations)
    assert len(observed) == len(set(observed))


def test_failed_buffering_falls_back_to_sync_observation_above_block_after(store: MemoryStorage) -> None:
    def model_fn(messages: list[dict[str, Any]]) -> str:
        if "leave out <current-task>" in messages[-1]["content"]:
            raise ModelError("buffer model down")
        from tests.om_support import observer_reply

        return observer_reply(messages)

    opts = om_options(
        ScriptedModel(default=model_fn), observation={"message_tokens": 300, "buffer_tokens": 0.3, "block_after": 1.2}
    )
    memory = Memory(storage=store, options=opts)
    sync_at = []
    for n in range(12):
        ctx, _ = turn(memory, "t1", "r1", n)
        memory.settled(10)
        report = ctx.state["om_report"]
        if any(a.startswith("observed") for a in report["actions"]):
            sync_at.append(report["pending_tokens"])
    assert sync_at and all(p >= 360 for p in sync_at)  # only above block_after (1.2 x 300)
    assert memory.observational_engine.stats.failures >= 1


def test_failure_policy_throw_keeps_messages_and_cursor(store: MemoryStorage) -> None:
    model = ScriptedModel(default=ModelError("provider down"))
    memory = Memory(storage=store, options=om_options(model))
    with pytest.raises(ModelError):
        for n in range(12):
            turn(memory, "t1", "r1", n)
    saved = memory.list_messages("t1", per_page=False).messages
    assert len(saved) == 2 * (n + 1)  # the failing turn's messages were saved first
    record = memory.get_observational_memory("t1")  # only the (released) lease was written
    assert record is None or (record.active_observations == "" and record.last_observed_at is None)
    assert len(model.calls) == 2  # max_attempts


def test_failure_policy_warn_continues_and_later_observes_everything(
    store: MemoryStorage, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.om_support import observer_reply

    replies: list[Any] = [ModelError("down"), ModelError("down")]
    model = ScriptedModel(replies, default=observer_reply)
    memory = Memory(storage=store, options=om_options(model, observation={"failure_policy": "warn"}))
    with caplog.at_level(logging.WARNING):
        for n in range(16):
            turn(memory, "t1", "r1", n)
    assert "continuing unobserved" in caplog.text
    record = memory.get_observational_memory("t1")
    assert record is not None
    observed = markers_in(record.active_observations)
    assert {"m0-u", "m0-a", "m1-u"} <= set(observed) and len(observed) == len(set(observed))


def test_malformed_output_is_retried_then_discarded(store: MemoryStorage) -> None:
    from tests.om_support import observer_reply

    model = ScriptedModel(["I am not sure what you want.", ""], default=observer_reply)
    memory = Memory(storage=store, options=om_options(model, observation={"failure_policy": "bypass"}))
    for n in range(20):
        turn(memory, "t1", "r1", n)
        if memory.observational_engine.stats.unusable_outputs:
            break
    empty = memory.get_observational_memory("t1")  # both attempts unusable: nothing stored
    assert empty is None or (empty.active_observations == "" and empty.last_observed_at is None)
    assert len(model.calls) == 2
    turn(memory, "t1", "r1", n + 1)  # the next cycle observes everything, nothing was lost
    record = memory.get_observational_memory("t1")
    assert record is not None and {"m0-u", f"m{n + 1}-a"} <= set(markers_in(record.active_observations))
    degenerate = "<observations>\n" + "* 🔴 loop loop loop loop. " * 300 + "\n</observations>"
    model2 = ScriptedModel([degenerate], default=observer_reply)
    memory2 = Memory(storage=store, options=om_options(model2))
    turn(memory2, "t2", "r1", 0, words=300)
    record = memory2.get_observational_memory("t2")
    assert record is not None and "loop loop" not in record.active_observations
    assert len(model2.calls) == 2  # degenerate reply discarded, the retry succeeded


def test_resource_scope_shares_one_record_across_two_threads(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted(), scope="resource"))
    for n in range(6):
        turn(memory, "thread-a", "ana", n)
    for n in range(10, 16):
        turn(memory, "thread-b", "ana", n)
    record = memory.get_observational_memory("thread-b", "ana")
    assert record is not None and record.lookup_key == "resource:ana" and record.thread_id is None
    assert memory.get_observational_memory("thread-a") == record
    observed = set(markers_in(record.active_observations))
    assert {"m0-u", "m10-u"} <= observed  # one record holds both threads' observations
    user = Message.user("m90-u hello again", "thread-b", created_at=BASE + timedelta(hours=9))
    ctx = memory.prepare_turn("thread-b", "ana", [user])
    assert "noted m0-u" in ctx.system_messages[0]  # thread b sees what was said in thread a
    assert all(m.thread_id == "thread-b" for m in ctx.history[1:])


def test_late_message_created_before_the_cursor_is_never_lost(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted(), observation={"message_tokens": 100}))
    early = Message.user("m500-u written before the model call", "t1", created_at=BASE)  # not yet saved
    for n in range(1, 8):
        turn(memory, "t1", "r1", n)
    record = memory.get_observational_memory("t1")
    assert record is not None and record.last_observed_at is not None and record.last_observed_at > BASE
    [saved] = memory.save_messages([early])
    assert saved.created_at > record.last_observed_at  # moved after the cursor, not behind it
    assert memory.observe("t1") == 1
    assert "m500-u" in memory.get_observational_memory("t1").active_observations  # type: ignore[union-attr]


def test_delete_thread_removes_its_records(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted(), observation={"message_tokens": 100}))
    for n in range(4):
        turn(memory, "t1", "r1", n)
    assert memory.get_observational_memory("t1") is not None
    memory.delete_thread("t1")
    assert store.get_observational_memory("t1", "r1") is None
    assert store.get_observational_memory_history("t1", "r1") == []


def test_thread_title_from_the_observer(store: MemoryStorage) -> None:
    memory = Memory(
        storage=store, options=om_options(scripted(), observation={"message_tokens": 100, "thread_title": True})
    )
    for n in range(4):
        turn(memory, "t1", "r1", n)
    thread = memory.get_thread_by_id("t1")
    assert thread is not None and thread.title == "Marker chat"
    assert thread.metadata["mastra"]["om"]["currentTask"] == "Primary: chatting"
    memory.create_thread("r1", "t2", title="Mine")
    for n in range(4):
        turn(memory, "t2", "r1", n + 20)
    assert memory.get_thread_by_id("t2").title == "Mine"  # type: ignore[union-attr]


def test_record_fields_and_read_only(store: MemoryStorage) -> None:
    memory = Memory(storage=store, options=om_options(scripted(), observation={"message_tokens": 100}))
    for n in range(4):
        turn(memory, "t1", "r1", n)
    record = memory.get_observational_memory("t1", "r1")
    assert record is not None
    dumped = record.model_dump(by_alias=True)
    assert {
        "activeObservations",
        "generationCount",
        "observationTokenCount",
        "lastObservedAt",
        "observedMessageIds",
    } <= set(dumped)
    assert record.observation_token_count == TokenCounter().count_text(record.active_observations)
    ro = Memory(storage=store, options={**om_options(scripted()), "read_only": True})
    user = Message.user("m77-u hi", "t1")
    ctx = ro.prepare_turn("t1", "r1", [user])
    assert ro.finish_turn(ctx, [user]) == [] and "om_report" not in ctx.state


def test_failing_model_is_not_called_every_turn(store: MemoryStorage) -> None:
    model = ScriptedModel(default="I do not know how to do that.")  # never usable
    memory = Memory(storage=store, options=om_options(model, observation={"failure_policy": "bypass"}))
    attempts = []
    for n in range(40):
        ctx, _ = turn(memory, "t1", "r1", n)
        if any(a.startswith("failed") for a in ctx.state["om_report"]["actions"]):
            attempts.append(ctx.state["om_report"]["pending_tokens"])
    # exponential backoff: the gaps between attempts grow (30, 60, 120, ... tokens)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(attempts) < 12 and gaps == sorted(gaps) and gaps[-1] > gaps[0]
    assert len(model.calls) == 2 * len(attempts)


def test_agent_turns_see_observations_through_the_seam(tmp_path: Path) -> None:
    from mastra_memory import Agent

    observer = scripted()
    memory = Memory(
        storage=LibSQLStore(f"file:{tmp_path}/agent.db"),
        options=om_options(observer, observation={"message_tokens": 120}),
    )
    seen: list[list[dict[str, Any]]] = []

    def reply(messages: list[dict[str, Any]]) -> str:
        seen.append(messages)
        return f"m{len(seen)}-a noted, tell me more"

    agent = Agent(name="a", instructions="Be brief.", model=ScriptedModel(default=reply), memory=memory)
    for n in range(8):
        agent.generate(f"m{n}-u fact number {n} about me " + "lorem " * 10, thread="t1", resource="ana")
    last = seen[-1]
    system = "\n".join(m["content"] for m in last if m["role"] == "system")
    assert "<observations>" in system and "noted m0-u" in system
    assert any("<system-reminder>" in str(m.get("content")) for m in last if m["role"] == "user")
    assert observer.calls  # the Observer ran from the agent's finish_turn
    memory.close()
