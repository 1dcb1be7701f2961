"""Erasure and retention timings on a libSQL file (and PostgreSQL when MASTRA_TEST_PG_URL is set).

    python benchmarks/lifecycle.py [--threads 100] [--messages 20]

Builds two resources with ``threads`` threads of ``messages`` messages each (half of them 90 days
old), then times ``Memory.prune`` (messages older than 30 days, batches of 500) and
``Memory.delete_resource`` of one resource. Prints one line per store.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from mastra_memory import Memory, Message
from mastra_memory.storage.base import MemoryStorage


def run(store: MemoryStorage, name: str, threads: int, messages: int) -> None:
    memory = Memory(store, options={"retention": {"messages": {"max_age": 30 * 86_400}}})
    old = datetime.now(UTC) - timedelta(days=90)
    for rid in ("keep", "gone"):
        for t in range(threads):
            tid = f"{rid}-{t}"
            memory.create_thread(rid, thread_id=tid)
            memory.save_messages(
                [
                    Message.user(
                        f"m{i}", tid, **({"created_at": old + timedelta(seconds=i)} if i < messages // 2 else {})
                    )
                    for i in range(messages)
                ]
            )
    total = 2 * threads * messages
    start = time.perf_counter()
    pruned = memory.prune(batch_size=500)
    prune_s = time.perf_counter() - start
    start = time.perf_counter()
    erased = memory.delete_resource("gone")
    erase_s = time.perf_counter() - start
    print(
        f"{name}: {total} messages; prune deleted {pruned['messages']} in {prune_s:.3f}s "
        f"({pruned['messages'] / prune_s:,.0f}/s); delete_resource {erased} in {erase_s:.3f}s"
    )
    memory.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    from storage_adapters.libsql import LibSQLStore

    with tempfile.TemporaryDirectory() as tmp:
        run(LibSQLStore(f"file:{tmp}/bench.db"), "libsql-file", args.threads, args.messages)
    url = os.environ.get("MASTRA_TEST_PG_URL")
    if url:
        import psycopg

        from storage_adapters.pg import PostgresStore

        schema = f"mmbench_{uuid.uuid4().hex[:8]}"
        try:
            run(PostgresStore(url, schema_name=schema), "postgres", args.threads, args.messages)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
