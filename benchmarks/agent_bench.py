"""Agent and offline-model numbers: local model speed, one chat turn, memory overhead per turn.

Usage::

    python benchmarks/agent_bench.py [--threads 2] [--turns 5] [--skip-local]

Prints:

* ``local/smollm2`` (llama.cpp): load time, prompt tokens/s, generation tokens/s (generate and
  stream), for the given ``--threads``;
* the latency of one ``Agent.generate`` chat turn with the local model on a libSQL file holding
  10 history messages (what ``mastra-memory chat -m`` does after start-up);
* the memory overhead of a turn (prepare + save on the libSQL file, model time excluded), with a
  scripted model, p50/p95 over ``--turns * 20`` turns.

Bounded: a few model calls of at most 64 tokens. Numbers depend heavily on other load on the
machine: llama.cpp's worker threads spin while waiting, so with more busy processes than cores
``--threads 1`` can be several times faster than 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Agent, Memory
from mastra_memory.models.base import ModelResponse
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore

PROMPT = "Tell me about the history of Lisbon, the capital of Portugal, in a few sentences. " * 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_local(threads: int, turns: int, db_dir: Path) -> None:
    from mastra_memory.models.local import LocalLlamaModel

    started = time.perf_counter()
    model = LocalLlamaModel("smollm2", n_threads=threads)
    model._llama()
    print(f"local/smollm2, n_threads={threads}: load {time.perf_counter() - started:.2f} s")

    chat = [{"role": "user", "content": PROMPT}]
    prompt_rates, gen_rates = [], []
    for i in range(turns):
        chat_i = [{"role": "user", "content": f"({i}) {PROMPT}"}]  # defeat the prefix cache
        t0 = time.perf_counter()
        one = model.generate(chat_i, max_tokens=1, temperature=0.0)
        t_prompt = time.perf_counter() - t0
        prompt_rates.append(one.usage.prompt_tokens / t_prompt)
        t0 = time.perf_counter()
        full = model.generate(chat_i, max_tokens=64, temperature=0.0)
        # the prompt is cached from the call above: this is (almost) pure generation
        gen_rates.append(full.usage.completion_tokens / (time.perf_counter() - t0))
    print(
        f"  prompt:   {statistics.median(prompt_rates):7.1f} tokens/s (p50 of {turns}, "
        f"{one.usage.prompt_tokens}-token prompt)"
    )
    print(f"  generate: {statistics.median(gen_rates):7.1f} tokens/s (p50 of {turns}, 64 tokens)")
    t0 = time.perf_counter()
    stamps: list[float] = []
    final = None
    for item in model.stream(chat, max_tokens=64, temperature=0.0):
        stamps.append(time.perf_counter())
        final = item
    assert isinstance(final, ModelResponse) and len(stamps) > 2
    rate = (len(stamps) - 2) / (stamps[-2] - stamps[0])  # deltas after the first one
    print(
        f"  stream:   {rate:7.1f} deltas/s after the first; first delta after "
        f"{stamps[0] - t0:.2f} s ({final.usage.prompt_tokens}-token prompt), "
        f"{final.usage.completion_tokens} tokens in {stamps[-1] - t0:.2f} s"
    )

    with Memory(LibSQLStore(f"file:{db_dir / 'local.db'}")) as memory:
        agent = Agent("bench", "You are a helpful assistant.", model, memory=memory, model_settings={"max_tokens": 64})
        filler = ScriptedModel(default="Noted.")
        warm = Agent("warm", "You are a helpful assistant.", filler, memory=memory)
        for i in range(5):
            warm.generate(f"Fact {i}: I like topic number {i}.", thread="t", resource="r")
        latencies = []
        for i in range(max(1, turns // 2)):
            t0 = time.perf_counter()
            result = agent.generate(f"({i}) What do I like?", thread="t", resource="r")
            latencies.append(time.perf_counter() - t0)
        print(
            f"  one chat turn (10 history messages, <= 64 tokens): p50 "
            f"{statistics.median(latencies):.2f} s; last usage {result.usage.prompt_tokens} prompt + "
            f"{result.usage.completion_tokens} completion tokens"
        )


def bench_overhead(turns: int, db_dir: Path) -> None:
    with Memory(LibSQLStore(f"file:{db_dir / 'overhead.db'}")) as memory:
        agent = Agent("bench", "You are helpful.", ScriptedModel(default="Fine, thanks."), memory=memory)
        for i in range(20):
            agent.generate(f"warm-up {i}", thread="t", resource="r")
        times = []
        for i in range(turns * 20):
            t0 = time.perf_counter()
            agent.generate(f"message {i}", thread="t", resource="r")
            times.append((time.perf_counter() - t0) * 1000)
    print(
        f"agent turn overhead (libSQL file, last_messages=10, scripted model): "
        f"p50 {pct(times, 0.5):.2f} ms, p95 {pct(times, 0.95):.2f} ms over {len(times)} turns"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (2)")
    parser.add_argument("--turns", type=int, default=5, help="repetitions (5)")
    parser.add_argument("--skip-local", action="store_true", help="skip the llama.cpp model")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        bench_overhead(args.turns, Path(tmp))
        if not args.skip_local:
            bench_local(args.threads, args.turns, Path(tmp))


if __name__ == "__main__":
    main()
