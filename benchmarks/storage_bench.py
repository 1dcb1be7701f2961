"""Storage benchmark: mastra-memory's LibSQLStore beside the raw ``libsql`` driver doing the same SQL.

Run: ``python benchmarks/storage_bench.py [--messages 10000] [--recalls 1000] [--threads 1000]``

Measures, on a fresh database file each:
- save N messages in batches of 1 and of 100 (messages/s);
- recall the last 10 messages of a thread, repeated (p50/p95 in ms);
- list_threads over 1,000 threads (first page of 100, p50 in ms);
- clone a thread of N messages (s).

The raw side runs the same statements with the same pragmas (WAL, synchronous=NORMAL) (a save:
``BEGIN IMMEDIATE``, the thread bump returning its owner, one multi-row upsert, ``COMMIT``) and
fetches rows but builds no model objects: the gap is the price of validation, JSON decoding
and pydantic models. Targets (issue 2): batched save >= 50% of raw throughput, recall p50 <= 3x
raw, clone of 10,000 messages < 0.5 s. Recall is compared with the raw driver running the very
statement the adapter runs (the page plus the message count the result carries) and, for
reference, with the bare page query that returns no total.

The server adapters (PostgreSQL with a 1,000,000-message table, MongoDB, sqld, SQLAlchemy) are
in ``benchmarks/storage_bench_adapters.py``; ``--adapters`` runs it after this one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libsql

from mastra_memory import Memory, Message, MessageContent, TextPart, Thread
from storage_adapters import _sql
from storage_adapters.libsql import LibSQLStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TEXT = "The quick brown fox jumps over the lazy dog while we plan the trip to Lisbon. " * 3


def _messages(thread_id: str, n: int, resource_id: str = "r1") -> list[Message]:
    return [
        Message(
            id=f"{thread_id}-{i:06d}",
            thread_id=thread_id,
            resource_id=resource_id,
            role="user" if i % 2 == 0 else "assistant",
            created_at=T0 + timedelta(milliseconds=i),
            content=MessageContent(parts=[TextPart(text=f"{i} {TEXT}")]),
        )
        for i in range(n)
    ]


def _timeit(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _raw_conn(path: str) -> object:
    conn = libsql.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def bench_save(tmp: Path, n: int, batch: int) -> tuple[float, float]:
    msgs = _messages("t1", n)
    path = str(tmp / f"ours-save-{batch}.db")
    store = LibSQLStore(f"file:{path}")
    mem = Memory(storage=store)
    mem.create_thread("r1", "t1")
    t = time.perf_counter()
    for i in range(0, n, batch):
        mem.save_messages(msgs[i : i + batch])
    ours = n / (time.perf_counter() - t)
    store.close()

    rpath = str(tmp / f"raw-save-{batch}.db")
    LibSQLStore(f"file:{rpath}").setup()  # same schema and indexes
    conn = _raw_conn(rpath)
    conn.execute(_sql.create_thread_sql(_sql.SQLITE), _sql.thread_params(Thread(id="t1", resource_id="r1")))
    # the statements our store runs: the thread bump returning owner and cursors, one multi-row upsert
    claim = _sql.claim_threads_sql(_sql.SQLITE, 1, False)
    rows = [_sql.message_params(m) for m in msgs]
    bumps = [_sql.format_ts(T0 + timedelta(days=1, milliseconds=i)) for i in range(n)]
    t = time.perf_counter()
    for i in range(0, n, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(claim, (bumps[i], "t1")).fetchall()
        chunk = rows[i : i + batch]
        conn.execute(_sql.insert_messages_sql(_sql.SQLITE, len(chunk)), [v for r in chunk for v in r])
        conn.execute("COMMIT")
    raw = n / (time.perf_counter() - t)
    return ours, raw


def bench_recall(tmp: Path, n: int, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """Memory.recall (last 10 as Message objects plus the page's total) beside the raw driver
    running (a) the same statement our adapter runs (page plus the trigger-kept count) and
    (b) the bare page query with no total."""
    path = str(tmp / "recall.db")
    store = LibSQLStore(f"file:{path}")
    mem = Memory(storage=store)
    for k in range(10):  # other threads around, so the index matters
        mem.create_thread("r1", f"t{k}")
        for i in range(0, n, 1000):
            mem.save_messages(_messages(f"t{k}", n)[i : i + 1000])
    conn = _raw_conn(path)
    page = (
        f"SELECT {_sql.MESSAGE_COLUMNS} FROM mastra_messages WHERE thread_id = ? "
        'ORDER BY "createdAt" DESC, id DESC LIMIT ? OFFSET ?'
    )
    same = page.replace(" FROM ", f", ({_sql.stats_count_sql(1)}) FROM ", 1)
    ours: list[float] = []
    raw_same: list[float] = []
    raw_page: list[float] = []
    for _ in range(10):  # interleaved rounds: drift in machine load hits all three alike
        ours += _timeit(lambda: mem.recall("t3"), repeat // 10)
        raw_same += _timeit(lambda: conn.execute(same, ("t3", "t3", 10, 0)).fetchall(), repeat // 10)
        raw_page += _timeit(lambda: conn.execute(page, ("t3", 10, 0)).fetchall(), repeat // 10)
    rows = conn.execute(same, ("t3", "t3", 10, 0)).fetchall()
    got = mem.recall("t3")
    assert [m.id for m in got.messages] == [r[0] for r in reversed(rows)] and got.total == rows[0][7] == n
    store.close()
    return ours, raw_same, raw_page


def bench_list_threads(tmp: Path, threads: int, repeat: int) -> tuple[list[float], list[float]]:
    path = str(tmp / "threads.db")
    store = LibSQLStore(f"file:{path}")
    mem = Memory(storage=store)
    for i in range(threads):
        mem.create_thread("r1" if i % 2 else "r2", f"thread-{i:05d}", title=f"Thread {i}", metadata={"i": i})
    ours = _timeit(lambda: mem.list_threads(resource_id="r1", per_page=100), repeat)
    conn = _raw_conn(path)
    sql = (
        'SELECT id, "resourceId", title, json(metadata), "createdAt", "updatedAt" FROM mastra_threads '
        'WHERE "resourceId" = ? ORDER BY "createdAt" DESC, id DESC LIMIT 100 OFFSET 0'
    )

    def raw_list() -> None:
        conn.execute(sql, ("r1",)).fetchall()
        conn.execute('SELECT count(*) FROM mastra_threads WHERE "resourceId" = ?', ("r1",)).fetchone()

    raw = _timeit(raw_list, repeat)
    store.close()
    return ours, raw


def bench_clone(tmp: Path, n: int) -> tuple[float, float]:
    path = str(tmp / "clone.db")
    store = LibSQLStore(f"file:{path}")
    mem = Memory(storage=store)
    mem.create_thread("r1", "src")
    msgs = _messages("src", n)
    for i in range(0, n, 1000):
        mem.save_messages(msgs[i : i + 1000])
    t = time.perf_counter()
    result = mem.clone_thread("src", title="copy")
    ours = time.perf_counter() - t
    assert len(result.cloned_messages) == n
    conn = _raw_conn(path)
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        'INSERT INTO mastra_threads (id, "resourceId", title, metadata, "createdAt", "updatedAt") '
        "VALUES ('rawclone', 'r1', 'copy', jsonb('{}'), '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')"
    )
    conn.execute(
        'INSERT INTO mastra_messages (id, thread_id, content, role, type, "createdAt", "resourceId") '
        'SELECT lower(hex(randomblob(16))), \'rawclone\', content, role, type, "createdAt", "resourceId" '
        "FROM mastra_messages WHERE thread_id = 'src'"
    )
    conn.execute("COMMIT")
    raw = time.perf_counter() - t
    store.close()
    return ours, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--recalls", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=1_000)
    parser.add_argument(
        "--adapters",
        action="store_true",
        help="then run benchmarks/storage_bench_adapters.py (servers from the environment)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"libSQL store vs raw libsql driver ({os.cpu_count()} cores)")
        for batch in (1, 100):
            ours, raw = bench_save(tmp, args.messages, batch)
            print(
                f"save {args.messages} msgs, batch {batch:>3}: ours {ours:9.0f} msg/s  raw {raw:9.0f} msg/s  "
                f"ratio {ours / raw:.2f}"
            )
        ours_r, raw_r, raw_p = bench_recall(tmp, args.messages, args.recalls)
        print(
            f"recall last 10 x{args.recalls}: ours p50 {_pct(ours_r, 50):.3f} ms p95 {_pct(ours_r, 95):.3f} ms  "
            f"raw same SQL p50 {_pct(raw_r, 50):.3f} ms  ratio p50 {_pct(ours_r, 50) / _pct(raw_r, 50):.2f}x  "
            f"(bare page query without the total: {_pct(raw_p, 50):.3f} ms, "
            f"{_pct(ours_r, 50) / _pct(raw_p, 50):.2f}x)"
        )
        ours_t, raw_t = bench_list_threads(tmp, args.threads, 200)
        print(
            f"list_threads (page of 100 of {args.threads // 2}): ours p50 {_pct(ours_t, 50):.3f} ms  "
            f"raw p50 {_pct(raw_t, 50):.3f} ms  ratio {_pct(ours_t, 50) / _pct(raw_t, 50):.2f}x"
        )
        ours_c, raw_c = bench_clone(tmp, args.messages)
        print(f"clone {args.messages} msgs: ours {ours_c:.3f} s  raw INSERT..SELECT {raw_c:.3f} s")


if __name__ == "__main__":
    main()
    if "--adapters" in sys.argv:
        from storage_bench_adapters import main as adapters_main

        adapters_main([])
