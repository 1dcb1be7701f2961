"""What the conformance suite does not cover, per adapter: the original's DDL, index use,
connection options, interoperability between adapters on one database, missing extras."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mastra_memory.errors import MissingDependencyError, ValidationError
from mastra_memory.types import IncludeSpec, Message, Thread
from tests import servers

# -- PostgreSQL -----------------------------------------------------------------------------------


def test_pg_tables_mirror_mastra_pg_ddl() -> None:
    import psycopg

    with servers.postgres_store() as store, psycopg.connect(servers.url_or_skip(servers.PG)) as conn:
        schema = store.schema_name  # type: ignore[attr-defined]
        cols = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s",
                (schema,),
            ).fetchall()
        )
        versions = [r[0] for r in conn.execute(f'SELECT version FROM "{schema}".mastra_memory_migrations ORDER BY 1')]
    assert cols["mastra_threads.metadata"] == "jsonb"
    assert cols["mastra_threads.createdAt"] == "timestamp without time zone"
    assert cols["mastra_threads.updatedAtZ"] == "timestamp with time zone"
    assert cols["mastra_messages.createdAtZ"] == "timestamp with time zone"
    assert cols["mastra_messages.content"] == "text"
    assert cols["mastra_resources.workingMemory"] == "text"
    assert versions == [1, 2, 3, 4, 11, 12]  # 3: OM, 4: key-value, 11: keyword search, 12: retention
    assert cols["mastra_observational_memory.lookupKey"] == "text"
    assert cols["mastra_kv.expiresAt"] == "timestamp with time zone"


def test_pg_writes_both_timestamp_columns_and_setup_is_idempotent() -> None:
    import psycopg

    with servers.postgres_store() as store:
        store.save_thread(Thread(id="t", resource_id="r"))
        saved = store.save_messages([Message.user("hi", "t")])[0]
        store.setup()
        store._ready = False  # type: ignore[attr-defined]
        store.setup()  # a second run applies nothing
        with psycopg.connect(servers.url_or_skip(servers.PG)) as conn:
            naive, aware = conn.execute(
                f'SELECT "createdAt", "createdAtZ" FROM "{store.schema_name}".mastra_messages',  # type: ignore[attr-defined]
            ).fetchone()
        assert naive.tzinfo is None and aware == saved.created_at == naive.replace(tzinfo=aware.tzinfo)


def test_pg_include_window_and_recall_use_the_index() -> None:
    import psycopg

    with servers.postgres_store() as store:
        store.save_thread(Thread(id="t", resource_id="r"))
        msgs = store.save_messages([Message.user(f"m{i}", "t") for i in range(50)])
        url = servers.url_or_skip(servers.PG)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + store._include_sql(), ([msgs[20].id], [2], [2])))  # type: ignore[attr-defined]
        assert "mm_messages_thread_created_id" in plan and "WindowAgg" not in plan
        window = store.list_messages(
            "t", per_page=0, include=[IncludeSpec(id=msgs[20].id, with_previous_messages=2, with_next_messages=2)]
        )
        assert [m.text for m in window.messages] == ["m18", "m19", "m20", "m21", "m22"]


def test_pg_accepts_a_user_pool_and_url_spellings() -> None:
    from psycopg_pool import ConnectionPool

    from storage_adapters.pg import PostgresStore

    url = servers.url_or_skip(servers.PG)
    schema = servers.unique("mmpool")
    pool = ConnectionPool(url, min_size=1, max_size=2, open=True)
    try:
        with PostgresStore(pool=pool, schema_name=schema) as store:
            store.save_thread(Thread(id="t", resource_id="r"))
        assert not pool.closed  # the store leaves a pool it does not own open
        with PostgresStore.from_url(url.replace("postgresql://", "postgresql+psycopg://"), schema_name=schema) as again:
            assert again.get_thread_by_id("t") is not None
    finally:
        pool.close()
        servers.drop_pg_schema(url, schema)


@pytest.mark.parametrize("kwargs", [{"schema_name": "bad-name"}, {"schema_name": 'x"; drop'}, {}])
def test_pg_rejects_bad_arguments(kwargs: dict[str, str]) -> None:
    from storage_adapters.pg import PostgresStore

    with pytest.raises(ValidationError):
        PostgresStore(**kwargs) if not kwargs else PostgresStore("postgresql://x", **kwargs)


def test_pg_store_and_sqlalchemy_share_one_schema() -> None:
    pytest.importorskip("sqlalchemy")
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    with servers.postgres_store() as pg:
        pg.save_thread(Thread(id="t", resource_id="r", metadata={"k": "v"}))
        pg.save_messages([Message.user(f"m{i}", "t") for i in range(3)])
        url = servers.url_or_skip(servers.PG).replace("postgresql://", "postgresql+psycopg://", 1)
        with SQLAlchemyStore(url, schema=pg.schema_name) as sa_store:  # type: ignore[attr-defined]
            assert [m.text for m in sa_store.list_messages("t").messages] == ["m0", "m1", "m2"]
            assert sa_store.list_threads(metadata={"k": "v"}).total == 1
            sa_store.save_messages([Message.user("from sqlalchemy", "t")])
        assert pg.list_messages("t").messages[-1].text == "from sqlalchemy"


# -- MongoDB --------------------------------------------------------------------------------------


def test_mongodb_setup_creates_the_hot_path_indexes() -> None:
    with servers.mongodb_store() as store:
        names = set(store._messages.index_information())  # type: ignore[attr-defined]
        assert {"id_1", "thread_id_1_createdAt_1_id_1", "resourceId_1_createdAt_1_id_1"} <= names
        assert "resourceId_1_updatedAt_1_id_1" in set(store._threads.index_information())  # type: ignore[attr-defined]
        doc = None
        store.save_thread(Thread(id="t", resource_id="r"))
        store.save_messages([Message.user("hi", "t")])
        doc = store._messages.find_one({"thread_id": "t"}, {"_id": 0})  # type: ignore[attr-defined]
        assert doc is not None and doc["resourceId"] == "r" and isinstance(doc["content"], str)


# -- SQLAlchemy -----------------------------------------------------------------------------------


def test_sqlalchemy_sqlite_file_opens_in_libsql(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    from storage_adapters.libsql import LibSQLStore
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    path = tmp_path / "shared.db"
    with SQLAlchemyStore(f"sqlite:///{path}") as sa_store:
        sa_store.save_thread(Thread(id="t", resource_id="r", metadata={"topic": "trips"}))
        sa_store.save_messages([Message.user(f"m{i}", "t") for i in range(3)])
    with LibSQLStore(f"file:{path}") as lib:
        assert [m.text for m in lib.list_messages("t").messages] == ["m0", "m1", "m2"]
        assert lib.list_threads(metadata={"topic": "trips"}).total == 1


# -- missing extras -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "build"),
    [
        ("pymongo", lambda: __import__("storage_adapters.mongodb", fromlist=["x"]).MongoDBStore(url="mongodb://x")),
        (
            "libsql_client",
            lambda: __import__("storage_adapters.libsql.hrana", fromlist=["x"]).HranaConnection("ws://x"),
        ),
        ("sqlalchemy", lambda: __import__("storage_adapters.sqlalchemy", fromlist=["x"]).SQLAlchemyStore("sqlite://")),
        ("psycopg_pool", lambda: __import__("storage_adapters.pg", fromlist=["x"]).PostgresStore("postgresql://x")),
    ],
)
def test_missing_extra_names_the_pip_command(module: str, build: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "mastra-memory\['):
        build()  # type: ignore[operator]
