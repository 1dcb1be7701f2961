"""Keyword search in the database: conformance on every backend of the one factory list, the
migration that fills the index for existing databases, rows written by other programs (Mastra's
TypeScript packages write the same tables), and a second process seeing a save at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.text_search import bm25_rank, query_words, tokenize
from mastra_memory.testing.keyword_conformance import KeywordSearchConformance
from mastra_memory.types import Message, Thread
from storage_adapters import _sql
from tests.servers import FACTORIES, PG, drop_pg_schema, unique, url_or_skip

ROOT = Path(__file__).resolve().parents[1]


# backends whose index holds each message's context (SQL triggers, the in-memory index); the
# others (MongoDB, the Python fallback of Redis, DynamoDB, MariaDB) index a message's own words
CONTEXT_BACKENDS = [
    k for k in FACTORIES if k.startswith(("inmemory", "libsql", "postgres", "sqlalchemy-s", "sqlalchemy-p"))
]


class TestKeywordSearch(KeywordSearchConformance):
    @pytest.fixture(params=list(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            yield store


@pytest.mark.parametrize("kind", CONTEXT_BACKENDS)
def test_replies_are_found_by_what_they_answer_and_deletes_leave_no_words(kind: str, tmp_path: Path) -> None:
    """The index holds each message's own words and, at half weight, its predecessor's (as the
    dense index embeds the previous message); deleting a message refreshes its successor."""
    with FACTORIES[kind](tmp_path) as store:
        store.save_thread(Thread(id="t", resource_id="ana"))
        base = datetime(2025, 1, 1, tzinfo=UTC)
        store.save_messages(
            [
                Message.user("which city did you move to?", "t", id="q", created_at=base),
                Message.assistant("Lisbon, in March", "t", id="a", created_at=base + timedelta(seconds=1)),
                Message.user("the secret word is marzipan", "t", id="s", created_at=base + timedelta(seconds=2)),
                Message.assistant("noted", "t", id="n", created_at=base + timedelta(seconds=3)),
            ]
        )
        hits = store.search_messages("move city", resource_id="ana")
        assert [h.message_id for h in hits] == ["q", "a"]  # own words outrank context words
        assert [h.message_id for h in store.search_messages("marzipan", resource_id="ana")] == ["s", "n"]
        store.delete_messages(["s"])
        assert store.search_messages("marzipan", resource_id="ana") == []
        store.save_messages(
            [Message.user("the word is now nougat", "t", id="s2", created_at=base + timedelta(seconds=2))]
        )
        assert [h.message_id for h in store.search_messages("nougat", resource_id="ana")] == ["s2", "n"]


def test_query_words_and_tokens() -> None:
    assert query_words("What did Amelie's sister do in May 2023?") == ["amelie", "sister", "may", "2023"]
    assert query_words("the of and") == []
    assert tokenize("Hiking hikes") == ["hike", "hike"]
    assert tokenize("Wanderungen", "german") == ["wander"]
    assert len(query_words(" ".join(f"w{i}" for i in range(200)))) == 64


def test_bm25_rank_prefers_rare_terms_and_short_documents() -> None:
    docs = [("a", "t", ["cat", "dog"]), ("b", "t", ["cat", "zebra"]), ("c", "t", ["cat"] + ["x"] * 20)]
    ranked = bm25_rank(["zebra", "cat"], docs, n_docs=10, avg_len=5.0, limit=3)
    assert [r[0] for r in ranked] == ["b", "a", "c"]


def _old_libsql(url: str) -> Any:
    from storage_adapters.libsql import LibSQLStore

    class Before(LibSQLStore):  # the schema as released before migration 11
        def migrations(self) -> list[_sql.Migration]:
            return _sql.sqlite_migrations(self.dialect)

    return Before(url)


def _fill(store: MemoryStorage) -> None:
    store.save_thread(Thread(id="t", resource_id="ana"))
    store.save_messages([Message.user("my parrot is called Pistachio", "t", id="m1")])


def test_libsql_migration_fills_the_index_for_existing_databases(tmp_path: Path) -> None:
    from storage_adapters.libsql import LibSQLStore

    url = f"file:{tmp_path / 'old.db'}"
    with _old_libsql(url) as old:
        _fill(old)
    with LibSQLStore(url) as store:
        assert [h.message_id for h in store.search_messages("pistachio", resource_id="ana")] == ["m1"]


@pytest.mark.parametrize("driver", ["libsql", "sqlite3"])
def test_libsql_migration_13_rekeys_an_index_made_by_migration_11(driver: str, tmp_path: Path) -> None:
    """A database indexed by migration 11 (an id-map table, FTS5 rowids from it) is re-keyed by
    migration 13: the id-map table is gone, every message is found under its own rowid with its
    context, and the new triggers keep saves, edits and deletes visible at once."""
    from storage_adapters.libsql import LibSQLStore

    class Before(LibSQLStore):  # the schema as released with migration 12 (index built at setup)
        def migrations(self) -> list[_sql.Migration]:
            return [*_sql.sqlite_migrations(self.dialect), _sql.sqlite_text_search_migration(self.dialect)]

    url = f"file:{tmp_path / 'v12.db'}"
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with Before(url, driver=driver) as old:  # type: ignore[arg-type]
        old.save_thread(Thread(id="t", resource_id="ana"))
        old.save_messages(
            [
                Message.user("which city did you move to?", "t", id="q", created_at=base),
                Message.assistant("Lisbon, in March", "t", id="a", created_at=base + timedelta(seconds=1)),
                Message.user("my parrot is called Pistachio", "t", id="p", created_at=base + timedelta(seconds=2)),
            ]
        )
        old.delete_messages(["q"])  # docids and message rowids now differ
        old.save_messages([Message.user("which city did you move to?", "t", id="q", created_at=base)])
        tables = old._read_with(lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master").fetchall()])
        assert _sql.SEARCH_IDS in tables
    with LibSQLStore(url, driver=driver) as store:  # type: ignore[arg-type]
        tables = store._read_with(lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master").fetchall()])
        assert _sql.SEARCH_IDS not in tables
        assert [h.message_id for h in store.search_messages("pistachio", resource_id="ana")] == ["p"]
        assert [h.message_id for h in store.search_messages("move city", resource_id="ana")] == ["q", "a"]
        store.save_messages([Message.user("edited: a quokka", "t", id="p", created_at=base + timedelta(seconds=2))])
        assert store.search_messages("pistachio", resource_id="ana") == []
        assert [h.message_id for h in store.search_messages("quokka", resource_id="ana")] == ["p"]
        store.delete_messages(["a"])
        assert [h.message_id for h in store.search_messages("lisbon", resource_id="ana")] == []
        assert [h.message_id for h in store.search_messages("move", resource_id="ana")] == ["q", "p"]
        count = store._read_with(lambda c: c.execute("SELECT count(*) FROM mm_message_search").fetchone()[0])
        assert count == 2


LIBSQL_KINDS = [k for k in FACTORIES if k.startswith("libsql")]


def _has_index(store: Any) -> bool:
    query = _sql.sqlite_keyword_index_exists_sql(_sql.SQLITE)
    return bool(store._read_with(lambda c: c.execute(query).fetchall()))


@pytest.mark.parametrize("kind", LIBSQL_KINDS)
def test_libsql_builds_the_index_on_first_use(kind: str, tmp_path: Path) -> None:
    """A new libSQL database has no keyword index, so its saves write none; the first search
    builds it from every stored message, and from then on the triggers keep it."""
    with FACTORIES[kind](tmp_path) as store:
        store.save_thread(Thread(id="t", resource_id="ana"))
        store.save_messages([Message.user("my parrot is called Pistachio", "t", id="m1")])
        assert not _has_index(store)
        assert [h.message_id for h in store.search_messages("pistachio", resource_id="ana")] == ["m1"]
        assert _has_index(store)
        assert store.ensure_keyword_index() is False
        store.save_messages([Message.user("a second parrot, Mango", "t", id="m2")])
        assert [h.message_id for h in store.search_messages("mango", resource_id="ana")] == ["m2"]


def test_sqlalchemy_on_a_file_libsql_set_up_builds_what_libsql_left_for_later(tmp_path: Path) -> None:
    """libSQL records the keyword and retention migrations without building their indexes; a
    SQLAlchemy SQLite store opened on that file builds them at setup, so its search finds the
    messages libSQL stored, and both stores keep the index from then on."""
    from storage_adapters.libsql import LibSQLStore
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    path = tmp_path / "shared.db"
    with LibSQLStore(f"file:{path}") as first:
        first.save_thread(Thread(id="t", resource_id="ana"))
        first.save_messages([Message.user("my parrot is called Pistachio", "t", id="m1")])
        assert not _has_index(first)
    second = SQLAlchemyStore(f"sqlite:///{path}")
    try:
        assert [h.message_id for h in second.search_messages("pistachio", resource_id="ana")] == ["m1"]
        second.save_messages([Message.user("a second parrot, Mango", "t", id="m2")])
        assert [h.message_id for h in second.search_messages("mango", resource_id="ana")] == ["m2"]
    finally:
        second.close()
    with LibSQLStore(f"file:{path}") as again:
        assert _has_index(again)
        again.save_messages([Message.user("and a cat, Fig", "t", id="m3")])
        assert [h.message_id for h in again.search_messages("fig", resource_id="ana")] == ["m3"]
        names = {r[0] for r in again._read_with(lambda c: c.execute("SELECT name FROM sqlite_master").fetchall())}
        assert {spec.name for spec in _sql.RETENTION_INDEXES} <= names


def test_libsql_read_only_search_builds_nothing(tmp_path: Path) -> None:
    """A store opened with ``connect(create=False)`` (the CLI's read commands) searches a
    database without the index with BM25 in Python and leaves the file as it was."""
    from storage_adapters.libsql import LibSQLStore

    url = f"file:{tmp_path / 'ro.db'}"
    with LibSQLStore(url) as store:
        _fill(store)
    before = (tmp_path / "ro.db").read_bytes()
    reader = LibSQLStore(url)
    reader.connect(create=False)
    try:
        assert [h.message_id for h in reader.search_messages("pistachio", resource_id="ana")] == ["m1"]
        assert not _has_index(reader)
    finally:
        reader.close()
    assert (tmp_path / "ro.db").read_bytes() == before


def test_libsql_concurrent_builders_build_once(tmp_path: Path) -> None:
    """Processes that need the index at the same moment: exactly one builds it, every message is
    indexed once."""
    from storage_adapters.libsql import LibSQLStore

    url = f"file:{tmp_path / 'race.db'}"
    with LibSQLStore(url) as store:
        store.save_thread(Thread(id="t", resource_id="ana"))
        store.save_messages([Message.user(f"word{i} pistachio", "t", id=f"m{i}") for i in range(200)])
    code = textwrap.dedent(
        f"""
        import sys
        from storage_adapters.libsql import LibSQLStore
        with LibSQLStore({url!r}) as s:
            sys.stdout.write(str(s.ensure_keyword_index()))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    results = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(results) == ["False", "False", "False", "True"]
    with LibSQLStore(url) as store:
        count = store._read_with(lambda c: c.execute("SELECT count(*) FROM mm_message_search").fetchone()[0])
        assert count == 200
        assert len(store.search_messages("pistachio", resource_id="ana", limit=1000)) == 200


def test_libsql_vacuum_keeps_the_index_keys(tmp_path: Path) -> None:
    """The FTS5 rowid is the message's rowid; ``VACUUM`` keeps the rowids of a table with an
    index (``mastra_messages`` has its primary key's), so hits still name the right messages
    after deletes left gaps and the file was vacuumed."""
    from storage_adapters.libsql import LibSQLStore

    path = tmp_path / "vac.db"
    with LibSQLStore(f"file:{path}") as store:
        store.save_thread(Thread(id="t", resource_id="ana"))
        base = datetime(2025, 1, 1, tzinfo=UTC)
        words = ["apple", "banana", "cherry", "damson", "elder", "fig"] * 20
        store.save_messages(
            [
                Message.user(f"{w} number {i}", "t", id=f"m{i:03d}", created_at=base + timedelta(seconds=i))
                for i, w in enumerate(words)
            ]
        )
        store.delete_messages([f"m{i:03d}" for i in range(0, 120, 3)])
        before = [(h.message_id, round(h.score, 9)) for h in store.search_messages("fig", resource_id="ana", limit=50)]
        assert {"m005", "m011"} <= {i for i, _ in before}
        store._read_with(lambda c: c.execute("VACUUM"))
        after = [(h.message_id, round(h.score, 9)) for h in store.search_messages("fig", resource_id="ana", limit=50)]
        assert after == before


def test_postgres_migration_fills_the_index_for_existing_databases() -> None:
    url = url_or_skip(PG)
    from storage_adapters.pg import PostgresStore

    class Before(PostgresStore):
        def migrations(self) -> list[_sql.Migration]:
            return _sql.postgres_migrations(self.dialect)

    schema = unique("mmkw")
    try:
        with Before(url, schema_name=schema) as old:
            _fill(old)
        with PostgresStore(url, schema_name=schema) as store:
            assert [h.message_id for h in store.search_messages("pistachio", resource_id="ana")] == ["m1"]
    finally:
        drop_pg_schema(url, schema)


def test_mongodb_fills_the_index_for_existing_databases() -> None:
    url = url_or_skip("MASTRA_TEST_MONGODB_URL")
    from storage_adapters.mongodb import MongoDBStore

    db = unique("mmkw")
    store = MongoDBStore(url=url, db_name=db)
    try:
        _fill(store)
        store._db["mm_message_terms"].delete_many({})  # as written before keyword search existed
        store._db["mastra_memory_migrations"].delete_many({})
        fresh = MongoDBStore(url=url, db_name=db)
        assert [h.message_id for h in fresh.search_messages("pistachio", resource_id="ana")] == ["m1"]
        fresh.close()
    finally:
        store.drop_database()
        store.close()


_FOREIGN_CONTENT = '{"format":2,"parts":[{"type":"text","text":"the kayak rental closes at noon"}],"content":"x"}'


def test_libsql_rows_written_by_other_programs_are_indexed_and_cleaned(tmp_path: Path) -> None:
    """A row inserted and deleted with plain SQL (as @mastra/libsql does) is searchable at once
    and leaves the index when deleted: the triggers keep it, not our code."""
    import libsql

    from storage_adapters.libsql import LibSQLStore

    path = tmp_path / "shared.db"
    with LibSQLStore(f"file:{path}") as store:
        store.save_thread(Thread(id="t", resource_id="ana"))
        raw = libsql.connect(str(path), isolation_level=None)
        raw.execute(
            'INSERT INTO mastra_messages (id, thread_id, content, role, type, "createdAt", "resourceId") '
            "VALUES ('ts1', 't', ?, 'user', 'v2', '2025-01-01T00:00:00.000Z', 'ana')",
            (_FOREIGN_CONTENT,),
        )
        raw.execute(
            'INSERT INTO mastra_messages (id, thread_id, content, role, type, "createdAt", "resourceId") '
            "VALUES ('ts2', 't', 'plain text kayak', 'user', 'v2', '2025-01-01T00:00:01.000Z', 'ana')"
        )
        hits = store.search_messages("kayak", resource_id="ana")
        assert sorted(h.message_id for h in hits) == ["ts1", "ts2"]
        raw.execute("DELETE FROM mastra_messages WHERE id = 'ts1'")
        raw.close()
        assert [h.message_id for h in store.search_messages("kayak", resource_id="ana")] == ["ts2"]
        count = store._read_with(lambda c: c.execute("SELECT count(*) FROM mm_message_search").fetchone()[0])
        assert count == 1


def test_postgres_rows_written_by_other_programs_are_indexed_and_cleaned() -> None:
    url = url_or_skip(PG)
    import psycopg

    from storage_adapters.pg import PostgresStore

    schema = unique("mmkw")
    try:
        with PostgresStore(url, schema_name=schema) as store:
            store.save_thread(Thread(id="t", resource_id="ana"))
            with psycopg.connect(url, autocommit=True) as raw:
                raw.execute(
                    f'INSERT INTO "{schema}".mastra_messages (id, thread_id, content, role, type, "createdAt", '
                    "\"resourceId\") VALUES ('ts1', 't', %s, 'user', 'v2', now(), 'ana')",
                    (_FOREIGN_CONTENT,),
                )
                raw.execute(
                    f'INSERT INTO "{schema}".mastra_messages (id, thread_id, content, role, type, "createdAt", '
                    "\"resourceId\") VALUES ('ts2', 't', 'not json {', 'user', 'v2', now(), 'ana')"
                )
                assert store.search_messages("kayaks", resource_id="ana")[0].message_id == "ts1"
                assert [h.message_id for h in store.search_messages("json", resource_id="ana")] == ["ts2"]
                raw.execute(f'DELETE FROM "{schema}".mastra_messages WHERE id = %s', ("ts1",))
                assert store.search_messages("kayak", resource_id="ana") == []
                raw.execute(f'TRUNCATE "{schema}".mastra_messages')
                left = raw.execute(f'SELECT count(*) FROM "{schema}".mm_message_search').fetchone()
                assert left is not None and left[0] == 0
    finally:
        drop_pg_schema(url, schema)


# -- process A saves, process B's hybrid recall finds it at once ----------------------------------------

_WRITER = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from mastra_memory import Memory, Message
    from mastra_memory.storage import open_storage, open_vector
    from mastra_memory.testing import HashingEmbedder

    url, kwargs = sys.argv[1], json.loads(sys.argv[2])
    memory = Memory(storage=open_storage(url, **kwargs), vector=open_vector(url, **kwargs),
                    embedder=HashingEmbedder(64), options={"semantic_recall": {"top_k": 3}})
    memory.save_messages([Message(id="rare", role="user", thread_id="t2", content="I adopted an axolotl named Pickle",
                                  created_at=datetime(2026, 2, 1, tzinfo=UTC))])
    memory.close()
    print("saved")
    """
)


@contextmanager
def _backend(kind: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database URL and the store/vector options that isolate this test in it."""
    if kind == "libsql":
        yield f"file:{tmp_path / 'mp.db'}", {}
    elif kind == "postgres":
        url = url_or_skip(PG)
        schema = unique("mmmp")
        try:
            yield url, {"schema_name": schema}
        finally:
            drop_pg_schema(url, schema)
    else:
        import pymongo

        url = url_or_skip("MASTRA_TEST_MONGODB_URL")
        db = unique("mmmp")
        try:
            yield url, {"db_name": db}
        finally:
            client: Any = pymongo.MongoClient(url)
            client.drop_database(db)
            client.close()


@pytest.mark.parametrize("kind", ["libsql", "postgres", "mongodb"])
def test_process_a_saves_process_b_hybrid_recall_finds_it(kind: str, tmp_path: Path) -> None:
    from mastra_memory import Memory
    from mastra_memory.storage import open_storage, open_vector
    from mastra_memory.testing import HashingEmbedder

    with _backend(kind, tmp_path) as (url, kwargs):
        memory = Memory(
            storage=open_storage(url, **kwargs),
            vector=open_vector(url, **kwargs),
            embedder=HashingEmbedder(64),
            options={"semantic_recall": {"top_k": 3, "message_range": 0}},
        )
        try:
            memory.create_thread("ana", thread_id="t1")
            memory.create_thread("ana", thread_id="t2")
            memory.save_messages([Message.user(f"note {i} about the garden", "t1") for i in range(12)])
            query = "what is my axolotl called?"
            before = memory.recall("t1", resource_id="ana", vector_search_string=query, per_page=0)
            assert "rare" not in {h.message_id for h in before.semantic_hits}
            done = subprocess.run(
                [sys.executable, "-c", _WRITER, url, json.dumps(kwargs)],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0 and "saved" in done.stdout, done.stderr
            after = memory.recall("t1", resource_id="ana", vector_search_string=query, per_page=0)
            assert after.semantic_hits[0].message_id == "rare", after.semantic_hits
            assert memory.storage.search_messages("axolotl", resource_id="ana")[0].message_id == "rare"
        finally:
            memory.close()


# -- the query's commonest words (issue 11: latency at 100,000 messages) ---------------------------


def test_select_terms_keeps_the_rarest_words_within_the_budget() -> None:
    from mastra_memory.storage.text_search import select_terms

    assert select_terms([("a", 10), ("b", 5000), ("c", None), ("d", 0), ("e", 300)], 400) == ["a", "c", "e"]
    assert select_terms([("x", 9000), ("y", 5000)], 400) == ["y"]  # the rarest is always kept
    assert select_terms([("d", 0)], 400) == []  # matches nothing


def _common_and_rare(store: MemoryStorage) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    store.save_thread(Thread(id="t", resource_id="ana"))
    store.save_messages(
        [
            Message.user(f"common filler number {i}", "t", id=f"c{i:02d}", created_at=base + timedelta(seconds=i))
            for i in range(60)
        ]
        + [
            Message.user("a rare zanzibar common", "t", id="r1", created_at=base + timedelta(seconds=100)),
            Message.user("zanzibar trip", "t", id="r2", created_at=base + timedelta(seconds=101)),
        ]
    )


def test_libsql_leaves_out_common_words_and_ranks_only_the_newest_for_a_common_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage_adapters.libsql.store as libsql_store
    from storage_adapters.libsql import LibSQLStore

    with LibSQLStore(f"file:{tmp_path / 'kw.db'}") as store:
        _common_and_rare(store)
        full = store.search_messages("common zanzibar", resource_id="ana")
        assert {h.message_id for h in full[:2]} == {"r1", "r2"} and len(full) == 50  # bm25: rare first
        monkeypatch.setattr(libsql_store, "MATCH_BUDGET", 20)
        hits = store.search_messages("common zanzibar", resource_id="ana")
        assert [h.message_id for h in hits] == ["r1", "r2"] or [h.message_id for h in hits] == ["r2", "r1"]
        only_common = store.search_messages("common", resource_id="ana", limit=100)
        # FTS5 docids follow insertion: the 20 newest documents holding "common" are ranked (r2
        # holds it as context: the message before it)
        assert {h.message_id for h in only_common} == {f"c{i:02d}" for i in range(42, 60)} | {"r1", "r2"}


def test_postgres_ranks_by_idf_and_leaves_out_common_words(monkeypatch: pytest.MonkeyPatch) -> None:
    url = url_or_skip(PG)
    import psycopg

    import storage_adapters.pg.store as pg_store
    from storage_adapters.pg import PostgresStore

    schema = unique("mmidf")
    try:
        with PostgresStore(url, schema_name=schema) as store:
            _common_and_rare(store)
            before = store.search_messages("common zanzibar", resource_id="ana")  # no statistics yet
            assert {h.message_id for h in before} >= {"r1", "r2"}
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'ANALYZE "{schema}".mm_message_search')
            store._term_stats_cache = None
            hits = store.search_messages("common zanzibar", resource_id="ana")
            assert {h.message_id for h in hits[:2]} == {"r1", "r2"} and len(hits) == 50  # idf: rare first
            monkeypatch.setattr(pg_store, "MATCH_BUDGET", 20)
            hits = store.search_messages("common zanzibar", resource_id="ana")
            assert {h.message_id for h in hits} == {"r1", "r2"}  # "common" (62 documents) left out
    finally:
        drop_pg_schema(url, schema)
