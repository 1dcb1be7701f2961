"""The observational-memory storage contract, as a conformance suite every store with
``supports_observational_memory`` runs (monotonic cursor, no duplicates, lossless reflection,
leases). Subclass it with a ``store`` fixture that yields a fresh, set-up store::

    class TestMyStoreOM(ObservationalMemoryConformance):
        @pytest.fixture
        def store(self):
            with MyStore(...) as s:
                yield s
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mastra_memory.observational.records import BufferedChunk, MessageRef
from mastra_memory.types import Message, Thread
from storage_adapters._om import ObservationCommit
from storage_adapters.base import MemoryStorage

__all__ = ["ObservationalMemoryConformance"]

BASE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def save(store: MemoryStorage, n: int) -> list[Message]:
    msgs = [Message.user(f"m{i}", "t", id=f"m{i}", created_at=BASE + timedelta(seconds=i)) for i in range(n)]
    return store.save_messages(msgs)


def refs(msgs: list[Message]) -> list[MessageRef]:
    return [MessageRef(id=m.id, thread_id=m.thread_id, created_at=m.created_at) for m in msgs]


def commit(store: MemoryStorage, msgs: list[Message], text: str) -> bool:
    return store.commit_observations(
        ObservationCommit(
            scope="thread",
            thread_id="t",
            resource_id="r",
            observations=f"Date: Mar 1, 2025\n* 🔴 {text}",
            messages=refs(msgs),
        )
    ).committed


class ObservationalMemoryConformance:
    """Checks of the observational-memory part of the storage contract."""

    def test_cursor_skips_gaps_and_never_moves_back(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 5)
        assert commit(store, [msgs[0], msgs[2]], "a")  # m1 still unobserved
        head = store.get_observational_memory("t", "r")
        assert head is not None and head.last_observed_at == msgs[0].created_at
        assert head.observed_message_ids == ["m2"]
        assert commit(store, [msgs[1]], "b")  # closes the gap: cursor jumps over m2
        head = store.get_observational_memory("t", "r")
        assert head is not None and head.last_observed_at == msgs[2].created_at and head.observed_message_ids == []
        assert not commit(store, [msgs[1], msgs[3]], "dup")  # m1 already observed: rejected whole
        after = store.get_observational_memory("t", "r")
        assert (
            after is not None
            and after.last_observed_at == msgs[2].created_at
            and "dup" not in after.active_observations
        )
        assert after.version == head.version

    def test_new_message_behind_the_cursor_is_moved_after_it(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 3)
        assert commit(store, msgs, "all")
        [late] = store.save_messages([Message.user("late", "t", id="late", created_at=BASE)])
        assert late.created_at > msgs[-1].created_at
        refs_after = store.list_message_refs(["t"], after=msgs[-1].created_at)
        assert [r.id for r in refs_after] == ["late"]
        # updating an existing, observed message keeps its time
        [upd] = store.save_messages([msgs[0].model_copy(update={"content": msgs[1].content})])
        assert upd.created_at == msgs[0].created_at

    def test_buffered_chunks_activate_and_drop_duplicates(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 4)
        chunk1 = BufferedChunk(
            observations="Date: Mar 1, 2025\n* 🔴 c1",
            message_ids=["m0", "m1"],
            message_tokens=10,
            last_observed_at=msgs[1].created_at,
        )
        chunk2 = BufferedChunk(
            observations="Date: Mar 1, 2025\n* 🔴 c2",
            message_ids=["m2"],
            message_tokens=5,
            last_observed_at=msgs[2].created_at,
        )
        assert store.buffer_observation_chunk("thread", "t", "r", chunk1, refs(msgs[:2])).committed
        assert not store.buffer_observation_chunk("thread", "t", "r", chunk1, refs(msgs[:2])).committed  # same cycle
        overlap = BufferedChunk(observations="* 🔴 x", message_ids=["m1"], last_observed_at=msgs[1].created_at)
        assert not store.buffer_observation_chunk("thread", "t", "r", overlap, refs(msgs[1:2])).committed
        assert store.buffer_observation_chunk("thread", "t", "r", chunk2, refs(msgs[2:3])).committed
        assert commit(store, [msgs[2]], "sync")  # observed synchronously meanwhile -> chunk2 dropped
        result = store.activate_observation_chunks("thread", "t", "r", [chunk1.id, chunk2.id])
        assert result.committed and [c.id for c in result.activated] == [chunk1.id] and result.dropped == []
        head = store.get_observational_memory("t", "r")
        assert head is not None and head.buffered_observation_chunks == []
        assert head.last_observed_at == msgs[2].created_at
        assert head.active_observations.count("c1") == 1 and "c2" not in head.active_observations

    def test_reflection_is_lossless_and_rejects_stale_generations(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 4)
        assert commit(store, msgs[:2], "one")
        head = store.get_observational_memory("t", "r")
        assert head is not None
        base = head.active_observations
        assert commit(store, msgs[2:3], "two")  # appended while the Reflector was running
        done = store.commit_reflection("thread", "t", "r", head.generation_count, base, "Date: Mar 1, 2025\n* 🔴 ONE")
        assert done.committed and done.record is not None
        new = done.record
        assert new.generation_count == 1 and new.origin_type == "reflection"
        assert (
            "ONE" in new.active_observations
            and "two" in new.active_observations
            and "one" not in new.active_observations
        )
        assert new.last_observed_at == msgs[2].created_at  # cursor carried over
        stale = store.commit_reflection("thread", "t", "r", head.generation_count, base, "* 🔴 again")
        assert not stale.committed
        history = store.get_observational_memory_history("t", "r")
        assert [r.generation_count for r in history] == [1, 0]

    def test_buffered_reflection_replaces_only_the_lines_it_read(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 4)
        assert commit(store, msgs[:2], "one")
        head = store.get_observational_memory("t", "r")
        assert head is not None
        lines = head.active_observations.count("\n") + 1
        assert store.buffer_reflection(
            "thread", "t", "r", 0, lines, "Date: Mar 1, 2025\n* 🔴 R", 8, head.observation_token_count
        ).committed
        assert commit(store, msgs[2:], "later")
        done = store.activate_buffered_reflection("thread", "t", "r")
        assert done.committed and done.record is not None
        assert done.record.active_observations.split("\n") == ["Date: Mar 1, 2025", "* 🔴 R", "* 🔴 later"]

    def test_leases_exclude_other_owners_until_released(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        assert store.om_lease("observe", "a", "thread", "t", "r", ttl_seconds=60)
        assert not store.om_lease("observe", "b", "thread", "t", "r", ttl_seconds=60)
        assert store.om_lease("observe", "a", "thread", "t", "r", ttl_seconds=60)  # re-entrant
        assert store.om_lease("reflect", "b", "thread", "t", "r", ttl_seconds=60)  # another kind
        assert store.om_lease("observe", "a", "thread", "t", "r", release=True)
        assert store.om_lease("observe", "b", "thread", "t", "r", ttl_seconds=60)

    def test_clear_and_delete_thread_remove_records(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 2)
        assert commit(store, msgs, "x")
        assert store.get_observational_memory("t", "r") is not None
        store.clear_observational_memory("t", "r")
        assert store.get_observational_memory("t", "r") is None
        assert commit(store, msgs, "y")
        store.delete_thread("t")
        assert store.get_observational_memory_history("t", "r") == []

    def test_resource_scope_cursor_covers_all_threads(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="t", resource_id="r"))
        store.save_thread(Thread(id="u", resource_id="r"))
        a = store.save_messages([Message.user("a", "t", id="a1", created_at=BASE)])
        b = store.save_messages([Message.user("b", "u", id="b1", created_at=BASE + timedelta(seconds=1))])
        refs_ab = [MessageRef(m.id, m.thread_id, m.created_at) for m in a + b]
        result = store.commit_observations(
            ObservationCommit(
                scope="resource",
                thread_id=None,
                resource_id="r",
                observations="Date: Mar 1, 2025\n* 🔴 both",
                messages=refs_ab,
            )
        )
        assert result.committed and result.record is not None and result.record.lookup_key == "resource:r"
        assert result.record.last_observed_at == b[0].created_at
        [late] = store.save_messages([Message.user("late", "t", id="late", created_at=BASE)])
        assert late.created_at > b[0].created_at  # behind the resource's cursor -> moved after it
        assert [r.id for r in store.list_message_refs(None, "r", after=b[0].created_at)] == ["late"]
        assert store.message_refs_summary(None, "r", after=b[0].created_at)[0] == 1
