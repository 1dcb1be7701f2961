"""The original's storage workload (``bench.mjs`` of /work/shared/bench/mastra_ts) on
``RedisStore`` through ``Memory``, beside raw redis-py doing the same operations on the same key
layout (no validation, no ownership checks, no guards: pipelined ``SET``/``ZADD``/``MGET``).

Run (a Redis on loopback; each run uses a fresh key prefix and deletes its keys afterwards)::

    python benchmarks/redis_store.py [--url redis://127.0.0.1:6379/14] [--runs 3]

Ops, as ``bench.mjs``: create 1,000 threads; save 1,000 messages one per call; save 10,000 in
batches of 100; recall the last 10 of the 10,000 (p50 of 1,000); list 100 of 1,000 threads (p50
of 200); clone the 10,000-message thread (5 times); get a thread by id (p50 of 1,000).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_compare import (  # the workload's sizes and timing helpers, shared with the libSQL run
    BATCH,
    N_CLONE,
    N_GET,
    N_LIST,
    N_MSGS,
    N_RECALL,
    N_SAVE_SINGLE,
    N_THREADS,
    OPS,
    RES_MSGS,
    RES_THREADS,
    WARMUP,
    _timed,
    bench_message,
)

from mastra_memory import Memory, Message, Thread
from mastra_memory.types import new_id, now_utc


def run_ours(url: str, prefix: str) -> dict[str, Any]:
    from storage_adapters.redis import RedisStore

    store = RedisStore(url, key_prefix=prefix)
    store.setup()
    mem = Memory(storage=store, options={"last_messages": 10})
    ops: dict[str, Any] = {}
    thread_ids: list[str] = []
    ops["createThread"] = _timed(
        lambda i: thread_ids.append(mem.create_thread(RES_THREADS, title=f"thread {i}").id), N_THREADS
    )
    single = mem.create_thread(RES_MSGS, title="single-save thread").id
    big = mem.create_thread(RES_MSGS, title="big thread (10k msgs)").id
    singles = [bench_message(single, "s", i) for i in range(N_SAVE_SINGLE)]
    ops["saveMessages_batch1"] = _timed(lambda i: mem.save_messages([singles[i]]), N_SAVE_SINGLE)
    bigs = [bench_message(big, "b", i) for i in range(N_MSGS)]
    ops["saveMessages_batch100"] = _timed(
        lambda i: mem.save_messages(bigs[i * BATCH : (i + 1) * BATCH]), N_MSGS // BATCH, N_MSGS
    )
    first = mem.recall(big, resource_id=RES_MSGS, per_page=10)
    assert len(first.messages) == 10 and first.total == N_MSGS and first.messages[-1].id == f"b-{N_MSGS - 1:06d}"
    for _ in range(WARMUP - 1):
        mem.recall(big, resource_id=RES_MSGS, per_page=10)
    ops["recall_last10"] = _timed(lambda i: mem.recall(big, resource_id=RES_MSGS, per_page=10), N_RECALL)
    page = mem.list_threads(resource_id=RES_THREADS, page=0, per_page=100)
    assert len(page.threads) == 100 and page.total == N_THREADS
    ops["listThreads_100of1000"] = _timed(
        lambda i: mem.list_threads(resource_id=RES_THREADS, page=0, per_page=100), N_LIST
    )

    def clone(i: int) -> None:
        assert len(mem.clone_thread(big, title=f"clone {i}").cloned_messages) == N_MSGS

    ops["cloneThread_10k"] = _timed(clone, N_CLONE)
    pick = random.Random(42)
    picks = [pick.choice(thread_ids) for _ in range(N_GET)]
    ops["getThreadById"] = _timed(lambda i: mem.get_thread_by_id(picks[i]), N_GET)
    store.drop_keys()
    mem.close()
    return ops


def run_raw(url: str, prefix: str) -> dict[str, Any]:
    """The same operations with redis-py only, on the same keys (what the store's writes and
    reads cost without validation, guards and model objects)."""
    import orjson
    import redis

    from storage_adapters.redis.store import _message_json, _ms, _thread_json

    r = redis.Redis.from_url(url)
    p = prefix
    ops: dict[str, Any] = {}
    thread_ids: list[str] = []

    def create(i: int) -> None:
        t = Thread(id=new_id(), resource_id=RES_THREADS, title=f"thread {i}")
        pipe = r.pipeline(transaction=True)
        pipe.set(f"{p}mastra_threads:id:{t.id}", _thread_json(t), nx=True)
        pipe.zadd(f"{p}mastra_threads:resource:{RES_THREADS}:by_created", {t.id: _ms(t.created_at)})
        pipe.zadd(f"{p}mastra_threads:resource:{RES_THREADS}:by_updated", {t.id: _ms(t.updated_at)})
        pipe.execute()
        thread_ids.append(t.id)

    ops["createThread"] = _timed(create, N_THREADS)
    threads = {name: Thread(id=name, resource_id=RES_MSGS) for name in ("single", "big")}

    def save(batch: list[Message]) -> None:
        tid = batch[0].thread_id
        pipe = r.pipeline(transaction=True)
        for m in batch:
            score = _ms(m.created_at)
            pipe.set(f"{p}mastra_messages:threadId:{tid}:id:{m.id}", _message_json(m))
            pipe.zadd(f"{p}thread:{tid}:messages", {m.id: score})
            pipe.zadd(f"{p}mastra_messages:resource:{RES_MSGS}", {m.id: score})
            pipe.hset(f"{p}mastra_messages:thread_of", m.id, tid)
        pipe.set(f"{p}mastra_threads:id:{tid}", _thread_json(threads[tid].model_copy(update={"updated_at": now_utc()})))
        pipe.execute()

    singles = [bench_message("single", "s", i) for i in range(N_SAVE_SINGLE)]
    ops["saveMessages_batch1"] = _timed(lambda i: save([singles[i]]), N_SAVE_SINGLE)
    bigs = [bench_message("big", "b", i) for i in range(N_MSGS)]
    ops["saveMessages_batch100"] = _timed(lambda i: save(bigs[i * BATCH : (i + 1) * BATCH]), N_MSGS // BATCH, N_MSGS)

    def recall(_: int) -> None:
        pipe = r.pipeline(transaction=False)
        pipe.zrange(f"{p}thread:big:messages", -10, -1)
        pipe.zcard(f"{p}thread:big:messages")
        ids, _total = pipe.execute()
        raws = r.mget([f"{p}mastra_messages:threadId:big:id:{i.decode()}" for i in ids])
        assert len([orjson.loads(x) for x in raws]) == 10

    ops["recall_last10"] = _timed(recall, N_RECALL)

    def list_threads(_: int) -> None:
        key = f"{p}mastra_threads:resource:{RES_THREADS}:by_created"
        pipe = r.pipeline(transaction=False)
        pipe.zrange(key, 0, 99, desc=True)
        pipe.zcard(key)
        ids, _total = pipe.execute()
        raws = r.mget([f"{p}mastra_threads:id:{i.decode()}" for i in ids])
        assert len([orjson.loads(x) for x in raws]) == 100

    ops["listThreads_100of1000"] = _timed(list_threads, N_LIST)

    def clone(i: int) -> None:
        ids = r.zrange(f"{p}thread:big:messages", 0, -1, withscores=True)
        raws = r.mget([f"{p}mastra_messages:threadId:big:id:{m.decode()}" for m, _ in ids])
        tid = f"clone-{i}"
        pipe = r.pipeline(transaction=True)
        pipe.set(f"{p}mastra_threads:id:{tid}", _thread_json(Thread(id=tid, resource_id=RES_MSGS)), nx=True)
        for (_, score), raw in zip(ids, raws, strict=True):
            d = orjson.loads(raw)
            d["id"], d["threadId"] = new_id(), tid
            pipe.set(f"{p}mastra_messages:threadId:{tid}:id:{d['id']}", orjson.dumps(d))
            pipe.zadd(f"{p}thread:{tid}:messages", {d["id"]: score})
            pipe.zadd(f"{p}mastra_messages:resource:{RES_MSGS}", {d["id"]: score})
            pipe.hset(f"{p}mastra_messages:thread_of", d["id"], tid)
        pipe.execute()

    ops["cloneThread_10k"] = _timed(clone, N_CLONE)
    pick = random.Random(42)
    picks = [pick.choice(thread_ids) for _ in range(N_GET)]
    ops["getThreadById"] = _timed(lambda i: orjson.loads(r.get(f"{p}mastra_threads:id:{picks[i]}")), N_GET)
    keys = list(r.scan_iter(match=f"{p}*", count=1000))
    for k in range(0, len(keys), 500):
        r.unlink(*keys[k : k + 500])
    r.close()
    return ops


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("MASTRA_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {"ours": [], "raw": []}
    for run in range(args.runs):
        sides = [("ours", run_ours), ("raw", run_raw)]
        for side, fn in sides if run % 2 == 0 else sides[::-1]:  # alternate which goes first
            results[side].append(fn(args.url, f"mmbench_{uuid.uuid4().hex[:8]}:"))
    print(f"Redis {args.url}, medians of {args.runs} runs (ours = Memory over RedisStore; raw = redis-py)")
    print(f"{'op':<26}{'ours':>12}{'raw':>12}  unit       ours/raw")
    for key, label, field, unit, higher in OPS:
        ours = statistics.median(r[key][field] for r in results["ours"])
        raw = statistics.median(r[key][field] for r in results["raw"])
        ratio = ours / raw if higher else raw / ours
        fmt = ".0f" if field == "per_s" else ".3f"
        print(f"{label:<26}{ours:>12{fmt}}{raw:>12{fmt}}  {unit:<10} {ratio:5.2f} (share of raw speed)")


if __name__ == "__main__":
    main()
