"""Erasure and retention on every store of the one factory list (:data:`tests.servers.FACTORIES`).

Erasure is proved by a raw scan: every table (or collection, or in-process dict) of the store is
read back as text and must not contain the erased resource's marker anywhere, while the rows of
another resource are all still there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.memory import Memory
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.om import ObservationCommit
from mastra_memory.storage.records import MessageRef
from mastra_memory.types import Message, Resource, Thread
from tests.servers import FACTORIES

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=list(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
    with FACTORIES[request.param](tmp_path) as store:
        yield store


# -- a raw view of everything a store holds ------------------------------------------------------


# FTS5's own segment tables: postings of deleted rows stay there until a merge, and a merge
# (``optimize``, which erasure runs) re-packs every resource's postings, so they are part of the
# "nothing of the erased resource" scan but not of the "others untouched" row count (which the
# keyword search of the kept resource checks instead).
FTS5_INTERNALS = {
    "mm_message_search",
    *(f"mm_message_search_{s}" for s in ("data", "idx", "docsize", "config", "content")),
}


def dump(store: MemoryStorage, index_internals: bool = True) -> str:
    """Every row of every table / collection of ``store`` as text (``index_internals=False``:
    without FTS5's segment tables)."""
    kind = type(store).__name__
    if kind == "InMemoryStore":
        return repr({k: v for k, v in vars(store).items() if k != "_lock"})
    if kind == "MongoDBStore":
        db: Any = store._db  # type: ignore[attr-defined]
        return "\n".join(repr(list(db[name].find({}))) for name in sorted(db.list_collection_names()))
    if kind == "RedisStore":
        r: Any = store._r  # type: ignore[attr-defined]
        out = []
        for key in sorted(r.scan_iter(match=store.key_prefix + "*")):  # type: ignore[attr-defined]
            kind_of = r.type(key)
            kind_of = kind_of.decode() if isinstance(kind_of, bytes) else kind_of
            value = {
                "string": lambda k: r.get(k),
                "hash": lambda k: r.hgetall(k),
                "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
                "set": lambda k: sorted(r.smembers(k)),
                "list": lambda k: r.lrange(k, 0, -1),
            }.get(kind_of, lambda k: None)(key)
            out.append(f"{key!r}: {value!r}")
        return "\n".join(out)
    if kind == "DynamoDBStore":
        client: Any = store._client  # type: ignore[attr-defined]
        pages = client.get_paginator("scan").paginate(TableName=store.table_name)  # type: ignore[attr-defined]
        return "\n".join(repr(item) for page in pages for item in page["Items"])
    if kind == "SQLAlchemyStore":
        import sqlalchemy as sa

        schema = store._t.md.schema  # type: ignore[attr-defined]

        def read_sa(conn: Any) -> str:
            names = sa.inspect(conn).get_table_names(schema=schema)
            names = [n for n in names if index_internals or n not in FTS5_INTERNALS]
            md = sa.MetaData(schema=schema)
            return "\n".join(
                repr(conn.execute(sa.select(sa.Table(n, md, autoload_with=conn))).all()) for n in sorted(names)
            )

        return store._read(read_sa)  # type: ignore[attr-defined,no-any-return]
    d = store.dialect  # type: ignore[attr-defined]

    def read_sql(conn: Any) -> str:
        if d.name == "sqlite":
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        else:
            schema = d.table_prefix.rstrip(".").strip('"')
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
                ).fetchall()
            ]
        assert "mastra_messages" in names
        names = [n for n in names if index_internals or n not in FTS5_INTERNALS]
        return "\n".join(repr(conn.execute(f'SELECT * FROM {d.table_prefix}"{n}"').fetchall()) for n in sorted(names))

    return store._read_with(read_sql)  # type: ignore[attr-defined,no-any-return]


def populate(store: MemoryStorage, tag: str, resource_scope_om: bool = True) -> str:
    """Threads, messages, working memory and observational memory of resource ``<tag>-user``,
    every row carrying ``tag`` somewhere."""
    rid = f"{tag}-user"
    store.save_thread(Thread(id=f"{tag}-t1", resource_id=rid, title=f"about {tag}"))
    store.save_thread(Thread(id=f"{tag}-t2", resource_id=rid, metadata={"note": tag}))
    saved = store.save_messages(
        [Message.user(f"hello {tag} {i}", f"{tag}-t1", id=f"{tag}-m{i}") for i in range(3)]
        + [Message.assistant(f"reply {tag}", f"{tag}-t2", id=f"{tag}-m9")]
    )
    store.update_resource(rid, working_memory=f"# {tag} likes tea", metadata={"who": tag})
    if store.supports_observational_memory:
        refs = [MessageRef(m.id, m.thread_id, m.created_at) for m in saved if m.thread_id == f"{tag}-t1"]
        commit = ObservationCommit(
            scope="thread", thread_id=f"{tag}-t1", resource_id=rid, observations=f"* 🔴 {tag} said hello", messages=refs
        )
        assert store.commit_observations(commit).committed
        if resource_scope_om:
            commit = ObservationCommit(
                scope="resource", thread_id=None, resource_id=rid, observations=f"* 🔴 {tag} again", messages=refs
            )
            assert store.commit_observations(commit).committed
    return rid


def test_delete_resource_leaves_no_row_of_it_and_touches_no_other(store: MemoryStorage) -> None:
    gone, kept = f"gone{uuid.uuid4().hex[:8]}", f"kept{uuid.uuid4().hex[:8]}"
    gone_rid = populate(store, gone, resource_scope_om=False)
    kept_rid = populate(store, kept)
    kept_before = dump(store, index_internals=False).count(kept)
    # A clone of the erased user's thread in the other resource, and a clone of that clone.
    memory = Memory(storage=store)
    memory.clone_thread(f"{gone}-t1", new_thread_id="clone-a", resource_id=kept_rid)
    memory.clone_thread("clone-a", new_thread_id="clone-b")
    assert gone in dump(store)

    counts = store.delete_resource(gone_rid)

    assert counts == {"threads": 2, "clones": 2, "resources": 1}
    raw = dump(store)
    assert gone not in raw
    assert "clone-a" not in raw and "clone-b" not in raw
    assert dump(store, index_internals=False).count(kept) == kept_before
    assert len(store.list_threads(kept_rid).threads) == 2
    found = {h.message_id for h in store.search_messages(f"hello {kept}", resource_id=kept_rid, limit=10)}
    assert {f"{kept}-m0", f"{kept}-m1", f"{kept}-m2"} <= found
    assert store.list_messages([f"{kept}-t1", f"{kept}-t2"], per_page=False).total == 4
    resource = store.get_resource_by_id(kept_rid)
    assert resource is not None and resource.working_memory == f"# {kept} likes tea"
    if store.supports_observational_memory:
        assert store.get_observational_memory(f"{kept}-t1", kept_rid) is not None
        assert store.get_observational_memory(None, kept_rid) is not None
    # Idempotent: a second call finds nothing and changes nothing.
    assert store.delete_resource(gone_rid) == {"threads": 0, "clones": 0, "resources": 0}
    assert dump(store, index_internals=False).count(kept) == kept_before


def test_delete_resource_rejects_a_bad_id_and_changes_nothing(store: MemoryStorage) -> None:
    populate(store, "solo")
    before = dump(store)
    with pytest.raises(ValidationError):
        store.delete_resource("")
    with pytest.raises(ValidationError):
        store.delete_resource(42)  # type: ignore[arg-type]
    assert dump(store) == before


def test_prune_messages_deletes_only_old_ones_oldest_first_in_batches(store: MemoryStorage) -> None:
    store.save_thread(Thread(id="t", resource_id="r"))
    old = [Message.user(f"old {i}", "t", id=f"old{i}", created_at=OLD + timedelta(minutes=i)) for i in range(5)]
    store.save_messages([*old, Message.user("new", "t", id="new")])
    cutoff = datetime.now(UTC) - timedelta(days=1)
    assert store.prune_messages(cutoff, limit=2) == ["old0", "old1"]
    assert store.prune_messages(cutoff, limit=2) == ["old2", "old3"]
    assert store.prune_messages(cutoff, limit=2) == ["old4"]
    assert store.prune_messages(cutoff, limit=2) == []
    assert [m.id for m in store.list_messages("t", per_page=False).messages] == ["new"]
    with pytest.raises(ValidationError):
        store.prune_messages(datetime(2024, 1, 1), limit=2)  # naive
    with pytest.raises(ValidationError):
        store.prune_messages(cutoff, limit=0)


def test_prune_threads_deletes_stale_threads_with_their_messages(store: MemoryStorage) -> None:
    store.save_thread(Thread(id="fresh", resource_id="r"))
    store.save_messages([Message.user("hi", "fresh", id="f1")])
    for i in range(3):
        store.save_thread(Thread(id=f"stale{i}", resource_id="r", created_at=OLD, updated_at=OLD + timedelta(hours=i)))
    store.save_messages([Message.user("old", "stale0", id="s1", created_at=OLD)])
    store.save_thread(Thread(id="stale0", resource_id="r", created_at=OLD, updated_at=OLD))  # saving bumped it
    cutoff = datetime.now(UTC) - timedelta(days=1)
    assert store.prune_threads(cutoff, limit=2) == ["stale0", "stale1"]
    assert store.prune_threads(cutoff, limit=2) == ["stale2"]
    assert store.prune_threads(cutoff, limit=2) == []
    assert [t.id for t in store.list_threads("r").threads] == ["fresh"]
    assert store.list_messages_by_id(["s1", "f1"])[0].id == "f1"
    assert len(store.list_messages_by_id(["s1", "f1"])) == 1


def test_prune_resources_deletes_stale_rows_only(store: MemoryStorage) -> None:
    store.save_thread(Thread(id="t", resource_id="old-r"))
    store.save_resource(Resource(id="old-r", working_memory="stale", created_at=OLD, updated_at=OLD))
    store.update_resource("new-r", working_memory="fresh")
    store.save_thread(Thread(id="u", resource_id="new-r"))
    cutoff = datetime.now(UTC) - timedelta(days=1)
    assert store.prune_resources(cutoff) == ["old-r"]
    assert store.get_resource_by_id("old-r") is None
    assert store.get_resource_by_id("new-r") is not None
    assert store.get_thread_by_id("t") is not None  # threads have their own retention


def test_prune_observational_memory_history_keeps_every_head(store: MemoryStorage) -> None:
    if not store.supports_observational_memory:
        assert store.prune_observational_memory_history(datetime.now(UTC)) == 0
        return
    populate(store, "om")
    head = store.get_observational_memory("om-t1", "om-user")
    assert head is not None
    done = store.commit_reflection(
        "thread", "om-t1", "om-user", head.generation_count, head.active_observations, "* 🔴 reflected"
    )
    assert done.committed
    assert len(store.get_observational_memory_history("om-t1", "om-user")) == 2
    assert store.prune_observational_memory_history(datetime.now(UTC) - timedelta(days=1)) == 0  # too young
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert store.prune_observational_memory_history(future) == 1
    assert store.prune_observational_memory_history(future) == 0
    history = store.get_observational_memory_history("om-t1", "om-user")
    assert [r.generation_count for r in history] == [1]
    assert store.get_observational_memory(None, "om-user") is not None  # a lone head stays


def test_prune_observational_memory_history_honours_the_batch_limit(store: MemoryStorage) -> None:
    if not store.supports_observational_memory:
        return
    populate(store, "om")
    for scope, tid in (("thread", "om-t1"), ("resource", None)):
        for n in range(2):  # two reflections: generations 0, 1, 2
            head = store.get_observational_memory(tid, "om-user")
            assert head is not None
            text = f"* 🔴 reflected {n}"
            assert store.commit_reflection(
                scope, tid, "om-user", head.generation_count, head.active_observations, text
            ).committed
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert [store.prune_observational_memory_history(future, limit=3) for _ in range(3)] == [3, 1, 0]
    for tid in ("om-t1", None):
        assert [r.generation_count for r in store.get_observational_memory_history(tid, "om-user")] == [2]
        head = store.get_observational_memory(tid, "om-user")
        assert head is not None and head.active_observations == "* 🔴 reflected 1"
