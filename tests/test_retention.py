"""``Memory.delete_resource`` and ``Memory.prune`` with their vectors, on a libSQL file (store and
vectors in one file) and on PostgreSQL (pgvector), plus the admin HTTP route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastra_memory.errors import ConfigurationError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.testing.embedders import HashingEmbedder
from mastra_memory.types import Message, Thread
from tests.servers import PG, drop_pg_schema, unique, url_or_skip
from tests.test_lifecycle_conformance import dump

OLD = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["libsql-file", "postgres"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memory]:
    options: dict[str, Any] = {
        "semantic_recall": {"top_k": 3, "scope": "resource"},
        "retention": {"messages": {"max_age": 86_400}, "threads": {"max_age": 30 * 86_400}},
    }
    if request.param == "libsql-file":
        from storage_adapters.libsql import LibSQLStore, LibSQLVector

        url = f"file:{tmp_path}/mem.db"
        mem = Memory(LibSQLStore(url), vector=LibSQLVector(url), embedder=HashingEmbedder(), options=options)
        yield mem
        mem.close()
        return
    pg = url_or_skip(PG)
    pytest.importorskip("pgvector")
    from mastra_memory.storage.registry import open_vector
    from storage_adapters.pg import PostgresStore

    schema = unique("mmret")
    vector = open_vector(f"{pg}?schema={schema}")
    mem = Memory(PostgresStore(pg, schema_name=schema), vector=vector, embedder=HashingEmbedder(), options=options)
    try:
        yield mem
    finally:
        mem.close()
        vector.close()  # type: ignore[attr-defined]
        drop_pg_schema(pg, schema)


def vector_metadata(mem: Memory) -> list[dict[str, Any]]:
    """Metadata of every vector in every memory index (a scan through a broad query)."""
    semantic = mem._semantic
    out: list[dict[str, Any]] = []
    for name in semantic._memory_indexes():
        count = semantic.vector.describe_index(name).count
        if count:
            hits = semantic.vector.query(name, [1.0] * mem.embedder.dimension, top_k=count + 10)
            assert len(hits) == count
            out += [dict(h.metadata) for h in hits]
    return out


def chat(mem: Memory, rid: str, tid: str, texts: list[str], created_at: datetime | None = None) -> None:
    mem.create_thread(rid, thread_id=tid)
    msgs = [
        Message.user(
            t, tid, id=f"{tid}-{i}", **({"created_at": created_at + timedelta(seconds=i)} if created_at else {})
        )
        for i, t in enumerate(texts)
    ]
    mem.save_messages(msgs)


def test_delete_resource_erases_vectors_and_rows(memory: Memory) -> None:
    chat(memory, "alice", "a1", ["alice likes green tea", "alice lives in Lyon"])
    chat(memory, "alice", "a2", ["alice plays chess"])
    chat(memory, "bob", "b1", ["bob likes coffee"])
    memory.clone_thread("a1", new_thread_id="copy-for-bob", resource_id="bob")
    memory.storage.update_resource("alice", working_memory="# alice: tea")
    assert {m["resource_id"] for m in vector_metadata(memory)} == {"alice", "bob"}

    assert memory.delete_resource("alice") == {"threads": 2, "clones": 1, "resources": 1}

    metas = vector_metadata(memory)
    assert metas and {m["resource_id"] for m in metas} == {"bob"}
    assert {m["thread_id"] for m in metas} == {"b1"}
    assert "alice" not in dump(memory.storage)
    assert [m.content.text for m in memory.recall("b1", "bob", vector_search_string="coffee").messages] == [
        "bob likes coffee"
    ]
    assert memory.delete_resource("alice") == {"threads": 0, "clones": 0, "resources": 0}
    with pytest.raises(ValidationError):
        memory.delete_resource("")


def test_prune_deletes_old_messages_and_threads_with_their_vectors(memory: Memory) -> None:
    chat(memory, "r", "live", ["a fresh message"])
    chat(memory, "r", "live2", [f"old message {i}" for i in range(7)], created_at=OLD)
    chat(memory, "r", "dead", ["ancient"], created_at=OLD)
    # A thread untouched for long: its updated_at goes back too.
    memory.storage.save_thread(Thread(id="dead", resource_id="r", created_at=OLD, updated_at=OLD))
    assert len(vector_metadata(memory)) == 9

    assert memory.prune(batch_size=3, max_rows=4) == {"threads": 1, "messages": 3}
    assert memory.prune(batch_size=3) == {"threads": 0, "messages": 4}
    assert memory.prune() == {"threads": 0, "messages": 0}

    assert memory.get_thread_by_id("dead") is None
    assert [m.content.text for m in memory.list_messages("live").messages] == ["a fresh message"]
    assert memory.list_messages("live2").messages == []
    assert [m["message_id"] for m in vector_metadata(memory)] == ["live-0"]
    with pytest.raises(ValidationError):
        memory.prune(batch_size=0)
    with pytest.raises(ValidationError):
        memory.prune(max_rows=0)


@pytest.fixture(params=["inmemory", "libsql-file", "postgres", "mongodb", "redis"])
def vector_memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memory]:
    """A Memory with ``retention={"vectors": ...}`` on each vector store (messages in memory,
    or beside the vectors for libSQL and PostgreSQL)."""
    options: dict[str, Any] = {
        "semantic_recall": {"top_k": 3, "scope": "resource", "hybrid": False},
        "retention": {"vectors": {"max_age": 86_400}},
    }
    from storage_adapters.inmemory import InMemoryStore

    kind = request.param
    cleanup: list[Any] = []
    if kind == "inmemory":
        from storage_adapters.inmemory import InMemoryVector

        store: Any = InMemoryStore()
        vector: Any = InMemoryVector()
    elif kind == "libsql-file":
        from storage_adapters.libsql import LibSQLStore, LibSQLVector

        url = f"file:{tmp_path}/mem.db"
        store, vector = LibSQLStore(url), LibSQLVector(url)
    elif kind == "postgres":
        pg = url_or_skip(PG)
        from storage_adapters.pg import PgVector, PostgresStore

        schema = unique("mmvret")
        store, vector = PostgresStore(pg, schema_name=schema), PgVector(pg, schema_name=schema)
        cleanup.append(lambda: drop_pg_schema(pg, schema))
    elif kind == "mongodb":
        from storage_adapters.mongodb import MongoDBVector
        from tests.servers import MONGODB

        db_name = unique("mmvret")
        store, vector = InMemoryStore(), MongoDBVector(url_or_skip(MONGODB), db_name=db_name)
        cleanup.append(lambda: vector._client.drop_database(db_name))
    else:
        pytest.importorskip("redis")
        from storage_adapters.redis import RedisVector
        from tests.servers import REDIS

        prefix = unique("mmvret") + ":"
        store, vector = InMemoryStore(), RedisVector(url_or_skip(REDIS), key_prefix=prefix)
        cleanup.append(lambda: [vector._r.delete(k) for k in vector._r.scan_iter(match=prefix + "*")])
    mem = Memory(store, vector=vector, embedder=HashingEmbedder(), options=options)
    try:
        yield mem
    finally:
        for step in cleanup:
            step()
        mem.close()
        vector.close()


def test_prune_vectors_keeps_the_messages(vector_memory: Memory) -> None:
    memory = vector_memory
    chat(memory, "r", "old", [f"old fact number {i} about tea" for i in range(5)], created_at=OLD)
    chat(memory, "r", "new", ["a fresh fact about tea", "another fresh fact"])
    long_ago = [m for m in vector_metadata(memory) if m["thread_id"] == "old"]
    assert len(long_ago) == 5 and len(vector_metadata(memory)) == 7

    assert memory.prune(batch_size=2, max_rows=3) == {"vectors": 3}
    assert memory.prune(batch_size=2) == {"vectors": 2}
    assert memory.prune() == {"vectors": 0}

    assert sorted(m["message_id"] for m in vector_metadata(memory)) == ["new-0", "new-1"]
    assert memory.list_messages("old", per_page=False).total == 5  # the history keeps them
    hits = memory.recall("new", "r", vector_search_string="old fact number 3 about tea").messages
    assert {m.thread_id for m in hits} == {"new"}  # no longer recalled


def test_retention_config_is_validated() -> None:
    from storage_adapters.inmemory import InMemoryStore

    for bad in ({"messages": {"max_age": 0}}, {"messages": {"days": 3}}, {"embeddings": {"max_age": 5}}):
        with pytest.raises(ConfigurationError):
            Memory(InMemoryStore(), options={"retention": bad})
    assert Memory(InMemoryStore()).prune() == {}


@pytest.mark.anyio
async def test_admin_route_erases_a_resource(tmp_path: Path) -> None:
    from mastra_memory.server import create_app
    from mastra_memory.server.config import ApiKey
    from storage_adapters.libsql import LibSQLStore

    admin, agent = "admin-token-0123456789", "agent-token-0123456789"
    keys = [
        ApiKey(token=admin, name="admin"),  # type: ignore[arg-type]
        ApiKey(token=agent, name="agent", namespaces=("*",), resources=("alice",)),  # type: ignore[arg-type]
    ]
    mem = Memory(LibSQLStore(f"file:{tmp_path}/s.db"))
    chat(mem, "alice", "a1", ["hello"])
    app = create_app(mem, api_keys=keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.delete("/admin/resources/alice", headers={"Authorization": f"Bearer {agent}"})
        assert r.status_code == 403
        assert mem.get_thread_by_id("a1") is not None
        r = await client.delete("/admin/resources/alice", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200 and r.json() == {"deleted": {"threads": 1, "clones": 0, "resources": 0}}
    assert mem.get_thread_by_id("a1") is None
    mem.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("backend", ["libsql-file", "postgres"])
def test_prune_queries_read_the_retention_indexes(backend: str, tmp_path: Path) -> None:
    """Each ``prune_*`` statement is a range scan of its migration-12 index (EXPLAIN), not a
    scan of the table (PostgreSQL with sequential scans priced out, as on a large table)."""
    from storage_adapters import _sql_lifecycle as lc
    from tests.servers import FACTORIES

    with FACTORIES[backend](tmp_path) as store:
        d = store.dialect  # type: ignore[attr-defined]
        cutoff = datetime.now(UTC)
        statements = {
            "mm_messages_created_id": lc.prune_messages_sql(d, cutoff, 10),
            "mm_threads_updated_id": lc.stale_threads_sql(d, cutoff, 10),
            "mm_resources_updated_id": lc.prune_resources_sql(d, cutoff, 10),
            "mm_om_created": lc.prune_om_history_sql(d, cutoff, 10),
        }
        plans: dict[str, str] = {}
        if d.name == "sqlite":
            store._ensure_retention_indexes()  # type: ignore[attr-defined]  # libSQL: before the first prune

            def explain(conn: Any) -> None:
                for index, (sql, params) in statements.items():
                    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                    plans[index] = "\n".join(str(r[-1]) for r in rows)

            store._read_with(explain)  # type: ignore[attr-defined]
        else:
            import psycopg

            with psycopg.connect(url_or_skip(PG), autocommit=True) as conn:
                conn.execute("SET enable_seqscan = off")
                for index, (sql, params) in statements.items():
                    plans[index] = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())
        for index, plan in plans.items():
            assert index in plan, f"{index} not used:\n{plan}"


def test_mongodb_has_the_retention_indexes() -> None:
    from tests.servers import mongodb_store

    wanted = {
        "mastra_messages": [("createdAt", 1), ("id", 1)],
        "mastra_threads": [("updatedAt", 1), ("id", 1)],
        "mastra_resources": [("updatedAt", 1), ("id", 1)],
        "mastra_observational_memory": [("createdAt", 1)],
    }
    with mongodb_store() as store:
        db: Any = store._db  # type: ignore[attr-defined]
        for collection, key in wanted.items():
            keys = [[tuple(k) for k in spec["key"]] for spec in db[collection].index_information().values()]
            assert key in keys, (collection, keys)


def test_libsql_creates_the_retention_indexes_before_its_first_prune(tmp_path: Path) -> None:
    """A new libSQL database keeps no index ordered by age until something is pruned; the first
    prune creates them all, and a second store on the file creates nothing new."""
    from storage_adapters.libsql import LibSQLStore

    names = ("mm_messages_created_id", "mm_threads_updated_id", "mm_resources_updated_id", "mm_om_created")
    query = f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({', '.join('?' for _ in names)})"
    url = f"file:{tmp_path / 'r.db'}"
    with LibSQLStore(url) as store:
        memory = Memory(store, options={"retention": {"messages": {"max_age": 60}}})
        memory.create_thread("ana", "t")
        memory.save_messages([Message.user("old", "t", id="m1", created_at=datetime(2020, 1, 1, tzinfo=UTC))])
        assert store._read_with(lambda c: c.execute(query, names).fetchall()) == []
        assert memory.prune()["messages"] == 1
        assert sorted(r[0] for r in store._read_with(lambda c: c.execute(query, names).fetchall())) == sorted(names)
