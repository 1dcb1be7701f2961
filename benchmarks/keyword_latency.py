"""Keyword search latency with many messages in one resource, right after a save.

Builds one resource with ``--messages`` synthetic messages (``--threads`` threads; 12 words each
from a 20,000-word Zipf vocabulary), then ``--queries`` times: saves one message and at once runs
``search_messages`` for a 3-word question in resource scope (the keyword half of a hybrid recall;
no embedding involved). Prints ingest rate (messages/s, no embedder) and search p50/p95 in ms.

Usage::

    python benchmarks/keyword_latency.py --backend libsql --messages 100000
    python benchmarks/keyword_latency.py --backend postgres --url postgresql://... --messages 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mastra_memory.types import Message, MessageContent, TextPart, Thread

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _vocabulary(n: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["libsql", "postgres", "inmemory"], default="libsql")
    ap.add_argument("--url", default=None, help="PostgreSQL URL (a fresh schema is created and dropped)")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    vocab = _vocabulary(20_000, rng)
    cum: list[float] = []  # Zipf: a few common words, a long tail
    for i in range(len(vocab)):
        cum.append((cum[-1] if cum else 0.0) + 1.0 / (i + 1))
    schema = f"kwbench_{rng.randrange(1 << 30)}"
    store: Any
    if args.backend == "libsql":
        from storage_adapters.libsql import LibSQLStore

        store = LibSQLStore(f"file:{tempfile.mkdtemp()}/kw.db")
    elif args.backend == "postgres":
        from storage_adapters.pg import PostgresStore

        store = PostgresStore(args.url, schema_name=schema)
    else:
        from storage_adapters.inmemory import InMemoryStore

        store = InMemoryStore()
    try:
        for t in range(args.threads):
            store.save_thread(Thread(id=f"t{t}", resource_id="big", created_at=T0, updated_at=T0))
        per_thread = args.messages // args.threads
        started = time.perf_counter()
        for t in range(args.threads):
            for lo in range(0, per_thread, 500):
                batch = [
                    Message(
                        id=f"t{t}-m{i}",
                        thread_id=f"t{t}",
                        role="user" if i % 2 == 0 else "assistant",
                        content=MessageContent(
                            parts=[TextPart(text=" ".join(rng.choices(vocab, cum_weights=cum, k=12)))]
                        ),
                        created_at=T0 + timedelta(seconds=i),
                    )
                    for i in range(lo, min(per_thread, lo + 500))
                ]
                store.save_messages(batch)
        ingest = time.perf_counter() - started
        total = per_thread * args.threads
        print(f"{args.backend}: ingested {total} messages in {ingest:.1f} s ({total / ingest:.0f} msgs/s, no embedder)")
        search_ms: list[float] = []
        found = 0
        for q in range(args.queries):
            rare = rng.choice(vocab[5000:])
            text = f"{rng.choice(vocab[:200])} {rare} {rng.choice(vocab[:2000])}"
            store.save_messages(
                [Message.user(f"fresh note {q} {rare}", "t0", id=f"fresh-{q}", created_at=T0 + timedelta(days=1))]
            )
            began = time.perf_counter()
            hits = store.search_messages(f"what about {text}?", resource_id="big", limit=50)
            search_ms.append((time.perf_counter() - began) * 1000)
            found += any(h.message_id == f"fresh-{q}" for h in hits)
        print(
            f"search right after a save: p50 {statistics.median(search_ms):.1f} ms, "
            f"p95 {_percentile(search_ms, 0.95):.1f} ms over {args.queries} queries; "
            f"the fresh message found in {found}/{args.queries}"
        )
    finally:
        store.close()
        if args.backend == "postgres":
            import psycopg

            with psycopg.connect(args.url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
