"""The storage conformance suite every :class:`~mastra_memory.storage.base.MemoryStorage` runs.

Use it from a test module by subclassing and providing a ``store`` fixture that yields a fresh,
empty, set-up store::

    import pytest
    from mastra_memory.testing.conformance import MemoryStorageConformance
    from mastra_memory.storage import open_storage

    class TestMyStore(MemoryStorageConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with open_storage(f"file:{tmp_path}/t.db") as s:  # or your backend's URL
                yield s

Each check states one behaviour of the contract; a third-party adapter passes when all do.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mastra_memory.errors import (
    MastraMemoryError,
    ResourceMismatchError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.types import (
    FilePart,
    Message,
    MessageContent,
    RawPart,
    ReasoningPart,
    Resource,
    TextPart,
    Thread,
    ToolInvocationPart,
)

__all__ = ["MemoryStorageConformance"]

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _thread(tid: str, rid: str = "r1", at: datetime = T0, **kw: Any) -> Thread:
    return Thread(id=tid, resource_id=rid, created_at=at, updated_at=at, **kw)


def _msg(
    tid: str, i: int, at: datetime | None = None, role: str = "user", mid: str | None = None, **kw: Any
) -> Message:
    return Message(
        id=mid or f"{tid}-m{i:05d}",
        thread_id=tid,
        role=role,  # type: ignore[arg-type]
        created_at=at or T0 + timedelta(seconds=i),
        content=MessageContent(parts=[TextPart(text=f"message {i}")]),
        **kw,
    )


def _texts(messages: list[Message]) -> list[str]:
    return [m.text for m in messages]


class MemoryStorageConformance:
    """Checks of the MemoryStorage contract. Subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> MemoryStorage:  # pragma: no cover - replaced by subclasses
        raise NotImplementedError("provide a `store` fixture yielding a fresh store")

    def _seed(self, store: MemoryStorage, tid: str = "t1", n: int = 10, rid: str = "r1") -> list[Message]:
        store.save_thread(_thread(tid, rid))
        return store.save_messages([_msg(tid, i) for i in range(n)])

    # -- threads --------------------------------------------------------------------------------

    def test_thread_roundtrip(self, store: MemoryStorage) -> None:
        meta = {"topic": "trips", "n": 3, "ok": True, "nested": {"a": [1, 2]}, "uni": "café ☕ 日本"}
        store.save_thread(_thread("t1", title="Hello", metadata=meta))
        got = store.get_thread_by_id("t1")
        assert got is not None
        assert (got.id, got.resource_id, got.title, got.metadata) == ("t1", "r1", "Hello", meta)
        assert got.created_at == T0 and got.created_at.tzinfo is not None
        assert store.get_thread_by_id("missing") is None

    def test_empty_thread_counts_zero_messages(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("empty"))
        store.save_thread(_thread("full"))
        store.save_messages([_msg("full", 0)])
        for per_page in (0, 10, False):
            page = store.list_messages("empty", per_page=per_page)
            assert (page.messages, page.total, page.has_more) == ([], 0, False)
        assert store.list_messages(["empty", "full"], per_page=0).total == 1
        assert store.list_messages("empty", include=[{"id": "full-m00000", "thread_id": "full"}], per_page=0).total == 0

    def test_save_thread_is_upsert(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1", title="a"))
        store.save_thread(_thread("t1", title="b"))
        assert store.get_thread_by_id("t1").title == "b"  # type: ignore[union-attr]
        assert store.list_threads().total == 1

    # -- thread ownership: create, save and get-or-create -----------------------------------------

    def test_create_thread_conflict_leaves_stored_thread_unchanged(self, store: MemoryStorage) -> None:
        first = _thread("t1", "r1", title="first", metadata={"a": 1})
        assert store.create_thread(first) == first
        for intruder in (_thread("t1", "r2", title="other"), _thread("t1", "r1", title="same owner")):
            with pytest.raises(ThreadConflictError) as caught:
                store.create_thread(intruder)
            assert caught.value.thread_id == "t1"
        got = store.get_thread_by_id("t1")
        assert got is not None
        assert (got.resource_id, got.title, got.metadata) == ("r1", "first", {"a": 1})
        assert store.list_threads().total == 1

    def test_save_thread_refuses_an_owner_change(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1", "r1", title="mine"))
        with pytest.raises(ResourceMismatchError) as caught:
            store.save_thread(_thread("t1", "r2", title="stolen", metadata={"x": 1}))
        err = caught.value
        assert (err.thread_id, err.expected_resource_id, err.resource_id) == ("t1", "r1", "r2")
        got = store.get_thread_by_id("t1")
        assert got is not None and (got.resource_id, got.title, got.metadata) == ("r1", "mine", {})
        assert store.list_threads(resource_id="r2").total == 0
        later = T0 + timedelta(hours=1)
        store.save_thread(_thread("t1", "r1", at=later, title="renamed"))  # the owner may still replace it
        got = store.get_thread_by_id("t1")
        assert got is not None and (got.resource_id, got.title, got.updated_at) == ("r1", "renamed", later)

    def test_get_or_create_thread(self, store: MemoryStorage) -> None:
        created, was_new = store.get_or_create_thread(_thread("t1", "r1", title="one"))
        assert was_new and created.id == "t1"
        again, was_new = store.get_or_create_thread(_thread("t1", "r1", title="ignored"))
        assert not was_new and (again.resource_id, again.title) == ("r1", "one")
        with pytest.raises(ResourceMismatchError):
            store.get_or_create_thread(_thread("t1", "r2"))
        got = store.get_thread_by_id("t1")
        assert got is not None and (got.resource_id, got.title) == ("r1", "one")

    def test_thread_creation_race_creates_each_id_once_and_never_moves_it(self, store: MemoryStorage) -> None:
        """8 workers of different resources race on the same 50 ids with create_thread,
        get_or_create_thread and save_thread: every id is created exactly once, and only its
        creator's resource ever owns it."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        ids = [f"race-{i:02d}" for i in range(50)]
        creators: dict[str, list[str]] = {tid: [] for tid in ids}
        refused: list[tuple[str, str]] = []  # (thread id, resource that was refused)
        lock = threading.Lock()
        start = threading.Barrier(8)

        def worker(w: int) -> None:
            rid = f"owner-{w}"
            start.wait()
            for tid in ids if w % 2 else reversed(ids):
                try:
                    if w % 3 == 0:
                        store.create_thread(_thread(tid, rid))
                        created = True
                    else:
                        created = store.get_or_create_thread(_thread(tid, rid))[1]
                except (ThreadConflictError, ResourceMismatchError):
                    created = False
                if created:
                    with lock:
                        creators[tid].append(rid)
                try:
                    store.save_thread(_thread(tid, rid, title=f"saved by {rid}"))
                except ResourceMismatchError:
                    with lock:
                        refused.append((tid, rid))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(worker, range(8)))
        twice_or_never = {tid: who for tid, who in creators.items() if len(who) != 1}
        assert not twice_or_never, f"ids not created exactly once (id: creators): {twice_or_never}"
        for tid in ids:
            owner = creators[tid][0]
            got = store.get_thread_by_id(tid)
            assert got is not None and got.resource_id == owner and got.title == f"saved by {owner}"
            assert sorted(r for t, r in refused if t == tid) == sorted(
                f"owner-{w}" for w in range(8) if f"owner-{w}" != owner
            )
        assert store.list_threads(per_page=False).total == 50

    def test_update_thread_merges_metadata(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1", metadata={"a": 1, "b": 2}))
        updated = store.update_thread("t1", title="new", metadata={"b": 3, "c": 4})
        assert updated.title == "new" and updated.metadata == {"a": 1, "b": 3, "c": 4}
        assert updated.updated_at > T0
        again = store.get_thread_by_id("t1")
        assert again is not None and again.metadata == {"a": 1, "b": 3, "c": 4} and again.title == "new"
        assert store.update_thread("t1", metadata={"d": 5}).title == "new"

    def test_set_thread_title_if_empty(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1", metadata={"a": 1}))
        store.save_thread(_thread("t2", title=""))
        store.save_thread(_thread("t3", title="mine"))
        assert store.set_thread_title_if_empty("t1", "Generated") is True
        got = store.get_thread_by_id("t1")
        assert got is not None and (got.title, got.metadata) == ("Generated", {"a": 1}) and got.updated_at > T0
        assert store.set_thread_title_if_empty("t1", "Again") is False
        assert store.set_thread_title_if_empty("t2", "Filled") is True
        assert store.set_thread_title_if_empty("t3", "Generated") is False
        assert store.set_thread_title_if_empty("missing", "Generated") is False
        assert store.get_thread_by_id("missing") is None
        for bad in ("", 42):
            with pytest.raises(ValidationError):
                store.set_thread_title_if_empty("t2", bad)  # type: ignore[arg-type]
        titles = {t.id: t.title for t in store.list_threads(per_page=False).threads}
        assert titles == {"t1": "Generated", "t2": "Filled", "t3": "mine"}
        unchanged = store.get_thread_by_id("t3")
        assert unchanged is not None and unchanged.updated_at == T0

    def test_user_rename_always_beats_title_generation(self, store: MemoryStorage) -> None:
        """A user renames each of 30 untitled threads while title generation fills them: the
        user's title is the one that stays, whichever write lands first."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        ids = [f"title-{i:02d}" for i in range(30)]
        for tid in ids:
            store.save_thread(_thread(tid))
        together = {tid: threading.Barrier(4) for tid in ids}  # all four writers on one thread at once
        generated: dict[str, list[bool]] = {tid: [] for tid in ids}

        def worker(w: int) -> None:
            for tid in ids:
                together[tid].wait(timeout=60)
                if w < 2:
                    store.update_thread(tid, title=f"user {tid}")
                else:
                    generated[tid].append(store.set_thread_title_if_empty(tid, f"generated {w}"))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(worker, range(4)))
        for tid in ids:
            got = store.get_thread_by_id(tid)
            assert got is not None and got.title == f"user {tid}"
            assert generated[tid].count(True) <= 1  # filled at most once

    def test_update_missing_thread(self, store: MemoryStorage) -> None:
        with pytest.raises(ThreadNotFoundError):
            store.update_thread("nope", title="x")

    def test_delete_thread_removes_messages_and_is_idempotent(self, store: MemoryStorage) -> None:
        msgs = self._seed(store)
        self._seed(store, "t2", 3)
        store.delete_thread("t1")
        assert store.get_thread_by_id("t1") is None
        assert store.list_messages_by_id([m.id for m in msgs]) == []
        assert store.list_messages("t2").total == 3
        store.delete_thread("t1")

    def test_list_threads_pagination(self, store: MemoryStorage) -> None:
        for i in range(7):
            store.save_thread(_thread(f"t{i}", at=T0 + timedelta(minutes=i)))
        page = store.list_threads(resource_id="r1", per_page=3, page=0)
        assert [t.id for t in page.threads] == ["t6", "t5", "t4"]
        assert (page.total, page.has_more) == (7, True)
        last = store.list_threads(resource_id="r1", per_page=3, page=2)
        assert [t.id for t in last.threads] == ["t0"] and not last.has_more
        assert store.list_threads(per_page=3, page=5).threads == []
        everything = store.list_threads(per_page=False)
        assert len(everything.threads) == 7 and not everything.has_more
        asc = store.list_threads(direction="ASC", per_page=2)
        assert [t.id for t in asc.threads] == ["t0", "t1"]

    def test_list_threads_order_ties_broken_by_id(self, store: MemoryStorage) -> None:
        for tid in ["b", "a", "c"]:
            store.save_thread(_thread(tid))
        assert [t.id for t in store.list_threads(direction="ASC").threads] == ["a", "b", "c"]
        assert [t.id for t in store.list_threads(direction="DESC").threads] == ["c", "b", "a"]

    def test_list_threads_order_by_updated_at(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("old", at=T0))
        store.save_thread(_thread("new", at=T0 + timedelta(hours=1)))
        store.save_messages([_msg("old", 0)])  # bumps updated_at of "old" to now
        by_update = store.list_threads(order_by="updated_at")
        assert [t.id for t in by_update.threads] == ["old", "new"]
        by_create = store.list_threads(order_by="created_at")
        assert [t.id for t in by_create.threads] == ["new", "old"]

    def test_list_threads_filters(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("a", "r1", metadata={"kind": "chat", "n": 1, "flag": True, "uni": "ñ日"}))
        store.save_thread(_thread("b", "r1", metadata={"kind": "task", "n": 2}))
        store.save_thread(_thread("c", "r2", metadata={"kind": "chat", "obj": {"x": [1, "y"]}}))
        assert {t.id for t in store.list_threads(metadata={"kind": "chat"}).threads} == {"a", "c"}
        assert [t.id for t in store.list_threads(resource_id="r1", metadata={"kind": "chat"}).threads] == ["a"]
        assert [t.id for t in store.list_threads(metadata={"n": 2}).threads] == ["b"]
        assert [t.id for t in store.list_threads(metadata={"flag": True}).threads] == ["a"]
        assert [t.id for t in store.list_threads(metadata={"uni": "ñ日"}).threads] == ["a"]
        assert [t.id for t in store.list_threads(metadata={"obj": {"x": [1, "y"]}}).threads] == ["c"]
        assert store.list_threads(metadata={"kind": "chat", "n": 2}).total == 0
        assert store.list_threads(metadata={"missing": "x"}).total == 0
        assert store.list_threads(resource_id="r2").total == 1

    @pytest.mark.parametrize("key", ["bad key", "1abc", "a.b", "__proto__;", "x" * 129, "a-b"])
    def test_list_threads_rejects_bad_filter_keys(self, store: MemoryStorage, key: str) -> None:
        with pytest.raises(ValidationError):
            store.list_threads(metadata={key: 1})

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"page": -1},
            {"per_page": -1},
            {"per_page": False, "page": 1},
            {"direction": "SIDEWAYS"},
            {"order_by": "title"},
            {"page": "1"},
        ],
    )
    def test_list_threads_rejects_bad_pagination(self, store: MemoryStorage, kwargs: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            store.list_threads(**kwargs)

    # -- messages -------------------------------------------------------------------------------

    def test_messages_newest_page_in_chronological_order(self, store: MemoryStorage) -> None:
        self._seed(store, n=25)
        res = store.list_messages("t1", per_page=10)
        assert _texts(res.messages) == [f"message {i}" for i in range(15, 25)]
        assert (res.total, res.has_more, res.page) == (25, True, 0)
        older = store.list_messages("t1", per_page=10, page=1)
        assert _texts(older.messages) == [f"message {i}" for i in range(5, 15)]
        oldest = store.list_messages("t1", per_page=10, page=2)
        assert _texts(oldest.messages) == [f"message {i}" for i in range(0, 5)] and not oldest.has_more
        asc = store.list_messages("t1", per_page=10, direction="ASC")
        assert _texts(asc.messages) == [f"message {i}" for i in range(10)]
        everything = store.list_messages("t1", per_page=False)
        assert len(everything.messages) == 25 and everything.total == 25

    def test_message_content_roundtrip(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        parts: list[Any] = [
            TextPart(text="Let me check. 🌍 Ünïcödé 日本語 עברית"),
            ReasoningPart(text="thinking"),
            ToolInvocationPart(
                tool_call_id="c1",
                tool_name="weather",
                args={"city": "Lisbon"},
                result={"temp": 21.5, "ok": True},
                state="result",
            ),
            FilePart(url="https://example.invalid/a.png", mime_type="image/png"),
            RawPart(type="step-start", data={}),
            RawPart(type="data-custom", data={"data": {"k": [1, None]}}),
            TextPart(text="It is 21.5°C."),
        ]
        msg = Message(
            id="m1",
            thread_id="t1",
            role="assistant",
            created_at=T0,
            content=MessageContent(parts=parts, metadata={"source": "test", "n": 1}),
        )
        store.save_messages([msg])
        (got,) = store.list_messages("t1").messages
        assert got.content.parts == parts
        assert got.content.metadata == {"source": "test", "n": 1}
        assert (got.role, got.type, got.resource_id, got.created_at) == ("assistant", "v2", "r1", T0)
        assert got.text == "Let me check. 🌍 Ünïcödé 日本語 עברית\nIt is 21.5°C."

    def test_ordering_ties_broken_by_id(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        for mid in ["c", "a", "b"]:  # separate batches: no spacing, equal timestamps
            store.save_messages([_msg("t1", 0, at=T0, mid=mid)])
        assert [m.id for m in store.list_messages("t1").messages] == ["a", "b", "c"]
        assert [m.id for m in store.list_messages("t1", per_page=2).messages] == ["b", "c"]
        assert [m.id for m in store.list_messages("t1", per_page=2, direction="ASC").messages] == ["a", "b"]

    def test_batch_gets_strictly_increasing_timestamps(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        batch = [_msg("t1", 0, at=T0, mid=f"z{9 - i}") for i in range(5)]  # ids sort against order
        saved = store.save_messages(batch)
        times = [m.created_at for m in saved]
        assert all(b - a >= timedelta(milliseconds=1) for a, b in itertools.pairwise(times))
        assert [m.id for m in store.list_messages("t1").messages] == [m.id for m in batch]

    def test_save_is_idempotent_upsert(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=5)
        store.save_messages(msgs)
        edited = msgs[2].model_copy(update={"content": MessageContent(parts=[TextPart(text="edited")])})
        store.save_messages([edited])
        res = store.list_messages("t1")
        assert res.total == 5 and len({m.id for m in res.messages}) == 5
        assert res.messages[2].text == "edited"

    def test_message_read_back_and_edited_in_place_saves_the_edit(self, store: MemoryStorage) -> None:
        self._seed(store, n=3)
        first, second, _ = store.list_messages("t1").messages
        first.content.parts[0] = TextPart(text="edited in place")
        second.content = MessageContent(parts=[TextPart(text="replaced")], metadata={"v": 2})
        store.save_messages([first, second])
        got = store.list_messages("t1").messages
        assert [got[0].text, got[1].text] == ["edited in place", "replaced"]
        assert got[1].content.metadata == {"v": 2}
        clone = store.clone_thread("t1", _thread("c1")).cloned_messages[0]
        clone.content.parts.append(TextPart(text="more"))
        store.save_messages([clone])
        assert store.list_messages("c1").messages[0].text == "edited in place\nmore"

    def test_message_id_cannot_move_to_another_thread(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=2)
        store.save_thread(_thread("t2"))
        with pytest.raises(ValidationError):
            store.save_messages([_msg("t2", 9, mid=msgs[0].id)])
        assert store.list_messages("t1").total == 2 and store.list_messages("t2").total == 0

    def test_save_bumps_thread_updated_at(self, store: MemoryStorage) -> None:
        self._seed(store, n=1)
        thread = store.get_thread_by_id("t1")
        assert thread is not None and thread.updated_at > T0

    def test_system_messages_are_not_stored(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        saved = store.save_messages([_msg("t1", 0, role="system"), _msg("t1", 1)])
        assert [m.role for m in saved] == ["user"]
        assert store.list_messages("t1").total == 1

    def test_include_windows(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=20)
        res = store.list_messages(
            "t1",
            per_page=0,
            include=[{"id": msgs[10].id, "with_previous_messages": 2, "with_next_messages": 1}],
        )
        assert _texts(res.messages) == ["message 8", "message 9", "message 10", "message 11"]
        edges = store.list_messages(
            "t1",
            per_page=0,
            include=[
                {"id": msgs[0].id, "with_previous_messages": 3},
                {"id": msgs[19].id, "with_next_messages": 3},
                {"id": "unknown"},
            ],
        )
        assert _texts(edges.messages) == ["message 0", "message 19"]
        merged = store.list_messages(
            "t1",
            per_page=3,
            include=[{"id": msgs[2].id, "with_next_messages": 1}, {"id": msgs[17].id, "with_previous_messages": 2}],
        )
        assert _texts(merged.messages) == [f"message {i}" for i in (2, 3, 15, 16, 17, 18, 19)]

    def test_include_window_with_equal_timestamps(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        for mid in ["a", "b", "c", "d", "e"]:
            store.save_messages([_msg("t1", 0, at=T0, mid=mid)])
        res = store.list_messages(
            "t1", per_page=0, include=[{"id": "c", "with_previous_messages": 1, "with_next_messages": 1}]
        )
        assert [m.id for m in res.messages] == ["b", "c", "d"]

    def test_include_from_another_thread(self, store: MemoryStorage) -> None:
        self._seed(store, "t1", 3)
        other = self._seed(store, "t2", 5)
        res = store.list_messages(
            "t1", per_page=10, include=[{"id": other[2].id, "thread_id": "t2", "with_previous_messages": 1}]
        )
        assert {m.thread_id for m in res.messages} == {"t1", "t2"}
        assert [m.id for m in res.messages if m.thread_id == "t2"] == [other[1].id, other[2].id]

    def test_list_messages_of_several_threads_and_dates(self, store: MemoryStorage) -> None:
        self._seed(store, "t1", 5)
        self._seed(store, "t2", 5)
        both = store.list_messages(["t1", "t2"], per_page=False)
        assert both.total == 10
        ranged = store.list_messages(
            "t1", per_page=False, start=T0 + timedelta(seconds=1), end=T0 + timedelta(seconds=3)
        )
        assert _texts(ranged.messages) == ["message 1", "message 2", "message 3"]

    def test_list_messages_by_resource_and_id(self, store: MemoryStorage) -> None:
        a = self._seed(store, "t1", 3, "r1")
        self._seed(store, "t2", 2, "r1")
        self._seed(store, "t3", 4, "r2")
        res = store.list_messages_by_resource_id("r1", per_page=False)
        assert res.total == 5 and {m.thread_id for m in res.messages} == {"t1", "t2"}
        got = store.list_messages_by_id([a[2].id, a[0].id, "missing"])
        assert [m.id for m in got] == [a[0].id, a[2].id]

    def test_delete_messages(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=5)
        store.delete_messages([msgs[1].id, msgs[3].id, "missing"])
        assert _texts(store.list_messages("t1").messages) == ["message 0", "message 2", "message 4"]
        store.delete_messages([])
        with pytest.raises(ValidationError):
            store.delete_messages("not-a-list")

    def test_pop_newest_message(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=3)
        popped = store.pop_newest_message("t1", "r1")
        assert popped is not None and popped.id == msgs[2].id and popped.text == "message 2"
        assert _texts(store.list_messages("t1").messages) == ["message 0", "message 1"]
        with pytest.raises(ResourceMismatchError):
            store.pop_newest_message("t1", "someone-else")
        assert store.list_messages("t1").total == 2  # nothing popped by the refused call
        assert [store.pop_newest_message("t1").text for _ in range(2)] == ["message 1", "message 0"]  # type: ignore[union-attr]
        assert store.pop_newest_message("t1") is None
        assert store.pop_newest_message("no-such-thread") is None
        with pytest.raises(ValidationError):
            store.pop_newest_message("")

    def test_concurrent_pops_return_distinct_messages(self, store: MemoryStorage) -> None:
        """N concurrent pops of an N-message thread return N distinct messages and empty it."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        n = 8
        msgs = self._seed(store, n=n)
        start = threading.Barrier(n)

        def pop(_: int) -> str | None:
            start.wait()
            got = store.pop_newest_message("t1")
            return got.id if got is not None else None

        with ThreadPoolExecutor(max_workers=n) as pool:
            popped = list(pool.map(pop, range(n)))
        assert sorted(p or "" for p in popped) == sorted(m.id for m in msgs), "a message popped twice or not at all"
        assert store.list_messages("t1").total == 0

    def test_replace_messages(self, store: MemoryStorage) -> None:
        self._seed(store, n=4)
        before = store.get_thread_by_id("t1")
        new = [_msg("t1", i, mid=f"new-{i}") for i in (7, 8)]
        stored = store.replace_messages("t1", new)
        assert [m.id for m in stored] == ["new-7", "new-8"] and all(m.resource_id == "r1" for m in stored)
        page = store.list_messages("t1", per_page=False)
        assert [m.id for m in page.messages] == ["new-7", "new-8"] and page.total == 2
        after = store.get_thread_by_id("t1")
        assert before is not None and after is not None and after.updated_at >= before.updated_at
        store.replace_messages("t1", [_msg("t1", 9, mid="new-7")])  # an id of the old set may come back
        assert _texts(store.list_messages("t1").messages) == ["message 9"]
        assert store.replace_messages("t1", []) == []
        assert store.list_messages("t1").total == 0
        # refused batches change nothing
        store.replace_messages("t1", [_msg("t1", i) for i in range(3)])
        self._seed(store, "t2", n=1)
        old = [m.id for m in store.list_messages("t1").messages]
        taken = _msg("t1", 5, mid="t2-m00000")  # the id of a message of t2
        bad_batches: list[tuple[list[Message], type[Exception]]] = [
            ([_msg("t1", 4, mid="ok-4"), taken], ValidationError),
            ([_msg("t2", 4)], ValidationError),  # a message of another thread
            ([_msg("t1", 4, resource_id="r2")], ResourceMismatchError),
            ([Message(id="empty", thread_id="t1", role="user", content=MessageContent(parts=[]))], ValidationError),
        ]
        for batch, error in bad_batches:
            with pytest.raises(error):
                store.replace_messages("t1", batch)
            assert [m.id for m in store.list_messages("t1").messages] == old
        assert [m.id for m in store.list_messages("t2").messages] == ["t2-m00000"]
        with pytest.raises(ThreadNotFoundError):
            store.replace_messages("missing", [_msg("missing", 1)])

    def test_replace_messages_readers_never_see_a_mix(self, store: MemoryStorage) -> None:
        """With :attr:`atomic_replace_messages`, a reader during replaces sees one whole set."""
        import threading

        if not store.atomic_replace_messages:
            pytest.skip(f"{type(store).__name__} replaces in two steps (atomic_replace_messages is False)")
        self._seed(store, n=0)
        sets = [[_msg("t1", i, mid=f"g{g}-{i}") for i in range(3)] for g in range(2)]
        store.replace_messages("t1", sets[0])
        allowed = [{m.id for m in s} for s in sets]
        seen: list[set[str]] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.append({m.id for m in store.list_messages("t1", per_page=False).messages})

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for g in range(6):
                store.replace_messages("t1", sets[(g + 1) % 2])
        finally:
            done.set()
            reader.join()
        assert seen and all(ids in allowed for ids in seen), [ids for ids in seen if ids not in allowed][:3]

    # -- resources ------------------------------------------------------------------------------

    def test_resources(self, store: MemoryStorage) -> None:
        assert store.get_resource_by_id("r9") is None
        created = store.update_resource("r9", working_memory="# Notes\n- likes tea", metadata={"a": 1})
        assert created.working_memory == "# Notes\n- likes tea"
        merged = store.update_resource("r9", metadata={"b": 2})
        assert merged.working_memory == "# Notes\n- likes tea" and merged.metadata == {"a": 1, "b": 2}
        got = store.get_resource_by_id("r9")
        assert got is not None and got.metadata == {"a": 1, "b": 2} and (got.working_memory or "").endswith("tea")
        store.save_resource(Resource(id="r9", working_memory=None, metadata={}))
        replaced = store.get_resource_by_id("r9")
        assert replaced is not None and replaced.working_memory is None and replaced.metadata == {}

    # -- working memory: atomic read-modify-write ------------------------------------------------

    def test_working_memory_atomic_resource(self, store: MemoryStorage) -> None:
        seen: list[str | None] = []

        def first(current: str | None) -> str:
            seen.append(current)
            return "# v1"

        assert store.update_working_memory_atomic(first, resource_id="r7") == "# v1"
        assert seen == [None]
        assert store.update_working_memory_atomic(lambda cur: (cur or "") + "+v2", resource_id="r7") == "# v1+v2"
        assert store.update_working_memory_atomic(lambda cur: None, resource_id="r7") == "# v1+v2"  # no write
        got = store.get_resource_by_id("r7")
        assert got is not None and got.working_memory == "# v1+v2"

        def boom(current: str | None) -> str:
            raise ValidationError("rejected")

        with pytest.raises(ValidationError):
            store.update_working_memory_atomic(boom, resource_id="r7")
        assert (store.get_resource_by_id("r7") or Resource(id="x")).working_memory == "# v1+v2"

    def test_working_memory_atomic_thread(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1", metadata={"keep": 1}))
        assert store.update_working_memory_atomic(lambda cur: f"{cur}!", thread_id="t1") == "None!"
        got = store.get_thread_by_id("t1")
        assert got is not None and got.metadata == {"keep": 1, "workingMemory": "None!"}
        with pytest.raises(ThreadNotFoundError):
            store.update_working_memory_atomic(lambda cur: "x", thread_id="missing")
        with pytest.raises(ValidationError):
            store.update_working_memory_atomic(lambda cur: "x", thread_id="t1", resource_id="r1")
        with pytest.raises(ValidationError):
            store.update_working_memory_atomic(lambda cur: "x")

    def test_working_memory_atomic_concurrent_threads(self, store: MemoryStorage) -> None:
        import json
        from concurrent.futures import ThreadPoolExecutor

        def add(key: str) -> None:
            store.update_working_memory_atomic(
                lambda cur: json.dumps({**json.loads(cur or "{}"), key: True}), resource_id="r8"
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(add, [f"k{i}" for i in range(24)]))
        got = store.get_resource_by_id("r8")
        assert got is not None and len(json.loads(got.working_memory or "{}")) == 24

    # -- clone ----------------------------------------------------------------------------------

    def test_clone_all_and_limited(self, store: MemoryStorage) -> None:
        msgs = self._seed(store, n=12)
        res = store.clone_thread("t1", _thread("c1", "r2"))
        assert res.thread.id == "c1" and len(res.cloned_messages) == 12
        copied = store.list_messages("c1", per_page=False).messages
        assert _texts(copied) == _texts(msgs)
        assert {m.resource_id for m in copied} == {"r2"}
        assert not {m.id for m in copied} & {m.id for m in msgs}
        assert res.message_id_map[msgs[0].id] == copied[0].id
        limited = store.clone_thread("t1", _thread("c2"), message_limit=4)
        assert _texts(limited.cloned_messages) == [f"message {i}" for i in range(8, 12)]
        picked = store.clone_thread("t1", _thread("c3"), message_ids=[msgs[1].id, msgs[5].id])
        assert _texts(picked.cloned_messages) == ["message 1", "message 5"]
        assert store.list_messages("t1").total == 12

    def test_clone_errors(self, store: MemoryStorage) -> None:
        self._seed(store, n=2)
        with pytest.raises(ThreadNotFoundError):
            store.clone_thread("missing", _thread("c1"))
        with pytest.raises(ValidationError):
            store.clone_thread("t1", _thread("t1"))
        with pytest.raises(ValidationError):
            store.clone_thread("t1", _thread("c9"), message_limit=-1)
        assert store.get_thread_by_id("c1") is None

    # -- ownership and bad input ----------------------------------------------------------------

    def test_resource_ownership(self, store: MemoryStorage) -> None:
        self._seed(store, "t1", 2, "r1")
        with pytest.raises(ResourceMismatchError):
            store.save_messages([_msg("t1", 5, resource_id="r2")])
        with pytest.raises(ResourceMismatchError):
            store.list_messages("t1", resource_id="r2")
        assert store.list_messages("t1", resource_id="r1").total == 2

    def test_failed_batch_writes_nothing(self, store: MemoryStorage) -> None:
        self._seed(store, "t1", 1)
        batch = [_msg("t1", 1), _msg("t1", 2), _msg("missing", 3)]
        with pytest.raises(ThreadNotFoundError):
            store.save_messages(batch)
        batch = [_msg("t1", 1), _msg("t1", 2, resource_id="r2")]
        with pytest.raises(ResourceMismatchError):
            store.save_messages(batch)
        assert store.list_messages("t1").total == 1

    @pytest.mark.parametrize("bad", ["", " padded", "tab\there", "nul\x00", "x" * 256])
    def test_invalid_ids(self, store: MemoryStorage, bad: str) -> None:
        with pytest.raises(ValidationError):
            store.get_thread_by_id(bad)
        with pytest.raises(ValidationError):
            store.list_messages(bad)
        with pytest.raises((ValidationError, ValueError)):
            Thread(id=bad, resource_id="r1")

    def test_non_string_id(self, store: MemoryStorage) -> None:
        with pytest.raises(ValidationError):
            store.get_thread_by_id(123)  # type: ignore[arg-type]

    def test_non_json_metadata(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        for bad in ({"s": {1, 2}}, {"n": math.nan}, {"o": object()}):
            with pytest.raises(ValidationError):
                store.update_thread("t1", metadata=bad)
        assert store.get_thread_by_id("t1").metadata == {}  # type: ignore[union-attr]

    def test_empty_and_oversized_content(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        empty = Message(thread_id="t1", role="user", content=MessageContent(parts=[]))
        blank = Message.user("   ", "t1")
        for bad in (empty, blank):
            with pytest.raises(ValidationError):
                store.save_messages([_msg("t1", 0), bad])
        huge = Message.user("x" * (store.max_message_bytes + 1), "t1")
        with pytest.raises(ValidationError):
            store.save_messages([_msg("t1", 0), huge])
        assert store.list_messages("t1").total == 0

    def test_unknown_thread(self, store: MemoryStorage) -> None:
        with pytest.raises(ThreadNotFoundError):
            store.save_messages([_msg("nope", 0)])
        assert store.list_messages("nope").total == 0

    def test_one_megabyte_message(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("t1"))
        text = ("0123456789abcdef" * 65536)[: 1024 * 1024 - 100] + "é末🙂"
        store.save_messages([Message.user(text, "t1", id="big")])
        (got,) = store.list_messages_by_id(["big"])
        assert got.text == text

    def test_unicode_ids_and_text(self, store: MemoryStorage) -> None:
        store.save_thread(_thread("thread-ñ-日本-🙂", "user-ü"))
        text = "quote ' and \" and \\ and \u2028 and null \x00 char"
        store.save_messages([Message.user(text, "thread-ñ-日本-🙂", id="msg-é")])
        (got,) = store.list_messages("thread-ñ-日本-🙂").messages
        assert got.id == "msg-é" and got.text == "quote ' and \" and \\ and \u2028 and null \x00 char"
        assert store.list_threads(resource_id="user-ü").total == 1

    def test_errors_share_one_base(self, store: MemoryStorage) -> None:
        with pytest.raises(MastraMemoryError):
            store.save_messages([_msg("nope", 0)])
