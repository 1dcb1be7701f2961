"""Hybrid recall latency with 100,000 messages in one resource, right after a save.

Seeds one resource with ``--messages`` synthetic messages (``--threads`` threads; 12 words each
from a 20,000-word Zipf vocabulary, as ``keyword_latency.py``) and one vector per message:
**random unit vectors of 384 dimensions** (embedding 100,000 texts with the local model would
take ~15 minutes on these machines, so the seed is synthetic; the vector store, its ANN index
and the keyword index are real). Then ``--queries`` times: ``Memory.save_messages`` of one fresh
message (embedded and indexed like any other) and at once ``Memory.recall`` in resource scope
with a 3-word question (hybrid: keyword search + vector search + fusion + loading the hits and
their neighbours). The embedder returns a seeded random unit vector per text, so the query
embedding is excluded from the recall time; the local model's query embedding is timed
separately. Beside it, the raw driver runs the same two searches' SQL on its own connection.

``--ingest N`` also saves N messages (one per ``save_messages`` call, as a chat does) through
``Memory`` with the local embedder into the seeded database and reports messages/s.

Usage::

    python benchmarks/recall_latency.py --backend libsql --db /tmp/rl      # seeds once, reuses
    python benchmarks/recall_latency.py --backend postgres --url postgresql://... --ingest 200
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Memory
from mastra_memory.embedders import EmbeddingCache, resolve_embedder
from mastra_memory.storage.vector import memory_index_name
from mastra_memory.types import Message, MessageContent, TextPart, Thread

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DIM = 384
RESOURCE = "big"


class RandomEmbedder:
    """A seeded random unit vector per text (synthetic; costs microseconds)."""

    name = "bench/random-384"
    dimension = DIM

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).normal(size=DIM)
            out.append((v / np.linalg.norm(v)).tolist())
        return out


def _vocabulary(n: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fmt(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.1f} ms  p95 {_pct(values, 0.95):6.1f} ms  (n={len(values)})"


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    if args.backend == "libsql":
        from storage_adapters.libsql import LibSQLStore, LibSQLVector

        Path(args.db).mkdir(parents=True, exist_ok=True)
        url = f"file:{args.db}/recall.db"
        return LibSQLStore(url), LibSQLVector(url, search=args.search)
    from storage_adapters.pg import PgVector, PostgresStore

    return PostgresStore(args.url, schema_name=args.schema), PgVector(
        args.url, schema_name=args.schema, search=args.search
    )


def _seed(store: Any, vector: Any, args: argparse.Namespace, vocab: list[str], cum: list[float]) -> None:
    rng = random.Random(args.seed)
    nprng = np.random.default_rng(args.seed)
    name = memory_index_name(DIM)
    # pgvector: load flat, build HNSW once after the load (pgvector's advice; see main)
    vector.create_index(name, DIM, index_config={"type": "flat"} if args.backend == "postgres" else None)
    for t in range(args.threads):
        store.save_thread(Thread(id=f"t{t}", resource_id=RESOURCE, created_at=T0, updated_at=T0))
    per_thread = args.messages // args.threads
    started = time.perf_counter()
    done = 0
    for t in range(args.threads):
        for lo in range(0, per_thread, 500):
            batch = [
                Message(
                    id=f"t{t}-m{i}",
                    thread_id=f"t{t}",
                    role="user" if i % 2 == 0 else "assistant",
                    content=MessageContent(parts=[TextPart(text=" ".join(rng.choices(vocab, cum_weights=cum, k=12)))]),
                    created_at=T0 + timedelta(seconds=i),
                )
                for i in range(lo, min(per_thread, lo + 500))
            ]
            store.save_messages(batch)
            mat = nprng.normal(size=(len(batch), DIM)).astype(np.float32)
            mat /= np.linalg.norm(mat, axis=1, keepdims=True)
            metas = [
                {
                    "message_id": m.id,
                    "thread_id": m.thread_id,
                    "resource_id": RESOURCE,
                    "role": m.role,
                    "created_at": m.created_at.isoformat(),
                    "chunk": 0,
                }
                for m in batch
            ]
            vector.upsert(name, mat.tolist(), metas, ids=[m.id for m in batch])
            done += len(batch)
        if t % 10 == 9:
            rate = done / (time.perf_counter() - started)
            print(f"  seeded {done:,} messages + vectors ({rate:,.0f}/s)", flush=True)
    print(f"seeded {done:,} in {time.perf_counter() - started:.0f} s", flush=True)


def _raw(args: argparse.Namespace) -> Callable[[str, list[float]], None]:
    """The statements the library issues for one hybrid recall's two searches, on the raw driver
    (no library code between; the words kept by the same rule)."""
    from mastra_memory.storage.text_search import MATCH_BUDGET, bm25_idf, query_words, select_terms, tokenize
    from storage_adapters import _sql

    name = memory_index_name(DIM)
    if args.backend == "libsql":
        import libsql

        from storage_adapters.libsql.store import LibSQLStore

        conn = libsql.connect(f"{args.db}/recall.db")
        dialect = LibSQLStore.dialect
        kw_sql = _sql.sqlite_search_sql(dialect, "resource")
        vec_sql = (
            "SELECT vector_id, metadata, d FROM (SELECT t.vector_id, t.metadata, "
            f"vector_distance_cos(t.embedding, ?) AS d FROM vector_top_k('{name}_vector_idx', ?, ?) AS v "
            f"JOIN {name} AS t ON t.rowid = v.id WHERE json_extract(metadata, '$.resource_id') = ?) "
            "ORDER BY d LIMIT ?"
        )

        def run(query: str, qvec: list[float]) -> None:
            words = query_words(query)
            counts_sql = _sql.sqlite_term_counts_sql(dialect, len(words))
            freqs = conn.execute(
                counts_sql, [p for w in words for p in (_sql.fts5_match([w]), MATCH_BUDGET + 1)]
            ).fetchone()
            kept = select_terms(zip(words, freqs, strict=True), MATCH_BUDGET)
            conn.execute(kw_sql, (_sql.fts5_match(kept), RESOURCE, 50)).fetchall()
            blob = np.asarray(qvec, dtype="<f4").tobytes()
            conn.execute(vec_sql, (blob, blob, 100, RESOURCE, 50)).fetchall()

        return run
    import psycopg
    from pgvector.psycopg import register_vector

    from storage_adapters.pg.store import PostgresStore

    pconn = psycopg.connect(args.url, autocommit=True)
    register_vector(pconn)
    dialect = PostgresStore(args.url, schema_name=args.schema).dialect
    row = pconn.execute(_sql.postgres_term_stats_sql(), (args.schema, _sql.SEARCH)).fetchone()
    lexemes, shares, rows = list(row[0] or []), list(row[1] or []), float(row[2] or 1)
    freqs = {lex: share * rows for lex, share in zip(lexemes, shares, strict=False)}
    unknown = max(1.0, (shares[len(lexemes)] if shares else 0.0) * rows / 2)
    vec_sql = (
        f'SELECT vector_id, metadata, embedding <=> %s AS d FROM "{args.schema}"."{name}" '
        "WHERE metadata ->> 'resource_id' = %s ORDER BY embedding <=> %s LIMIT %s"
    )

    def run_pg(query: str, qvec: list[float]) -> None:
        words = query_words(query)
        df = {w: freqs.get(next(iter(tokenize(w)), w)) for w in words}
        kept = select_terms(((w, None if df[w] is None else round(df[w] or 0)) for w in words), MATCH_BUDGET)
        sql = _sql.postgres_weighted_search_sql(dialect, "resource", "english", len(kept))
        params: list[Any] = [p for w in kept for p in (w, bm25_idf(rows, df[w] or unknown))]
        pconn.execute(sql, [*params, RESOURCE, _sql.tsquery_text(kept), 50]).fetchall()
        q = np.asarray(qvec, dtype=np.float32)
        with pconn.transaction():
            pconn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            pconn.execute("SET LOCAL hnsw.ef_search = 100")
            pconn.execute(vec_sql, (q, RESOURCE, q, 50)).fetchall()

    return run_pg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["libsql", "postgres"], default="libsql")
    ap.add_argument("--db", default="/tmp/recall-latency", help="libSQL: directory of the seeded file (reused)")
    ap.add_argument("--url", default=os.environ.get("MASTRA_TEST_PG_URL"), help="PostgreSQL URL")
    ap.add_argument("--schema", default="recall_latency", help="PostgreSQL schema (reused; --reseed drops it)")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--search", choices=["auto", "exact", "ann"], default="auto", help="the vector store's mode")
    ap.add_argument("--ingest", type=int, default=0, help="also time saving N messages with the local embedder")
    ap.add_argument("--reseed", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    vocab = _vocabulary(20_000, rng)
    cum: list[float] = []
    for i in range(len(vocab)):
        cum.append((cum[-1] if cum else 0.0) + 1.0 / (i + 1))
    if args.reseed and args.backend == "postgres":
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')
    if args.reseed and args.backend == "libsql":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}/recall.db{suffix}").unlink(missing_ok=True)
    store, vector = _open(args)
    name = memory_index_name(DIM)
    have = vector.describe_index(name).count if name in vector.list_indexes() else 0
    if have < args.messages:
        if have:
            raise SystemExit(f"{have} vectors already seeded, fewer than --messages; use --reseed")
        _seed(store, vector, args, vocab, cum)
        if args.backend == "postgres":
            vector.build_index(name, {"type": "hnsw"})  # one build over the loaded rows (pgvector's advice)
            import psycopg

            with psycopg.connect(args.url, autocommit=True) as conn:  # what autovacuum would do soon after
                conn.execute(f'ANALYZE "{args.schema}".mm_message_search')
            print("built HNSW after the load; analyzed the keyword table", flush=True)
    print(
        f"{args.backend}: {vector.describe_index(name).count:,} vectors in resource {RESOURCE!r}; search={args.search}"
    )

    embedder = resolve_embedder(RandomEmbedder(), cache=EmbeddingCache(max_entries=0))
    memory = Memory(
        storage=store,
        vector=vector,
        embedder=embedder,
        options={"last_messages": 10, "semantic_recall": {"top_k": 4, "message_range": 1, "scope": "resource"}},
    )
    raw = _raw(args)
    recall_ms: list[float] = []
    embed_ms: list[float] = []
    raw_ms: list[float] = []
    save_ms: list[float] = []
    modes: dict[str, int] = {}
    found = 0
    stamp = int(time.time())
    for q in range(args.queries + 5):
        rare = rng.choice(vocab[5000:])
        text = f"{rng.choice(vocab[:200])} {rare} {rng.choice(vocab[:2000])}"
        fresh = f"fresh-{stamp}-{q}"
        began = time.perf_counter()
        memory.save_messages(
            [Message.user(f"fresh note {q} {rare}", "t0", id=fresh, created_at=T0 + timedelta(days=1, seconds=q))]
        )
        saved = time.perf_counter()
        result = memory.recall("t0", resource_id=RESOURCE, vector_search_string=f"what about {text}?", per_page=0)
        done = time.perf_counter()
        qvec = embedder.embed_many([f"what about {text}?"])[0]
        r0 = time.perf_counter()
        raw(f"what about {text}?", qvec)
        r1 = time.perf_counter()
        if q < 5:  # warm-up: first connections, statement caches, the scope count
            continue
        emb = memory._semantic.last_query_embedding_seconds if memory._semantic else 0.0  # type: ignore[attr-defined]
        save_ms.append((saved - began) * 1000)
        recall_ms.append((done - saved - emb) * 1000)
        embed_ms.append(emb * 1000)
        raw_ms.append((r1 - r0) * 1000)
        mode = str(getattr(vector, "last_search", "?"))
        modes[mode] = modes.get(mode, 0) + 1
        found += any(h.message_id == fresh for h in result.semantic_hits or [])
    print(f"save_messages (1 message, synthetic embedder):  {_fmt(save_ms)}")
    print(f"Memory.recall hybrid, query embedding excluded: {_fmt(recall_ms)}  vector search: {modes}")
    print(f"  (synthetic query embedding inside it:         {_fmt(embed_ms)})")
    print(f"raw driver, keyword + vector SQL:               {_fmt(raw_ms)}")
    print(f"the fresh message among the hits: {found}/{args.queries}")
    try:
        from mastra_memory.embedders import LocalEmbedder

        local = LocalEmbedder()
        local.embed_many(["warm up"])
        lat = []
        for q in range(30):
            t = time.perf_counter()
            local.embed_many([f"what did we say about {vocab[q]} and {vocab[q + 100]}?"])
            lat.append((time.perf_counter() - t) * 1000)
        print(f"query embedding, local/all-minilm-l6-v2 (separate): {_fmt(lat)}")
    except Exception as exc:  # the [local] extra may be missing
        print(f"query embedding: skipped ({exc})")
        local = None
    if args.ingest and local is not None:
        ingest_memory = Memory(
            storage=store,
            vector=vector,
            embedder=resolve_embedder(local, cache=EmbeddingCache(max_entries=0)),
            options={"semantic_recall": {"top_k": 4, "message_range": 1}},
        )
        ingest_memory.create_thread(RESOURCE, thread_id=f"ingest-{stamp}")
        began = time.perf_counter()
        for _ in range(args.ingest):
            words = " ".join(rng.choices(vocab, cum_weights=cum, k=12))
            ingest_memory.save_messages([Message.user(words, f"ingest-{stamp}")])
        secs = time.perf_counter() - began
        print(
            f"ingest with the local embedder: {args.ingest} messages one per save in {secs:.1f} s "
            f"({args.ingest / secs:.1f} messages/s; {args.messages:,} already in the index)"
        )
    store.close()
    vector.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
