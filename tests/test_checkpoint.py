"""Background WAL checkpoints of local libSQL files (``storage_adapters.libsql.checkpoint``), on
real files: the thread copies committed pages into the database file, a failing checkpointer
never fails a write, the WAL stays bounded, and the thread ends with its store."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message
from storage_adapters.libsql import LibSQLStore
from storage_adapters.libsql.checkpoint import DEFAULT_EVERY, BackgroundCheckpointer

T0 = datetime(2025, 1, 1, tzinfo=UTC)
THREAD_NAME = "mastra-memory-checkpoint"


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _save_singles(mem: Memory, thread_id: str, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        mem.save_messages(
            [
                Message(
                    id=f"m-{i:05d}",
                    thread_id=thread_id,
                    role="user",
                    content=f"message {i}",
                    created_at=T0 + timedelta(seconds=i),
                )
            ]
        )


def _memory(path: Path, **options: Any) -> tuple[LibSQLStore, Memory, str]:
    store = LibSQLStore(f"file:{path}", driver="sqlite3", **options)
    mem = Memory(storage=store)
    return store, mem, mem.create_thread("res-1", title="t").id


def test_background_thread_copies_committed_pages_into_the_database_file(tmp_path: Path) -> None:
    """64 single saves write about 450 WAL pages, under SQLite's 1,000-page automatic checkpoint:
    only the background thread can have copied them into the database file."""

    def grown(background: bool) -> int:
        path = tmp_path / f"{background}.db"
        store, mem, thread_id = _memory(path, background_checkpoint=background)
        start = path.stat().st_size
        _save_singles(mem, thread_id, 4 * DEFAULT_EVERY)
        checkpointer = store._checkpointer
        if background:
            assert checkpointer is not None
            assert _wait(lambda: checkpointer.checkpoints >= 1)
            assert _wait(lambda: path.stat().st_size > start)
        else:
            assert checkpointer is None
        size = path.stat().st_size - start
        assert mem.recall(thread_id, per_page=False).total == 4 * DEFAULT_EVERY
        store.close()
        return size

    assert grown(True) > 0
    assert grown(False) == 0  # nothing left the WAL without the thread


def test_a_failing_checkpointer_never_fails_a_write(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, mem, thread_id = _memory(tmp_path / "fail.db")

    def broken() -> Any:
        raise OSError("disk said no")

    failing = BackgroundCheckpointer(broken)
    store._checkpointer = failing
    with caplog.at_level(logging.WARNING, logger="storage_adapters.libsql.checkpoint"):
        _save_singles(mem, thread_id, 3 * DEFAULT_EVERY)
        assert _wait(lambda: failing.failures >= 1)
    assert failing.checkpoints == 0
    assert "background WAL checkpoint failed" in caplog.text
    assert mem.recall(thread_id, per_page=False).total == 3 * DEFAULT_EVERY  # every write went through
    store.close()
    failing.stop()


def test_wal_stays_bounded_and_nothing_is_lost(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint still restarts the WAL: after 3,000 single saves (about
    21,000 WAL pages written) the WAL file holds at most a few thousand pages."""
    path = tmp_path / "bounded.db"
    store, mem, thread_id = _memory(path)
    _save_singles(mem, thread_id, 3000)
    assert store._checkpointer is not None and store._checkpointer.checkpoints > 10
    assert Path(f"{path}-wal").stat().st_size < 4 * 1000 * (4096 + 24)
    page = mem.recall(thread_id, per_page=False)
    assert page.total == 3000 and [m.id for m in page.messages] == [f"m-{i:05d}" for i in range(3000)]
    store.close()
    reopened = Memory(storage=LibSQLStore(f"file:{path}", driver="sqlite3"))
    assert reopened.recall(thread_id, per_page=False).total == 3000
    reopened.storage.close()


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_close_stops_the_thread_and_a_reopened_store_starts_another(tmp_path: Path) -> None:
    store, mem, thread_id = _memory(tmp_path / "close.db")
    _save_singles(mem, thread_id, DEFAULT_EVERY)
    first = store._checkpointer
    assert first is not None and first._thread is not None
    thread = first._thread
    assert thread.is_alive()
    store.close()
    assert not thread.is_alive() and store._checkpointer is None
    _save_singles(mem, thread_id, DEFAULT_EVERY, start=DEFAULT_EVERY)  # the store reopens
    second = store._checkpointer
    assert second is not None and second is not first and second._thread is not None
    assert _wait(lambda: second.checkpoints >= 1)
    store.close()
    assert mem.recall(thread_id, per_page=False).total == 2 * DEFAULT_EVERY


def test_a_store_dropped_without_close_lets_its_thread_end(tmp_path: Path) -> None:
    before = set(_checkpoint_threads())

    def use_and_drop() -> threading.Thread:
        store, mem, thread_id = _memory(tmp_path / "dropped.db")
        _save_singles(mem, thread_id, DEFAULT_EVERY)
        assert store._checkpointer is not None and store._checkpointer._thread is not None
        return store._checkpointer._thread

    thread = use_and_drop()
    gc.collect()
    assert _wait(lambda: not thread.is_alive())
    assert set(_checkpoint_threads()) <= before


def test_a_new_process_id_starts_a_new_thread(tmp_path: Path) -> None:
    """After a fork the parent's thread does not exist in the child: the next wake-up starts one
    (simulated here by changing the recorded process id)."""
    store, mem, thread_id = _memory(tmp_path / "fork.db")
    _save_singles(mem, thread_id, DEFAULT_EVERY)
    checkpointer = store._checkpointer
    assert checkpointer is not None and checkpointer._thread is not None
    old, old_wake, old_stopped = checkpointer._thread, checkpointer._wake, checkpointer._stopped
    checkpointer._pid = -1
    _save_singles(mem, thread_id, DEFAULT_EVERY, start=DEFAULT_EVERY)
    assert checkpointer._thread is not old and checkpointer._thread is not None
    assert checkpointer._wake is not old_wake  # a fork may have copied the old one mid-use
    assert checkpointer._thread.is_alive()
    store.close()
    assert not checkpointer._thread.is_alive()
    old_stopped.set()  # in a real child the old thread does not exist; here it still waits
    old_wake.set()
    old.join(5)
    assert not old.is_alive()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        (":memory:", {"driver": "sqlite3"}),
        ("file:{tmp}/libsql.db", {"driver": "libsql"}),
        ("file:{tmp}/off.db", {"driver": "sqlite3", "background_checkpoint": False}),
    ],
)
def test_no_thread_where_it_cannot_help(tmp_path: Path, url: str, options: dict[str, Any]) -> None:
    """``:memory:`` has no WAL; the ``libsql`` driver holds the GIL while SQLite works; and it can
    be turned off."""
    store = LibSQLStore(url.format(tmp=tmp_path), **options)
    mem = Memory(storage=store)
    thread_id = mem.create_thread("res-1").id
    _save_singles(mem, thread_id, 2 * DEFAULT_EVERY)
    assert store._checkpointer is None
    store.close()


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BackgroundCheckpointer(lambda: None, every=0)
