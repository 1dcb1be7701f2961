"""A worker process for the multi-process observational-memory test (``python -m tests.om_worker``).

It chats on one shared thread: each turn builds the user message *before* a simulated model
call (so its ``created_at`` is older than messages other processes save meanwhile, the case that
loses messages in the original), then saves it with the reply. Observer and Reflector are
scripted with small random delays so their calls overlap across processes.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

import mastra_memory  # noqa: F401
from mastra_memory import Memory, Message
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore
from tests.om_support import MARK, observer_reply


def slow_observer(messages: list[dict[str, Any]]) -> str:
    time.sleep(random.uniform(0.005, 0.04))
    return observer_reply(messages)


def keep_markers_reflector(messages: list[dict[str, Any]]) -> str:
    """Condenses every observation line into one line per 20 markers (all markers kept)."""
    time.sleep(random.uniform(0.005, 0.04))
    text = messages[-1]["content"].split("## OBSERVATIONS TO REFLECT ON")[1]
    marks = list(dict.fromkeys(m.group(0) for m in MARK.finditer(text)))
    lines = [" ".join(marks[i : i + 20]) for i in range(0, len(marks), 20)]
    body = "\n".join(f"* 🔴 (09:00) noted {ln}" for ln in lines)
    return f"<observations>\nDate: Mar 1, 2025\n{body}\n</observations>"


def main() -> None:
    db, worker, turns, buffering = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    random.seed(worker)
    options = {
        "observational_memory": {
            "model": ScriptedModel(default=slow_observer),
            "observation": {
                "message_tokens": 160,
                "buffer_tokens": 0.3 if buffering else False,
                "buffer_wait_seconds": 5,
            },
            "reflection": {"observation_tokens": 700, "model": ScriptedModel(default=keep_markers_reflector)},
        }
    }
    memory = Memory(storage=LibSQLStore(db, busy_timeout=10), options=options)
    for i in range(turns):
        n = worker * 1000 + i
        user = Message.user(f"m{n}-u from worker {worker} turn {i}", "shared")
        ctx = memory.prepare_turn("shared", "r", [user])
        time.sleep(random.uniform(0.0, 0.03))  # the agent's model call
        reply = Message.assistant(f"m{n}-a reply to worker {worker} turn {i}", "shared")
        memory.finish_turn(ctx, [user, reply])
    memory.settled(30)
    print(json.dumps(memory.observational_engine.stats.as_dict()))
    memory.close()


if __name__ == "__main__":
    main()
