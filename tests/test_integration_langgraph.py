"""MastraStore against the real langgraph package: BaseStore semantics on real stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph.store.base", reason="needs the [langgraph] extra")

from langgraph.store.base import BaseStore, InvalidNamespaceError

from mastra_memory.errors import ConfigurationError, ValidationError
from mastra_memory.integrations.langgraph import MastraStore
from mastra_memory.testing import HashingEmbedder
from storage_adapters.libsql import LibSQLStore, LibSQLVector
from tests.servers import FACTORIES

BACKENDS = ["inmemory", "libsql-file", "postgres", "mongodb"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MastraStore]:
    with FACTORIES[request.param](tmp_path) as storage:
        yield MastraStore(storage)


@pytest.fixture
def semantic(tmp_path: Path) -> Iterator[MastraStore]:
    db = f"file:{tmp_path}/lg.db"
    with LibSQLStore(db) as storage, LibSQLVector(db) as vector:
        yield MastraStore(storage, vector=vector, embedder=HashingEmbedder(64))


def test_is_a_langgraph_base_store_with_put_get_delete(store: MastraStore) -> None:
    assert isinstance(store, BaseStore)
    store.put(("users", "ana"), "prefs", {"food": "pizza", "n": 1})
    item = store.get(("users", "ana"), "prefs")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (("users", "ana"), "prefs", {"food": "pizza", "n": 1})
    created = item.created_at
    store.put(("users", "ana"), "prefs", {"food": "sushi"})
    again = store.get(("users", "ana"), "prefs")
    assert again is not None and again.value == {"food": "sushi"}
    assert again.created_at == created and again.updated_at >= item.updated_at
    assert store.get(("users",), "prefs") is None  # another namespace
    store.delete(("users", "ana"), "prefs")
    assert store.get(("users", "ana"), "prefs") is None


def test_keys_and_labels_with_slashes_and_dots_stay_apart(store: MastraStore) -> None:
    store.put(("a", "b/c"), "k", {"v": 1})
    store.put(("a", "b", "c"), "k", {"v": 2})
    store.put(("a",), "b/c//k", {"v": 3})
    store.put(("a",), "..", {"v": 4})
    assert store.get(("a", "b/c"), "k").value == {"v": 1}  # type: ignore[union-attr]
    assert store.get(("a", "b", "c"), "k").value == {"v": 2}  # type: ignore[union-attr]
    assert store.get(("a",), "b/c//k").value == {"v": 3}  # type: ignore[union-attr]
    assert store.get(("a",), "..").value == {"v": 4}  # type: ignore[union-attr]
    assert sorted(i.key for i in store.search(("a",), limit=10)) == ["..", "b/c//k", "k", "k"]
    assert [i.value for i in store.search(("a", "b"), limit=10)] == [{"v": 2}]


def test_search_by_namespace_prefix_filter_limit_offset(store: MastraStore) -> None:
    for i in range(7):
        store.put(("docs", "ana"), f"d{i}", {"kind": "note" if i % 2 else "todo", "rank": i})
    store.put(("docs", "bob"), "d0", {"kind": "note", "rank": 9})
    store.put(("documents",), "x", {"kind": "note", "rank": 0})  # a prefix of the label, not of the path
    assert len(store.search(("docs",), limit=100)) == 8
    notes = store.search(("docs", "ana"), filter={"kind": "note"}, limit=100)
    assert sorted(i.value["rank"] for i in notes) == [1, 3, 5]
    ranked = store.search(("docs",), filter={"rank": {"$gte": 5}}, limit=100)
    assert sorted(i.value["rank"] for i in ranked) == [5, 6, 9]
    page1 = store.search(("docs", "ana"), limit=3)
    page2 = store.search(("docs", "ana"), limit=3, offset=3)
    assert len(page1) == 3 and len(page2) == 3 and not {i.key for i in page1} & {i.key for i in page2}


def test_list_namespaces_with_prefix_suffix_and_depth(store: MastraStore) -> None:
    for ns in [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x", "1")]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x", "1")]
    assert store.list_namespaces(prefix=("a",)) == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2")]
    assert store.list_namespaces(suffix=("1",), prefix=("a", "*")) == [("a", "x", "1"), ("a", "y", "1")]
    assert store.list_namespaces(max_depth=2) == [("a", "x"), ("a", "y"), ("b", "x")]
    assert store.list_namespaces(limit=1, offset=1) == [("a", "y", "1")]


def test_ttl_expires_items_and_reads_refresh_it(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/ttl.db") as storage:
        store = MastraStore(storage)
        store.put(("s",), "short", {"v": 1}, ttl=0.02)  # 1.2 s
        store.put(("s",), "kept", {"v": 2}, ttl=0.02)
        store.put(("s",), "forever", {"v": 3})
        time.sleep(0.8)
        assert store.get(("s",), "kept") is not None  # refreshes "kept" for another 1.2 s
        time.sleep(0.7)
        assert store.get(("s",), "short", refresh_ttl=False) is None
        assert store.get(("s",), "kept", refresh_ttl=False) is not None
        assert [i.key for i in store.search(("s",), limit=10, refresh_ttl=False)] == ["forever", "kept"]
        time.sleep(1.3)
        assert store.get(("s",), "kept") is None
        assert store.list_namespaces() == [("s",)]


def test_semantic_search_through_the_vector_seam(semantic: MastraStore) -> None:
    semantic.put(("mem", "ana"), "1", {"text": "Ana loves spicy food and pizza"})
    semantic.put(("mem", "ana"), "2", {"text": "Ana works as a nurse in Porto"})
    semantic.put(("mem", "bob"), "1", {"text": "Bob loves pizza too"})
    semantic.put(("mem", "ana"), "3", {"text": "pizza pizza pizza"}, index=False)
    hits = semantic.search(("mem", "ana"), query="pizza food", limit=5)
    assert [h.key for h in hits][:1] == ["1"] and {h.namespace for h in hits} == {("mem", "ana")}
    assert "3" not in {h.key for h in hits}  # not indexed
    assert hits[0].score is not None and hits[0].score > (hits[1].score if len(hits) > 1 else -1)
    # a re-put replaces the item's vectors; a delete removes them
    semantic.put(("mem", "ana"), "1", {"text": "Ana moved to Lisbon"})
    assert [h.key for h in semantic.search(("mem", "ana"), query="Lisbon", limit=1)] == ["1"]
    semantic.delete(("mem", "ana"), "1")
    assert "1" not in {h.key for h in semantic.search(("mem", "ana"), query="Lisbon", limit=5)}
    # per-field indexing and a value filter on the hits
    semantic.put(("mem", "bob"), "2", {"title": "cats", "body": "dogs"}, index=["title"])
    assert [h.key for h in semantic.search(("mem", "bob"), query="cats", limit=1)] == ["2"]
    assert semantic.search(("mem", "bob"), query="pizza", filter={"title": "cats"}, limit=5)[0].key == "2"


def test_bad_input_is_refused_and_changes_nothing(store: MastraStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"v": 1})
    with pytest.raises(ValidationError):
        store.put(("a",), "k", {"v": float("nan")})
    with pytest.raises(ValidationError):
        store.put(("a",), "k", {"v": object()})
    with pytest.raises(ValidationError):
        store.put(("a",), "k" * 600, {"v": 1})
    with pytest.raises(ValidationError):
        store.search(("a",), filter={"v": {"$regex": "x"}})
    assert store.list_namespaces() == [] and store.search(("a",)) == []
    with pytest.raises(ConfigurationError):
        MastraStore(store.storage, embedder=HashingEmbedder(8))


def test_async_methods(semantic: MastraStore) -> None:
    async def run() -> None:
        await semantic.aput(("x",), "k", {"text": "hello async world"})
        item = await semantic.aget(("x",), "k")
        assert item is not None and item.value == {"text": "hello async world"}
        hits = await semantic.asearch(("x",), query="async", limit=1)
        assert [h.key for h in hits] == ["k"]
        assert await semantic.alist_namespaces() == [("x",)]
        await semantic.adelete(("x",), "k")
        assert await semantic.aget(("x",), "k") is None

    asyncio.run(run())


def test_a_langgraph_graph_uses_the_store(tmp_path: Path) -> None:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        user: str
        visits: int

    def count_visit(state: State, *, store: BaseStore) -> dict[str, int]:
        item = store.get(("visits",), state["user"])
        visits = (item.value["n"] if item else 0) + 1
        store.put(("visits",), state["user"], {"n": visits})
        return {"visits": visits}

    builder = StateGraph(State)
    builder.add_node("count", count_visit)
    builder.add_edge(START, "count")
    builder.add_edge("count", END)
    db = f"file:{tmp_path}/graph.db"
    with LibSQLStore(db) as storage:
        graph = builder.compile(store=MastraStore(storage))
        assert graph.invoke({"user": "ana", "visits": 0})["visits"] == 1
        assert graph.invoke({"user": "ana", "visits": 0})["visits"] == 2
    with LibSQLStore(db) as storage:  # survives a restart
        graph = builder.compile(store=MastraStore(storage))
        assert graph.invoke({"user": "ana", "visits": 0})["visits"] == 3
