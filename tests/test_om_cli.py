"""``mastra-memory om show`` on a real libSQL file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from mastra_memory import Memory
from mastra_memory.observational.cli import app, register
from storage_adapters.libsql import LibSQLStore
from tests.om_support import om_options, scripted, turn


def _seed(db: str) -> None:
    memory = Memory(storage=LibSQLStore(db), options=om_options(scripted(), observation={"message_tokens": 100}))
    for n in range(4):
        turn(memory, "t1", "ana", n)
    memory.close()


def test_om_show_table_json_and_history(tmp_path: Path) -> None:
    db = f"file:{tmp_path}/cli.db"
    _seed(db)
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "--thread", "t1", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "thread:t1" in shown.output and "noted m0-u" in shown.output
    as_json = runner.invoke(app, ["show", "--thread", "t1", "--db", db, "--json"])
    data = json.loads(as_json.output)
    assert data["lookupKey"] == "thread:t1" and data["generationCount"] == 0 and data["lastObservedAt"]
    history = runner.invoke(app, ["show", "--thread", "t1", "--db", db, "--history", "--json"])
    assert isinstance(json.loads(history.output), list)
    missing = runner.invoke(app, ["show", "--thread", "nope", "--db", db])
    assert missing.exit_code == 1 and "thread 'nope' not found" in missing.output
    with Memory(storage=LibSQLStore(db)) as memory:
        memory.create_thread("ana", "fresh")
    fresh = runner.invoke(app, ["show", "--thread", "fresh", "--db", db])
    assert fresh.exit_code == 0 and "no record yet" in fresh.output
    by_resource = runner.invoke(app, ["show", "--resource", "ana", "--db", db])
    assert by_resource.exit_code == 0 and "no record yet" in by_resource.output  # thread-scope records only
    no_resource = runner.invoke(app, ["show", "--resource", "nobody", "--db", db])
    assert no_resource.exit_code == 1 and "has no threads" in no_resource.output
    assert runner.invoke(app, ["show", "--db", db]).exit_code == 2


def test_register_adds_the_om_group(tmp_path: Path) -> None:
    db = f"file:{tmp_path}/cli.db"
    _seed(db)
    main = typer.Typer()

    @main.command()
    def version() -> None:
        """(a second command so typer keeps subcommands)"""

    register(main)
    result = CliRunner().invoke(main, ["om", "show", "--thread", "t1", "--db", db])
    assert result.exit_code == 0 and "thread:t1" in result.output
