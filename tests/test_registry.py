"""The URL registry (:mod:`mastra_memory.storage.registry`): scheme -> backend, bare and
Windows paths, read-only opening, redaction, unknown schemes, entry-point plugins, vectors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from mastra_memory import Memory
from mastra_memory.errors import ConfigurationError, NoDataError, StorageError
from mastra_memory.storage import open_storage, open_vector, supported_schemes
from mastra_memory.storage.registry import (
    DEFAULT_STORAGE_URL,
    STORAGE_URL_ENV,
    UnknownSchemeError,
    backend_class,
    redact_url,
    resolve_storage_url,
    scheme_of,
)
from tests.servers import MONGODB, PG, drop_pg_schema, unique, url_or_skip

ROOT = Path(__file__).resolve().parents[1]

# -- scheme -> backend class, nothing connected -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("file:./mastra.db", "LibSQLStore"),
        ("file:///tmp/x.db", "LibSQLStore"),
        (":memory:", "LibSQLStore"),
        ("file::memory:", "LibSQLStore"),
        ("mastra.db", "LibSQLStore"),
        ("./data/mastra.db", "LibSQLStore"),
        ("/var/lib/mastra.db", "LibSQLStore"),
        ("~/mastra.db", "LibSQLStore"),
        ("C:\\data\\mastra.db", "LibSQLStore"),
        ("C:/data/mastra.db", "LibSQLStore"),
        ("d:\\mastra.db", "LibSQLStore"),
        ("libsql://db-org.turso.io", "LibSQLStore"),
        ("http://127.0.0.1:8080", "LibSQLStore"),
        ("https://db.example.com", "LibSQLStore"),
        ("ws://127.0.0.1:8080", "LibSQLStore"),
        ("wss://db.example.com", "LibSQLStore"),
        ("memory://", "InMemoryStore"),
        ("MEMORY://", "InMemoryStore"),
        ("postgresql://app:pw@db:5432/app", "PostgresStore"),
        ("postgres://app@db/app", "PostgresStore"),
        ("mongodb://127.0.0.1:27017/app", "MongoDBStore"),
        ("mongodb+srv://cluster0.example.net/app", "MongoDBStore"),
        ("sqlite:///x.db", "SQLAlchemyStore"),
        ("sqlite+pysqlite:///x.db", "SQLAlchemyStore"),
        ("mysql+pymysql://root@127.0.0.1/app", "SQLAlchemyStore"),
        ("mariadb+pymysql://root@127.0.0.1/app", "SQLAlchemyStore"),
        ("mysql://root@127.0.0.1/app", "SQLAlchemyStore"),
        ("postgresql+psycopg://app@db/app", "SQLAlchemyStore"),
        ("mssql+pyodbc://app@db/app", "SQLAlchemyStore"),
    ],
)
def test_every_scheme_resolves_to_its_backend_without_connecting(url: str, backend: str) -> None:
    assert backend_class(url).__name__ == backend


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mastra.db", ""),
        ("C:\\data\\x.db", ""),
        ("C:/data/x.db", ""),
        ("C:", ""),
        (":memory:", "file"),
        ("file:x.db", "file"),
        ("PostgreSQL://h/db", "postgresql"),
        ("mongodb+srv://h/db", "mongodb+srv"),
        ("mysql+pymysql://h/db", "mysql+pymysql"),
    ],
)
def test_scheme_of(url: str, scheme: str) -> None:
    assert scheme_of(url) == scheme


@pytest.mark.parametrize("url", ["", "   ", None, 42])
def test_a_url_must_be_a_non_empty_string(url: object) -> None:
    with pytest.raises(ConfigurationError):
        scheme_of(url)  # type: ignore[arg-type]


def test_bare_paths_and_file_urls_open_libsql_lazily(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "bare.db"
    store = open_storage(str(path))
    assert type(store).__name__ == "LibSQLStore" and store.url == f"file:{path}"  # type: ignore[attr-defined]
    assert not path.parent.exists()  # lazily: nothing is created before first use
    with Memory(store) as memory:
        memory.create_thread(resource_id="r", thread_id="t")
    assert path.is_file()
    again = open_storage(f"file:{path}", create=False)
    try:
        assert again.get_thread_by_id("t") is not None
    finally:
        again.close()


def test_default_url_and_environment_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORAGE_URL_ENV, raising=False)
    assert resolve_storage_url(None) == DEFAULT_STORAGE_URL == "file:./mastra.db"
    monkeypatch.setenv(STORAGE_URL_ENV, "  ")
    assert resolve_storage_url(None) == DEFAULT_STORAGE_URL
    monkeypatch.setenv(STORAGE_URL_ENV, "memory://")
    assert resolve_storage_url(None) == "memory://"
    assert resolve_storage_url("file:x.db") == "file:x.db"  # --db wins over the environment


# -- read-only opening (create=False) ------------------------------------------------------------


@pytest.mark.parametrize("form", ["bare", "file", "sqlite"])
def test_read_only_open_of_a_missing_file_creates_nothing(tmp_path: Path, form: str) -> None:
    path = tmp_path / "missing" / "x.db"
    url = {"bare": str(path), "file": f"file:{path}", "sqlite": f"sqlite:///{path}"}[form]
    with pytest.raises(NoDataError, match="does not exist"):
        open_storage(url, create=False)
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_of_a_folder_or_a_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(NoDataError, match="not a file"):
        open_storage(str(tmp_path), create=False)
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    with pytest.raises(NoDataError, match="no mastra-memory tables"):
        open_storage(f"file:{other}", create=False)
    assert other.stat().st_size == 0  # not migrated


def test_read_only_open_reads_tables_without_our_migrations_table(tmp_path: Path) -> None:
    """A database written by Mastra's TypeScript packages has the tables, not our bookkeeping."""
    import libsql

    path = tmp_path / "ts.db"
    with Memory(open_storage(f"file:{path}")) as memory:
        memory.create_thread(resource_id="r", thread_id="t")
    conn = libsql.connect(str(path), isolation_level=None)
    conn.execute("DROP TABLE mastra_memory_migrations")
    conn.close()
    store = open_storage(f"file:{path}", create=False)
    try:
        assert store.get_thread_by_id("t") is not None
    finally:
        store.close()
    conn = libsql.connect(str(path), isolation_level=None)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    conn.close()
    assert "mastra_memory_migrations" not in tables  # reading migrated nothing


def test_read_only_open_of_sqlalchemy_sqlite(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path}/sa.db"
    with Memory(open_storage(url)) as memory:
        memory.create_thread(resource_id="r", thread_id="t")
    store = open_storage(url, create=False)
    try:
        assert store.get_thread_by_id("t") is not None
    finally:
        store.close()


def test_read_only_open_of_memory_url() -> None:
    store = open_storage("memory://", create=False)  # nothing to check: an empty in-process store
    assert store.list_threads().total == 0


def test_unreachable_servers_fail_fast_on_read_only_open() -> None:
    pytest.importorskip("psycopg")
    pytest.importorskip("pymongo")
    for url in ("postgresql://postgres@127.0.0.1:1/x", "mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=300"):
        started = time.monotonic()
        with pytest.raises(StorageError, match="could not") as info:
            open_storage(url, create=False, connect_timeout=2)
        assert "\n" not in str(info.value)
        assert time.monotonic() - started < 10


def test_timeouts_in_the_url_are_honoured() -> None:
    pytest.importorskip("pymongo")
    started = time.monotonic()
    with pytest.raises(StorageError, match="could not reach MongoDB"):  # not the store's 10 s default
        open_storage("mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=300", create=False)
    assert time.monotonic() - started < 5
    pytest.importorskip("psycopg")
    store = open_storage("postgresql://postgres@127.0.0.1:1/x?connect_timeout=3", connect_timeout=9)
    try:
        assert store.connect_timeout == 3  # type: ignore[attr-defined]
    finally:
        store.close()
    store = open_storage("postgresql://postgres@127.0.0.1:1/x", connect_timeout=7, min_pool_size=0)
    try:
        assert store.connect_timeout == 7  # type: ignore[attr-defined]
    finally:
        store.close()


# -- messages: redaction, unknown schemes -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgresql://app:s3c/r@t@db/app", "postgresql://app:***@db/app"),
        ("mongodb+srv://u:s3cret@cluster.example/app?retryWrites=true", "mongodb+srv://u:***@cluster.example/app"),
        ("libsql://db.turso.io?authToken=s3cret", "libsql://db.turso.io?authToken=***"),
        ("postgresql://db/app?user=a&password=s3cret&sslmode=require", "postgresql://db/app?user=a&password=***"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("file:./mastra.db", "file:./mastra.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url).startswith(shown) and "s3cret" not in redact_url(url)


def test_unknown_scheme_lists_the_supported_ones_and_hides_the_password() -> None:
    with pytest.raises(UnknownSchemeError) as info:
        open_storage("postgress://app:s3cret@db/app")
    message = str(info.value)
    assert isinstance(info.value, ConfigurationError)
    assert "\n" not in message and "s3cret" not in message and "'postgress'" in message
    assert "did you mean postgres://" in message
    for scheme in ("file", "libsql", "http", "ws", "memory", "postgresql", "mongodb", "sqlite", "mysql+DRIVER"):
        assert scheme in message
    assert set(supported_schemes("vector")) >= {"file", "memory", "postgresql", "mongodb"}
    with pytest.raises(UnknownSchemeError, match="unknown vector URL scheme 'sqlite'"):
        open_vector("sqlite:///x.db")


def test_a_url_the_driver_rejects_is_a_configuration_error_without_the_password() -> None:
    pytest.importorskip("sqlalchemy")
    with pytest.raises(ConfigurationError) as info:
        open_storage("mysql+nosuchdriver://app:s3cret@db/app")
    assert "s3cret" not in str(info.value) and "nosuchdriver" in str(info.value)


def test_bad_options_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bad options"):
        open_storage("memory://", no_such_option=1)


# -- third-party backends through entry points --------------------------------------------------

_PLUGIN = '''
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.inmemory_vector import InMemoryVector


class MyStore(InMemoryStore):
    @classmethod
    def from_url(cls, url, **options):
        store = cls()
        store.url = url
        store.options = options
        return store


class MyVector(InMemoryVector):
    @classmethod
    def from_url(cls, url, **options):
        return cls()


class Hijack(InMemoryStore):
    """Claims postgresql://; the built-in backend must win."""
'''

_ENTRY_POINTS = """
[mastra_memory.storage]
myscheme = myplugin:MyStore
postgresql = myplugin:Hijack

[mastra_memory.vector]
myscheme = myplugin:MyVector
"""

_CHECK = """
from mastra_memory import Memory
from mastra_memory.storage import open_storage, open_vector, supported_schemes
from mastra_memory.storage.registry import backend_class

store = open_storage("myscheme://anything/here", flavour="x", create=False)
print(type(store).__name__, store.url, store.options)
with Memory(store) as memory:
    memory.create_thread(resource_id="r", thread_id="t")
    print("threads", memory.list_threads().total)
print(type(open_vector("myscheme://v")).__name__)
print("postgresql", backend_class("postgresql://h/db").__name__)
print("listed", "myscheme" in supported_schemes(), "myscheme" in supported_schemes("vector"))
try:
    open_storage("nope://x")
except Exception as exc:
    print("unknown", "myscheme" in str(exc))
"""


def test_a_third_party_backend_is_opened_through_its_entry_point(tmp_path: Path) -> None:
    (tmp_path / "myplugin.py").write_text(_PLUGIN)
    dist = tmp_path / "myplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(_ENTRY_POINTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", _CHECK], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "MyStore myscheme://anything/here {'flavour': 'x'}"
    assert lines[1:] == [
        "threads 1",
        "MyVector",
        "postgresql PostgresStore",  # built-ins win over a plugin claiming postgresql
        "listed True True",
        "unknown True",
    ]


# -- vectors --------------------------------------------------------------------------------------


def test_open_vector_memory_and_file(tmp_path: Path) -> None:
    assert type(open_vector("memory://")).__name__ == "InMemoryVector"
    vector = open_vector(f"file:{tmp_path}/v.db")
    try:
        assert type(vector).__name__ == "LibSQLVector"
    finally:
        vector.close()  # type: ignore[attr-defined]
    assert type(open_vector(str(tmp_path / "bare.db"))).__name__ == "LibSQLVector"
    with pytest.raises(NoDataError):
        open_vector(f"file:{tmp_path}/missing.db", create=False)


def test_open_vector_postgresql_in_a_schema_of_its_own() -> None:
    url = url_or_skip(PG)
    pytest.importorskip("pgvector")
    schema = unique("mmvec")
    vector = open_vector(f"{url}?schema={schema}")
    try:
        assert type(vector).__name__ == "PgVector" and vector.schema == schema  # type: ignore[attr-defined]
        vector.create_index("docs", 3)
        assert "docs" in vector.list_indexes()
    finally:
        vector.close()  # type: ignore[attr-defined]
        drop_pg_schema(url, schema)


def test_open_vector_mongodb_takes_the_database_from_the_path() -> None:
    url = url_or_skip(MONGODB)
    pytest.importorskip("pymongo")
    name = unique("mmvec")
    parts = urlsplit(url)
    vector = open_vector(urlunsplit(parts._replace(path=f"/{name}")))
    try:
        assert type(vector).__name__ == "MongoDBVector" and vector._db.name == name  # type: ignore[attr-defined]
    finally:
        vector._client.drop_database(name)  # type: ignore[attr-defined]
        vector.close()  # type: ignore[attr-defined]


# -- URL options on real servers ------------------------------------------------------------------


def test_postgresql_schema_query_parameter_and_read_only_open() -> None:
    url = url_or_skip(PG)
    pytest.importorskip("psycopg")
    schema = unique("mmreg")
    scoped = f"{url}?schema={schema}"
    try:
        with pytest.raises(NoDataError, match=schema):
            open_storage(scoped, create=False, connect_timeout=5)
        import psycopg

        with psycopg.connect(url) as conn:  # the read-only open created no schema
            assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None
        store = open_storage(scoped)
        assert store.schema_name == schema  # type: ignore[attr-defined]
        with Memory(store) as memory:
            memory.create_thread(resource_id="r", thread_id="t")
        reader = open_storage(scoped, create=False)
        try:
            assert reader.get_thread_by_id("t") is not None
        finally:
            reader.close()
    finally:
        drop_pg_schema(url, schema)
