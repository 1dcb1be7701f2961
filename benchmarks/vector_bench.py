"""Semantic-recall query latency with 100,000 stored vectors on LibSQLVector and PgVector.

Random unit vectors (384 dimensions, the local embedder's) are spread over resources and
threads the way semantic recall stores messages (metadata ``message_id, thread_id,
resource_id``), with matching message rows in a libSQL store. Then, per backend:

* ``scoped query``: ``vector.query(top_k=4, filter={"resource_id": r})``, the semantic-recall
  vector search (resource scope is the default);
* ``recall``: the whole ``Memory.recall(vector_search_string=...)`` path (vector search plus
  resolving the hits and their neighbours from storage) with an embedder that returns a
  precomputed vector, so the query embedding is excluded (it is measured separately for the
  local model);
* ``global query``: no filter, over all vectors (exact on libSQL; HNSW on pgvector).

Usage::

    python benchmarks/vector_bench.py                       # libSQL; PgVector if MASTRA_TEST_PG_URL is set
    python benchmarks/vector_bench.py --vectors 20000 --queries 50

Runtime is bounded by the sizes given (about 2-4 minutes for the defaults on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Memory, Message
from mastra_memory.embedders import EmbeddingCache
from mastra_memory.storage.vector import VectorStore, memory_index_name
from storage_adapters.libsql import LibSQLStore


class FixedEmbedder:
    """Returns precomputed vectors for known query strings (no model cost)."""

    def __init__(self, vectors: dict[str, list[float]], dim: int) -> None:
        self.vectors = vectors
        self._dim = dim

    @property
    def name(self) -> str:
        return "bench/fixed"

    @property
    def dimension(self) -> int:
        return self._dim

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]


def stats(values_ms: list[float]) -> str:
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.2f} ms  p95 {p95:7.2f} ms  (n={len(ordered)})"


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def load_messages(store: LibSQLStore, n: int, resources: int, threads_per: int) -> list[tuple[str, str, str]]:
    """Create threads and one message per vector; returns (message_id, thread_id, resource_id)."""
    rows: list[tuple[str, str, str]] = []
    per_thread = n // (resources * threads_per)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    from mastra_memory.types import Thread

    for r in range(resources):
        rid = f"user-{r}"
        for t in range(threads_per):
            tid = f"{rid}-t{t}"
            store.save_thread(Thread(id=tid, resource_id=rid))
            msgs = [
                Message(
                    id=f"{tid}-m{i}",
                    thread_id=tid,
                    resource_id=rid,
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"message {i} of {tid}",
                    created_at=t0 + timedelta(seconds=i),
                )
                for i in range(per_thread)
            ]
            store.save_messages(msgs)
            rows.extend((m.id, tid, rid) for m in msgs)
    return rows


def load_vectors(vector: VectorStore, name: str, rows: list[tuple[str, str, str]], mat: np.ndarray) -> float:
    started = time.perf_counter()
    batch = 2000
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        vector.upsert(
            name,
            mat[i : i + batch].tolist(),
            [{"message_id": m, "thread_id": t, "resource_id": r, "role": "user", "chunk": 0} for m, t, r in chunk],
            ids=[m for m, _, _ in chunk],
        )
    return time.perf_counter() - started


def run_backend(
    label: str,
    vector: VectorStore,
    store: LibSQLStore,
    rows: list[tuple[str, str, str]],
    mat: np.ndarray,
    args: argparse.Namespace,
    after_load: Callable[[], None] | None = None,
) -> None:
    dim = mat.shape[1]
    name = memory_index_name(dim)
    vector.delete_index(name)
    # exact search measured on both (libSQL: without the DiskANN index new indexes get by default)
    vector.create_index(name, dim, index_config={"type": "flat"} if label == "PgVector" else {"ann": False})
    secs = load_vectors(vector, name, rows, mat)
    print(f"\n== {label}: {len(rows):,} vectors x {dim} loaded in {secs:.1f} s ({len(rows) / secs:,.0f}/s)")
    if after_load is not None:
        t = time.perf_counter()
        after_load()
        print(f"   ANN index built in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(7)
    picks = rng.integers(0, len(rows), size=args.queries)
    queries = {}
    for j, p in enumerate(picks):
        q = mat[p] + rng.normal(0, 0.02, size=dim).astype(np.float32)
        queries[f"q{j}"] = (q / np.linalg.norm(q)).tolist()
    scoped_hits = 0
    lat_scoped: list[float] = []
    for j, p in enumerate(picks):
        rid = rows[p][2]
        t = time.perf_counter()
        res = vector.query(name, queries[f"q{j}"], top_k=4, filter={"resource_id": rid})
        lat_scoped.append((time.perf_counter() - t) * 1000)
        scoped_hits += int(bool(res) and res[0].id == rows[p][0])
    print(
        f"   scoped query (top 4 in one resource of {len(rows) // args.resources} vectors): {stats(lat_scoped)};"
        f" nearest found {scoped_hits}/{len(picks)}"
    )
    memory = Memory(
        storage=store,
        vector=vector,
        embedder=__import__("mastra_memory.embedders", fromlist=["resolve_embedder"]).resolve_embedder(
            FixedEmbedder(queries, dim), cache=EmbeddingCache(max_entries=0)
        ),
        options={"last_messages": 10, "semantic_recall": {"top_k": 4, "message_range": 1}},
    )
    lat_recall: list[float] = []
    for j, p in enumerate(picks):
        _, tid, rid = rows[p]
        t = time.perf_counter()
        result = memory.recall(tid, resource_id=rid, vector_search_string=f"q{j}")
        lat_recall.append((time.perf_counter() - t) * 1000)
        assert result.semantic_hits, "no hits"
    print(f"   Memory.recall (history + semantic hits with neighbours, embedding excluded): {stats(lat_recall)}")
    n_global = max(10, args.queries // 5)
    lat_global = timed(lambda: vector.query(name, queries["q0"], top_k=10), n_global)
    print(f"   global query (top 10 of all {len(rows):,}, no filter): {stats(lat_global)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="semantic recall latency with many stored vectors")
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--resources", type=int, default=200, help="users; vectors are spread evenly")
    ap.add_argument("--threads", type=int, default=5, help="threads per resource")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--backend", choices=["libsql", "pg", "all"], default="all")
    ap.add_argument("--pg-url", default=os.environ.get("MASTRA_TEST_PG_URL"))
    ap.add_argument(
        "--embed", action=argparse.BooleanOptionalAction, default=True, help="also time the local embedder on one query"
    )
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="vector-bench-")
    store = LibSQLStore(f"file:{tmp}/bench.db")
    t = time.perf_counter()
    rows = load_messages(store, args.vectors, args.resources, args.threads)
    print(
        f"{len(rows):,} messages in {args.resources} resources x {args.threads} threads stored in "
        f"{time.perf_counter() - t:.1f} s (libSQL file)"
    )
    rng = np.random.default_rng(42)
    mat = rng.normal(size=(len(rows), args.dim)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)

    if args.backend in ("libsql", "all"):
        from storage_adapters.libsql import LibSQLVector

        vec = LibSQLVector(f"file:{tmp}/vectors.db")
        run_backend("LibSQLVector", vec, store, rows, mat, args)
        vec.close()
    if args.backend in ("pg", "all"):
        if not args.pg_url:
            print("\n== PgVector: skipped (set MASTRA_TEST_PG_URL or --pg-url)")
        else:
            from storage_adapters.pg import PgVector

            pg = PgVector(args.pg_url, schema_name="vector_bench")
            name = memory_index_name(args.dim)
            run_backend(
                "PgVector", pg, store, rows, mat, args, after_load=lambda: pg.build_index(name, {"type": "hnsw"})
            )
            pg.delete_index(name)
            pg.close()
    if args.embed:
        from mastra_memory.embedders import LocalEmbedder

        try:
            emb = LocalEmbedder()
            emb.embed_many(["warm up"])
            lat = timed(lambda: emb.embed_many(["What did Caroline say about the adoption agency?"]), 30)
            print(f"\nquery embedding (local/all-minilm-l6-v2, reported separately): {stats(lat)}")
        except Exception as exc:  # the [local] extra may be missing
            print(f"\nquery embedding: skipped ({exc})")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
