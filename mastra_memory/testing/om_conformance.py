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

import pytest

from mastra_memory.errors import StorageError
from mastra_memory.memory import Memory
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.om import ObservationCommit
from mastra_memory.storage.records import BufferedChunk, MessageRef
from mastra_memory.storage.thread_tags import thread_tag_id
from mastra_memory.types import Message, Thread

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

    # -- cloning a thread with its observational memory ------------------------------------------

    def test_clone_copies_the_thread_record_with_remapped_ids(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 6)
        assert commit(store, [msgs[0], msgs[1], msgs[3]], "seen")  # cursor at m1, m3 observed after it
        chunk = BufferedChunk(
            observations="Date: Mar 1, 2025\n* 🟡 buffered m4",
            message_ids=["m4"],
            message_tokens=4,
            last_observed_at=msgs[4].created_at,
        )
        assert store.buffer_observation_chunk("thread", "t", "r", chunk, refs(msgs[4:5])).committed
        head = store.get_observational_memory("t", "r")
        assert head is not None
        lines = head.active_observations.count("\n") + 1
        assert store.buffer_reflection("thread", "t", "r", 0, lines, "Date: Mar 1, 2025\n* 🔴 R", 3, 9).committed
        assert store.om_lease("observe", "someone", "thread", "t", "r", ttl_seconds=60)
        source = store.get_observational_memory("t", "r")
        assert source is not None and source.metadata.get("leases")

        result = Memory(storage=store).clone_thread("t", new_thread_id="c")
        ids = result.message_id_map
        copy = store.get_observational_memory("c", "r")
        assert copy is not None
        assert (copy.lookup_key, copy.scope, copy.thread_id, copy.resource_id) == ("thread:c", "thread", "c", "r")
        assert copy.id != source.id and copy.generation_count == source.generation_count
        assert copy.active_observations == source.active_observations
        assert copy.observation_token_count == source.observation_token_count
        assert copy.buffered_reflection == source.buffered_reflection
        assert copy.reflected_observation_line_count == source.reflected_observation_line_count
        assert copy.last_observed_at == source.last_observed_at == msgs[1].created_at
        assert copy.observed_message_ids == [ids["m3"]]
        assert [c.message_ids for c in copy.buffered_observation_chunks] == [[ids["m4"]]]
        assert copy.buffered_observation_chunks[0].observations == chunk.observations
        assert not (copy.is_observing or copy.is_reflecting)
        assert not (copy.is_buffering_observation or copy.is_buffering_reflection)
        assert "leases" not in copy.metadata
        for m in result.cloned_messages:  # the same messages are observed in the clone
            original = next(k for k, v in ids.items() if v == m.id)
            assert copy.cursor.is_observed(m.id, m.created_at) == source.cursor.is_observed(original, m.created_at)
        assert store.get_observational_memory("t", "r") == source  # the source is untouched
        assert [r.id for r in store.get_observational_memory_history("c", "r")] == [copy.id]  # head only
        # the clone's record works like any other: its buffered chunk activates
        done = store.activate_observation_chunks("thread", "c", "r", [copy.buffered_observation_chunks[0].id])
        assert done.committed and done.record is not None and "buffered m4" in done.record.active_observations

    def test_clone_with_message_limit_maps_only_copied_messages(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 6)
        assert commit(store, [msgs[0], msgs[4]], "seen")  # cursor at m0, m4 observed after it
        old = BufferedChunk(observations="* 🟡 old", message_ids=["m1", "m2"], last_observed_at=msgs[2].created_at)
        new = BufferedChunk(observations="* 🟡 new", message_ids=["m5"], last_observed_at=msgs[5].created_at)
        assert store.buffer_observation_chunk("thread", "t", "r", old, refs(msgs[1:3])).committed
        assert store.buffer_observation_chunk("thread", "t", "r", new, refs(msgs[5:6])).committed
        source = store.get_observational_memory("t", "r")
        assert source is not None

        result = Memory(storage=store).clone_thread("t", new_thread_id="c", message_limit=3)
        ids = result.message_id_map
        assert sorted(ids) == ["m3", "m4", "m5"]
        copy = store.get_observational_memory("c", "r")
        assert copy is not None and copy.active_observations == source.active_observations
        copied = {m.id for m in result.cloned_messages}
        referenced = set(copy.observed_message_ids) | copy.buffered_message_ids
        assert referenced <= copied  # no id of an uncopied (or source) message
        assert copy.observed_message_ids == [ids["m4"]]
        assert [c.message_ids for c in copy.buffered_observation_chunks] == [[ids["m5"]]]  # m1/m2 chunk dropped
        observed = {m.id for m in result.cloned_messages if copy.cursor.is_observed(m.id, m.created_at)}
        assert observed == {ids["m4"]}
        assert store.get_observational_memory("t", "r") == source

    def test_clone_on_the_same_resource_shares_the_resource_record(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 2)
        assert store.commit_observations(
            ObservationCommit(
                scope="resource",
                thread_id=None,
                resource_id="r",
                observations="Date: Mar 1, 2025\n* 🔴 shared",
                messages=refs(msgs),
            )
        ).committed
        source = store.get_observational_memory(None, "r")
        assert source is not None
        result = Memory(storage=store).clone_thread("t", new_thread_id="c")
        assert len(result.cloned_messages) == 2
        assert store.get_observational_memory(None, "r") == source  # not copied, not changed
        assert store.get_observational_memory("c", "r") is None
        assert len(store.get_observational_memory_history(None, "r")) == 1

    def test_clone_to_a_new_resource_copies_the_resource_record_and_rewrites_tags(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        store.save_thread(Thread(id="u", resource_id="r"))
        a = store.save_messages([Message.user("a", "t", id="a1", created_at=BASE)])
        b = store.save_messages([Message.user("b", "u", id="b1", created_at=BASE + timedelta(seconds=1))])
        c = store.save_messages([Message.user("c", "t", id="a2", created_at=BASE + timedelta(seconds=2))])
        text = (
            f'Date: Mar 1, 2025\n<thread id="{thread_tag_id("t")}">\n* 🔴 said a\n</thread>\n'
            f'<thread id="{thread_tag_id("u")}">\n* 🔴 said b\n</thread>\n<thread id="t">\n* 🔴 raw\n</thread>'
        )
        assert store.commit_observations(
            ObservationCommit(
                scope="resource", thread_id=None, resource_id="r", observations=text, messages=refs(a + b)
            )
        ).committed
        source = store.get_observational_memory(None, "r")
        assert source is not None and source.last_observed_at == b[0].created_at

        result = Memory(storage=store).clone_thread("t", new_thread_id="moved", resource_id="r2")
        ids = result.message_id_map
        copy = store.get_observational_memory(None, "r2")
        assert copy is not None and copy.id != source.id
        assert (copy.lookup_key, copy.scope, copy.thread_id, copy.resource_id) == (
            "resource:r2",
            "resource",
            None,
            "r2",
        )
        assert f'<thread id="{thread_tag_id("moved")}">\n* 🔴 said a' in copy.active_observations
        assert '<thread id="moved">\n* 🔴 raw' in copy.active_observations
        assert f'<thread id="{thread_tag_id("u")}">' in copy.active_observations  # other threads keep theirs
        assert thread_tag_id("t") not in copy.active_observations and 'id="t"' not in copy.active_observations
        # a1's copy is observed, a2's is not (it was not observed in the source either)
        assert copy.cursor.is_observed(ids["a1"], a[0].created_at)
        assert not copy.cursor.is_observed(ids["a2"], c[0].created_at)
        assert [r.id for r in store.list_message_refs(None, "r2", after=copy.last_observed_at)] == [ids["a2"]]
        assert store.get_observational_memory(None, "r") == source  # source untouched
        assert store.get_observational_memory("moved", "r2") is None  # no thread record made

    def test_clone_into_a_resource_with_its_own_record_appends(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        store.save_thread(Thread(id="x", resource_id="r2"))
        mine = store.save_messages([Message.user("x", "x", id="x1", created_at=BASE)])
        theirs = store.save_messages([Message.user("a", "t", id="a1", created_at=BASE + timedelta(seconds=5))])
        for rid, msgs, note in (("r2", mine, "own"), ("r", theirs, "theirs")):
            assert store.commit_observations(
                ObservationCommit(
                    scope="resource",
                    thread_id=None,
                    resource_id=rid,
                    observations=f"Date: Mar 1, 2025\n* 🔴 {note}",
                    messages=refs(msgs),
                )
            ).committed
        target = store.get_observational_memory(None, "r2")
        assert target is not None
        result = Memory(storage=store).clone_thread("t", new_thread_id="moved", resource_id="r2")
        merged = store.get_observational_memory(None, "r2")
        assert merged is not None and merged.id == target.id and merged.generation_count == target.generation_count
        assert (
            merged.active_observations.startswith(target.active_observations) and "theirs" in merged.active_observations
        )
        [copied] = result.cloned_messages
        assert merged.cursor.is_observed(copied.id, copied.created_at)
        assert merged.cursor.is_observed("x1", mine[0].created_at)

    def test_failed_memory_copy_rolls_the_clone_back(self, store: MemoryStorage) -> None:

        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = save(store, 2)
        assert commit(store, msgs, "x")

        def boom(*args: object, **kwargs: object) -> None:
            raise RuntimeError("disk on fire")

        store.copy_observational_memory = boom  # type: ignore[method-assign,assignment]
        try:
            with pytest.raises(StorageError, match="disk on fire"):
                Memory(storage=store).clone_thread("t", new_thread_id="c")
        finally:
            del store.copy_observational_memory
        assert store.get_thread_by_id("c") is None
        assert store.list_messages("c", per_page=False).messages == []
        assert store.get_observational_memory("c", "r") is None
        assert store.list_messages("t", per_page=False).total == 2  # the source is untouched
