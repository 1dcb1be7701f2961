"""Background WAL checkpoints on and off: single-message saves and thread creation on a local file.

Usage::

    python benchmarks/checkpoint.py [--rounds 8] [--n 1500] [--driver sqlite3]

Each round runs, on fresh files and in a random order, ``n`` single-message saves into one
thread (``mastra_compare.py``'s messages) and ``n`` thread creations through ``Memory`` over
``LibSQLStore(background_checkpoint=True)`` and ``(background_checkpoint=False)``; the table
shows medians over the rounds of the wall-clock time per call, the process CPU time per call
(user + system, every thread: the background thread's work included) and the largest WAL the
run left. With automatic checkpoints only, the commit that brings the WAL to 1,000 pages copies
them into the database file and syncs both files while the caller waits; with the background
thread, that commit finds almost everything copied and synced already.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mastra_compare import bench_message  # noqa: E402


def _run(op: str, background: bool, n: int, driver: str, folder: str) -> tuple[float, float, int]:
    """``(wall us per call, CPU us per call, WAL bytes at the end)`` of one run on a fresh file."""
    from mastra_memory import Memory
    from storage_adapters.libsql import LibSQLStore

    path = tempfile.mkdtemp(dir=folder) + "/bench.db"
    store = LibSQLStore(f"file:{path}", driver=driver, background_checkpoint=background)  # type: ignore[arg-type]
    store.setup()
    mem = Memory(storage=store)
    if op == "save":
        thread = mem.create_thread("res-msgs", title="single-save thread").id
        messages = [bench_message(thread, "s", i) for i in range(n)]

        def call(i: int) -> Any:
            return mem.save_messages([messages[i]])
    else:

        def call(i: int) -> Any:
            return mem.create_thread("res-threads", title=f"thread {i}")

    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        call(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    wal = os.path.getsize(path + "-wal")
    store.close()
    return wall / n * 1e6, cpu / n * 1e6, wal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--driver", default="sqlite3", choices=("sqlite3", "libsql"))
    args = parser.parse_args()
    configs = [(op, background) for op in ("save", "create") for background in (True, False)]
    results: dict[tuple[str, bool], list[tuple[float, float, int]]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for op, background in random.sample(configs, len(configs)):
                results[(op, background)].append(_run(op, background, args.n, args.driver, folder))
    print(f"medians of {args.rounds} rounds of {args.n} calls ({os.cpu_count()} cores, driver {args.driver})")
    print(f"{'op':<28}{'wall us':>10}{'CPU us':>10}{'max WAL MB':>12}")
    for (op, background), runs in results.items():
        label = f"{'save, batch 1' if op == 'save' else 'create_thread'}, {'background' if background else 'inline'}"
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        wal = max(r[2] for r in runs) / 1e6
        print(f"{label:<28}{wall:>10.1f}{cpu:>10.1f}{wal:>12.1f}")


if __name__ == "__main__":
    main()
