"""Side by side with the TypeScript original: the same workload through our ``Memory`` and through
Mastra's ``@mastra/memory`` (``bench.mjs``), on fresh libSQL files, back to back in one run.

Usage::

    python benchmarks/mastra_compare.py [--runs 3] [--mastra-dir ../shared/bench/mastra_ts]
        [--baseline DIR] [--cpu] [--json FILE] [--driver auto|sqlite3|libsql] [--keyword-index]

``--mastra-dir`` is a folder holding ``bench.mjs`` with its ``node_modules`` installed
(``npm ci``); without ``node`` or those modules the Mastra side is skipped with a message and
only ours and the raw driver are printed. No Mastra code lives in this repository.
``--baseline DIR`` also runs our side from another checkout (a "before" column). ``--cpu``
instead times the three write ops by CPU time per call (user + system, every thread of the
process), ours and Mastra's through a short script of ours on Mastra's public API: on a shared
machine that is much steadier than wall-clock throughput.

Workload (``bench.mjs``'s, in its order): create 1,000 threads; save 1,000 messages of 200
characters one per call into one thread; save 10,000 messages 100 per call into another;
recall the last 10 of the 10,000-message thread (1,000 calls after 5 warm-ups); list page 0 of
100 of the 1,000 threads (200 calls); clone the 10,000-message thread 5 times; get a thread by
id (1,000 calls). Each paired run starts three child processes on three fresh files: ours
(``Memory`` over ``LibSQLStore``), Mastra's, and the raw ``libsql`` driver running the very SQL
our store runs (no validation, no models: the floor for that SQL on this machine). The order of
ours and Mastra's alternates between runs. Peak RSS is the child's maximum resident set size as
the kernel reports it (``os.wait4``). The table shows medians over the runs; throughput ops in
calls or messages per second (higher is better), the others as p50 latency in ms (clone: the
median of the 5 clones, in ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_THREADS = 1000
N_SAVE_SINGLE = 1000
N_MSGS = 10_000
BATCH = 100
N_RECALL = 1000
N_LIST = 200
N_CLONE = 5
N_GET = 1000
WARMUP = 5
TEXT_LEN = 200
RES_THREADS = "res-threads"
RES_MSGS = "res-msgs"
BASE = datetime(2025, 1, 1, tzinfo=UTC)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat. "
)

# (key in bench.mjs's JSON, label, field, unit, higher is better)
OPS: list[tuple[str, str, str, str, bool]] = [
    ("createThread", "create_thread", "per_s", "threads/s", True),
    ("saveMessages_batch1", "save, batch 1", "per_s", "msg/s", True),
    ("saveMessages_batch100", "save, batch 100", "per_s", "msg/s", True),
    ("recall_last10", "recall last 10, p50", "p50_ms", "ms", False),
    ("listThreads_100of1000", "list 100 of 1000, p50", "p50_ms", "ms", False),
    ("cloneThread_10k", "clone 10k msgs, p50", "p50_ms", "ms", False),
    ("getThreadById", "get thread, p50", "p50_ms", "ms", False),
]


def _text(i: int) -> str:
    return (f"message {i}: " + LOREM * 3)[:TEXT_LEN]


def bench_message(thread_id: str, prefix: str, i: int) -> Any:
    """Message ``i`` of the workload: id ``{prefix}-{i:06d}``, user and assistant in turn, one
    second apart from :data:`BASE`, :data:`TEXT_LEN` characters of text, resource
    :data:`RES_MSGS` (``benchmarks/write_pages.py`` saves the same messages)."""
    from mastra_memory import Message, MessageContent, TextPart

    return Message(
        id=f"{prefix}-{i:06d}",
        role="user" if i % 2 == 0 else "assistant",
        created_at=BASE + timedelta(seconds=i),
        thread_id=thread_id,
        resource_id=RES_MSGS,
        content=MessageContent(parts=[TextPart(text=_text(i))]),
    )


def _stats(lat_ms: list[float], total_ms: float, count: int | None = None) -> dict[str, float]:
    s = sorted(lat_ms)
    rank = max(0, min(len(s) - 1, -(-len(s) // 2) - 1))  # nearest-rank p50, as bench.mjs
    return {
        "n": len(s),
        "total_ms": total_ms,
        "per_s": (count if count is not None else len(s)) / (total_ms / 1000),
        "p50_ms": s[rank],
    }


def _timed(fn: Callable[[int], object], n: int, count: int | None = None) -> dict[str, float]:
    lat: list[float] = []
    clock = time.perf_counter
    start = clock()
    for i in range(n):
        a = clock()
        fn(i)
        lat.append((clock() - a) * 1000)
    return _stats(lat, (clock() - start) * 1000, count)


# -- our side -------------------------------------------------------------------------------------


def _store(db: str, driver: str | None) -> Any:
    """``LibSQLStore`` on ``db`` with ``driver`` (None: the store's default)."""
    from storage_adapters.libsql import LibSQLStore

    store = LibSQLStore(f"file:{db}") if driver is None else LibSQLStore(f"file:{db}", driver=driver)  # type: ignore[arg-type]
    if os.environ.get("MM_BENCH_KEYWORD_INDEX") and hasattr(store, "ensure_keyword_index"):
        store.ensure_keyword_index()  # --keyword-index: as a database hybrid recall has searched
    return store


def run_ours(db: str, driver: str | None = None) -> dict[str, Any]:
    """The workload through ``Memory`` over ``LibSQLStore``; returns ``bench.mjs``-shaped ops."""
    from mastra_memory import Memory

    store = _store(db, driver)
    store.setup()  # schema, not charged to the first op (bench.mjs calls init() too)
    mem = Memory(storage=store, options={"last_messages": 10})
    ops: dict[str, Any] = {}

    thread_ids: list[str] = []
    ops["createThread"] = _timed(
        lambda i: thread_ids.append(mem.create_thread(RES_THREADS, title=f"thread {i}").id), N_THREADS
    )
    single = mem.create_thread(RES_MSGS, title="single-save thread").id
    big = mem.create_thread(RES_MSGS, title="big thread (10k msgs)").id

    msg = bench_message

    singles = [msg(single, "s", i) for i in range(N_SAVE_SINGLE)]
    ops["saveMessages_batch1"] = _timed(lambda i: mem.save_messages([singles[i]]), N_SAVE_SINGLE)
    bigs = [msg(big, "b", i) for i in range(N_MSGS)]
    ops["saveMessages_batch100"] = _timed(
        lambda i: mem.save_messages(bigs[i * BATCH : (i + 1) * BATCH]), N_MSGS // BATCH, N_MSGS
    )

    first = mem.recall(big, resource_id=RES_MSGS, per_page=10)
    assert len(first.messages) == 10 and first.total == N_MSGS, first.total
    assert first.messages[-1].id == f"b-{N_MSGS - 1:06d}" and first.messages[0].id == f"b-{N_MSGS - 10:06d}"
    for _ in range(WARMUP - 1):
        mem.recall(big, resource_id=RES_MSGS, per_page=10)
    ops["recall_last10"] = _timed(lambda i: mem.recall(big, resource_id=RES_MSGS, per_page=10), N_RECALL)

    page = mem.list_threads(resource_id=RES_THREADS, page=0, per_page=100)
    assert len(page.threads) == 100 and page.total == N_THREADS
    for _ in range(WARMUP - 1):
        mem.list_threads(resource_id=RES_THREADS, page=0, per_page=100)
    ops["listThreads_100of1000"] = _timed(
        lambda i: mem.list_threads(resource_id=RES_THREADS, page=0, per_page=100), N_LIST
    )

    def clone(i: int) -> None:
        out = mem.clone_thread(big, title=f"clone {i}")
        assert len(out.cloned_messages) == N_MSGS

    ops["cloneThread_10k"] = _timed(clone, N_CLONE)

    pick = random.Random(42)
    for _ in range(WARMUP):
        tid = pick.choice(thread_ids)
        got = mem.get_thread_by_id(tid)
        assert got is not None and got.id == tid
    picks = [pick.choice(thread_ids) for _ in range(N_GET)]
    ops["getThreadById"] = _timed(lambda i: mem.get_thread_by_id(picks[i]), N_GET)
    mem.close()
    return ops


# -- the raw driver on the same SQL ---------------------------------------------------------------


def run_raw(db: str, driver: str | None = None) -> dict[str, Any]:
    """The statements our store runs for each op, on the bare connection of the store's driver
    (``libsql``, or the ``sqlite3`` module): parameters prepared up front, rows fetched but not
    decoded."""
    from mastra_memory.storage.base import ThreadQuery
    from storage_adapters import _sql

    store = _store(db, driver)
    store.setup()  # the same schema, indexes and triggers
    if store.driver == "sqlite3":
        from storage_adapters.libsql.store import _sqlite3_module

        conn = _sqlite3_module().connect(db, isolation_level=None)
    else:
        import libsql

        conn = libsql.connect(db, isolation_level=None)
    store.close()
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    d = _sql.SQLITE
    stamp = _sql.format_ts(BASE)
    ops: dict[str, Any] = {}

    create = _sql.create_thread_sql(d)
    times = [_sql.format_ts(BASE + timedelta(milliseconds=i)) for i in range(N_THREADS)]
    ids = [str(uuid.uuid4()) for _ in range(N_THREADS)]  # random ids, as ours and Mastra's
    thread_rows = [[ids[i], RES_THREADS, f"thread {i}", "{}", times[i], times[i]] for i in range(N_THREADS)]
    ops["createThread"] = _timed(lambda i: conn.execute(create, thread_rows[i]), N_THREADS)
    for tid in ("single", "big"):
        conn.execute(create, [tid, RES_MSGS, tid, "{}", stamp, stamp])

    def rows(thread_id: str, prefix: str, n: int) -> list[list[Any]]:
        return [
            [
                f"{prefix}-{i:06d}",
                thread_id,
                json.dumps({"format": 2, "parts": [{"type": "text", "text": _text(i)}]}, separators=(",", ":")),
                "user" if i % 2 == 0 else "assistant",
                "v2",
                _sql.format_ts(BASE + timedelta(seconds=i)),
                RES_MSGS,
            ]
            for i in range(n)
        ]

    claim = _sql.claim_threads_sql(d, 1, newest=False)

    # a new "updatedAt" per save, as ours writes: the thread's entry moves in its index each time
    bumps = iter([_sql.format_ts(BASE + timedelta(days=1, milliseconds=i)) for i in range(N_SAVE_SINGLE + N_MSGS)])

    def save(thread_id: str, batch: list[list[Any]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(claim, [next(bumps), thread_id]).fetchall()
        conn.execute(_sql.insert_messages_sql(d, len(batch)), [v for r in batch for v in r])
        conn.execute("COMMIT")

    singles = rows("single", "s", N_SAVE_SINGLE)
    ops["saveMessages_batch1"] = _timed(lambda i: save("single", [singles[i]]), N_SAVE_SINGLE)
    bigs = rows("big", "b", N_MSGS)
    ops["saveMessages_batch100"] = _timed(
        lambda i: save("big", bigs[i * BATCH : (i + 1) * BATCH]), N_MSGS // BATCH, N_MSGS
    )

    page = (
        f"SELECT {_sql.MESSAGE_COLUMNS}, ({_sql.stats_count_sql(1)}) FROM {_sql.MESSAGES} WHERE thread_id = ? "
        'ORDER BY "createdAt" DESC, id DESC LIMIT ? OFFSET ?'
    )
    for _ in range(WARMUP):
        conn.execute(page, ("big", "big", 10, 0)).fetchall()
    ops["recall_last10"] = _timed(lambda i: conn.execute(page, ("big", "big", 10, 0)).fetchall(), N_RECALL)

    q = ThreadQuery(RES_THREADS, {}, 0, 100, "created_at", "DESC")
    list_sql, list_params, count_sql, count_params = _sql.select_threads_sql(d, q)

    def list_threads(_: int) -> None:
        conn.execute(list_sql, list_params).fetchall()
        conn.execute(count_sql, count_params).fetchone()

    ops["listThreads_100of1000"] = _timed(list_threads, N_LIST)

    def clone(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(create, [f"clone-{i}", RES_MSGS, f"clone {i}", "{}", stamp, stamp])
        conn.execute(
            f'INSERT INTO {_sql.MESSAGES} (id, thread_id, content, role, type, "createdAt", "resourceId") '
            f'SELECT lower(hex(randomblob(16))), ?, content, role, type, "createdAt", ? FROM {_sql.MESSAGES} '
            "WHERE thread_id = ?",
            (f"clone-{i}", RES_MSGS, "big"),
        )
        conn.execute("COMMIT")

    ops["cloneThread_10k"] = _timed(clone, N_CLONE)

    get_sql = f"SELECT {_sql.thread_columns(d)} FROM {_sql.THREADS} WHERE id = ?"
    pick = random.Random(42)
    picks = [pick.choice(thread_rows)[0] for _ in range(N_GET)]
    ops["getThreadById"] = _timed(lambda i: conn.execute(get_sql, (picks[i],)).fetchone(), N_GET)
    conn.close()
    return ops


# -- CPU time of the write ops (--cpu) -----------------------------------------------------------
# Wall-clock throughput on a shared machine mostly measures who got the cores; the CPU time a
# process spends per call (user + system, every thread of the process) is much steadier. For the
# three write ops both sides run the same calls again and report CPU microseconds per call.

CPU_OPS: list[tuple[str, str]] = [
    ("createThread", "create_thread, CPU per call"),
    ("saveMessages_batch1", "save batch 1, CPU per msg"),
    ("saveMessages_batch100", "save batch 100, CPU per msg"),
]

# Our JavaScript (Mastra's public API only), written next to bench.mjs for the run, then removed.
CPU_JS = (
    """
import { Memory } from '@mastra/memory';
import { LibSQLStore } from '@mastra/libsql';
import fs from 'node:fs';
const [db, out] = process.argv.slice(2);
const storage = new LibSQLStore({ id: 'cpu', url: `file:${db}` });
await storage.init();
const memory = new Memory({ storage, options: { lastMessages: 10 } });
const LOREM = __LOREM__;
const text = (i) => (`message ${i}: ` + LOREM.repeat(3)).slice(0, __TEXT_LEN__);
const cpu = async (n, per, fn) => {
  const a = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const b = process.cpuUsage(a);
  return (b.user + b.system) / (n * per);
};
const mk = (tid, p, i) => ({ id: `${p}-${String(i).padStart(6, '0')}`, role: i % 2 ? 'assistant' : 'user',
  createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000), threadId: tid, resourceId: 'res-msgs', type: 'v2',
  content: { format: 2, parts: [{ type: 'text', text: text(i) }] } });
const r = {};
r.createThread = await cpu(__THREADS__, 1,
  (i) => memory.createThread({ resourceId: 'res-threads', title: `thread ${i}` }));
const t1 = await memory.createThread({ resourceId: 'res-msgs', title: 'single-save thread' });
const t2 = await memory.createThread({ resourceId: 'res-msgs', title: 'big thread' });
const s = Array.from({ length: __SINGLE__ }, (_, i) => mk(t1.id, 's', i));
r.saveMessages_batch1 = await cpu(__SINGLE__, 1, (i) => memory.saveMessages({ messages: [s[i]] }));
const b = Array.from({ length: __MSGS__ }, (_, i) => mk(t2.id, 'b', i));
r.saveMessages_batch100 = await cpu(__MSGS__ / __BATCH__, __BATCH__,
  (i) => memory.saveMessages({ messages: b.slice(i * __BATCH__, (i + 1) * __BATCH__) }));
fs.writeFileSync(out, JSON.stringify({ cpu_us: r }));
process.exit(0);
""".replace("__LOREM__", json.dumps(LOREM))
    .replace("__TEXT_LEN__", str(TEXT_LEN))
    .replace("__THREADS__", str(N_THREADS))
    .replace("__SINGLE__", str(N_SAVE_SINGLE))
    .replace("__MSGS__", str(N_MSGS))
    .replace("__BATCH__", str(BATCH))
)


def run_ours_cpu(db: str, driver: str | None = None) -> dict[str, Any]:
    """CPU microseconds per call (per message for saves) of the write ops through ``Memory``."""
    from mastra_memory import Memory

    store = _store(db, driver)
    store.setup()
    mem = Memory(storage=store, options={"last_messages": 10})

    def cpu(n: int, per: int, fn: Callable[[int], object]) -> float:
        start = time.process_time()
        for i in range(n):
            fn(i)
        return (time.process_time() - start) / (n * per) * 1e6

    msg = bench_message

    out = {"createThread": cpu(N_THREADS, 1, lambda i: mem.create_thread(RES_THREADS, title=f"thread {i}"))}
    single = mem.create_thread(RES_MSGS, title="single-save thread").id
    big = mem.create_thread(RES_MSGS, title="big thread").id
    singles = [msg(single, "s", i) for i in range(N_SAVE_SINGLE)]
    out["saveMessages_batch1"] = cpu(N_SAVE_SINGLE, 1, lambda i: mem.save_messages([singles[i]]))
    bigs = [msg(big, "b", i) for i in range(N_MSGS)]
    out["saveMessages_batch100"] = cpu(
        N_MSGS // BATCH, BATCH, lambda i: mem.save_messages(bigs[i * BATCH : (i + 1) * BATCH])
    )
    mem.close()
    return {"cpu_us": out}


def cpu_main(args: argparse.Namespace, mastra_dir: Path, why_not: str | None) -> None:
    """``--cpu``: paired runs of the write ops, CPU time per call on both sides."""
    me = [sys.executable, str(Path(__file__).resolve())]
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    script = mastra_dir / f"_mastra_compare_cpu_{os.getpid()}.mjs"
    if not why_not:
        script.write_text(CPU_JS)
    try:
        with tempfile.TemporaryDirectory(prefix="mastra_compare_cpu_") as d:
            tmp = Path(d)
            for run in range(args.runs):
                order = ["ours", "mastra"] if run % 2 == 0 else ["mastra", "ours"]
                for side in order + (["before"] if args.baseline else []):
                    if side == "mastra" and why_not:
                        continue
                    db, out = tmp / f"{side}-{run}.db", tmp / f"{side}-{run}.json"
                    if side == "mastra":
                        cmd = ["node", str(script), str(db), str(out)]
                    else:
                        cmd = [*me, "--child", "ours-cpu", "--db", str(db), "--out", str(out)]
                        cmd += ["--driver", args.driver] if args.driver and side == "ours" else []
                        if side == "before":
                            cmd += ["--root", str(args.baseline.resolve())]
                    data, _, err = _child(cmd, out)
                    if data is None:
                        raise SystemExit(f"{side} CPU run {run} failed:\n{err}")
                    {"ours": ours, "mastra": theirs, "before": before}[side].append(data["cpu_us"])
                    print(f"CPU run {run + 1}/{args.runs}: {side} done", file=sys.stderr)
    finally:
        script.unlink(missing_ok=True)
    print(f"\nCPU time (user + system) per call, medians of {args.runs} paired runs")
    head = f"{'op':30s} {'ours us':>10s} {'Mastra us':>10s} {'Mastra/ours':>12s}"
    if before:
        head += f" {'before us':>10s} {'Mastra/before':>14s}"
    print(head)
    print("-" * len(head))
    for key, label in CPU_OPS:
        mine = statistics.median(r[key] for r in ours)
        line = f"{label:30s} {mine:>10.1f}"
        if theirs:
            other = statistics.median(r[key] for r in theirs)
            line += f" {other:>10.1f} {other / mine:>11.2f}x"
        if before:
            then = statistics.median(r[key] for r in before)
            versus = f"{statistics.median(r[key] for r in theirs) / then:.2f}x" if theirs else ""
            line += f" {then:>10.1f} {versus:>14s}"
        print(line)


# -- driver ---------------------------------------------------------------------------------------


def _child(argv: list[str], out: Path) -> tuple[dict[str, Any] | None, float, str]:
    """Run a child, wait for it with ``os.wait4``; return (its JSON, peak RSS in MB, stderr tail)."""
    with open(out.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    if proc.returncode != 0 or not out.exists():
        return None, rss_mb, out.with_suffix(".log").read_text()[-2000:]
    return json.loads(out.read_text()), rss_mb, ""


def _mastra_ready(mastra_dir: Path) -> str | None:
    """None when Mastra's side can run, else why not."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (mastra_dir / "bench.mjs").exists():
        return f"no bench.mjs in {mastra_dir}"
    if not (mastra_dir / "node_modules" / "@mastra" / "memory").exists():
        return f"{mastra_dir}/node_modules is missing: run `npm ci --no-audit --no-fund` there"
    return None


def _fmt(value: float, field: str) -> str:
    if field == "per_s":
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="paired runs (medians are reported)")
    parser.add_argument("--mastra-dir", type=Path, default=ROOT.parent / "shared" / "bench" / "mastra_ts")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of this repository (e.g. `git archive <commit>` unpacked): its Memory runs "
        "our side too, interleaved, as a 'before' column",
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="instead: CPU time per call of the three write ops, ours and Mastra's (steadier under load)",
    )
    parser.add_argument(
        "--driver",
        choices=["libsql", "sqlite3", "auto"],
        help="LibSQLStore's driver for our side and the raw side (default: the store's default)",
    )
    parser.add_argument(
        "--keyword-index",
        action="store_true",
        help="build the FTS5 keyword index before the workload (as hybrid semantic recall does on "
        "its first search); by default a new libSQL database has none until first used",
    )
    parser.add_argument("--child", choices=["ours", "raw", "ours-cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keyword_index:
        os.environ["MM_BENCH_KEYWORD_INDEX"] = "1"  # read by the children (_store)
    if args.child:
        if args.root:  # run the code of another checkout (--baseline)
            sys.path.insert(0, args.root)
        if args.child == "ours-cpu":
            Path(args.out).write_text(json.dumps(run_ours_cpu(args.db, args.driver)))
            return
        ops = (run_ours if args.child == "ours" else run_raw)(args.db, args.driver)
        Path(args.out).write_text(json.dumps({"ops": ops}))
        return

    mastra_dir = args.mastra_dir.resolve()
    why_not = _mastra_ready(mastra_dir)
    if why_not:
        print(f"Mastra side skipped: {why_not}")
    if args.cpu:
        cpu_main(args, mastra_dir, why_not)
        return
    me = [sys.executable, str(Path(__file__).resolve())]
    sides = ["ours", "mastra", "raw"] + (["before"] if args.baseline else [])
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    rss: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="mastra_compare_") as d:
        tmp = Path(d)
        for run in range(args.runs):
            order = ["ours", "mastra"] if run % 2 == 0 else ["mastra", "ours"]
            for side in [*order, "raw"] + (["before"] if args.baseline else []):
                if side == "mastra" and why_not:
                    continue
                db, out = tmp / f"{side}-{run}.db", tmp / f"{side}-{run}.json"
                if side == "mastra":
                    cmd = ["node", str(mastra_dir / "bench.mjs"), "--backend", "libsql", "--db", str(db)]
                    cmd += ["--out", str(out)]
                elif side == "before":
                    cmd = [*me, "--child", "ours", "--root", str(args.baseline.resolve()), "--db", str(db)]
                    cmd += ["--out", str(out)]
                else:
                    cmd = [*me, "--child", side, "--db", str(db), "--out", str(out)]
                    cmd += ["--driver", args.driver] if args.driver else []
                data, peak, err = _child(cmd, out)
                if data is None:
                    raise SystemExit(f"{side} run {run} failed:\n{err}")
                results[side].append(data["ops"])
                rss[side].append(peak)
                print(f"run {run + 1}/{args.runs}: {side} done (peak RSS {peak:.0f} MB)", file=sys.stderr)

    def med(side: str, key: str, field: str) -> float | None:
        values = [r[key][field] for r in results[side]]
        return statistics.median(values) if values else None

    print(f"\nmedians of {args.runs} paired runs ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")
    head = (
        f"{'op':24s} {'unit':>10s} {'ours':>10s} {'Mastra':>10s} {'ours/Mastra':>12s} {'raw SQL':>10s} {'raw/ours':>9s}"
    )
    if args.baseline:
        head += f" {'before':>10s} {'before/Mastra':>14s}"
    print(head)
    print("-" * len(head))
    for key, label, field, unit, higher in OPS:
        ours, theirs, raw = med("ours", key, field), med("mastra", key, field), med("raw", key, field)
        assert ours is not None and raw is not None
        ratio = "" if theirs is None else f"{(ours / theirs if higher else theirs / ours):.2f}x"
        floor = f"{(raw / ours if higher else ours / raw):.2f}"
        mastra = "" if theirs is None else _fmt(theirs, field)
        line = (
            f"{label:24s} {unit:>10s} {_fmt(ours, field):>10s} {mastra:>10s} {ratio:>12s} {_fmt(raw, field):>10s} "
            f"{floor:>9s}"
        )
        before = med("before", key, field) if args.baseline else None
        if before is not None:
            versus = "" if theirs is None else f"{(before / theirs if higher else theirs / before):.2f}x"
            line += f" {_fmt(before, field):>10s} {versus:>14s}"
        print(line)
    rss_line = (
        f"{'peak RSS':24s} {'MB':>10s} {statistics.median(rss['ours']):>10.0f} "
        f"{(statistics.median(rss['mastra']) if rss['mastra'] else float('nan')):>10.0f} {'':>12s} "
        f"{statistics.median(rss['raw']):>10.0f}"
    )
    if args.baseline:
        rss_line += f" {'':>9s} {statistics.median(rss['before']):>10.0f}"
    print(rss_line)
    print(
        "\nours/Mastra: how many times better ours is (throughput ratio, or latency ratio inverted); "
        "raw/ours: our cost over the raw driver running the same SQL (1.00 = no overhead)."
    )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "rss_mb": rss}, indent=1))


if __name__ == "__main__":
    main()
