"""Storage benchmark for the server adapters, each beside its raw driver doing the same work.

Run (servers from ``scripts/services.sh start``; URLs from the usual environment variables)::

    eval "$(scripts/services.sh env)"
    python benchmarks/storage_bench_adapters.py [--rows 1000000] [--messages 10000] [--only pg]

PostgreSQL (``MASTRA_TEST_PG_URL``), the issue-3 targets:
- save N messages through ``Memory.save_messages`` in batches of 1 and 100 vs raw psycopg doing
  the same upsert with ``executemany`` in one transaction per batch, and vs ``COPY`` (which can
  not upsert: an upper bound). Target: batched save >= 50% of raw throughput.
- with ``--rows`` messages in the table (1,000 per thread, loaded with ``COPY``): recall of the
  last 10 messages (``Memory.recall``) p50 <= 2 ms, and an include window (2 before, 2 after)
  around a message p50 <= 5 ms; the raw query beside each.
- list_threads (page of 100) and clone of a 10,000-message thread.

MongoDB, sqld and SQLAlchemy (SQLite, PostgreSQL, MariaDB): save (batches of 100) and recall of
the last 10, beside pymongo / libsql / the dialect's DB-API driver. The mongoeco test server is
a pure-Python server that slows down as a collection grows, so its N is small: its numbers say
little about a real MongoDB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from storage_bench import T0, TEXT, _messages, _timeit
from storage_bench import _pct as _p

from mastra_memory import Memory, Message, MessageContent, TextPart
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.types import IncludeSpec


def _save_rate(mem: Memory, msgs: list[Message], batch: int) -> float:
    t = time.perf_counter()
    for i in range(0, len(msgs), batch):
        mem.save_messages(msgs[i : i + batch])
    return len(msgs) / (time.perf_counter() - t)


# -- PostgreSQL -----------------------------------------------------------------------------------


def bench_postgres(url: str, n: int, rows: int, recalls: int, keep: str | None = None) -> None:
    import psycopg

    from storage_adapters.pg import PostgresStore

    schema = keep or f"mmbench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(url, schema_name=schema)
    mem = Memory(storage=store)
    tbl = f'"{schema}".mastra_messages'
    conn = psycopg.connect(url, autocommit=True)
    try:
        print(f"\nPostgreSQL ({schema})")
        # save ----------------------------------------------------------------------------------
        upsert = (
            f'INSERT INTO {tbl} AS m (id, thread_id, content, role, type, "createdAt", "createdAtZ", '
            '"resourceId") VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET '
            "content = excluded.content, role = excluded.role, type = excluded.type, "
            '"createdAt" = excluded."createdAt", "createdAtZ" = excluded."createdAtZ", '
            '"resourceId" = excluded."resourceId" WHERE m.thread_id = excluded.thread_id'
        )
        for batch in (1, 100):
            # One commit per message is bound by the server's fsync: fewer of them suffice.
            count = n if batch > 1 else min(n, 2000)
            mem.create_thread("r1", f"ours-{batch}")
            ours = _save_rate(mem, _messages(f"ours-{batch}", count), batch)
            raw_rows = [store._message_values(m) for m in _messages(f"raw-{batch}", count)]
            t = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, count, batch):
                    with conn.transaction():
                        cur.executemany(upsert, raw_rows[i : i + batch])
            raw = count / (time.perf_counter() - t)
            copy_rows = [store._message_values(m) for m in _messages(f"copy-{batch}", count)]
            t = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, count, batch):
                    with (
                        conn.transaction(),
                        cur.copy(
                            f'COPY {tbl} (id, thread_id, content, role, type, "createdAt", "createdAtZ", '
                            '"resourceId") FROM STDIN'
                        ) as cp,
                    ):
                        for r in copy_rows[i : i + batch]:
                            cp.write_row(r)
            copy = count / (time.perf_counter() - t)
            print(
                f"save {count} msgs, batch {batch:>3}: ours {ours:8.0f} msg/s  raw executemany {raw:8.0f} msg/s "
                f"(ratio {ours / raw:.2f})  raw COPY {copy:8.0f} msg/s (ratio {ours / copy:.2f})"
            )
        # clone ---------------------------------------------------------------------------------
        t = time.perf_counter()
        cloned = mem.clone_thread("ours-100", title="copy")
        print(f"clone {len(cloned.cloned_messages)} msgs: {time.perf_counter() - t:.3f} s")
        # big table -----------------------------------------------------------------------------
        per_thread = 1000
        threads = max(1, rows // per_thread)
        have = conn.execute(f"SELECT count(*) FROM {tbl}").fetchone()[0]
        loaded = conn.execute(
            f'SELECT count(*) FROM "{schema}".mastra_threads WHERE id LIKE %s', ("big-%",)
        ).fetchone()[0]
        t = time.perf_counter()
        content = MessageContent(parts=[TextPart(text="bulk message " + TEXT[:60])]).to_json()
        with conn.cursor() as cur:
            if loaded == threads:  # --keep-schema: the big table is already there
                threads = 0
            with (
                conn.transaction(),
                cur.copy(
                    f'COPY "{schema}".mastra_threads (id, "resourceId", title, metadata, "createdAt", "updatedAt", '
                    '"createdAtZ", "updatedAtZ") FROM STDIN'
                ) as cp,
            ):
                for k in range(threads):
                    cp.write_row(
                        (
                            f"big-{k:05d}",
                            f"res-{k % 100}",
                            f"t{k}",
                            "{}",
                            T0.replace(tzinfo=None),
                            T0.replace(tzinfo=None),
                            T0,
                            T0,
                        )
                    )
            with (
                conn.transaction(),
                cur.copy(
                    f'COPY {tbl} (id, thread_id, content, role, type, "createdAt", "createdAtZ", "resourceId") '
                    "FROM STDIN"
                ) as cp,
            ):
                for k in range(threads):
                    tid = f"big-{k:05d}"
                    for i in range(per_thread):
                        at = T0 + timedelta(seconds=i)
                        cp.write_row(
                            (
                                f"{tid}-{i:06d}",
                                tid,
                                content,
                                "user" if i % 2 == 0 else "assistant",
                                "v2",
                                at.replace(tzinfo=None),
                                at,
                                f"res-{k % 100}",
                            )
                        )
        load = time.perf_counter() - t
        threads = max(1, rows // per_thread)
        conn.execute(f"VACUUM ANALYZE {tbl}")
        total = conn.execute(f"SELECT count(*) FROM {tbl}").fetchone()[0]
        print(f"loaded {total - have} messages with COPY in {load:.1f} s (+VACUUM ANALYZE); table has {total}")
        tid = f"big-{threads // 2:05d}"
        ours_r = _timeit(lambda: mem.recall(tid), recalls)
        raw_sql = (
            f'SELECT id, thread_id, "resourceId", role, "createdAt", content, type FROM {tbl} '
            'WHERE thread_id = %s ORDER BY "createdAt" DESC, id COLLATE "C" DESC LIMIT 10'
        )
        raw_r = _timeit(lambda: conn.execute(raw_sql, (tid,)).fetchall(), recalls)
        got = [m.id for m in mem.recall(tid).messages]
        assert got == [r[0] for r in reversed(conn.execute(raw_sql, (tid,)).fetchall())]
        print(
            f"recall last 10 ({total} rows) x{recalls}: ours p50 {_p(ours_r, 50):.3f} ms "
            f"p95 {_p(ours_r, 95):.3f} ms  raw p50 {_p(raw_r, 50):.3f} ms  (target p50 <= 2 ms)"
        )
        hits = [f"big-{(k * 37) % threads:05d}-{(k * 131) % per_thread:06d}" for k in range(recalls)]
        it = iter(hits * 2)

        def ours_window() -> None:
            hit = next(it)
            res = store.list_messages(
                hit[:9], per_page=0, include=[IncludeSpec(id=hit, with_previous_messages=2, with_next_messages=2)]
            )
            assert any(m.id == hit for m in res.messages)

        ours_w = _timeit(ours_window, recalls)
        raw_it = iter(hits * 2)
        raw_w_sql = store._include_sql()  # the same statement, run on a plain connection
        raw_w = _timeit(lambda: conn.execute(raw_w_sql, ([next(raw_it)], [2], [2])).fetchall(), recalls)
        print(
            f"include window 2+1+2 around a hit x{recalls}: ours p50 {_p(ours_w, 50):.3f} ms "
            f"p95 {_p(ours_w, 95):.3f} ms  raw p50 {_p(raw_w, 50):.3f} ms  (target p50 <= 5 ms)"
        )
        ours_t = _timeit(lambda: mem.list_threads(resource_id="res-7", per_page=100), 200)
        print(f"list_threads (page of 100 of {threads // 100} for one resource): ours p50 {_p(ours_t, 50):.3f} ms")
    finally:
        store.close()
        if keep:
            conn.execute(f"""DELETE FROM {tbl} WHERE thread_id NOT LIKE 'big-%'""")
            conn.execute(f"""DELETE FROM "{schema}".mastra_threads WHERE id NOT LIKE 'big-%'""")
        else:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


# -- the others: save (batches of 100) and recall of the last 10 ------------------------------------


def _generic(
    name: str,
    store: MemoryStorage,
    n: int,
    recalls: int,
    raw_save: Callable[[list[Message]], None],
    raw_recall: Callable[[str], object],
) -> None:
    mem = Memory(storage=store)
    mem.create_thread("r1", "ours")
    ours = _save_rate(mem, _messages("ours", n), 100)
    raw_msgs = _messages("raw", n)
    t = time.perf_counter()
    for i in range(0, n, 100):
        raw_save(raw_msgs[i : i + 100])
    raw = n / (time.perf_counter() - t)
    ours_r = _timeit(lambda: mem.recall("ours"), recalls)
    raw_r = _timeit(lambda: raw_recall("raw"), recalls)
    print(
        f"{name:<22} save {n} (batch 100): ours {ours:7.0f} msg/s  raw {raw:7.0f} msg/s (ratio {ours / raw:.2f})  "
        f"recall p50 ours {_p(ours_r, 50):.3f} ms  raw {_p(raw_r, 50):.3f} ms"
    )


def bench_mongodb(url: str, n: int, recalls: int) -> None:
    import pymongo

    from storage_adapters.mongodb import MongoDBStore
    from storage_adapters.mongodb.store import _message_doc

    db = f"mmbench_{uuid.uuid4().hex[:8]}"
    store = MongoDBStore(url=url, db_name=db)
    coll = store._messages
    try:
        _generic(
            "MongoDB (mongoeco)",
            store,
            n,
            recalls,
            lambda ms: coll.insert_many([_message_doc(m) for m in ms], ordered=True),
            lambda tid: list(
                coll.find({"thread_id": tid}, {"_id": 0})
                .sort([("createdAt", pymongo.DESCENDING), ("id", pymongo.DESCENDING)])
                .limit(10)
            ),
        )
    finally:
        store.drop_database()
        store.close()


def bench_sqld(url: str, n: int, recalls: int) -> None:
    import libsql

    from storage_adapters import _sql
    from storage_adapters.libsql import LibSQLStore
    from tests.servers import clear_sqld

    clear_sqld(url)
    store = LibSQLStore(url)
    conn = libsql.connect(url, isolation_level=None)
    sql = _sql.upsert_message_sql(_sql.SQLITE)
    recall_sql = (
        f"SELECT {_sql.MESSAGE_COLUMNS} FROM mastra_messages WHERE thread_id = ? "
        'ORDER BY "createdAt" DESC, id DESC LIMIT 10'
    )

    def raw_save(ms: list[Message]) -> None:
        conn.execute("BEGIN")
        conn.executemany(sql, [_sql.message_params(m) for m in ms])
        conn.execute("COMMIT")

    try:
        _generic("sqld (http)", store, n, recalls, raw_save, lambda tid: conn.execute(recall_sql, (tid,)).fetchall())
    finally:
        store.close()
        clear_sqld(url)


def bench_sqlalchemy(
    label: str,
    url: str,
    raw_connect: Callable[[], Any],
    param: str,
    n: int,
    recalls: int,
    cleanup: Callable[[], None] | None = None,
    schema: str | None = None,
) -> None:
    from storage_adapters import _sql
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    store = SQLAlchemyStore(url, schema=schema)
    store.setup()
    conn = raw_connect()
    prefix = f'"{schema}".' if schema else ""
    q = '"' if "mysql" not in url else "`"
    cols = ", ".join(f"{q}{c}{q}" for c in ("id", "thread_id", "content", "role", "type", "createdAt", "resourceId"))
    insert = f"INSERT INTO {prefix}mastra_messages ({cols}) VALUES ({', '.join([param] * 7)})"
    recall_sql = (
        f"SELECT {cols} FROM {prefix}mastra_messages WHERE thread_id = {param} "
        f"ORDER BY {q}createdAt{q} DESC, id DESC LIMIT 10"
    )
    sqlite = url.startswith("sqlite")

    def raw_save(ms: list[Message]) -> None:
        rows = [
            (
                m.id,
                m.thread_id,
                m.content_json(),
                m.role,
                "v2",
                _sql.format_ts(m.created_at) if sqlite else m.created_at.replace(tzinfo=None),
                m.resource_id,
            )
            for m in ms
        ]
        cur = conn.cursor()
        cur.executemany(insert, rows)
        conn.commit()

    def raw_recall(tid: str) -> object:
        cur = conn.cursor()
        cur.execute(recall_sql, (tid,))
        rows = cur.fetchall()
        if not sqlite:
            conn.commit()
        return rows

    try:
        _generic(label, store, n, recalls, raw_save, raw_recall)
    finally:
        conn.close()
        store.close()
        if cleanup:
            cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="messages in the big PostgreSQL table")
    parser.add_argument("--messages", type=int, default=10_000, help="messages saved per save benchmark")
    parser.add_argument("--mongo-messages", type=int, default=1_000, help="mongoeco is slow: keep this small")
    parser.add_argument("--recalls", type=int, default=1_000)
    parser.add_argument(
        "--keep-schema",
        metavar="NAME",
        help="PostgreSQL: load the big table into this schema once and keep it for later runs",
    )
    parser.add_argument("--only", choices=["pg", "mongodb", "sqld", "sqlalchemy"], action="append")
    args = parser.parse_args(argv)
    only = set(args.only or ["pg", "mongodb", "sqld", "sqlalchemy"])
    pg, mongo = os.environ.get("MASTRA_TEST_PG_URL"), os.environ.get("MASTRA_TEST_MONGODB_URL")
    sqld, maria = os.environ.get("MASTRA_TEST_SQLD_URL"), os.environ.get("MASTRA_TEST_MARIADB_URL")
    print(f"server adapters vs raw drivers ({os.cpu_count()} cores); unset URLs are skipped")
    if "pg" in only and pg:
        bench_postgres(pg, args.messages, args.rows, args.recalls, args.keep_schema)
    print()
    if "mongodb" in only and mongo:
        bench_mongodb(mongo, args.mongo_messages, min(args.recalls, 200))
    if "sqld" in only and sqld:
        bench_sqld(sqld, args.messages, args.recalls)
    if "sqlalchemy" in only:
        import sqlite3

        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/sa.db"
            bench_sqlalchemy(
                "SQLAlchemy sqlite",
                f"sqlite:///{path}",
                lambda: sqlite3.connect(path),
                "?",
                args.messages,
                args.recalls,
            )
        if pg:
            import psycopg

            from tests.servers import drop_pg_schema

            schema = f"mmbench_sa_{uuid.uuid4().hex[:8]}"
            bench_sqlalchemy(
                "SQLAlchemy postgresql",
                pg.replace("postgresql://", "postgresql+psycopg://", 1),
                lambda: psycopg.connect(pg),
                "%s",
                args.messages,
                args.recalls,
                cleanup=lambda: drop_pg_schema(pg, schema),
                schema=schema,
            )
        if maria:
            import pymysql
            import sqlalchemy as sa

            db = f"mmbench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(maria)
            with admin.begin() as c:
                c.exec_driver_sql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")

            def drop() -> None:
                with admin.begin() as c:
                    c.exec_driver_sql(f"DROP DATABASE `{db}`")
                admin.dispose()

            bench_sqlalchemy(
                "SQLAlchemy mariadb",
                maria.rsplit("/", 1)[0] + f"/{db}",
                lambda: pymysql.connect(host="127.0.0.1", user="root", database=db),
                "%s",
                args.messages,
                args.recalls,
                cleanup=drop,
            )


if __name__ == "__main__":
    main()
