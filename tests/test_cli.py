"""The command line: typer's CliRunner in process and a real subprocess, on real libSQL files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

import pytest
from typer.testing import CliRunner

from mastra_memory import Memory, ToolInvocationPart
from mastra_memory.cli import app
from mastra_memory.ingest import load_locomo, parse_locomo_datetime
from storage_adapters.libsql import LibSQLStore

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result


def locomo_fixture() -> list[dict[str, Any]]:
    """Two small conversations in the LoCoMo layout (made up here; the real data is not
    committed)."""
    return [
        {
            "sample_id": "conv-a",
            "conversation": {
                "speaker_a": "Ana",
                "speaker_b": "Ben",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi Ben, I moved to Lisbon."},
                    {
                        "speaker": "Ben",
                        "dia_id": "D1:2",
                        "text": "Nice! Send a picture.",
                    },
                    {
                        "speaker": "Ana",
                        "dia_id": "D1:3",
                        "text": "Here it is.",
                        "img_url": ["https://example.invalid/x.jpg"],
                        "blip_caption": "a photo of a tram",
                        "query": "tram",
                    },
                ],
                "session_2_date_time": "10:05 am on 27 June, 2023",
                "session_2": [
                    {"speaker": "Ben", "dia_id": "D2:1", "text": "How is Lisbon?"},
                    {"speaker": "Ana", "dia_id": "D2:2", "text": "Sunny, I love it."},
                ],
            },
            "qa": [
                {
                    "question": "Where did Ana move?",
                    "answer": "Lisbon",
                    "evidence": ["D1:1"],
                    "category": 4,
                }
            ],
        },
        {
            "sample_id": "conv-b",
            "conversation": {
                "speaker_a": "Cy",
                "speaker_b": "Di",
                "session_1_date_time": "9:00 pm on 1 January, 2024",
                "session_1": [{"speaker": "Di", "dia_id": "D1:1", "text": "Happy new year!"}],
            },
        },
    ]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'cli.db'}"


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(locomo_fixture()))
    return path


# -- ingest -----------------------------------------------------------------------------------


def test_parse_locomo_datetime() -> None:
    dt = parse_locomo_datetime("1:56 pm on 8 May, 2023")
    assert dt.isoformat() == "2023-05-08T13:56:00+00:00"


def test_ingest_locomo(db: str, locomo_file: Path) -> None:
    result = invoke("ingest", str(locomo_file), "--db", db)
    assert result.exit_code == 0, result.output
    assert "ingested 3 threads (3 new) and 6 messages (6 new) for 2 resources" in result.output

    with Memory(LibSQLStore(db)) as memory:
        page = memory.list_threads(resource_id="conv-a", direction="ASC")
        assert [t.id for t in page.threads] == ["conv-a-s1", "conv-a-s2"]
        s1 = page.threads[0]
        assert "8 May, 2023" in s1.title and s1.created_at.isoformat() == "2023-05-08T13:56:00+00:00"
        assert s1.metadata["session"] == 1
        msgs = memory.list_messages("conv-a-s1", per_page=False).messages
        assert [m.id for m in msgs] == ["conv-a:D1:1", "conv-a:D1:2", "conv-a:D1:3"]
        assert [m.role for m in msgs] == ["user", "assistant", "user"]
        assert [m.created_at.isoformat() for m in msgs] == [
            "2023-05-08T13:56:00+00:00",
            "2023-05-08T13:56:00.001000+00:00",
            "2023-05-08T13:56:00.002000+00:00",
        ]
        assert msgs[0].content.metadata == {"speaker": "Ana", "dia_id": "D1:1"}
        assert msgs[2].text == "Here it is.\n[shares a photo: a photo of a tram]"
        assert msgs[2].content.metadata["img_url"] == ["https://example.invalid/x.jpg"]
        assert all(m.resource_id == "conv-a" for m in msgs)
        assert memory.list_messages("conv-b-s1").messages[0].role == "assistant"

    # idempotent: a second run updates, never duplicates
    again = invoke("ingest", str(locomo_file), "--db", db, "--format", "locomo")
    assert "ingested 3 threads (0 new) and 6 messages (0 new)" in again.output
    with Memory(LibSQLStore(db)) as memory:
        assert memory.list_threads(per_page=False).total == 3
        assert memory.list_messages("conv-a-s1", per_page=False).total == 3


def test_ingest_chat_json(db: str, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(
        json.dumps(
            {
                "threads": [
                    {
                        "id": "trip",
                        "resource_id": "ana",
                        "title": "Trip planning",
                        "metadata": {"topic": "travel"},
                        "created_at": "2024-03-01T10:00:00Z",
                        "messages": [
                            {"role": "system", "content": "not stored"},
                            {
                                "role": "user",
                                "content": "Book a train to Porto.",
                                "metadata": {"lang": "en"},
                            },
                            {
                                "role": "assistant",
                                "content": None,
                                "tool_calls": [
                                    {
                                        "id": "c1",
                                        "type": "function",
                                        "function": {
                                            "name": "book",
                                            "arguments": '{"to": "Porto"}',
                                        },
                                    }
                                ],
                            },
                            {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
                            {
                                "id": "m-final",
                                "role": "assistant",
                                "content": "Booked.",
                                "created_at": "2024-03-01T10:05:00Z",
                            },
                        ],
                    },
                    {
                        "id": "other",
                        "resource_id": "ben",
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                ]
            }
        )
    )
    result = invoke("ingest", str(path), "--db", db)
    assert result.exit_code == 0, result.output
    assert "ingested 2 threads (2 new) and 4 messages (4 new) for 2 resources" in result.output
    with Memory(LibSQLStore(db)) as memory:
        thread = memory.get_thread_by_id("trip")
        assert thread is not None and thread.title == "Trip planning" and thread.metadata == {"topic": "travel"}
        msgs = memory.list_messages("trip", per_page=False).messages
        assert [m.role for m in msgs] == ["user", "assistant", "assistant"]
        assert msgs[0].content.metadata == {"lang": "en"}
        call = msgs[1].content.parts[0]
        assert isinstance(call, ToolInvocationPart) and call.result == {"ok": True} and call.state == "result"
        assert msgs[2].id == "m-final" and msgs[2].created_at.isoformat() == "2024-03-01T10:05:00+00:00"
        ids = [m.id for m in msgs]
    again = invoke("ingest", str(path), "--db", db, "--format", "chat")
    assert "(0 new) and 4 messages (0 new)" in again.output
    with Memory(LibSQLStore(db)) as memory:
        assert [m.id for m in memory.list_messages("trip", per_page=False).messages] == ids


def test_ingest_bad_input_is_one_error_line(db: str, tmp_path: Path, locomo_file: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["ingest", str(bad), "--db", db])
    assert result.exit_code == 1 and "error:" in result.output and "Traceback" not in result.output
    bad.write_text(json.dumps({"something": "else"}))
    assert runner.invoke(app, ["ingest", str(bad), "--db", db]).exit_code == 1
    wrong = runner.invoke(app, ["ingest", str(locomo_file), "--db", db, "--format", "chat"])
    assert wrong.exit_code == 1 and "threads[0]" in wrong.output
    bad.write_text(
        json.dumps(
            {
                "threads": [
                    {
                        "id": "t",
                        "resource_id": "r",
                        "messages": [
                            {"role": "user", "content": "ok"},
                            {"role": "wizard", "content": "?"},
                        ],
                    }
                ]
            }
        )
    )
    assert runner.invoke(app, ["ingest", str(bad), "--db", db]).exit_code == 1
    with Memory(LibSQLStore(db)) as memory:
        assert memory.list_threads().total == 0


def test_load_locomo_keeps_session_order() -> None:
    data = locomo_fixture()
    conv = data[0]["conversation"]
    conv["session_10_date_time"] = "1:00 pm on 1 July, 2023"
    conv["session_10"] = [{"speaker": "Ana", "dia_id": "D10:1", "text": "later"}]
    assert [b.thread.id for b in load_locomo(data)] == [
        "conv-a-s1",
        "conv-a-s2",
        "conv-a-s10",
        "conv-b-s1",
    ]


# -- threads, recall --------------------------------------------------------------------------


def test_threads_list_show_clone_delete_and_recall(db: str, locomo_file: Path) -> None:
    invoke("ingest", str(locomo_file), "--db", db)

    listed = invoke("threads", "list", "--db", db, "--resource", "conv-a", "--per-page", "1")
    assert listed.exit_code == 0 and "conv-a-s2" in listed.output and "conv-a-s1" not in listed.output
    assert "page 0: 1 of 2 threads; next: --page 1" in listed.output
    page1 = invoke("threads", "list", "--db", db, "--resource", "conv-a", "--per-page", "1", "--page", "1")
    assert "conv-a-s1" in page1.output
    as_json = json.loads(invoke("threads", "list", "--db", db, "--json").output)
    assert as_json["total"] == 3 and len(as_json["threads"]) == 3

    shown = invoke("threads", "show", "conv-a-s1", "--db", db)
    assert "user (Ana)" in shown.output and "I moved to Lisbon" in shown.output and "a photo of a tram" in shown.output
    last = invoke("threads", "show", "conv-a-s1", "--db", db, "--last", "1")
    assert "Lisbon" not in last.output and "2 older messages" in last.output
    data = json.loads(invoke("threads", "show", "conv-a-s1", "--db", db, "--json").output)
    assert data["total"] == 3 and data["messages"][0]["id"] == "conv-a:D1:1"

    cloned = invoke(
        "threads",
        "clone",
        "conv-a-s1",
        "--db",
        db,
        "--title",
        "what-if",
        "--limit",
        "2",
        "--new-id",
        "conv-a-copy",
    )
    assert cloned.exit_code == 0 and "conv-a-copy" in cloned.output and "2 messages" in cloned.output
    with Memory(LibSQLStore(db)) as memory:
        clone = memory.get_thread_by_id("conv-a-copy")
        assert clone is not None and clone.title == "what-if" and Memory.is_clone(clone)
        copied = memory.list_messages("conv-a-copy", per_page=False).messages
        assert [m.text for m in copied] == [
            "Nice! Send a picture.",
            "Here it is.\n[shares a photo: a photo of a tram]",
        ]

    recalled = invoke(
        "recall", "--db", db, "--thread", "conv-a-s1", "--query", "tram", "--last", "2", "--embedder", "none"
    )
    assert recalled.exit_code == 0 and "2 recalled of 3 messages" in recalled.output
    assert "Send a picture" in recalled.output and "Lisbon" not in recalled.output
    assert "semantic recall is not configured" in recalled.output
    mismatch = runner.invoke(app, ["recall", "--db", db, "--thread", "conv-a-s1", "--resource", "conv-b"])
    assert mismatch.exit_code == 1 and "not found for resource 'conv-b'" in mismatch.output

    deleted = invoke("threads", "delete", "conv-a-copy", "--db", db, "--yes")
    assert deleted.exit_code == 0
    refused = runner.invoke(app, ["threads", "delete", "conv-a-s1", "--db", db], input="n\n")
    assert refused.exit_code == 1
    missing = runner.invoke(app, ["threads", "show", "nope", "--db", db])
    assert missing.exit_code == 1 and "not found" in missing.output
    with Memory(LibSQLStore(db)) as memory:
        assert memory.get_thread_by_id("conv-a-copy") is None and memory.get_thread_by_id("conv-a-s1") is not None


# -- chat -------------------------------------------------------------------------------------


def test_chat_one_shot_and_repl_with_a_litellm_mock(db: str) -> None:
    first = invoke(
        "chat",
        "-m",
        "My name is Ana.",
        "--thread",
        "demo",
        "--resource",
        "ana",
        "--db",
        db,
        "--model",
        "openai/x",
        "-s",
        "mock_response=Hello Ana!",
    )
    assert first.exit_code == 0, first.output
    assert "Hello Ana!" in first.output and "completion tokens" in first.output
    # the resource defaults to the thread's owner
    repl = runner.invoke(
        app,
        [
            "chat",
            "--thread",
            "demo",
            "--db",
            db,
            "--model",
            "openai/x",
            "-s",
            'mock_response="You are Ana."',
        ],
        input="Who am I?\n\n/exit\n",
    )
    assert repl.exit_code == 0, repl.output
    assert "You are Ana." in repl.output
    with Memory(LibSQLStore(db)) as memory:
        thread = memory.get_thread_by_id("demo")
        assert thread is not None and thread.resource_id == "ana"
        texts = [m.text for m in memory.list_messages("demo", per_page=False).messages]
    assert texts == ["My name is Ana.", "Hello Ana!", "Who am I?", "You are Ana."]

    new = invoke("chat", "-m", "hi", "--db", db, "--model", "openai/x", "-s", "mock_response=hey")
    assert "new thread" in new.output
    wrong = runner.invoke(
        app,
        [
            "chat",
            "-m",
            "hi",
            "--thread",
            "demo",
            "--resource",
            "eve",
            "--db",
            db,
            "--model",
            "openai/x",
            "-s",
            "mock_response=x",
        ],
    )
    assert wrong.exit_code == 1 and "not found for resource 'eve'" in wrong.output
    bad_model = runner.invoke(app, ["chat", "-m", "hi", "--db", db, "--model", "local/unknown"])
    assert bad_model.exit_code == 1 and "unknown local model" in bad_model.output


@pytest.mark.slow
def test_cli_in_real_subprocesses(tmp_path: Path) -> None:
    """Two separate processes continue one conversation; a third lists and clones."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "mastra_memory", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    common = ["--thread", "demo", "--resource", "ana", "--model", "openai/x"]
    assert "Hello Ana" in run(
        "chat",
        "-m",
        "My name is Ana and I live in Lisbon.",
        *common,
        "-s",
        "mock_response=Hello Ana",
    )
    assert "Your name is Ana" in run("chat", "-m", "What is my name?", *common, "-s", "mock_response=Your name is Ana")
    assert (tmp_path / "mastra.db").exists()  # the default --db is file:./mastra.db
    listed = run("threads", "list", "--json")
    assert [t["id"] for t in json.loads(listed)["threads"]] == ["demo"]
    assert "4 messages" in run("threads", "clone", "demo", "--title", "what-if")


def test_plugin_modules_add_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from mastra_memory import cli

    (tmp_path / "mm_plugin_ok.py").write_text(
        "import typer\n"
        "def register(app):\n"
        "    om = typer.Typer()\n"
        "    @om.command('show')\n"
        "    def show(thread: str = typer.Option(...)):\n"
        "        print('observations of', thread)\n"
        "    app.add_typer(om, name='om')\n"
    )
    (tmp_path / "mm_plugin_broken.py").write_text("import a_dependency_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "PLUGIN_MODULES", ("mm_plugin_missing", "mm_plugin_broken", "mm_plugin_ok"))
    target = typer.Typer()

    @target.command()
    def version() -> None:
        print("0")

    cli._register_plugins(target)
    result = runner.invoke(target, ["om", "show", "--thread", "t-1"])
    assert result.exit_code == 0 and "observations of t-1" in result.output
