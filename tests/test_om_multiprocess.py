"""Four processes chat on one thread of one libSQL file with observation (and reflection)
firing: no message is lost, none is observed twice, the cursor never moves backwards.

The cursor guard is enforced by the database itself: SQLite triggers abort any update or new
generation that would move ``lastObservedAt`` back, and log every move to an audit table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mastra_memory import Memory
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore
from tests.om_support import markers_in
from tests.om_worker import keep_markers_reflector, slow_observer

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 4
TURNS = 12

OM = "mastra_observational_memory"
CUR = '"lastObservedAt"'
GUARDS = [
    "CREATE TABLE om_cursor_audit (key TEXT, old TEXT, new TEXT, generation INTEGER)",
    f"""CREATE TRIGGER om_cursor_guard BEFORE UPDATE OF {CUR} ON {OM}
       WHEN OLD.{CUR} IS NOT NULL AND (NEW.{CUR} IS NULL OR NEW.{CUR} < OLD.{CUR})
       BEGIN SELECT RAISE(ABORT, 'observation cursor moved backwards'); END""",
    f"""CREATE TRIGGER om_cursor_guard_new BEFORE INSERT ON {OM}
       WHEN NEW.{CUR} < (SELECT max({CUR}) FROM {OM} WHERE "lookupKey" = NEW."lookupKey")
       BEGIN SELECT RAISE(ABORT, 'new generation moved the cursor backwards'); END""",
    f"""CREATE TRIGGER om_cursor_log AFTER UPDATE OF {CUR} ON {OM}
       BEGIN INSERT INTO om_cursor_audit
       VALUES (NEW."lookupKey", OLD.{CUR}, NEW.{CUR}, NEW."generationCount"); END""",
    f"""CREATE TRIGGER om_cursor_log_new AFTER INSERT ON {OM}
       BEGIN INSERT INTO om_cursor_audit VALUES (NEW."lookupKey", NULL, NEW.{CUR}, NEW."generationCount"); END""",
]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("buffering", [False, True], ids=["sync", "buffered"])
def test_four_processes_one_thread(tmp_path: Path, buffering: bool) -> None:
    db = f"file:{tmp_path}/shared.db"
    store = LibSQLStore(db)
    store.setup()
    conn = store._conn()
    for stmt in GUARDS:
        conn.execute(stmt)
    store.close()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.om_worker", db, str(w), str(TURNS), "1" if buffering else "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(1, WORKERS + 1)
    ]
    stats = []
    for p in procs:
        out, err = p.communicate(timeout=150)
        assert p.returncode == 0, err[-3000:]
        # the worker's last JSON line (a library may print its own lines to stdout)
        stats.append(json.loads([line for line in out.splitlines() if line.startswith("{")][-1]))

    options = {
        "observational_memory": {
            "model": ScriptedModel(default=slow_observer),
            "observation": {"message_tokens": 160, "buffer_tokens": False},
            "reflection": {"observation_tokens": 700, "model": ScriptedModel(default=keep_markers_reflector)},
        }
    }
    memory = Memory(storage=LibSQLStore(db), options=options)
    messages = memory.list_messages("shared", per_page=False).messages
    expected = {f"m{w * 1000 + i}-{k}" for w in range(1, WORKERS + 1) for i in range(TURNS) for k in "ua"}
    saved = {mk for m in messages for mk in markers_in(m.text)}
    assert saved == expected and len(messages) == len(expected)  # no message lost

    head = memory.get_observational_memory("shared")
    assert head is not None
    observed = markers_in(head.active_observations)
    assert len(observed) == len(set(observed)), "a message was observed twice"
    unobserved = {mk for m in messages if not head.cursor.is_observed(m.id, m.created_at) for mk in markers_in(m.text)}
    assert set(observed) | unobserved == expected and not set(observed) & unobserved
    assert sum(s["observations_committed"] for s in stats) >= 3

    memory.observe("shared")  # flush the tail: now every message is observed exactly once
    final = markers_in(memory.get_observational_memory("shared").active_observations)  # type: ignore[union-attr]
    assert sorted(final) == sorted(expected)

    check = LibSQLStore(db)
    rows = check._conn().execute("SELECT key, old, new FROM om_cursor_audit").fetchall()
    assert rows and all(old is None or new >= old for _, old, new in rows)
    check.close()
    memory.close()
    print("worker stats", stats, "cursor moves", len(rows))
