"""The command line on every real backend, as users run it (subprocesses of the console script
or ``python -m mastra_memory``): ``--db URL`` and ``$MASTRA_MEMORY_DB`` reach the same store as
Python does, read-only commands create nothing anywhere, and wrong URLs fail with one line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from mastra_memory import Memory
from mastra_memory.storage import open_storage
from mastra_memory.storage.registry import STORAGE_URL_ENV
from tests.servers import MARIADB, MONGODB, PG, REDIS, drop_pg_schema, unique, url_or_skip

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("mastra-memory")
CONSOLE_SCRIPT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mastra_memory"]
PYTHON_M = [sys.executable, "-m", "mastra_memory"]


def _env(db: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != STORAGE_URL_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env["COLUMNS"] = "200"
    if db is not None:
        env[STORAGE_URL_ENV] = db
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path, db_env: str | None = None, command: list[str] | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``mastra-memory ARGS`` in ``cwd`` (``$MASTRA_MEMORY_DB`` set only when ``db_env``)."""
    return subprocess.run(
        [*(command or PYTHON_M), *args],
        cwd=cwd,
        env=_env(db_env, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- an empty, isolated place on every backend, and a way to see that it stayed empty -------------


class Place:
    """A URL for an isolated store and a check that nothing was created there."""

    def __init__(self, url: str, is_empty: object) -> None:
        self.url = url
        self.is_empty = is_empty

    def empty(self) -> bool:
        return bool(self.is_empty())  # type: ignore[operator]


@pytest.fixture(params=["libsql", "sqlite", "postgresql", "sqlalchemy-postgresql", "mongodb", "mariadb", "redis"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    kind = request.param
    if kind == "libsql":
        path = tmp_path / "data" / "m.db"
        yield Place(f"file:{path}", lambda: not path.parent.exists())
    elif kind == "sqlite":
        pytest.importorskip("sqlalchemy")
        path = tmp_path / "sa.db"
        yield Place(f"sqlite:///{path}", lambda: not path.exists())
    elif kind in ("postgresql", "sqlalchemy-postgresql"):
        url = url_or_skip(PG)
        import psycopg

        if kind == "sqlalchemy-postgresql":
            pytest.importorskip("sqlalchemy")

        schema = unique("mmcli")

        def no_schema() -> bool:
            with psycopg.connect(url) as conn:
                return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None

        scheme = "postgresql+psycopg" if kind == "sqlalchemy-postgresql" else "postgresql"
        try:
            yield Place(f"{scheme}://{url.split('://', 1)[1]}?schema={schema}", no_schema)
        finally:
            drop_pg_schema(url, schema)
    elif kind == "mongodb":
        url = url_or_skip(MONGODB)
        import pymongo

        name = unique("mmcli")
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            yield Place(
                urlunsplit(urlsplit(url)._replace(path=f"/{name}")), lambda: name not in client.list_database_names()
            )
        finally:
            client.drop_database(name)
            client.close()
    elif kind == "redis":
        url = url_or_skip(REDIS)
        redis = pytest.importorskip("redis")
        prefix = unique("mmcli") + ":"
        rclient = redis.Redis.from_url(url)
        try:
            yield Place(f"{url}?key_prefix={prefix}", lambda: not list(rclient.scan_iter(match=prefix + "*")))
        finally:
            keys = list(rclient.scan_iter(match=prefix + "*"))
            if keys:
                rclient.delete(*keys)
            rclient.close()
    else:
        url = url_or_skip(MARIADB)
        sa = pytest.importorskip("sqlalchemy")
        name = unique("mmcli")
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")

        def no_tables() -> bool:
            with admin.connect() as conn:
                return not conn.exec_driver_sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (name,)
                ).all()

        try:
            yield Place(url.rsplit("/", 1)[0] + f"/{name}", no_tables)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            admin.dispose()


def seed(url: str) -> None:
    # get_or_create, not create: on a busy shared MongoDB, create_thread was once seen to report
    # a conflict on its own insert (a retried transaction); that is not what these tests check
    with Memory(open_storage(url)) as memory:
        memory.get_or_create_thread("cli-one", "ana", title="first")
        memory.get_or_create_thread("cli-two", "bob", title="second")


# -- threads list / show on every backend ----------------------------------------------------------


def test_threads_from_python_are_listed_by_the_cli(place: Place, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # read-only before any data: one line, and nothing created (no file, schema, database, table)
    before = run("threads", "list", "--db", place.url, cwd=cwd)
    assert before.returncode == 1 and "no mastra-memory data" in one_error_line(before)
    assert place.empty() and listing(cwd) == []

    seed(place.url)
    by_option = run("threads", "list", "--json", "--db", place.url, cwd=cwd)
    assert by_option.returncode == 0, by_option.stderr
    assert {t["id"] for t in json.loads(by_option.stdout)["threads"]} == {"cli-one", "cli-two"}

    by_env = run("threads", "list", "--json", "--resource", "ana", cwd=cwd, db_env=place.url, command=CONSOLE_SCRIPT)
    assert by_env.returncode == 0, by_env.stderr
    assert [t["id"] for t in json.loads(by_env.stdout)["threads"]] == ["cli-one"]

    shown = run("threads", "show", "cli-two", "--json", cwd=cwd, db_env=place.url)
    assert shown.returncode == 0 and json.loads(shown.stdout)["thread"]["title"] == "second"
    assert listing(cwd) == []  # nothing fell back to ./mastra.db


# -- om show and serve read $MASTRA_MEMORY_DB ------------------------------------------------------


def test_om_show_honours_the_environment(tmp_path: Path) -> None:
    from tests.om_support import om_options, scripted, turn

    db = f"file:{tmp_path}/om.db"
    memory = Memory(open_storage(db), options=om_options(scripted(), observation={"message_tokens": 100}))
    for n in range(4):
        turn(memory, "t1", "ana", n)
    memory.close()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    shown = run("om", "show", "--thread", "t1", "--json", cwd=cwd, db_env=db)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["lookupKey"] == "thread:t1"
    missing = run("om", "show", "--thread", "t1", cwd=cwd)  # no env: ./mastra.db, which does not exist
    assert missing.returncode == 1 and "no mastra-memory data at 'file:./mastra.db'" in one_error_line(missing)
    assert listing(cwd) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, deadline: float) -> object:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("backend", ["libsql", "postgresql"])
def test_serve_honours_the_environment(backend: str, tmp_path: Path) -> None:
    if backend == "libsql":
        db, workers, cleanup = f"file:{tmp_path}/serve.db", "1", None
    else:
        pg = url_or_skip(PG)
        schema = unique("mmserve")
        db, workers, cleanup = f"{pg}?schema={schema}", "2", lambda: drop_pg_schema(pg, schema)
    try:
        seed(db)
        cwd = tmp_path / "cwd"
        cwd.mkdir()
        port = _free_port()
        proc = subprocess.Popen(
            [*CONSOLE_SCRIPT, "serve", "--port", str(port), "--workers", workers, "--log-level", "warning"],
            cwd=cwd,
            env=_env(db),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            thread = _get_json(f"http://127.0.0.1:{port}/threads/cli-one", time.monotonic() + 60)
            assert isinstance(thread, dict) and thread["id"] == "cli-one" and thread["title"] == "first"
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=30)
        assert "serving" in stderr
        assert listing(cwd) == []
    finally:
        if cleanup is not None:
            cleanup()


# -- wrong URLs: one line, the right exit code, nothing created ------------------------------------

COMMANDS: list[list[str]] = [
    ["threads", "list"],
    ["threads", "show", "t"],
    ["threads", "clone", "t"],
    ["threads", "delete", "t", "--yes"],
    ["recall", "--thread", "t"],
    ["chat", "-m", "hi", "--model", "openai/x", "-s", "mock_response=x"],
    ["ingest", "IN"],
    ["om", "show", "--thread", "t"],
    ["serve", "--port", "1"],
]


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "chat.json"
    path.parent.mkdir()
    path.write_text(
        json.dumps({"threads": [{"id": "t", "resource_id": "r", "messages": [{"role": "user", "content": "hi"}]}]})
    )
    return path


def _args(command: list[str], chat_file: Path) -> list[str]:
    return [str(chat_file) if a == "IN" else a for a in command]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_unknown_scheme_exits_2_with_one_line_and_creates_nothing(
    command: list[str], tmp_path: Path, chat_file: Path
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run(*_args(command, chat_file), "--db", "postgress://app:s3cret@db/app", cwd=cwd)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert "unknown storage URL scheme 'postgress'" in line and "supported: " in line and "postgresql" in line
    assert "s3cret" not in result.stderr and result.stdout == ""
    assert listing(cwd) == []


def test_unknown_scheme_from_the_environment(tmp_path: Path) -> None:
    result = run("threads", "list", cwd=tmp_path, db_env="postgress://x", command=CONSOLE_SCRIPT)
    assert result.returncode == 2 and "supported: " in one_error_line(result)
    assert listing(tmp_path) == []


UNREACHABLE = {
    "postgresql": "postgresql://app:s3cret@127.0.0.1:1/app",
    "mongodb": "mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=500",
    "mariadb": "mysql+pymysql://root:s3cret@127.0.0.1:1/app",
    "redis": "redis://default:s3cret@127.0.0.1:1/0",
}


@pytest.mark.parametrize("backend", sorted(UNREACHABLE))
@pytest.mark.parametrize("command", [COMMANDS[0], COMMANDS[6], COMMANDS[7], COMMANDS[8]], ids=lambda c: c[0])
def test_an_unreachable_server_fails_fast_with_one_line(
    backend: str, command: list[str], tmp_path: Path, chat_file: Path
) -> None:
    pytest.importorskip(
        {"postgresql": "psycopg", "mongodb": "pymongo", "mariadb": "pymysql", "redis": "redis"}[backend]
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    started = time.monotonic()
    result = run(*_args(command, chat_file), "--db", UNREACHABLE[backend], cwd=cwd)
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert "could not" in line and "s3cret" not in result.stderr and "127.0.0.1:1" in line
    assert listing(cwd) == []


@pytest.mark.parametrize("command", [c for c in COMMANDS if c[0] not in ("chat", "ingest", "serve")], ids=str)
def test_read_only_commands_on_a_missing_file_create_nothing(command: list[str], tmp_path: Path) -> None:
    result = run(*command, "--db", f"file:{tmp_path}/nope/x.db", cwd=tmp_path)
    assert result.returncode == 1
    assert "does not exist (nothing created)" in one_error_line(result)
    assert listing(tmp_path) == []


def test_a_missing_extra_names_the_pip_command(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "psycopg.py").write_text("raise ImportError('psycopg is blocked for this test')\n")
    env_path = os.pathsep.join([str(blocked), str(ROOT)])
    result = run("threads", "list", "--db", "postgresql://127.0.0.1:1/app", cwd=tmp_path, PYTHONPATH=env_path)
    assert result.returncode == 1
    assert 'pip install "mastra-memory[pg]"' in one_error_line(result)


def test_write_commands_create_the_store_where_the_environment_says(tmp_path: Path, chat_file: Path) -> None:
    db = tmp_path / "made" / "x.db"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run("ingest", str(chat_file), cwd=cwd, db_env=f"file:{db}")
    assert result.returncode == 0, result.stderr
    assert db.is_file() and listing(cwd) == []
    listed = run("threads", "list", "--json", cwd=cwd, db_env=f"file:{db}")
    assert [t["id"] for t in json.loads(listed.stdout)["threads"]] == ["t"]


def test_console_script_is_installed() -> None:
    if not _SCRIPT.exists() and shutil.which("mastra-memory") is None:
        pytest.skip("the mastra-memory console script is not installed (pip install -e .)")
    result = subprocess.run(
        [*CONSOLE_SCRIPT, "--help"], env=_env(), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0 and "threads" in result.stdout


# -- the app factory ------------------------------------------------------------------------------


def test_create_app_builds_its_memory_through_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    from mastra_memory.errors import NoDataError
    from mastra_memory.server import create_app
    from mastra_memory.server.app import STATUS
    from mastra_memory.server.problems import error_response
    from mastra_memory.storage.registry import UnknownSchemeError

    monkeypatch.setenv(STORAGE_URL_ENV, f"file:{tmp_path}/app.db")
    from_env = create_app()
    try:
        assert from_env.state.mastra.storage.url == f"file:{tmp_path}/app.db"
    finally:
        import asyncio

        asyncio.run(from_env.state.mastra.memory.close())
    explicit = create_app(storage_url="memory://")
    assert type(explicit.state.mastra.storage).__name__ == "InMemoryStore"
    with pytest.raises(UnknownSchemeError):
        create_app(storage_url="postgress://x")
    assert STATUS[NoDataError] == 503 and error_response(NoDataError("none")).status_code == 503
