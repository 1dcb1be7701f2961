"""One configuration for every surface (``mastra_memory.settings``) and the CLI it reaches:
precedence, errors, semantic recall from the CLI alone, ``om show`` exit codes, help output,
full thread ids, ``serve --memory-options``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastra_memory import Memory
from mastra_memory.cli import app
from mastra_memory.config import ObservationalMemoryConfig, SemanticRecallConfig
from mastra_memory.errors import ConfigurationError
from mastra_memory.settings import DEFAULT_LOCAL_EMBEDDER, Settings, load_settings, local_embedder_available
from mastra_memory.storage import open_storage

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
needs_local = pytest.mark.skipif(not local_embedder_available(), reason="needs the [local] extra")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        'db = "file:./from-file.db"\nmodel = "openai/file"\nresource = "file-user"\n'
        "[memory]\nlast_messages = 7\nworking_memory = { enabled = true }\n",
    )
    env = {"MASTRA_MEMORY_MODEL": "openai/env", "MASTRA_MEMORY_OPTIONS": '{"last_messages": 8}'}
    s = load_settings(cfg, embedder="none", environ=env)
    assert s.db == "file:./from-file.db" and s.model == "openai/env" and s.resource == "file-user"
    assert s.memory.last_messages == 8 and s.memory.working_memory.enabled and s.config_file == cfg
    s = load_settings(cfg, db="memory://", model="openai/flag", embedder="none", environ=env)
    assert s.db == "memory://" and s.model == "openai/flag"
    s = load_settings(cfg, embedder="none", memory_options={"last_messages": 9}, environ=env)
    assert s.memory.last_messages == 9
    env_db = load_settings(embedder="none", environ={"MASTRA_MEMORY_DB": "memory://", "MASTRA_MEMORY_CONFIG": str(cfg)})
    assert env_db.db == "memory://" and env_db.model == "openai/file"  # env db over the file's
    bare = load_settings(embedder="none", environ={})
    assert bare.db == "file:./mastra.db" and bare.model == "local/smollm2" and bare.config_file is None


def test_the_working_directory_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "mastra-memory.toml", 'namespace = "agent-a"\n')
    assert load_settings(embedder="none", environ={}).namespace == "agent-a"


def test_om_flag_uses_the_configured_model_and_keeps_file_thresholds(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        'model = "openai/x"\n[memory.observational_memory]\nobservation = { message_tokens = 500 }\n',
    )
    on = load_settings(cfg, embedder="none", om=True, environ={}).memory.observational_memory
    assert isinstance(on, ObservationalMemoryConfig) and on.model == "openai/x"
    assert on.observation.message_tokens == 500
    assert load_settings(cfg, embedder="none", om=False, environ={}).memory.observational_memory is False
    from_env = load_settings(embedder="none", environ={"MASTRA_MEMORY_OM": "1"}).memory.observational_memory
    assert isinstance(from_env, ObservationalMemoryConfig) and from_env.model == "local/smollm2"
    with pytest.raises(ConfigurationError, match="MASTRA_MEMORY_OM"):
        load_settings(embedder="none", environ={"MASTRA_MEMORY_OM": "maybe"})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("db = [1]\n", "db .* must be a string"),
        ("colour = 'red'\n", "unknown setting"),
        ("db = \n", "could not read config file"),
        ("[memory]\nlast_messages = -1\n", "invalid configuration"),
        ("[memory]\nno_such_option = 1\n", "invalid configuration"),
        ("memory = 3\n", "must be a table"),
    ],
)
def test_bad_config_files_are_configuration_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        load_settings(write(tmp_path / "bad.toml", text), embedder="none", environ={})


def test_missing_named_file_and_bad_environment_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_settings(embedder="none", environ={"MASTRA_MEMORY_OPTIONS": "{"})
    with pytest.raises(ConfigurationError, match="JSON object"):
        load_settings(embedder="none", environ={"MASTRA_MEMORY_OPTIONS": "[1]"})


def test_semantic_recall_needs_a_vector_store_and_an_embedder() -> None:
    with pytest.raises(ConfigurationError, match="needs an embedder"):
        load_settings(embedder="none", memory_options={"semantic_recall": True}, environ={})
    with pytest.raises(ConfigurationError, match="needs a vector store"):
        load_settings(
            db="sqlite:///x.db",
            embedder="openai/text-embedding-3-small",
            memory_options={"semantic_recall": True},
            environ={},
        )
    off = load_settings(db="sqlite:///x.db", embedder="openai/text-embedding-3-small", environ={})
    assert off.vector is None and off.embedder is None and not off.semantic_recall
    same = load_settings(db="postgresql://u@h/db", embedder="openai/text-embedding-3-small", environ={})
    assert same.vector == "postgresql://u@h/db" and same.semantic_recall
    explicit = load_settings(
        vector="memory://", embedder="openai/e", memory_options={"semantic_recall": {"top_k": 2}}, environ={}
    )
    assert explicit.vector == "memory://" and isinstance(explicit.memory.semantic_recall, SemanticRecallConfig)
    assert explicit.memory.semantic_recall.top_k == 2


@needs_local
def test_offline_default_is_the_local_embedder_in_the_same_file(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/d.db"
    s = load_settings(db=url, environ={})
    assert s.embedder == DEFAULT_LOCAL_EMBEDDER and s.vector == url and s.semantic_recall
    assert Settings.from_json(json.loads(json.dumps(s.to_json()))) == s
    with s.open_memory() as memory:
        memory.create_thread("ana", "t1")
        from mastra_memory.types import Message

        memory.save_messages([Message.user("My cat is called Miso.", "t1", resource_id="ana")])
        memory.save_messages([Message.user("The weather is grey today.", "t1", resource_id="ana")])
        hits = memory.recall("t1", "ana", vector_search_string="what is the name of my pet?").semantic_hits
    assert hits and hits[0].score > 0
    with Memory(open_storage(url)) as plain:  # the vectors live in the same libSQL file
        names = [m.text for m in plain.storage.list_messages_by_id([hits[0].message_id])]
    assert names == ["My cat is called Miso."]


# -- the CLI ------------------------------------------------------------------------------------


LOCOMO = [
    {
        "sample_id": "conv-t",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hey Mel! Good to see you!"},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "Hey Caroline! I'm swamped with the kids and work."},
                {"speaker": "Caroline", "dia_id": "D1:3", "text": "I went to a LGBTQ support group yesterday."},
                {"speaker": "Melanie", "dia_id": "D1:4", "text": "Wow, that's cool! What happened there?"},
            ],
            "session_2_date_time": "1:14 pm on 25 May, 2023",
            "session_2": [
                {"speaker": "Melanie", "dia_id": "D2:1", "text": "I ran a charity race for mental health."},
                {"speaker": "Caroline", "dia_id": "D2:2", "text": "That's great! I'm looking into counseling."},
                {"speaker": "Melanie", "dia_id": "D2:3", "text": "We went camping in the mountains last week."},
            ],
        },
        "qa": [],
    }
]


@needs_local
@pytest.mark.timeout(900)  # the local embedder on a loaded 2-core machine
def test_cli_alone_ingest_with_embeddings_then_recall_returns_the_evidence_turn(tmp_path: Path) -> None:
    data = write(tmp_path / "locomo.json", json.dumps(LOCOMO))
    db = f"file:{tmp_path}/loco.db"
    ingested = runner.invoke(app, ["ingest", str(data), "--db", db])
    assert ingested.exit_code == 0, ingested.output
    assert "embedding messages with local/all-minilm-l6-v2" in ingested.output and "7 messages" in ingested.output
    recalled = runner.invoke(
        app,
        ["recall", "--db", db, "--thread", "conv-t-s2", "--query", "When did Caroline go to the support group?"],
    )
    assert recalled.exit_code == 0, recalled.output
    hits = recalled.output.split("recalled of")[0]
    first_hit = hits.splitlines()[1]
    assert "conv-t:D1:3" in first_hit and "support" in first_hit  # the evidence turn, ranked first
    assert "not configured" not in recalled.output
    off = runner.invoke(app, ["recall", "--db", db, "--thread", "conv-t-s2", "--query", "x", "--embedder", "none"])
    assert off.exit_code == 0 and "semantic recall is not configured" in off.output
    bad = runner.invoke(app, ["recall", "--db", db, "--thread", "conv-t-s2", "--query", "x", "--config", "nope.toml"])
    assert bad.exit_code == 2 and "does not exist" in bad.output


@pytest.mark.timeout(900)  # two chat turns through litellm's mock on a loaded machine
def test_chat_om_turns_observational_memory_on_and_om_show_prints_the_record(tmp_path: Path) -> None:
    db = f"file:{tmp_path}/om.db"
    # thresholds kept in the file, observational memory itself off until --om
    cfg = write(
        tmp_path / "om.toml",
        f'db = "{db}"\nembedder = "none"\nmodel = "openai/x"\n'
        "[memory.observational_memory]\nenabled = false\n"
        'model_settings = { mock_response = "<observations>\\nDate: May 8, 2023\\n'
        '* 🔴 (13:56) Ana said she lives in Lisbon.\\n</observations>" }\n'
        "observation = { message_tokens = 500, buffer_tokens = false }\n",
    )
    show = ["om", "show", "--config", str(cfg), "--thread", "t-om"]
    no_store = runner.invoke(app, show)
    assert no_store.exit_code == 1 and "no mastra-memory data" in no_store.output
    words = " ".join(["I live in Lisbon and I love the trams and the sea."] * 60)
    plain = runner.invoke(
        app, ["chat", "--config", str(cfg), "-m", words, "--thread", "t-om", "-s", "mock_response=ok"]
    )
    assert plain.exit_code == 0, plain.output
    unknown = runner.invoke(app, ["om", "show", "--config", str(cfg), "--thread", "nope"])
    assert unknown.exit_code == 1 and "thread 'nope' not found" in unknown.output
    not_yet = runner.invoke(app, show)
    assert not_yet.exit_code == 0 and "no record yet" in not_yet.output  # OM was off for that turn
    with_om = runner.invoke(
        app,
        [
            "chat",
            "--config",
            str(cfg),
            "--om",
            "-m",
            "Where do I live?",
            "--thread",
            "t-om",
            "-s",
            "mock_response=Lisbon",
        ],
    )
    assert with_om.exit_code == 0, with_om.output
    shown = runner.invoke(app, show)
    assert shown.exit_code == 0, shown.output
    assert "thread:t-om" in shown.output and "Ana said she lives in Lisbon" in shown.output


def test_chat_says_when_the_reply_was_cut_at_max_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mastra_memory.agent as agent_module
    from mastra_memory.models.base import ModelResponse
    from mastra_memory.testing import ScriptedModel

    db = f"file:{tmp_path}/cut.db"
    model = ScriptedModel(default=ModelResponse(text="a reply that goes on and", finish_reason="length"))

    original = agent_module.Agent.__init__

    def scripted_init(self: object, name: str, instructions: str, _model: object, **kwargs: object) -> None:
        original(self, name, instructions, model, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(agent_module.Agent, "__init__", scripted_init)
    result = runner.invoke(app, ["chat", "--db", db, "--embedder", "none", "-m", "hi", "-s", "max_tokens=5"])
    assert result.exit_code == 0, result.output
    assert "reply cut at max_tokens=5" in result.output


def test_help_shows_flags_without_value_placeholders() -> None:
    shown = runner.invoke(app, ["threads", "list", "--help"], terminal_width=100)
    lines = {line.split()[1]: line for line in shown.output.splitlines() if line.strip().startswith("│ --")}
    assert "<bool>" not in shown.output
    assert "<int>" in lines["--page"]  # options that take a value keep theirs
    chat = runner.invoke(app, ["chat", "--help"], terminal_width=120).output
    assert "--om" in chat and "--no-om" in chat and "<bool>" not in chat and "KEY=VALUE" in chat


def test_thread_ids_print_in_full_at_any_width(tmp_path: Path) -> None:
    db = f"file:{tmp_path}/ids.db"
    long_id = "conversation-with-a-rather-long-identifier-0123456789"
    with Memory(open_storage(db)) as memory:
        memory.create_thread("ana", long_id, "A title that is long enough to need wrapping somewhere")
    for width in (40, 60, 200):
        env = {**os.environ, "COLUMNS": str(width), "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-m", "mastra_memory", "threads", "list", "--db", db],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout
        assert long_id in out, (width, out)


@needs_local
@pytest.mark.timeout(900)
def test_serve_semantic_recall_from_memory_options_and_by_default(tmp_path: Path) -> None:
    import httpx

    from mastra_memory.testing.live_server import live_server

    bad = subprocess.run(
        [
            *(sys.executable, "-m", "mastra_memory", "serve", "--db", f"file:{tmp_path}/x.db"),
            *("--embedder", "none", "--memory-options", '{"semantic_recall": true}'),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "semantic_recall needs an embedder" in bad.stderr
    assert not (tmp_path / "x.db").exists()

    for extra in (["--memory-options", '{"semantic_recall": {"top_k": 1}}'], []):
        db = tmp_path / f"s{len(extra)}.db"
        with live_server(f"file:{db}", extra_args=extra) as server:
            client = httpx.Client(base_url=server.url, timeout=120)
            assert client.post("/threads", json={"resource_id": "ana", "thread_id": "t"}).status_code == 201
            saved = client.post(
                "/threads/t/messages",
                json={
                    "messages": [
                        {"role": "user", "content": "My cat is called Miso."},
                        {"role": "user", "content": "The weather is grey today."},
                        {"role": "user", "content": "I had pasta for lunch."},
                    ]
                },
            )
            assert saved.status_code == 201, saved.text
            recalled = client.get("/threads/t/recall", params={"q": "what is my pet's name?", "per_page": 0})
            assert recalled.status_code == 200, recalled.text
            hits = (
                recalled.json()["semanticHits"]
                if "semanticHits" in recalled.json()
                else recalled.json()["semantic_hits"]
            )
            assert hits, recalled.json()
            top = client.get("/threads/t/messages").json()["messages"]
            by_id = {m["id"]: m for m in top}
            assert "Miso" in json.dumps(by_id[hits[0]["messageId" if "messageId" in hits[0] else "message_id"]])
            if extra:
                assert len(hits) == 1
            client.close()
