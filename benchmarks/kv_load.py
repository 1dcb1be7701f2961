"""Key-value load test on loopback (bounded in time and count). Prints numbers; asserts nothing.

Phases:

1. ``embedded``: one process, ``KVMemory`` on a libSQL file, 50/50 set/get.
2. ``http``: a real ``mastra-memory serve`` (uvicorn) on 127.0.0.1 over a libSQL file, hit by
   ``--clients`` processes with keep-alive connections, 50/50 PUT/GET of small JSON values.
   Reports requests/s, errors (any non-2xx or exception), latency percentiles, and the server's
   own CPU time per request (from /proc; a capacity figure that does not depend on what else
   the machine is running).
3. ``increments``: ``--increment-clients`` processes increment shared counters, through the
   server with ``KVMemory(base_url=...)`` and directly on one libSQL file; any lost increment
   shows as ``lost > 0``.

Usage::

    python benchmarks/kv_load.py                       # ~40 s on 2 cores
    python benchmarks/kv_load.py --duration 3 --clients 2 --increments 100
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory.kv import KVMemory  # noqa: E402
from mastra_memory.testing.live_server import live_server  # noqa: E402
from storage_adapters.libsql import LibSQLStore  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
COUNTERS = 4


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:  # pragma: no cover - not Linux
        return "?"


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (uvicorn workers)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [k for kid in kids for k in (kid, *_children(kid))]


# -- phase 1: embedded -----------------------------------------------------------------------------


def embedded(db: str, duration: float, max_ops: int) -> dict[str, Any]:
    kv = KVMemory("bench", storage=LibSQLStore(db))
    kv.set("warm", 0)
    lat: list[float] = []
    errors = 0
    start = time.perf_counter()
    i = 0
    while i < max_ops and time.perf_counter() - start < duration:
        t = time.perf_counter()
        try:
            if i % 2 == 0:
                kv.set(f"k{i % 5000}", {"i": i, "pi": 3.14, "ok": True})
            elif kv.get(f"k{(i - 1) % 5000}") is None:
                errors += 1
        except Exception:
            errors += 1
        lat.append(time.perf_counter() - t)
        i += 1
    elapsed = time.perf_counter() - start
    kv.close()
    return {"ops": i, "seconds": elapsed, "errors": errors, "lat": lat}


# -- phase 2: HTTP ---------------------------------------------------------------------------------


def _http_client(port: int, cid: int, duration: float, max_requests: int, barrier: Any, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    lat: list[float] = []
    errors = 0
    barrier.wait(60)
    start = time.perf_counter()
    i = 0
    while i < max_requests and time.perf_counter() - start < duration:
        key = f"c{cid}-k{(i // 2) % 2000}"
        t = time.perf_counter()
        try:
            if i % 2 == 0:
                conn.request("PUT", f"/memory/bench/{key}", body=json.dumps({"i": i, "x": 1.5}), headers=headers)
            else:
                conn.request("GET", f"/memory/bench/{key}", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except Exception:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat.append(time.perf_counter() - t)
        i += 1
    out.put((i, errors, time.perf_counter() - start, lat))


def http_load(port: int, server_pid: int, clients: int, duration: float, max_requests: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_http_client, args=(port, c, duration, max_requests, barrier, out)) for c in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait(60)
    cpu0, t0 = _cpu_seconds(server_pid), time.perf_counter()
    results = [out.get(timeout=duration + 120) for _ in procs]
    wall, cpu = time.perf_counter() - t0, _cpu_seconds(server_pid) - cpu0
    for p in procs:
        p.join(30)
    requests = sum(r[0] for r in results)
    return {
        "requests": requests,
        "errors": sum(r[1] for r in results),
        "seconds": max(r[2] for r in results),
        "wall": wall,
        "server_cpu": cpu,
        "lat": [x for r in results for x in r[3]],
    }


# -- phase 3: increments ---------------------------------------------------------------------------


def _increment(where: tuple[str, str], n: int, barrier: Any, out: Any) -> None:
    """Increment COUNTERS counters n times: ``("http", url)`` or ``("embedded", db_url)``."""
    kind, target = where
    if kind == "http":
        kv = KVMemory("counters", base_url=target, api_key=TOKEN, timeout=60)
    else:
        kv = KVMemory("counters", storage=LibSQLStore(target))
    kv.exists("warm-up")
    barrier.wait(60)
    errors = 0
    for i in range(n):
        try:
            kv.increment(f"c{i % COUNTERS}")
        except Exception:
            errors += 1
    kv.close()
    out.put(errors)


def increments(where: tuple[str, str], procs: int, n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=_increment, args=(where, n, barrier, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    barrier.wait(60)
    t0 = time.perf_counter()
    errors = sum(out.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.join(30)
    return {"errors": errors, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per throughput phase (8)")
    parser.add_argument("--clients", type=int, default=3, help="HTTP client processes (3)")
    parser.add_argument("--workers", type=int, default=1, help="server processes, `serve --workers` (1)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap per HTTP client (50,000)")
    parser.add_argument("--increment-clients", type=int, default=8, help="incrementing processes (8)")
    parser.add_argument("--increments", type=int, default=250, help="increments per process (250)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kv-load-") as tmp:
        print(f"machine: {os.cpu_count()} CPUs, load average {_loadavg()}")
        r = embedded(f"file:{tmp}/embedded.db", args.duration, 500_000)
        print(
            f"embedded  : {r['ops']} ops in {r['seconds']:.2f} s = {r['ops'] / r['seconds']:,.0f} ops/s, "
            f"errors {r['errors']}, p50 {_pct(r['lat'], 0.5):.3f} ms, p99 {_pct(r['lat'], 0.99):.3f} ms"
        )

        serve_args = ["--workers", str(args.workers)]
        with live_server(f"file:{tmp}/server.db", api_keys=[TOKEN], extra_args=serve_args) as server:
            h = http_load(server.port, server.process.pid, args.clients, args.duration, args.max_requests)
            rate = h["requests"] / h["wall"]
            print(
                f"http      : {h['requests']} requests from {args.clients} processes to {args.workers} server "
                f"process(es) in {h['wall']:.2f} s = "
                f"{rate:,.0f} req/s, errors {h['errors']}, p50 {_pct(h['lat'], 0.5):.2f} ms, "
                f"p99 {_pct(h['lat'], 0.99):.2f} ms"
            )
            per_request = 1000 * h["server_cpu"] / max(h["requests"], 1)
            print(
                f"            server CPU {per_request:.3f} ms/request -> "
                f"{1000 / per_request if per_request else float('inf'):,.0f} req/s per fully available core"
            )

            n, procs = args.increments, args.increment_clients
            inc = increments(("http", server.url), procs, n)
            kv = KVMemory("counters", base_url=server.url, api_key=TOKEN)
            total = sum(int(kv.get(f"c{i}", 0)) for i in range(COUNTERS))
            kv.close()
            expected = procs * n
            print(
                f"increments: {procs} processes x {n} via HTTP in {inc['seconds']:.2f} s "
                f"({expected / inc['seconds']:,.0f}/s): counted {total} of {expected}, "
                f"lost {expected - total}, errors {inc['errors']}"
            )

        db = f"file:{tmp}/counters.db"
        LibSQLStore(db).setup()
        inc = increments(("embedded", db), procs, n)
        kv = KVMemory("counters", storage=LibSQLStore(db))
        total = sum(int(kv.get(f"c{i}", 0)) for i in range(COUNTERS))
        kv.close()
        print(
            f"increments: {procs} processes x {n} on one libSQL file in {inc['seconds']:.2f} s "
            f"({expected / inc['seconds']:,.0f}/s): counted {total} of {expected}, "
            f"lost {expected - total}, errors {inc['errors']}"
        )
        print(f"machine load average after: {_loadavg()}")


if __name__ == "__main__":
    main()
