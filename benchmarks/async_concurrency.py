"""Async API under concurrency: N conversations of T turns each in one event loop.

Every turn is a full ``Agent.agenerate`` with memory (load history, call the model, save the
turn) against a scripted model that answers after ``--delay`` seconds (50 ms), as a remote LLM
would. Reported per backend:

* total time and turns/s of the async run (all conversations at once, one event loop);
* event-loop lag while it runs: a ticker task sleeps 1 ms again and again and records how late
  it wakes up (p50/p99/max, ms); a blocked loop shows up here;
* turns/s of the sync API driven from one thread (``Agent.generate`` in a loop) on a sample of
  the same workload, and the ratio.

Issue 13's targets: turns/s >= 10x the sync API, event-loop lag p99 <= 10 ms.

Usage::

    python benchmarks/async_concurrency.py                       # libSQL file + $MASTRA_TEST_PG_URL
    python benchmarks/async_concurrency.py --conversations 200 --turns 10 --backends libsql,postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from mastra_memory import Agent, AsyncMemory, Memory
from mastra_memory.storage import open_storage
from mastra_memory.testing import ScriptedModel


def _async_store(url: str, **kw: Any) -> Any:
    from mastra_memory.storage import open_async_storage

    return open_async_storage(url, **kw)


def _pg_schema_url(url: str) -> tuple[str, dict[str, Any]]:
    return url, {"schema_name": f"bench_{uuid.uuid4().hex[:8]}"}


def _drop_pg_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_async(url: str, kw: dict[str, Any], conversations: int, turns: int, delay: float) -> dict[str, Any]:
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - start - 0.001) * 1000)

    async with AsyncMemory(storage=_async_store(url, **kw), options={"last_messages": 10}) as memory:
        agent = Agent("bench", "Be brief.", ScriptedModel(default="ok, noted.", delay=delay), memory=memory)

        async def conversation(i: int) -> None:
            for t in range(turns):
                await agent.agenerate(f"message {t} of conversation {i}", thread=f"c{i}", resource=f"u{i % 20}")

        await agent.agenerate("warm up", thread="warm", resource="u")
        tick = asyncio.create_task(ticker())
        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
        stop.set()
        await tick
        stored = (await memory.list_messages("c0", per_page=False)).total
    assert stored == 2 * turns, stored
    n = conversations * turns
    return {
        "turns": n,
        "seconds": round(elapsed, 2),
        "turns_per_s": round(n / elapsed, 1),
        "lag_ms_p50": round(_percentile(lags, 0.5), 2),
        "lag_ms_p99": round(_percentile(lags, 0.99), 2),
        "lag_ms_max": round(max(lags, default=0.0), 2),
    }


def run_sync(url: str, kw: dict[str, Any], conversations: int, turns: int, delay: float) -> dict[str, Any]:
    with Memory(storage=open_storage(url, **kw), options={"last_messages": 10}) as memory:
        agent = Agent("bench", "Be brief.", ScriptedModel(default="ok, noted.", delay=delay), memory=memory)
        agent.generate("warm up", thread="warm", resource="u")
        started = time.perf_counter()
        for i in range(conversations):
            for t in range(turns):
                agent.generate(f"message {t} of conversation {i}", thread=f"s{i}", resource=f"u{i % 20}")
        elapsed = time.perf_counter() - started
    n = conversations * turns
    return {"turns": n, "seconds": round(elapsed, 2), "turns_per_s": round(n / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.05, help="model latency, seconds (0.05)")
    parser.add_argument("--sync-conversations", type=int, default=4, help="sample for the sync baseline")
    parser.add_argument("--backends", default="libsql,postgres")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for backend in args.backends.split(","):
        tmp = tempfile.mkdtemp()
        schema = None
        if backend == "libsql":
            url, kw = f"file:{tmp}/bench.db", {}
        elif backend == "postgres":
            pg = os.environ.get("MASTRA_TEST_PG_URL")
            if not pg:
                print("postgres: MASTRA_TEST_PG_URL is not set, skipped", file=sys.stderr)
                continue
            url, kw = _pg_schema_url(pg)
            schema = kw["schema_name"]
        else:
            raise SystemExit(f"unknown backend {backend!r}")
        try:
            a = asyncio.run(run_async(url, kw, args.conversations, args.turns, args.delay))
            s = run_sync(url, kw, args.sync_conversations, args.turns, args.delay)
        finally:
            if schema is not None:
                _drop_pg_schema(url, schema)
        a["speedup_vs_sync"] = round(a["turns_per_s"] / s["turns_per_s"], 1)
        results[backend] = {"async": a, "sync_one_thread": s}
        print(f"{backend}: {json.dumps(results[backend])}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
