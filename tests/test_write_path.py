"""The libSQL write path: statements per call, insert-only thread creation across processes, and
the guarantees the folded statements must keep (atomic batches, owners, no id moving thread,
placement after the newest stored message, trigger-kept counts), on real libSQL files.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message
from mastra_memory.errors import ResourceMismatchError, ThreadConflictError, ThreadNotFoundError, ValidationError
from mastra_memory.storage.base import place_after_newest
from mastra_memory.types import truncate_ms
from storage_adapters.libsql import LibSQLStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class _Counting:
    """A libsql connection that records the statements run on it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.log: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.log.append(" ".join(sql.split()))
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self.log.extend(" ".join(sql.split()) for _ in rows)  # one statement per row
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``(Memory on a libSQL file, the statement log of its connection, the file's path)``."""
    import libsql

    connections: list[_Counting] = []
    connect = libsql.connect

    def counting_connect(*args: Any, **kwargs: Any) -> _Counting:
        connections.append(_Counting(connect(*args, **kwargs)))
        return connections[-1]

    monkeypatch.setattr(libsql, "connect", counting_connect)
    path = str(tmp_path / "count.db")
    mem = Memory(storage=LibSQLStore(f"file:{path}", driver="libsql"))  # the same SQL on either driver
    mem.storage.setup()
    assert len(connections) == 1
    yield mem, connections[0], path
    mem.close()


def _sql_on(path: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on the file through a connection of its own."""
    import libsql

    conn = libsql.connect(path, isolation_level=None)
    try:
        return list(conn.execute(sql, params).fetchall() or [])
    finally:
        conn.close()


def _kinds(log: list[str]) -> list[str]:
    return [re.match(r"\w+( IMMEDIATE)?", s).group(0) for s in log]  # type: ignore[union-attr]


def _msg(thread_id: str, i: int, explicit: bool = True, **kw: Any) -> Message:
    if explicit:
        kw.setdefault("created_at", T0 + timedelta(seconds=i))
    return Message.user(f"message {i}", thread_id, id=kw.pop("id", f"{thread_id}-{i}"), **kw)


def test_create_thread_is_one_statement(counted: Any) -> None:
    mem, log, _ = counted
    log.log.clear()
    mem.create_thread("r1", "t1", title="first", metadata={"k": 1})
    assert _kinds(log.log) == ["INSERT"] and "ON CONFLICT (id) DO NOTHING" in log.log[0]
    log.log.clear()
    with pytest.raises(ThreadConflictError):
        mem.create_thread("r2", "t1", title="second")
    assert _kinds(log.log) == ["INSERT"]  # no read first, no transaction
    stored = mem.get_thread_by_id("t1")
    assert stored is not None and (stored.resource_id, stored.title, stored.metadata) == ("r1", "first", {"k": 1})


@pytest.mark.parametrize("size", [1, 100])
@pytest.mark.parametrize("explicit", [True, False], ids=["explicit-time", "auto-stamped"])
def test_save_is_one_transaction_of_two_statements(counted: Any, size: int, explicit: bool) -> None:
    """BEGIN, the thread bump returning owner/cursors/newest, one multi-row upsert, COMMIT:
    no read before the write, also for updates and auto-stamped messages."""
    mem, log, _ = counted
    mem.create_thread("r1", "t1")
    for start in (0, 0, 1000):  # insert, update the same ids, insert more
        log.log.clear()
        mem.save_messages([_msg("t1", start + i, explicit) for i in range(size)])
        assert _kinds(log.log) == ["BEGIN IMMEDIATE", "UPDATE", "INSERT", "COMMIT"], log.log


def test_recall_with_a_resource_is_one_statement(counted: Any) -> None:
    """The page, its total and the thread's owner come from one SELECT (no read of the thread
    row first); another resource's thread is refused whether its page is empty or not."""
    mem, log, _ = counted
    mem.create_thread("r1", "t1")
    mem.create_thread("r2", "t2")
    mem.create_thread("r2", "t-empty")
    mem.save_messages([_msg("t1", i) for i in range(15)] + [_msg("t2", i) for i in range(3)])
    log.log.clear()
    page = mem.recall("t1", resource_id="r1", per_page=10)
    assert len(log.log) == 1 and _kinds(log.log) == ["SELECT"], log.log
    assert page.total == 15 and [m.id for m in page.messages] == [f"t1-{i}" for i in range(5, 15)]
    cases = [
        lambda: mem.storage.list_messages("t2", resource_id="r1"),  # owner read in the page statement
        lambda: mem.storage.list_messages("t2", resource_id="r1", per_page=2, page=1),  # total by count
        lambda: mem.storage.list_messages("t-empty", resource_id="r1"),  # empty page: owner read alone
        lambda: mem.storage.list_messages("t2", resource_id="r1", per_page=0, include=[{"id": "t2-1"}]),
        lambda: mem.storage.list_messages("t2", resource_id="r1", per_page=5, page=9),  # past the end
        lambda: mem.storage.list_messages("t2", resource_id="r1", start=T0),  # no stats column
    ]
    for case in cases:
        with pytest.raises(ResourceMismatchError) as refused:
            case()
        assert refused.value.thread_id in ("t2", "t-empty") and refused.value.resource_id == "r1"
        assert refused.value.expected_resource_id == "r2"
    assert mem.storage.list_messages("t-missing", resource_id="r1").total == 0  # no thread, no error
    assert mem.storage.list_messages("t2", resource_id="r2", per_page=2).total == 3
    with pytest.raises(ResourceMismatchError):  # several threads: each owner read first
        mem.storage.list_messages(["t1", "t2"], resource_id="r1")


def test_save_reads_stored_ids_only_behind_an_observation_cursor(counted: Any) -> None:
    mem, log, path = counted
    mem.create_thread("r1", "t1")
    mem.save_messages([_msg("t1", 0)])
    _sql_on(  # a cursor at T0 + 10 s, as an observation leaves it
        path,
        'INSERT INTO mastra_observational_memory (id, "lookupKey", scope, "resourceId", "threadId", '
        '"activeObservations", config, "generationCount", "lastObservedAt", "createdAt", "updatedAt") '
        "VALUES ('om1', 'thread:t1', 'thread', 'r1', 't1', '', '{}', 0, ?, ?, ?)",
        ("2025-01-01T00:00:10.000Z", "2025-01-01T00:00:10.000Z", "2025-01-01T00:00:10.000Z"),
    )
    log.log.clear()
    saved = mem.save_messages([_msg("t1", 0), _msg("t1", 5)])  # an update and a new message behind it
    assert _kinds(log.log) == ["BEGIN IMMEDIATE", "UPDATE", "SELECT", "INSERT", "COMMIT"]
    assert saved[0].created_at == T0  # updates keep their time
    assert saved[1].created_at == T0 + timedelta(seconds=10, milliseconds=1)  # moved after the cursor


def _stats_count(path: str, thread_id: str) -> int:
    rows = _sql_on(path, "SELECT message_count FROM mastra_memory_thread_stats WHERE thread_id = ?", (thread_id,))
    return int(rows[0][0]) if rows else 0


def test_refused_batches_write_nothing(tmp_path: Path) -> None:
    """A check failing inside the folded statements rolls back the thread bump and every row,
    and the trigger-kept counts stay equal to the rows."""
    path = f"{tmp_path}/refuse.db"
    store = LibSQLStore(f"file:{path}")
    mem = Memory(storage=store)
    mem.create_thread("r1", "t1")
    mem.create_thread("r1", "t2")
    mem.create_thread("r2", "t3")
    mem.save_messages([_msg("t1", 0), _msg("t2", 0, id="in-t2")])
    before = {t: store.get_thread_by_id(t) for t in ("t1", "t2", "t3")}
    bad_batches: list[tuple[type[Exception], list[Message]]] = [
        (ValidationError, [_msg("t1", 1), _msg("t1", 2, id="in-t2")]),  # an id of t2 into t1
        (ValidationError, [*(_msg("t1", i) for i in range(1, 700)), _msg("t1", 701, id="in-t2")]),  # 2 inserts
        (ResourceMismatchError, [_msg("t1", 1), _msg("t3", 1, resource_id="r1")]),
        (ThreadNotFoundError, [_msg("t1", 1), _msg("missing", 1)]),
    ]
    for error, batch in bad_batches:
        with pytest.raises(error):
            mem.save_messages(batch)
    assert {t: store.get_thread_by_id(t) for t in ("t1", "t2", "t3")} == before
    for tid, n in (("t1", 1), ("t2", 1), ("t3", 0)):
        page = mem.list_messages(tid, per_page=False)
        assert len(page.messages) == n == _stats_count(path, tid)
    assert [m.thread_id for m in mem.storage.list_messages_by_id(["in-t2"])] == ["t2"]
    mem.close()


def test_counts_follow_inserts_and_updates(tmp_path: Path) -> None:
    path = f"{tmp_path}/counts.db"
    mem = Memory(storage=LibSQLStore(f"file:{path}", driver="libsql"))  # the same SQL on either driver
    mem.create_thread("r1", "t1")
    mem.save_messages([_msg("t1", i) for i in range(120)])
    mem.save_messages([_msg("t1", i) for i in range(100, 150)])  # 20 updates, 30 inserts
    assert _stats_count(path, "t1") == 150
    assert mem.recall("t1", per_page=10).total == 150  # the page's total comes from the count
    mem.close()


@pytest.mark.parametrize("kind", ["libsql-file", "inmemory"])
def test_auto_stamped_messages_go_after_the_newest_stored(tmp_path: Path, kind: str) -> None:
    """A message without an explicit time lands after a stored message dated in the future, in
    several threads at once: libSQL reads the newest inside the save's transaction, other stores
    through the default ``_save_prepared`` (a read before the write)."""
    from storage_adapters.inmemory import InMemoryStore

    mem = Memory(storage=LibSQLStore(f"file:{tmp_path}/newest.db") if kind == "libsql-file" else InMemoryStore())
    future = truncate_ms(datetime.now(UTC) + timedelta(days=1))
    for tid in ("a", "b", "c"):
        mem.create_thread("r1", tid)
        mem.save_messages([Message.user("future", tid, created_at=future)])
    batch = [
        Message.user("a1", "a"),
        Message.user("b1", "b", created_at=T0),  # explicit first: the batch's own time is kept
        Message.user("a2", "a"),
        Message.user("b2", "b"),
    ]
    saved = {m.text: m.created_at for m in mem.save_messages(batch)}
    assert saved["a1"] == future + timedelta(milliseconds=1) and saved["a2"] == future + timedelta(milliseconds=2)
    assert saved["b1"] == T0 and saved["b2"] > T0 and saved["b2"] < future
    assert [m.text for m in mem.recall("a", per_page=False).messages] == ["future", "a1", "a2"]
    mem.save_messages([Message.user("c1", "c")])
    assert [m.text for m in mem.recall("c", per_page=False).messages] == ["future", "c1"]
    mem.close()


def _reference_order(batch: list[Message], stored: dict[str, datetime]) -> list[datetime]:
    """The single-pass ordering save_messages had before the read moved into the write."""
    last: dict[str, datetime] = {}
    out = []
    for m in batch:
        created = m.created_at
        if "created_at" not in m.model_fields_set and m.thread_id not in last and m.thread_id in stored:
            last[m.thread_id] = stored[m.thread_id]
        prev = last.get(m.thread_id)
        if prev is not None and created <= prev:
            created = prev + timedelta(milliseconds=1)
        last[m.thread_id] = created
        out.append(created)
    return out


def test_two_pass_placement_equals_the_single_pass() -> None:
    rng = random.Random(7)
    store = LibSQLStore(":memory:")
    for _ in range(300):
        threads = ["x", "y", "z"][: rng.randint(1, 3)]
        batch = []
        for i in range(rng.randint(1, 8)):
            tid = rng.choice(threads)
            if rng.random() < 0.5:
                batch.append(
                    Message.user(f"{i}", tid, id=f"m{i}", created_at=T0 + timedelta(milliseconds=rng.randint(0, 6)))
                )
            else:
                m = Message.user(f"{i}", tid, id=f"m{i}")
                m.__dict__["created_at"] = T0 + timedelta(milliseconds=rng.randint(0, 6))  # "now", made comparable
                batch.append(m)
        stored = {t: T0 + timedelta(milliseconds=rng.randint(0, 8)) for t in threads if rng.random() < 0.7}
        prepared, after = store._prepare_messages(batch)
        placed = place_after_newest(prepared, {t: v for t, v in stored.items() if t in after})
        assert [m.created_at for m in placed] == _reference_order(batch, stored)


def _create_in_child(db: str, writer: int, start: Any, out: Any) -> None:
    try:
        mem = Memory(storage=LibSQLStore(f"file:{db}"))
        start.wait(30)
        try:
            mem.create_thread(f"owner-{writer}", "contested", title=f"by {writer}")
            out.put(("created", writer))
        except ThreadConflictError:
            out.put(("conflict", writer))
        mem.close()
    except BaseException as exc:  # report everything: the test fails on any other error
        out.put(("error", f"{type(exc).__name__}: {exc}"))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_create_thread_conflict_across_processes(tmp_path: Path) -> None:
    """Processes creating one id at once on one file: exactly one wins, the others get
    ThreadConflictError, and the stored thread is the winner's."""
    db = str(tmp_path / "race.db")
    LibSQLStore(f"file:{db}").setup()
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_create_in_child, args=(db, w, start, out), daemon=True) for w in range(6)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    assert not [r for r in results if r[0] == "error"], results
    winners = [w for kind, w in results if kind == "created"]
    assert len(winners) == 1 and sum(kind == "conflict" for kind, _ in results) == len(procs) - 1
    stored = LibSQLStore(f"file:{db}").get_thread_by_id("contested")
    assert stored is not None and (stored.resource_id, stored.title) == (f"owner-{winners[0]}", f"by {winners[0]}")
