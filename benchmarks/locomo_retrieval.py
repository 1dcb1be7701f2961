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
    python benchmarks/locomo_retrieval.py --data PATH --rotate   # held-out protocol (below)

``--rotate``: settings are never chosen on the conversation they are reported on. For each
conversation in turn, a setting (dense weight, normalisation, ``date_boost``,
``thread_diversity``) is chosen on the *other* conversations, and that conversation's recall is
reported with it; the summary is the question-weighted mean over the held-out conversations.
The choice: among the settings whose turn recall@10 on the other conversations is >= 0.80 (the
turn target), the best session recall@5, then turn recall@10 (the best turn recall@10 when none
reaches 0.80). Both rankings (vector top 50 and the store's keyword top 50) and the candidates'
times are computed once per question and fused and re-ranked offline with
:func:`mastra_memory.semantic_recall.fuse_scores` and :func:`~mastra_memory.semantic_recall.rerank`,
the functions ``Memory.recall`` uses, so a setting's numbers equal what ``Memory.recall``
returns with it.

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
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Memory, Message
from mastra_memory.embedders import EmbeddingCache, resolve_embedder
from mastra_memory.query_dates import query_periods
from mastra_memory.semantic_recall import fuse_scores, rerank

_EVIDENCE = re.compile(r"D(\d+):(\d+)")
KS = (1, 5, 10)
TURN_TARGET = 0.80  # --rotate: settings below this turn recall@10 on the tuning conversations lose


class Row(NamedTuple):
    """One question of ``--rotate``: both rankings and what re-ranking needs."""

    conv: int
    category: int
    evidence: set[str]
    dense: dict[str, float]
    sparse: dict[str, float]
    times: dict[str, datetime]
    threads: dict[str, str]
    periods: list[Any]


class Setting(NamedTuple):
    """One retrieval setting tried by ``--rotate``."""

    label: str
    weight: float
    norm: str
    date_boost: float = 0.0
    thread_diversity: float = 0.0


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
    ap.add_argument("--weight", type=float, default=None, help="dense weight in the fusion (default: the library's)")
    ap.add_argument("--context", type=int, default=1, help="previous messages in each embedded text")
    ap.add_argument("--date-boost", type=float, default=None, help="semantic_recall.date_boost (default: library's)")
    ap.add_argument(
        "--thread-diversity", type=float, default=None, help="semantic_recall.thread_diversity (default: the library's)"
    )
    ap.add_argument("--limit", type=int, default=0, help="questions per conversation (0 = all)")
    ap.add_argument("--cache", default=None, help="persistent embedding cache file (reused across runs)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON too")
    ap.add_argument("--rotate", action="store_true", help="choose fusion settings on the other conversations")
    ap.add_argument(
        "--explore-thread-boost",
        action="store_true",
        help="with --rotate, also try adding b * (strength of the hit's thread) to fused scores (not in the library)",
    )
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
    sr: dict[str, Any] = {
        "top_k": max(KS),
        "message_range": 0,
        "scope": "resource",
        "hybrid": args.hybrid,
        "context_messages": args.context,
    }
    if args.weight is not None:
        sr["hybrid_weight"] = args.weight
    if args.date_boost is not None:
        sr["date_boost"] = args.date_boost
    if args.thread_diversity is not None:
        sr["thread_diversity"] = args.thread_diversity
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

    if args.rotate:
        rotate(memory, convs, args.limit, explore=args.explore_thread_boost)
        memory.close()
        return 0

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
    cfg = memory.config.semantic_recall
    assert cfg is not False
    print(
        f"config: embedder={embedder.name} backend={args.backend} hybrid={args.hybrid} "
        f"weight={cfg.hybrid_weight} context={args.context} date_boost={cfg.date_boost} "
        f"thread_diversity={cfg.thread_diversity}"
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


def _questions(conv: dict[str, Any], sid: str, limit: int) -> list[tuple[dict[str, Any], set[str]]]:
    qas = [q for q in conv["qa"] if q.get("category") in (1, 2, 3, 4) and q.get("evidence")]
    out = []
    for qa in qas[:limit] if limit else qas:
        evidence = {f"{sid}-D{a}:{b}" for ev in qa["evidence"] for a, b in _EVIDENCE.findall(str(ev))}
        if evidence:
            out.append((qa, evidence))
    return out


def _session(message_id: str) -> str:
    return message_id.split("-D")[1].split(":")[0]


def _fuse(dense: dict[str, float], sparse: dict[str, float], weight: float, norm: str) -> dict[str, float]:
    if norm == "minmax":
        return fuse_scores(dense, sparse, weight)
    if norm.startswith("tb"):
        fused = fuse_scores(dense, sparse, weight)
        per: dict[str, list[float]] = defaultdict(list)
        for m, v in fused.items():
            per[_session(m)].append(v)
        strength = {k: sum(sorted(v, reverse=True)[:3]) for k, v in per.items()}
        top = max(strength.values(), default=1.0) or 1.0
        return {m: v + float(norm[2:]) * strength[_session(m)] / top for m, v in fused.items()}
    top = max(sparse.values(), default=0.0) or 1.0  # "max": raw cosine + keyword / its best
    ids = set(dense) | set(sparse)
    return {m: weight * max(0.0, dense.get(m, 0.0)) + (1 - weight) * sparse.get(m, 0.0) / top for m in ids}


def rotate(memory: Memory, convs: list[Any], limit: int, candidates: int = 50, explore: bool = False) -> None:
    """The held-out protocol of ``--rotate`` (see the module docstring)."""
    semantic = memory._semantic
    assert semantic is not None and memory.config.semantic_recall is not False
    config = memory.config.semantic_recall
    name = semantic.index_name(config)
    rows: list[Row] = []
    for ci, (conv, sid, _threads) in enumerate(convs):
        for qa, evidence in _questions(conv, sid, limit):
            question = str(qa["question"])
            qvec = semantic.embedder.embed_many([question])[0]
            dense: dict[str, float] = {}
            for r in semantic.vector.query(name, qvec, top_k=candidates, filter={"resource_id": sid}):
                mid = str(r.metadata.get("message_id", r.id))
                dense[mid] = max(dense.get(mid, -1.0), r.score)
            sparse = {
                h.message_id: h.score
                for h in memory.storage.search_messages(question, resource_id=sid, limit=candidates)
            }
            found = memory.storage.list_messages_by_id(sorted(set(dense) | set(sparse)))
            times = {m.id: m.created_at for m in found}
            threads = {m.id: m.thread_id for m in found}
            rows.append(Row(ci, int(qa["category"]), evidence, dense, sparse, times, threads, query_periods(question)))
    weights = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    settings: list[Setting] = [Setting("dense-only", 1.0, "minmax")]
    settings += [Setting(f"max w={w:.1f}", w, "max") for w in weights]
    settings += [
        Setting(f"minmax w={w:.1f} db={b} td={d}", w, "minmax", b, d)
        for w in weights
        for b in (0.0, 0.25, 0.5, 1.0)
        for d in (0.0, 0.02, 0.05, 0.1)
    ]
    if explore:  # --explore-thread-boost: also boost messages of threads with several strong hits
        settings += [Setting(f"minmax w={w:.1f} tb={b}", w, f"tb{b}") for w in (0.4, 0.5) for b in (0.1, 0.2, 0.3, 0.5)]
    default = Setting(
        f"library default (w={config.hybrid_weight} db={config.date_boost} td={config.thread_diversity})",
        config.hybrid_weight,
        "minmax",
        config.date_boost,
        config.thread_diversity,
    )
    settings.append(default)
    # scores[setting][conv] = [n, turn@1, turn@5, turn@10, sess@1, sess@5, sess@10]
    scores: dict[str, dict[int, list[int]]] = {st.label: defaultdict(lambda: [0] * 7) for st in settings}
    for st in settings:
        for row in rows:
            fused = _fuse(row.dense, row.sparse, st.weight, st.norm)
            ranked = [
                m
                for m, _ in rerank(
                    fused,
                    row.threads,
                    max(KS),
                    times=row.times,
                    periods=row.periods,
                    date_boost=st.date_boost,
                    thread_diversity=st.thread_diversity,
                )
            ]
            acc = scores[st.label][row.conv]
            acc[0] += 1
            ev_sessions = {_session(e) for e in row.evidence}
            for i, k in enumerate(KS):
                acc[1 + i] += bool(row.evidence & set(ranked[:k]))
                acc[4 + i] += bool(ev_sessions & {_session(m) for m in ranked[:k]})

    def rate(label: str, conv_ids: list[int], col: int) -> float:
        n = sum(scores[label][c][0] for c in conv_ids)
        return sum(scores[label][c][col] for c in conv_ids) / n if n else 0.0

    def choice_key(label: str, conv_ids: list[int]) -> tuple[bool, float, float]:
        turn10, sess5 = rate(label, conv_ids, 3), rate(label, conv_ids, 5)
        return (turn10 >= TURN_TARGET, sess5 if turn10 >= TURN_TARGET else turn10, turn10)

    everyone = list(range(len(convs)))
    shown = [st for st in settings if not st.date_boost and not st.thread_diversity]
    shown += sorted(
        (st for st in settings if st not in shown), key=lambda st: choice_key(st.label, everyone), reverse=True
    )[:10]
    ablations = [  # the defaults one step at a time
        st
        for st in settings
        if st.norm == "minmax"
        and st.weight == config.hybrid_weight
        and (st.date_boost, st.thread_diversity)
        in ((0.0, 0.0), (config.date_boost, 0.0), (0.0, config.thread_diversity))
    ]
    shown += [st for st in ablations if st not in shown]
    if default not in shown:
        shown.append(default)
    print(f"{'setting':>40} " + " ".join(f"turn@{k:<3}" for k in KS) + " " + " ".join(f"sess@{k:<3}" for k in KS))
    for st in shown:
        print(
            f"{st.label:>40} "
            + " ".join(f"{rate(st.label, everyone, c):8.3f}" for c in range(1, 7))
            + "   (all, in-sample)"
        )
    held = [0] * 7
    for ci in everyone:
        others = [c for c in everyone if c != ci]
        best = max((st for st in settings if st is not default), key=lambda st: choice_key(st.label, others)).label
        acc = scores[best][ci]
        held = [h + a for h, a in zip(held, acc, strict=True)]
        print(
            f"held out {convs[ci][1]}: chose {best!r} on {[convs[c][1] for c in others]} -> n={acc[0]} "
            + " ".join(f"{a / acc[0]:.3f}" for a in acc[1:])
        )
    print(
        "held-out mean: n={} turn@1/5/10 {:.3f} {:.3f} {:.3f}  session@1/5/10 {:.3f} {:.3f} {:.3f}".format(
            held[0], *(h / held[0] for h in held[1:])
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
