"""Many processes writing at once: 8 writers on one thread and 8 writers on 8 threads, on
PostgreSQL and on a libSQL file. Nothing may be lost or duplicated, each writer's messages keep
their order, and no error (e.g. "database is locked") may reach a writer.

Writers are separate processes (multiprocessing, spawn) that open their own store; in the
"own thread" scenario they also race on ``setup()`` of a brand-new schema/file.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.types import Message, Thread, now_utc
from tests import servers

WRITERS = 8
PER_WRITER = 40
DEADLINE_S = 120.0


def _open(kind: str, target: str) -> MemoryStorage:
    if kind == "postgres":
        from storage_adapters.pg import PostgresStore

        url, schema = target.split("#")
        return PostgresStore(url, schema_name=schema, max_pool_size=2)
    from storage_adapters.libsql import LibSQLStore

    return LibSQLStore(f"file:{target}")


def _writer(kind: str, target: str, thread_id: str, writer: int, start: Any, out: Any) -> None:
    """Save PER_WRITER messages in batches of 1 and 4, then report ("ok"|"error", detail)."""
    try:
        store = _open(kind, target)
        with store:
            if store.get_thread_by_id(thread_id) is None:
                store.save_thread(Thread(id=thread_id, resource_id="res"))
            start.wait(30)
            i = 0
            last = now_utc()
            while i < PER_WRITER:
                size = 1 if (i // 4) % 2 == 0 else 4
                batch = []
                for j in range(i, min(i + size, PER_WRITER)):
                    # Wall-clock times, but strictly increasing per writer: a batch is spread
                    # 1 ms apart by save_messages, so the next message must not go back in time.
                    last = max(now_utc(), last + timedelta(milliseconds=1))
                    batch.append(
                        Message.user(
                            f"writer {writer} message {j}", thread_id, id=f"w{writer}-{j:04d}", created_at=last
                        )
                    )
                store.save_messages(batch)
                i += len(batch)
        out.put(("ok", writer))
    except BaseException as exc:  # report everything: the test fails on any error
        out.put(("error", f"writer {writer}: {type(exc).__name__}: {exc}"))


def _run_writers(kind: str, target: str, thread_for: list[str]) -> float:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(kind, target, thread_for[w], w, start, out), daemon=True)
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    t0 = time.monotonic()
    start.set()
    results: list[tuple[str, Any]] = []
    try:
        while len(results) < WRITERS:
            remaining = DEADLINE_S - (time.monotonic() - t0)
            if remaining <= 0:
                pytest.fail(f"writers did not finish within {DEADLINE_S} s: {results}")
            try:
                results.append(out.get(timeout=remaining))
            except queue.Empty:
                continue
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    elapsed = time.monotonic() - t0
    errors = [detail for status, detail in results if status != "ok"]
    assert not errors, errors
    return elapsed


def _check(store: MemoryStorage, thread_ids: set[str], thread_for: list[str]) -> None:
    seen: list[Message] = []
    for tid in sorted(thread_ids):
        page = store.list_messages(tid, per_page=False)
        assert page.total == len(page.messages)
        seen += page.messages
        ordered = [m.id for m in page.messages]
        for w in range(WRITERS):
            if thread_for[w] == tid:
                mine = [mid for mid in ordered if mid.startswith(f"w{w}-")]
                assert mine == [f"w{w}-{j:04d}" for j in range(PER_WRITER)], f"writer {w} order/loss"
    ids = [m.id for m in seen]
    assert len(ids) == len(set(ids)) == WRITERS * PER_WRITER


@contextmanager
def _target(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "postgres":
        url = servers.url_or_skip(servers.PG)
        schema = servers.unique("mmconc")
        try:
            yield f"{url}#{schema}"
        finally:
            servers.drop_pg_schema(url, schema)
    else:
        yield str(tmp_path / "concurrency.db")


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["postgres", "libsql-file"])
@pytest.mark.parametrize("layout", ["same-thread", "own-thread"])
def test_concurrent_writers(kind: str, layout: str, tmp_path: Path) -> None:
    with _target(kind, tmp_path) as target:
        if layout == "same-thread":
            thread_for = ["shared"] * WRITERS
            with _open(kind, target) as store:  # set up first; writers only append
                store.save_thread(Thread(id="shared", resource_id="res"))
        else:
            thread_for = [f"thread-{w}" for w in range(WRITERS)]  # writers race on setup()
        elapsed = _run_writers(kind, target, thread_for)
        with _open(kind, target) as store:
            _check(store, set(thread_for), thread_for)
        print(f"{kind} {layout}: {WRITERS}x{PER_WRITER} messages, {elapsed:.2f} s wall incl. process start")
