"""Overhead of observational memory per agent turn, model time excluded.

A libSQL file holds one thread of ``--messages`` messages (default 5,000, ~60 tokens each);
the thread is observed once up front so the record looks like a long-running conversation.
Then ``--turns`` agent turns run through ``Memory.prepare_turn`` + ``finish_turn`` with the
default thresholds (30k message tokens, 40k observation tokens, background buffering on) and an
instant scripted Observer/Reflector, so what is timed is memory's own work: reading the record
and the unobserved tail, token accounting, saving, and the buffering/activation/observation
commits whenever thresholds are crossed.

Usage::

    python benchmarks/om_overhead.py [--messages 5000] [--turns 300] [--sync]

Prints p50/p95/p99/max per turn in milliseconds (prepare and finish separately too).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import mastra_memory  # noqa: F401  (the core before storage)
from mastra_memory import Memory, Message
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


def text(i: int, words: int = 45) -> str:
    return f"turn {i}: " + " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words))


def observer(messages: list[dict[str, Any]]) -> str:
    transcript = messages[-1]["content"].split("## Previous Observations")[0]
    turns = [int(t) for t in re.findall(r"turn (\d+):", transcript)][::8] or [0]
    return (
        "<observations>\nDate: Jan 1, 2025\n"
        + "\n".join(f"* 🟡 (10:00) what was said around turn {t}" for t in turns)
        + "\n</observations>\n<current-task>\nchatting\n</current-task>"
    )


def reflector(messages: list[dict[str, Any]]) -> str:
    return "<observations>\nDate: Jan 1, 2025\n* 🔴 (10:00) the condensed story so far\n</observations>"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(args: argparse.Namespace, mode: str) -> list[float]:
    """Seed a thread and time ``args.turns`` turns; ``mode`` is buffered, sync or baseline
    (observational memory off, ``last_messages=10``, for a same-load reference)."""
    folder = tempfile.mkdtemp(prefix="om-overhead-")
    store = LibSQLStore(f"file:{folder}/bench.db")
    om: dict[str, Any] = {
        "model": ScriptedModel(default=observer, name="observer"),
        "reflection": {"model": ScriptedModel(default=reflector, name="reflector")},
    }
    if mode == "sync":
        om["observation"] = {"buffer_tokens": False}
    options: dict[str, Any] = {"observational_memory": om} if mode != "baseline" else {"last_messages": 10}
    memory = Memory(storage=store, options=options)
    memory.create_thread("bench-user", "bench")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    batch: list[Message] = []
    for i in range(args.messages):
        role = "user" if i % 2 == 0 else "assistant"
        batch.append(Message(role=role, thread_id="bench", content=text(i), created_at=start + timedelta(seconds=i)))
        if len(batch) == 500:
            memory.save_messages(batch)
            batch = []
    if batch:
        memory.save_messages(batch)
    if mode != "baseline":
        memory.observe("bench")  # a long-running thread: its history observed up to now
    seed = time.perf_counter() - t0

    clock = start + timedelta(seconds=args.messages + 10)
    prepare_ms: list[float] = []
    finish_ms: list[float] = []
    total_ms: list[float] = []
    cpu_ms: list[float] = []
    acted = 0
    for i in range(args.warmup + args.turns):
        clock += timedelta(seconds=30)
        user = Message.user(text(args.messages + 2 * i), "bench", created_at=clock)
        ca = time.thread_time()
        a = time.perf_counter()
        ctx = memory.prepare_turn("bench", "bench-user", [user])
        b = time.perf_counter()
        cb = time.thread_time()
        # (the agent's model call would happen here; excluded)
        reply = Message.assistant(text(args.messages + 2 * i + 1), "bench", created_at=clock + timedelta(seconds=5))
        cc = time.thread_time()
        c = time.perf_counter()
        memory.finish_turn(ctx, [user, reply])
        d = time.perf_counter()
        cd = time.thread_time()
        if i >= args.warmup:
            prepare_ms.append((b - a) * 1000)
            finish_ms.append((d - c) * 1000)
            total_ms.append((b - a + d - c) * 1000)
            cpu_ms.append((cb - ca + cd - cc) * 1000)
            acted += bool(ctx.state.get("om_report", {}).get("actions"))
    memory.settled(60)
    total_msgs = memory.list_messages("bench", per_page=1).total
    print(
        f"\n== {mode}: thread of {total_msgs} messages (seeded {args.messages} in {seed:.1f}s), "
        f"{len(total_ms)} turns timed after {args.warmup} warm-up"
    )
    rows = (("prepare_turn", prepare_ms), ("finish_turn", finish_ms), ("turn total", total_ms), ("turn CPU", cpu_ms))
    for name, values in rows:
        print(
            f"{name:13s} p50 {statistics.median(values):6.2f} ms  p95 {pct(values, 95):6.2f} ms  "
            f"p99 {pct(values, 99):6.2f} ms  max {max(values):6.2f} ms"
        )
    if mode != "baseline":
        head = memory.get_observational_memory("bench")
        print(f"turns with OM work: {acted}; engine stats: {memory.observational_engine.stats.as_dict()}")
        if head is not None:
            print(
                f"record: generation {head.generation_count}, {head.observation_token_count} observation tokens, "
                f"pending at the end ~{len(ctx.history)} messages in context"
            )
    memory.close()
    return total_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sync", action="store_true", help="buffer_tokens=False (synchronous observation)")
    parser.add_argument("--baseline", action="store_true", help="also time the same turns with OM off")
    args = parser.parse_args()
    mode = "sync" if args.sync else "buffered"
    total = run(args, mode)
    load = os.getloadavg()[0]
    print(f"\nload average: {load:.1f} on {os.cpu_count()} CPUs (wall times include waiting for a CPU)")
    p95 = pct(total, 95)
    if args.baseline:
        base = pct(run(args, "baseline"), 95)
        print(f"baseline (OM off, last 10 messages) p95 {base:.2f} ms; OM adds {p95 - base:.2f} ms at p95")
    print(f"RESULT p95 {p95:.2f} ms per turn with OM ({'PASS' if p95 <= 10 else 'FAIL'} against the 10 ms budget)")


if __name__ == "__main__":
    main()
