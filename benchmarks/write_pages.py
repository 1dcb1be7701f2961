"""Pages written per write call: a load-independent measure of the libSQL write path.

Usage::

    python benchmarks/write_pages.py [--mastra-dir DIR] [--n 1000] [--root CHECKOUT]

Runs the write ops of ``mastra_compare.py``'s workload (create threads; save messages one per
call into one thread; save them 100 per call into another) through our ``Memory`` over
``LibSQLStore`` on a fresh file, and counts the WAL frames each op appends (the WAL's size
delta / (page size + 24 bytes of frame header), with automatic checkpoints off so the WAL only
grows). A commit appends one frame per page it changed, so frames per call is how many B-tree
pages one call rewrites: the I/O a loaded machine makes a writer wait for, independent of load.
With ``--mastra-dir`` (a folder holding ``bench.mjs`` and its ``node_modules``) the same ops run
through ``@mastra/memory`` over ``@mastra/libsql`` too. Statements are counted on our side with
the ``sqlite3`` driver's trace callback (top-level statements plus trigger firings).
``--root`` runs our side from another checkout (a "before" column).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

BASE = datetime(2025, 1, 1, tzinfo=UTC)
TEXT = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat. "
)
OPS = ("createThread", "saveMessages_batch1", "saveMessages_batch100")


def _text(i: int) -> str:
    return (f"message {i}: " + TEXT * 3)[:200]


def _frames(db: str, page_size: int) -> int:
    wal = Path(db + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - 32) // (page_size + 24)


def run_ours(db: str, n: int, driver: str) -> dict[str, Any]:
    """Frames (and, with the sqlite3 driver, statements) per call of each write op."""
    from mastra_memory import Memory, Message, MessageContent, TextPart
    from storage_adapters.libsql import LibSQLStore

    store = LibSQLStore(f"file:{db}", driver=driver)  # type: ignore[arg-type]
    store.setup()
    conn = store._conn()
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    statements = [0]
    if driver == "sqlite3":
        conn.set_trace_callback(lambda _sql: statements.__setitem__(0, statements[0] + 1))
    mem = Memory(storage=store, options={"last_messages": 10})
    out: dict[str, Any] = {}

    def measure(name: str, calls: int, per: int, fn: Callable[[int], object]) -> None:
        f0, s0 = _frames(db, page_size), statements[0]
        for i in range(calls):
            fn(i)
        out[name] = {
            "frames_per_call": (_frames(db, page_size) - f0) / calls,
            "frames_per_msg": (_frames(db, page_size) - f0) / (calls * per),
            "statements_per_call": (statements[0] - s0) / calls if driver == "sqlite3" else None,
        }

    def msg(thread_id: str, prefix: str, i: int) -> Message:
        return Message(
            id=f"{prefix}-{i:06d}",
            role="user" if i % 2 == 0 else "assistant",
            created_at=BASE + timedelta(seconds=i),
            thread_id=thread_id,
            resource_id="res-msgs",
            content=MessageContent(parts=[TextPart(text=_text(i))]),
        )

    measure("createThread", n, 1, lambda i: mem.create_thread("res-threads", title=f"thread {i}"))
    single = mem.create_thread("res-msgs", title="single").id
    big = mem.create_thread("res-msgs", title="big").id
    singles = [msg(single, "s", i) for i in range(n)]
    measure("saveMessages_batch1", n, 1, lambda i: mem.save_messages([singles[i]]))
    bigs = [msg(big, "b", i) for i in range(n * 10)]
    measure("saveMessages_batch100", n // 10, 100, lambda i: mem.save_messages(bigs[i * 100 : (i + 1) * 100]))
    mem.close()
    return out


MASTRA_JS = """
import { Memory } from '@mastra/memory';
import { LibSQLStore } from '@mastra/libsql';
import fs from 'node:fs';
const [db, out, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const storage = new LibSQLStore({ id: 'pages', url: `file:${db}` });
await storage.init();
await storage.client.execute('PRAGMA wal_autocheckpoint = 0');
await storage.client.execute('PRAGMA wal_checkpoint(TRUNCATE)');
const pageSize = Number((await storage.client.execute('PRAGMA page_size')).rows[0][0]);
const frames = () => { try { return Math.floor(Math.max(0, fs.statSync(db + '-wal').size - 32) / (pageSize + 24)); }
  catch { return 0; } };
const memory = new Memory({ storage, options: { lastMessages: 10 } });
const LOREM = __LOREM__;
const text = (i) => (`message ${i}: ` + LOREM.repeat(3)).slice(0, 200);
const r = {};
const measure = async (name, calls, per, fn) => {
  const f0 = frames();
  for (let i = 0; i < calls; i++) await fn(i);
  const f = frames() - f0;
  r[name] = { frames_per_call: f / calls, frames_per_msg: f / (calls * per), statements_per_call: null };
};
const mk = (tid, p, i) => ({ id: `${p}-${String(i).padStart(6, '0')}`, role: i % 2 ? 'assistant' : 'user',
  createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000), threadId: tid, resourceId: 'res-msgs', type: 'v2',
  content: { format: 2, parts: [{ type: 'text', text: text(i) }] } });
await measure('createThread', n, 1, (i) => memory.createThread({ resourceId: 'res-threads', title: `thread ${i}` }));
const t1 = await memory.createThread({ resourceId: 'res-msgs', title: 'single' });
const t2 = await memory.createThread({ resourceId: 'res-msgs', title: 'big' });
const s = Array.from({ length: n }, (_, i) => mk(t1.id, 's', i));
await measure('saveMessages_batch1', n, 1, (i) => memory.saveMessages({ messages: [s[i]] }));
const b = Array.from({ length: n * 10 }, (_, i) => mk(t2.id, 'b', i));
await measure('saveMessages_batch100', n / 10, 100,
  (i) => memory.saveMessages({ messages: b.slice(i * 100, (i + 1) * 100) }));
fs.writeFileSync(out, JSON.stringify(r));
process.exit(0);
""".replace("__LOREM__", json.dumps(TEXT))


def run_mastra(mastra_dir: Path, db: str, n: int) -> dict[str, Any]:
    script = mastra_dir / f"_write_pages_{os.getpid()}.mjs"
    script.write_text(MASTRA_JS)
    out = Path(db + ".json")
    try:
        subprocess.run(["node", str(script), db, str(out), str(n)], check=True, capture_output=True)
    finally:
        script.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="calls of the single-row ops (default 1000)")
    parser.add_argument("--mastra-dir", type=Path, help="folder with bench.mjs and node_modules (npm ci)")
    parser.add_argument("--root", type=Path, help="run our side from this checkout instead")
    parser.add_argument("--child", choices=["libsql", "sqlite3"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_ours(args.db, args.n, args.child)))
        return
    me = [sys.executable, str(Path(__file__).resolve())]
    env = dict(os.environ)
    root = (args.root or ROOT).resolve()
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="write_pages_") as d:
        for driver in ("libsql", "sqlite3"):
            cmd = [*me, "--child", driver, "--db", str(Path(d) / f"ours-{driver}.db"), "--n", str(args.n)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=root)
            results[f"ours ({driver})"] = json.loads(done.stdout.strip().splitlines()[-1])
        if args.mastra_dir:
            results["Mastra"] = run_mastra(args.mastra_dir.resolve(), str(Path(d) / "mastra.db"), args.n)
    print(f"WAL frames (pages) appended per call; {args.n} single-row calls, {args.n * 10} messages in batches of 100")
    head = f"{'op':24s}" + "".join(f" {side:>16s}" for side in results)
    print(head)
    print("-" * len(head))
    for op in OPS:
        field = "frames_per_msg" if op == "saveMessages_batch100" else "frames_per_call"
        print(f"{op:24s}" + "".join(f" {r[op][field]:>16.2f}" for r in results.values()))
    for op in OPS:
        count = results["ours (sqlite3)"][op]["statements_per_call"]
        print(f"statements per call, {op}: {count:.2f} (ours, top-level statements + trigger firings)")


if __name__ == "__main__":
    main()
