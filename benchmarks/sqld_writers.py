"""Eight writer processes saving to one thread on a sqld server, round after round, optionally
beside busy-loop processes that keep the cores loaded: how often a round fails or stalls.

Each round empties the database, then ``--writers`` processes each make ``--saves`` saves (batches
of 1 and of 3 messages) on one thread through ``open_storage(url)``; the round fails when any
writer raises or the round takes longer than ``--deadline`` seconds. Run it against a sqld started
with and without ``--checkpoint-interval-s`` to see sqld 0.24's write-queue stall
(docs/storage.md, "sqld"); a stalled sqld never recovers, so the script stops at the first failed
round (restart that sqld before the next run).

Usage::

    python benchmarks/sqld_writers.py http://127.0.0.1:8089 --rounds 10 --burners 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import statistics
import time
from pathlib import Path
from typing import Any

from mastra_memory.storage import open_storage
from mastra_memory.types import Message, Thread


def _burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for i in range(100_000):
            x += i * i


def _writer(url: str, writer: int, saves: int, start: Any, out: Any) -> None:
    try:
        with open_storage(url) as store:
            start.wait(60)
            for i in range(saves):
                size = 3 if i % 5 == 4 else 1
                messages = [
                    Message.user(f"writer {writer} save {i} part {k}", "shared", id=f"w{writer}-{i:03d}-{k}")
                    for k in range(size)
                ]
                store.save_messages(messages)
        out.put(("ok", writer))
    except BaseException as exc:  # reported, the round fails
        out.put(("error", f"writer {writer}: {type(exc).__name__}: {exc}"))


def _clear(url: str) -> None:
    import libsql

    conn = libsql.connect(url, isolation_level=None)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'libsql_%'"
            ).fetchall()
        ]
        for name in names:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        conn.close()


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def one_round(url: str, writers: int, saves: int, deadline: float) -> tuple[float, list[str]]:
    """One round; returns (seconds, errors)."""
    _clear(url)
    with open_storage(url) as store:
        store.setup()
        store.create_thread(Thread(id="shared", resource_id="res"))
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, saves, start, out), daemon=True) for w in range(writers)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    errors: list[str] = []
    done = 0
    while done < writers:
        left = deadline - (time.monotonic() - t0)
        if left <= 0:
            errors.append(f"round did not finish within {deadline} s")
            break
        try:
            status, detail = out.get(timeout=min(left, 5))
        except queue.Empty:
            continue
        done += 1
        if status != "ok":
            errors.append(str(detail))
    elapsed = time.monotonic() - t0
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    return elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="sqld URL, e.g. http://127.0.0.1:8089 (its database is emptied)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--burners", type=int, default=2, help="busy-loop processes beside the writers")
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds a round may take")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    burners = [ctx.Process(target=_burn, args=(86_400.0,), daemon=True) for _ in range(args.burners)]
    for b in burners:
        b.start()
    times: list[float] = []
    failed = 0
    try:
        for n in range(1, args.rounds + 1):
            elapsed, errors = one_round(args.url, args.writers, args.saves, args.deadline)
            load = _load()
            print(f"round {n}: {elapsed:.1f} s, load {load}, {len(errors)} errors {errors[:2]}", flush=True)
            if errors:
                failed += 1
                break
            times.append(elapsed)
    finally:
        for b in burners:
            b.kill()
    if times:
        median, longest = statistics.median(times), max(times)
        print(f"{len(times)} rounds ok, {failed} failed; median {median:.1f} s, max {longest:.1f} s")
    else:
        print(f"0 rounds ok, {failed} failed")


if __name__ == "__main__":
    main()
