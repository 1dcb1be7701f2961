"""Semantic recall through Memory on real stores, with the deterministic hashing embedder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mastra_memory import Memory, Message, ValidationError
from mastra_memory.embedders import EmbeddingCache, resolve_embedder
from mastra_memory.semantic_recall import chunk_text, format_other_threads
from mastra_memory.storage.vector import DimensionMismatchError, VectorStore
from mastra_memory.testing import HashingEmbedder
from storage_adapters.inmemory import InMemoryStore, InMemoryVector
from storage_adapters.libsql import LibSQLStore, LibSQLVector

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

Backend = Callable[[], tuple[Any, VectorStore]]


@pytest.fixture(params=["inmemory", "libsql", "pgvector", "mongodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Any, unique: str) -> Iterator[Backend]:
    made: list[Any] = []

    def make() -> tuple[Any, VectorStore]:
        kind = request.param
        if kind == "inmemory":
            pair: tuple[Any, VectorStore] = (InMemoryStore(), InMemoryVector())
        elif kind == "libsql":
            url = f"file:{tmp_path / 'sr.db'}"
            pair = (LibSQLStore(url), LibSQLVector(url))
        elif kind == "pgvector":
            url = request.getfixturevalue("pg_url")
            from storage_adapters.pg import PgVector, PostgresStore

            pair = (PostgresStore(url, schema_name=f"sr_{unique}"), PgVector(url, schema_name=f"sr_{unique}"))
        else:
            url = request.getfixturevalue("mongo_url")
            from storage_adapters.mongodb import MongoDBStore, MongoDBVector

            pair = (MongoDBStore(url, db_name=f"sr_{unique}"), MongoDBVector(url, db_name=f"sr_{unique}"))
        made.append(pair)
        return pair

    yield make
    for store, vec in made:
        if request.param == "pgvector":
            import psycopg

            with psycopg.connect(os.environ["MASTRA_TEST_PG_URL"], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "sr_{unique}" CASCADE')
        if request.param == "mongodb":
            vec._client.drop_database(f"sr_{unique}")  # type: ignore[attr-defined]
        vec.close()
        store.close()


def _memory(backend: Backend, embedder: Any = None, **sr: Any) -> Memory:
    store, vec = backend()
    options: dict[str, Any] = {"last_messages": 2, "semantic_recall": {"top_k": 2, "message_range": 1, **sr}}
    return Memory(storage=store, vector=vec, embedder=embedder or HashingEmbedder(64), options=options)


def _conversation(memory: Memory, thread_id: str, resource_id: str, texts: list[str], start: datetime) -> list[Message]:
    memory.create_thread(resource_id, thread_id=thread_id, title=thread_id, metadata={"topic": thread_id})
    msgs = [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            thread_id=thread_id,
            content=t,
            created_at=start + timedelta(minutes=i),
        )
        for i, t in enumerate(texts)
    ]
    return memory.save_messages(msgs)


PETS = [
    "hi there",
    "hello, how can I help?",
    "my dog is called Biscuit and loves the beach",
    "Biscuit sounds lovely",
    "thanks, bye",
]
WORK = [
    "let us talk about the budget spreadsheet",
    "sure, which quarter?",
    "the third quarter numbers look wrong",
    "I will double check the formulas",
    "great",
]


def test_recall_finds_other_thread_with_neighbours(backend: Backend) -> None:
    memory = _memory(backend, context_messages=0)
    pets = _conversation(memory, "pets", "ana", PETS, T0)
    _conversation(memory, "work", "ana", WORK, T0 + timedelta(days=1))
    _conversation(memory, "other-user", "bob", ["my dog Biscuit loves the beach too"], T0)
    result = memory.recall("work", resource_id="ana", vector_search_string="what is my dog called? beach")
    hit_ids = [h.message_id for h in result.semantic_hits]
    assert hit_ids[0] == pets[2].id
    ids = [m.id for m in result.messages]
    # the hit with one neighbour on each side, plus the last 2 messages of the current thread
    assert {pets[1].id, pets[2].id, pets[3].id} <= set(ids)
    assert ids[-2:] == [m.id for m in memory.list_messages("work", per_page=2).messages]
    assert all(m.resource_id == "ana" for m in result.messages)  # never another resource's data
    keys = [(m.created_at, m.id) for m in result.messages]
    assert keys == sorted(keys) and len(set(ids)) == len(ids)
    assert result.semantic_hits[0].score >= result.semantic_hits[-1].score


def test_thread_scope_top_k_and_threshold(backend: Backend) -> None:
    memory = _memory(backend, scope="thread", top_k=1, message_range=0)
    _conversation(memory, "pets", "ana", PETS, T0)
    work = _conversation(memory, "work", "ana", WORK, T0 + timedelta(days=1))
    result = memory.recall(
        "work", resource_id="ana", vector_search_string="dog Biscuit beach quarter numbers", per_page=0
    )
    assert [m.id for m in result.messages] == [work[2].id]  # only this thread, top_k = 1
    strict = memory.recall(
        "work",
        vector_search_string="dog Biscuit beach",
        per_page=0,
        memory_options={"semantic_recall": {"scope": "thread", "threshold": 0.9}},
    )
    assert strict.messages == [] and strict.semantic_hits == []


def test_vectors_follow_messages_and_threads(backend: Backend) -> None:
    memory = _memory(backend)
    pets = _conversation(memory, "pets", "ana", PETS, T0)
    _conversation(memory, "work", "ana", WORK, T0 + timedelta(days=1))
    vec = memory.vector
    name = memory._semantic.index_name(memory.config.semantic_recall)  # type: ignore[union-attr]
    assert name == "memory_messages_64"
    assert vec.describe_index(name).count == 10
    memory.delete_messages([pets[2].id])
    assert vec.describe_index(name).count == 9
    hits = memory.recall("pets", vector_search_string="dog called Biscuit beach", per_page=0).semantic_hits
    assert pets[2].id not in {h.message_id for h in hits}
    memory.delete_thread("work")
    assert vec.describe_index(name).count == 4
    assert vec.query(name, [1.0] + [0.0] * 63, top_k=20, filter={"thread_id": "work"}) == []


def test_system_messages_skipped_and_never_embedded_twice(backend: Backend) -> None:
    embedder = HashingEmbedder(64)
    cached = resolve_embedder(embedder, cache=EmbeddingCache())
    memory = _memory(backend, embedder=cached, context_messages=0)
    memory.create_thread("ana", thread_id="t")
    msgs = [
        Message(role="system", thread_id="t", content="you are a bot"),
        Message(role="user", thread_id="t", content="first words", created_at=T0),
        Message(role="assistant", thread_id="t", content="second words", created_at=T0 + timedelta(seconds=1)),
    ]
    stored = memory.save_messages(msgs)
    assert len(stored) == 2 and embedder.texts_embedded == 2
    memory.save_messages(stored)  # the same messages again: upsert, no new embedding
    assert embedder.texts_embedded == 2
    name = memory._semantic.index_name(memory.config.semantic_recall)  # type: ignore[union-attr]
    assert memory.vector.describe_index(name).count == 2


def test_long_messages_are_chunked(backend: Backend) -> None:
    memory = _memory(backend, chunk_chars=200, message_range=0)
    memory.create_thread("ana", thread_id="t")
    filler = " ".join(f"filler{i}" for i in range(120))
    long = memory.save_messages([Message(role="user", thread_id="t", content=filler + " volcano eruption lava")])[0]
    name = memory._semantic.index_name(memory.config.semantic_recall)  # type: ignore[union-attr]
    stats = memory.vector.describe_index(name)
    assert stats.count == len(chunk_text(long.text, 200)) > 1
    result = memory.recall("t", vector_search_string="volcano eruption lava", per_page=0)
    assert [m.id for m in result.messages] == [long.id] and len(result.semantic_hits) == 1
    # editing the message down to one chunk removes the stale chunks
    memory.save_messages(
        [
            long.model_copy(
                update={
                    "content": long.content.model_copy(
                        update={"parts": [p.model_copy(update={"text": "short now"}) for p in long.content.parts]}
                    )
                }
            )
        ]
    )
    assert memory.vector.describe_index(name).count == 1


def test_hybrid_finds_stemmed_keyword_matches(backend: Backend) -> None:
    # Fillers share words with the query; the answer shares only stems ("hiked"/"hiking").
    # The hashing embedder scores every one of these texts alike against the query (0.31), so the
    # dense ranking falls back to the id order; fixed ids (the answer's sorting last) keep that
    # deterministic. With random UUIDs the answer came first 1 time in 21: a flaky test.
    texts = [f"we go to note {i} again" for i in range(20)] + ["we hiked up the volcano yesterday"]
    dense = _memory(backend, embedder=HashingEmbedder(1024), top_k=1, message_range=0, context_messages=0, hybrid=False)
    dense.create_thread("ana", thread_id="t")
    dense.save_messages(
        [
            Message(id=f"m{i:02d}", role="user", thread_id="t", content=t, created_at=T0 + timedelta(minutes=i))
            for i, t in enumerate(texts)
        ]
    )
    query = "when did we go hiking on volcanoes"
    dense_hit = dense.recall("t", vector_search_string=query, per_page=0).semantic_hits
    hybrid_hit = dense.recall(
        "t",
        vector_search_string=query,
        per_page=0,
        memory_options={"semantic_recall": {"top_k": 1, "message_range": 0, "hybrid": True, "context_messages": 0}},
    ).semantic_hits
    target = dense.list_messages("t", per_page=1).messages[-1].id
    assert hybrid_hit[0].message_id == target, (hybrid_hit, dense_hit, target)
    assert 0.0 <= hybrid_hit[0].score <= 1.0
    assert dense_hit[0].message_id != target


def test_hybrid_keyword_index_sees_other_writers(tmp_path: Any) -> None:
    url = f"file:{tmp_path / 'shared.db'}"
    options = {"semantic_recall": {"top_k": 1, "message_range": 0, "hybrid": True}}
    a = Memory(storage=LibSQLStore(url), vector=LibSQLVector(url), embedder=HashingEmbedder(32), options=options)
    b = Memory(storage=LibSQLStore(url), vector=LibSQLVector(url), embedder=HashingEmbedder(32), options=options)
    _conversation(a, "t", "ana", ["the weather is fine", "lunch was good"], T0)
    assert a.recall("t", vector_search_string="zeppelin", per_page=0).semantic_hits[0].score >= 0
    later = T0 + timedelta(hours=1)
    b.save_messages([Message(role="user", thread_id="t", content="we saw a zeppelin", created_at=later)])
    hit = a.recall("t", vector_search_string="zeppelin", per_page=0).semantic_hits[0]
    assert a.list_messages("t", per_page=1).messages[-1].id == hit.message_id
    a.close()
    b.close()


def test_context_messages_make_short_replies_findable(tmp_path: Any) -> None:
    store, vec = InMemoryStore(), InMemoryVector()
    memory = Memory(
        storage=store,
        vector=vec,
        embedder=HashingEmbedder(128),
        options={"semantic_recall": {"top_k": 1, "message_range": 0, "context_messages": 1}},
    )
    msgs = _conversation(memory, "t", "ana", ["where did you travel in spring", "Lisbon", "ok", "something else"], T0)
    hit = memory.recall("t", vector_search_string="travel spring", per_page=0).semantic_hits
    assert hit[0].message_id in {msgs[0].id, msgs[1].id}
    plain = Memory(
        storage=InMemoryStore(),
        vector=InMemoryVector(),
        embedder=HashingEmbedder(128),
        options={"semantic_recall": {"top_k": 3, "message_range": 0, "context_messages": 0}},
    )
    others = _conversation(plain, "t", "ana", ["where did you travel in spring", "Lisbon", "ok", "something else"], T0)
    assert others[1].id not in {
        h.message_id for h in plain.recall("t", vector_search_string="travel spring", per_page=0).semantic_hits[:1]
    }


def test_filter_on_thread_metadata(backend: Backend) -> None:
    memory = _memory(backend, message_range=0, top_k=5)
    _conversation(memory, "pets", "ana", PETS, T0)
    _conversation(memory, "work", "ana", WORK, T0 + timedelta(days=1))
    result = memory.recall(
        "pets",
        vector_search_string="dog budget quarter",
        per_page=0,
        memory_options={"semantic_recall": {"top_k": 5, "message_range": 0, "filter": {"topic": "work"}}},
    )
    assert result.semantic_hits and {m.thread_id for m in result.messages} == {"work"}


def test_dimension_mismatch_is_a_clear_error(backend: Backend) -> None:
    store, vec = backend()
    fixed = {"semantic_recall": {"index_name": "memory_messages_custom"}}
    first = Memory(storage=store, vector=vec, embedder=HashingEmbedder(64), options=fixed)
    _conversation(first, "t", "ana", ["hello world"], T0)
    second = Memory(storage=store, vector=vec, embedder=HashingEmbedder(32), options=fixed)
    with pytest.raises(DimensionMismatchError):
        second.save_messages([Message(role="user", thread_id="t", content="again", created_at=T0 + timedelta(hours=1))])
    # the default index name carries the dimension, so switching embedders just uses a new index
    third = Memory(storage=store, vector=vec, embedder=HashingEmbedder(32), options={"semantic_recall": True})
    _conversation(third, "t2", "ana", ["hello again"], T0)
    assert "memory_messages_32" in vec.list_indexes()
    vec.delete_index("memory_messages_custom")


def test_prepare_turn_merges_history_and_other_threads(backend: Backend) -> None:
    memory = _memory(backend, context_messages=0)
    pets = _conversation(memory, "pets", "ana", PETS, T0)
    _conversation(memory, "work", "ana", WORK, T0 + timedelta(days=1))
    question = Message(role="user", thread_id="work", content="remind me, what is my dog called? beach")
    ctx = memory.prepare_turn("work", "ana", [question])
    assert all(m.thread_id == "work" for m in ctx.history)
    block = ctx.system_messages[-1]
    assert "<remembered_from_other_conversation>" in block and "Biscuit" in block
    assert pets[2].text in block
    stored = memory.finish_turn(ctx, [question, Message(role="assistant", thread_id="work", content="Biscuit!")])
    assert len(stored) == 2


def test_resource_scope_needs_a_resource() -> None:
    memory = Memory(
        storage=InMemoryStore(), vector=InMemoryVector(), embedder=HashingEmbedder(), options={"semantic_recall": True}
    )
    with pytest.raises(ValidationError):
        memory.recall("no-such-thread", vector_search_string="anything")
    with pytest.raises(Exception, match="vector"):
        Memory(storage=InMemoryStore(), options={"semantic_recall": True})


def test_format_other_threads_escapes_and_groups_by_day() -> None:
    msgs = [
        Message(role="user", thread_id="a", content="x < y & z", created_at=datetime(2025, 5, 8, 13, 56, tzinfo=UTC)),
        Message(role="assistant", thread_id="a", content="ok", created_at=datetime(2025, 5, 9, 9, 5, tzinfo=UTC)),
    ]
    text = format_other_threads(list(reversed(msgs)))
    lines = text.splitlines()
    assert lines[1] == "<remembered_from_other_conversation>" and lines[-1] == "</remembered_from_other_conversation>"
    assert "the following messages are from 2025, May, 8" in lines[2]
    assert lines[3] == "Message from previous conversation at 1:56 PM: User: x &lt; y &amp; z"
    assert "2025, May, 9" in lines[4] and lines[5].endswith("Assistant: ok")


def test_chunk_text() -> None:
    assert chunk_text("", 10) == []
    assert chunk_text("a b c", 10) == ["a b c"]
    pieces = chunk_text("aaaa bbbb cccc dddd " + "x" * 25, 10)
    assert all(len(p) <= 10 for p in pieces) and "".join(pieces).replace(" ", "") == "aaaabbbbccccdddd" + "x" * 25


def test_recall_boosts_the_period_the_query_names(backend: Backend) -> None:
    # Two hikes in two threads; the June one matches the query's words better, the May one was
    # written in the month the query names.
    memory = _memory(backend, embedder=HashingEmbedder(256), top_k=2, message_range=0, context_messages=0)
    may = _conversation(
        memory, "may", "ana", ["hiked the ridge trail with Bo", "nice"], datetime(2025, 5, 10, tzinfo=UTC)
    )
    june = _conversation(
        memory,
        "june",
        "ana",
        ["hiked the ridge trail with Al and the ridge hike", "wow"],
        datetime(2025, 6, 20, tzinfo=UTC),
    )
    query = "which ridge trail hike did we do in May 2025?"

    def hits(**sr: Any) -> dict[str, float]:
        options = {"semantic_recall": {"top_k": 2, "message_range": 0, "context_messages": 0, **sr}}
        result = memory.recall("may", resource_id="ana", vector_search_string=query, per_page=0, memory_options=options)
        assert len(result.semantic_hits) == 2
        return {h.message_id: h.score for h in result.semantic_hits}

    plain = hits(date_boost=0)
    assert list(plain) == [june[0].id, may[0].id]
    boosted = hits()  # the default boost, 0.5, is added to the May message only
    assert boosted[may[0].id] == pytest.approx(plain[may[0].id] + 0.5)
    assert boosted[june[0].id] == pytest.approx(plain[june[0].id])
    assert list(hits(date_boost=1.0)) == [may[0].id, june[0].id]
    # the same query without its date: no boost
    undated = memory.recall(
        "may", resource_id="ana", vector_search_string="which ridge trail hike did we do?", per_page=0
    )
    assert undated.semantic_hits[0].message_id == june[0].id
    assert all(h.score <= 1.0 for h in undated.semantic_hits)
    # a candidate only the keyword search found (its vectors gone): its time is read from storage
    assert memory._semantic is not None
    memory._semantic.delete_messages([may[0].id])
    keyword_only = hits(date_boost=0)
    assert may[0].id in keyword_only
    assert hits()[may[0].id] == pytest.approx(keyword_only[may[0].id] + 0.5)


def test_recall_spreads_hits_over_threads(backend: Backend) -> None:
    memory = _memory(backend, embedder=HashingEmbedder(256), top_k=2, message_range=0, context_messages=0)
    _conversation(
        memory,
        "a",
        "ana",
        ["the zeppelin flew over the zeppelin hangar", "a zeppelin and the hangar again", "zeppelin zeppelin hangar"],
        T0,
    )
    _conversation(memory, "b", "ana", ["once I saw a zeppelin"], T0 + timedelta(days=1))
    query = "zeppelin hangar"

    def top(diversity: float) -> list[str]:
        options = {"semantic_recall": {"top_k": 2, "message_range": 0, "context_messages": 0}}
        options["semantic_recall"]["thread_diversity"] = diversity
        hits = memory.recall("a", resource_id="ana", vector_search_string=query, per_page=0, memory_options=options)
        return [h.thread_id for h in hits.semantic_hits]

    assert top(0.0) == ["a", "a"]
    assert top(1.0) == ["a", "b"]  # the weaker hit of another thread beats a's second
