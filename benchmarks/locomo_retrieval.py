"""Retrieval quality and latency of semantic recall on LoCoMo-format conversations.

Each conversation becomes one resource, each session one thread (messages stamped with the
session's date), and every category 1-4 question is asked through
``Memory.recall(vector_search_string=question, ...)`` in resource scope. No LLM is involved:
a question's evidence ids name the turns that hold the answer, so

* turn recall@k: share of questions with an evidence turn among the top-k hits;
* session recall@k: share of questions with an evidence session among the sessions of the
  top-k hits.

Usage::

    python benchmarks/locomo_retrieval.py --data ../shared/data/locomo/locomo_dev.json
    python benchmarks/locomo_retrieval.py --data PATH --no-hybrid --context 0   # dense only

Prints ingest time, recall@{1,5,10} per category and overall, and query latency p50/p95 with
the query embedding reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Memory, Message
from mastra_memory.embedders import EmbeddingCache, resolve_embedder

_EVIDENCE = re.compile(r"D(\d+):(\d+)")
KS = (1, 5, 10)


def parse_session_time(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` -> aware UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn.get('text', '')}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def ingest(memory: Memory, conv: dict[str, Any]) -> tuple[str, list[str], int]:
    """Store one conversation; returns (resource id, thread ids, number of turns)."""
    sid = conv["sample_id"]
    c = conv["conversation"]
    threads: list[str] = []
    turns = 0
    sessions = sorted(int(k.split("_")[1]) for k in c if re.fullmatch(r"session_\d+", k))
    for n in sessions:
        tid = f"{sid}-s{n}"
        start = parse_session_time(c[f"session_{n}_date_time"])
        memory.create_thread(sid, thread_id=tid, title=f"session {n}")
        msgs = [
            Message(
                id=f"{sid}-{t['dia_id']}",
                thread_id=tid,
                resource_id=sid,
                role="user" if t["speaker"] == c["speaker_a"] else "assistant",
                content=turn_text(t),
                created_at=start + timedelta(seconds=i),
            )
            for i, t in enumerate(c[f"session_{n}"])
        ]
        memory.save_messages(msgs)
        threads.append(tid)
        turns += len(msgs)
    return sid, threads, turns


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="LoCoMo-format JSON file")
    ap.add_argument("--embedder", default="local/all-minilm-l6-v2")
    ap.add_argument("--backend", choices=["libsql", "inmemory"], default="libsql")
    ap.add_argument("--hybrid", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--weight", type=float, default=0.6, help="dense weight in the fusion")
    ap.add_argument("--context", type=int, default=1, help="previous messages in each embedded text")
    ap.add_argument("--limit", type=int, default=0, help="questions per conversation (0 = all)")
    ap.add_argument("--cache", default=None, help="persistent embedding cache file (reused across runs)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON too")
    args = ap.parse_args(argv)

    data = json.loads(Path(args.data).read_text())
    tmp = tempfile.mkdtemp(prefix="locomo-")
    if args.backend == "libsql":
        from storage_adapters.libsql import LibSQLStore, LibSQLVector

        url = f"file:{tmp}/locomo.db"
        storage: Any = LibSQLStore(url)
        vector: Any = LibSQLVector(url)
    else:
        from storage_adapters.inmemory import InMemoryStore, InMemoryVector

        storage, vector = InMemoryStore(), InMemoryVector()
    embedder = resolve_embedder(args.embedder, cache=EmbeddingCache(path=args.cache))
    sr = {
        "top_k": max(KS),
        "message_range": 0,
        "scope": "resource",
        "hybrid": args.hybrid,
        "hybrid_weight": args.weight,
        "context_messages": args.context,
    }
    memory = Memory(
        storage=storage, vector=vector, embedder=embedder, options={"last_messages": False, "semantic_recall": sr}
    )
    semantic = memory._semantic
    assert semantic is not None

    embedder.embed_many(["warm up"])  # load the model outside the timings
    t0 = time.perf_counter()
    convs = []
    total_turns = 0
    for conv in data:
        sid, threads, turns = ingest(memory, conv)
        convs.append((conv, sid, threads))
        total_turns += turns
    ingest_s = time.perf_counter() - t0

    hits_turn: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    hits_sess: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    counts: dict[Any, int] = defaultdict(int)
    total_ms: list[float] = []
    embed_ms: list[float] = []
    for conv, sid, threads in convs:
        qas = [q for q in conv["qa"] if q.get("category") in (1, 2, 3, 4) and q.get("evidence")]
        if args.limit:
            qas = qas[: args.limit]
        for qa in qas:
            evidence = {f"{sid}-D{a}:{b}" for ev in qa["evidence"] for a, b in _EVIDENCE.findall(str(ev))}
            if not evidence:
                continue
            ev_sessions = {e.split("-D")[1].split(":")[0] for e in evidence}
            started = time.perf_counter()
            result = memory.recall(threads[-1], resource_id=sid, vector_search_string=str(qa["question"]), per_page=0)
            elapsed = time.perf_counter() - started
            total_ms.append(elapsed * 1000)
            embed_ms.append(semantic.last_query_embedding_seconds * 1000)
            ranked = [h.message_id for h in result.semantic_hits]
            for cat in (qa["category"], "all"):
                counts[cat] += 1
                for i, k in enumerate(KS):
                    top = ranked[:k]
                    if evidence & set(top):
                        hits_turn[cat][i] += 1
                    if ev_sessions & {m.split("-D")[1].split(":")[0] for m in top}:
                        hits_sess[cat][i] += 1

    search_ms = [t - e for t, e in zip(total_ms, embed_ms, strict=True)]
    print(f"data: {args.data}: {len(convs)} conversations, {total_turns} turns, {counts['all']} questions (cat 1-4)")
    print(
        f"config: embedder={embedder.name} backend={args.backend} hybrid={args.hybrid} "
        f"weight={args.weight} context={args.context}"
    )
    print(f"ingest: {ingest_s:.1f} s ({total_turns / ingest_s:.0f} turns/s, embedding included)")
    header = " ".join(f"turn@{k:<3}" for k in KS) + " " + " ".join(f"sess@{k:<3}" for k in KS)
    print(f"{'category':>10} {'n':>5} {header}")
    summary: dict[str, Any] = {}
    for cat in (1, 2, 3, 4, "all"):
        n = counts[cat]
        if not n:
            continue
        t = [h / n for h in hits_turn[cat]]
        s = [h / n for h in hits_sess[cat]]
        summary[str(cat)] = {"n": n, "turn": t, "session": s}
        print(f"{cat!s:>10} {n:>5} " + " ".join(f"{v:8.3f}" for v in t) + " " + " ".join(f"{v:8.3f}" for v in s))
    latency = {
        "recall_p50_ms": statistics.median(total_ms),
        "recall_p95_ms": percentile(total_ms, 0.95),
        "search_p50_ms": statistics.median(search_ms),
        "search_p95_ms": percentile(search_ms, 0.95),
        "embed_p50_ms": statistics.median(embed_ms),
        "embed_p95_ms": percentile(embed_ms, 0.95),
    }
    print(
        "query latency (ms): recall p50 {recall_p50_ms:.1f} p95 {recall_p95_ms:.1f}; without the query "
        "embedding p50 {search_p50_ms:.1f} p95 {search_p95_ms:.1f}; query embedding p50 "
        "{embed_p50_ms:.1f} p95 {embed_p95_ms:.1f}".format(**latency)
    )
    if args.json:
        print(json.dumps({"summary": summary, "latency": latency, "ingest_s": ingest_s}))
    memory.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
