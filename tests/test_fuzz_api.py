"""Property-based suite over every public method of Memory, KVMemory and the stores (issue 12).

Each example calls one public method with arguments drawn from a mix of valid values and
hostile ones (wrong types, NUL bytes, lone surrogates, 10,000-level nesting, 2**70 integers,
huge pages, ids of another resource, lists of pairs for dicts). The properties:

* every error is one of the documented tree (:class:`~mastra_memory.errors.MastraMemoryError`)
  and never a ``StorageError`` (all input here is local: a storage error is a defect);
* a refused call changes no row: the tables are snapshotted before and after (raw SQL rows on
  the libSQL file, every thread, message, resource and key of the store elsewhere);
* an accepted write reads back unchanged (a NUL byte must not truncate anything).

The profile (``HYPOTHESIS_PROFILE=mastra-ci``, the default here) runs at least 5,000 examples in
total (``MASTRA_FUZZ_SCALE`` multiplies them) and prints the tally of refusals by error type.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mastra_memory import KVMemory, Memory, Message  # noqa: E402
from mastra_memory.errors import MastraMemoryError, StorageError  # noqa: E402
from mastra_memory.storage.base import MemoryStorage  # noqa: E402
from mastra_memory.types import IncludeSpec, MessageContent, Resource, TextPart, Thread  # noqa: E402
from tests.servers import FACTORIES  # noqa: E402

settings.register_profile(
    "mastra-ci",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mastra-ci"))

SCALE = float(os.environ.get("MASTRA_FUZZ_SCALE", "1"))
EXAMPLES = {  # per backend; 5,200 in total at scale 1 (about 2 minutes on 2 busy cores)
    "inmemory": 2400,
    "libsql-file": 1600,
    "postgres": 400,
    "mongodb": 300,
    "sqlalchemy-sqlite": 300,
    "redis": 200,
}
READ_ONLY = {
    "memory.get_thread_by_id",
    "memory.list_threads",
    "memory.recall",
    "memory.list_messages",
    "memory.clone_queries",
    "store.list_messages",
    "store.list_messages_by_resource_id",
    "store.list_messages_by_id",
    "store.list_message_refs",
    "kv.namespace",
}
"""Calls that write nothing: not snapshotted (the remote backends' snapshots cost most of the time)."""
TALLY: Counter[str] = Counter()
"""Outcomes of every example, by backend and error type (printed at the end of the module)."""

RESOURCES = ["r1", "r2"]
THREADS = ["t1", "t2", "t-other"]  # t-other belongs to r2
MESSAGE_IDS = ["m1", "m2", "m3", "m-other"]
KEYS = ["k1", "k2", "a/b"]


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


_SPECIAL_TEXT = [
    "",
    " ",
    " lead",
    "a\x00b",
    "\x00",
    "\ud800",
    "a\udfffb",
    "x" * 300,
    "tab\there",
    "\x7f",
    "日本語",
    "emoji 🎉",
    "'; DROP TABLE mastra_threads; --",
    "%s %(x)s ?",
]
texts = st.one_of(st.sampled_from(_SPECIAL_TEXT), st.text(max_size=12))
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_like = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=8,
)
deep = st.sampled_from([50, 99, 100, 101, 255, 300, 10_000]).map(_nested)
hostile = st.one_of(
    json_like,
    deep,
    st.binary(max_size=4),
    st.just([("a", 1)]),
    st.just({1: "int key"}),
    st.just(object()),
    st.just({"set": {1, 2}}),
    st.just(1.5),
)
any_value = st.one_of(json_like, hostile)
ids = st.one_of(st.sampled_from(THREADS + RESOURCES + MESSAGE_IDS), texts, st.none(), st.integers(), st.just(["t1"]))
# valid ids three times as often as hostile ones, so accepted calls (and their read-back) are common
thread_ids = st.one_of(st.sampled_from(THREADS), st.sampled_from(THREADS), st.sampled_from(THREADS), ids)
resource_ids = st.one_of(st.sampled_from(RESOURCES), st.sampled_from(RESOURCES), st.sampled_from(RESOURCES), ids)
message_ids = st.one_of(st.sampled_from(MESSAGE_IDS), st.sampled_from(MESSAGE_IDS), ids)
pages = st.one_of(
    st.integers(min_value=0, max_value=3),
    st.sampled_from([-1, 2**31, 2**40, 2**63, 2**70, True, False, None, 1.5, "1"]),
)
metadata = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["a", "b", "workingMemory"]), json_like, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(st.integers(-5, 5), st.text(max_size=5)), max_size=2),
    hostile,
)
titles = st.one_of(st.none(), st.text(max_size=12), texts, st.integers(), st.just(["t"]))
directions = st.sampled_from(["ASC", "DESC", "asc", "sideways", None, 1])
when = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)), st.just("2024-01-01"), st.just(5))


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """A message (or a hostile non-message) for save_messages."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(hostile)
    tid = draw(st.sampled_from(THREADS)) if kind < 8 else draw(thread_ids)
    content: Any
    shape = draw(st.integers(0, 11))
    if shape in (0, 5, 6, 7, 8, 9, 10):
        content = draw(st.one_of(texts, st.text(min_size=1, max_size=20)))
    elif shape == 1:
        content = MessageContent(parts=[TextPart(text=draw(texts))], metadata={"m": draw(any_value)})
    elif shape == 2:
        content = {
            "format": 2,
            "parts": [
                {
                    "type": "tool-invocation",
                    "toolInvocation": {
                        "state": "result",
                        "toolCallId": "c1",
                        "toolName": "f",
                        "args": draw(any_value),
                        "result": draw(json_like),
                    },
                }
            ],
        }
    elif shape == 3:
        content = {"format": 2, "parts": [{"type": "data-x", "data": draw(any_value)}]}
    else:
        content = "y" * draw(st.sampled_from([10, 5 * 1024 * 1024]))
    try:
        return Message(
            id=draw(st.sampled_from([*MESSAGE_IDS, "m4", "m5"])),  # a bounded pool keeps snapshots small
            thread_id=tid,
            resource_id=draw(st.one_of(st.none(), st.sampled_from(RESOURCES))),
            role=draw(st.sampled_from(["user", "assistant", "tool", "system"])),
            content=content,
        )
    except Exception:  # the model refused it (pydantic): hand the raw shape to the API instead
        return {"thread_id": tid, "content": content}


@dataclass
class Env:
    """The objects under test and how to snapshot their data."""

    name: str
    store: MemoryStorage
    memory: Memory
    kv: KVMemory
    snapshot: Callable[[], Any]
    calls: Counter[str] = field(default_factory=Counter)


def _api_snapshot(store: MemoryStorage) -> Any:
    """Every thread, message, resource and key-value entry, read through the store."""
    threads = store.list_threads(per_page=False, order_by="created_at", direction="ASC").threads
    msgs = {}
    for t in threads:
        msgs[t.id] = [m.model_dump() for m in store.list_messages(t.id, per_page=False).messages]
    resources = {}
    for rid in RESOURCES:
        r = store.get_resource_by_id(rid)
        resources[rid] = r.model_dump() if r else None
    kv = {}
    for ns in ("fuzz",):
        page = store.kv_list_keys(ns, limit=1000)
        kv[ns] = {k: store.kv_get(ns, k) for k in page.keys}
    return [t.model_dump() for t in threads], msgs, resources, kv


def _sqlite_snapshot(path: Path) -> Callable[[], Any]:
    """Raw rows of every table of the libSQL file (a second, read-only connection)."""

    from storage_adapters.libsql.store import _sqlite3_module

    module = _sqlite3_module()  # the store's SQLite: two SQLite libraries must not share a file in one process

    def snap() -> Any:
        conn = module.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {n: sorted(map(repr, conn.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}
        finally:
            conn.close()

    return snap


def _seed(store: MemoryStorage) -> None:
    for tid, rid in (("t1", "r1"), ("t2", "r1"), ("t-other", "r2")):
        if store.get_thread_by_id(tid) is None:
            store.create_thread(Thread(id=tid, resource_id=rid, title="seed"))
    if not store.list_messages("t-other", per_page=1).messages:
        store.save_messages([Message.user("other's secret", "t-other", id="m-other")])


@pytest.fixture(scope="module", params=list(EXAMPLES))
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    with FACTORIES[name](tmp) as store:
        memory = Memory(storage=store, options={"working_memory": {"enabled": True, "scope": "resource"}})
        kv = KVMemory("fuzz", storage=store)
        snapshot = _sqlite_snapshot(tmp / "conformance.db") if name == "libsql-file" else lambda: _api_snapshot(store)
        _seed(store)
        yield Env(name, store, memory, kv, snapshot)


# -- the operations: name -> (draw arguments, call, check the result of an accepted call) ------

Op = Callable[[Env, st.DataObject], tuple[Callable[[], Any], Callable[[Any], None] | None]]
OPS: dict[str, Op] = {}


def op(name: str) -> Callable[[Op], Op]:
    def register(fn: Op) -> Op:
        OPS[name] = fn
        return fn

    return register


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON (tuples are lists; -0.0 == 0.0; floats compared exactly)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and float in (type(a), type(b)):
        # a JSON number: PostgreSQL's jsonb reads 2.9224353152298644e+16 back as the integer
        # 29224353152298644 (it keeps numbers as numeric), the same JSON value
        return not isinstance(a, bool) and not isinstance(b, bool) and math.isfinite(a) and a == b
    return bool(a == b and type(a) is type(b)) or (isinstance(a, int) and isinstance(b, int) and a == b)


def _drop_new(e: Env, thread_id: str) -> None:
    """Delete a thread an accepted call created outside the seeded ones (keeps snapshots small)."""
    if thread_id not in THREADS:
        e.store.delete_thread(thread_id)


@op("memory.create_thread")
def _(e: Env, d: st.DataObject) -> Any:
    rid, tid, title, meta = (
        d.draw(resource_ids),
        d.draw(st.one_of(st.none(), thread_ids)),
        d.draw(titles),
        d.draw(metadata),
    )

    def check(t: Thread) -> None:
        stored = e.store.get_thread_by_id(t.id)
        assert stored is not None and stored.title == (title or "") and _same_json(stored.metadata, meta or {})
        e.memory.delete_thread(t.id) if t.id not in THREADS else None

    return lambda: e.memory.create_thread(rid, tid, title, meta), check


@op("memory.get_or_create_thread")
def _(e: Env, d: st.DataObject) -> Any:
    tid, rid, title, meta = d.draw(thread_ids), d.draw(resource_ids), d.draw(titles), d.draw(metadata)
    return lambda: e.memory.get_or_create_thread(tid, rid, title, meta), lambda r: _drop_new(e, r[0].id)


@op("memory.get_thread_by_id")
def _(e: Env, d: st.DataObject) -> Any:
    tid, rid = d.draw(thread_ids), d.draw(st.one_of(st.none(), resource_ids))
    return lambda: e.memory.get_thread_by_id(tid, rid), None


@op("memory.update_thread")
def _(e: Env, d: st.DataObject) -> Any:
    tid, title, meta = d.draw(thread_ids), d.draw(titles), d.draw(metadata)

    def check(t: Thread) -> None:
        stored = e.store.get_thread_by_id(t.id)
        assert stored is not None
        if title is not None:
            assert stored.title == title, (stored.title, title)
        for k, v in (meta or {}).items():
            assert _same_json(stored.metadata[k], v), (stored.metadata[k], v)

    return lambda: e.memory.update_thread(tid, title, meta), check


@op("memory.list_threads")
def _(e: Env, d: st.DataObject) -> Any:
    rid, meta, page, per_page = (
        d.draw(st.one_of(st.none(), resource_ids)),
        d.draw(metadata),
        d.draw(pages),
        d.draw(pages),
    )
    order, direction = d.draw(st.sampled_from(["created_at", "updated_at", "title", None])), d.draw(directions)
    return lambda: e.memory.list_threads(rid, meta, page, per_page, order, direction), None


@op("memory.delete_thread")
def _(e: Env, d: st.DataObject) -> Any:
    tid = d.draw(st.one_of(ids, st.just("t-new")))

    def call() -> None:
        e.memory.delete_thread(tid)
        _seed(e.store)  # keep the seeded threads for the next examples

    return call, None


@op("memory.save_messages")
def _(e: Env, d: st.DataObject) -> Any:
    batch = d.draw(st.one_of(st.lists(messages(), max_size=3), hostile, st.none()))

    def check(stored: list[Message]) -> None:
        for m in stored:
            back = e.store.list_messages_by_id([m.id])
            assert len(back) == 1 and back[0].content == m.content, (back, m)

    return lambda: e.memory.save_messages(batch), check


@op("memory.recall")
def _(e: Env, d: st.DataObject) -> Any:
    tid, rid, q, per_page, page = (
        d.draw(thread_ids),
        d.draw(st.one_of(st.none(), resource_ids)),
        d.draw(st.one_of(st.none(), texts)),
        d.draw(st.one_of(st.none(), pages)),
        d.draw(pages),
    )
    return lambda: e.memory.recall(tid, rid, q, per_page, page), None


@op("memory.list_messages")
def _(e: Env, d: st.DataObject) -> Any:
    tid, rid, per_page, page = (
        d.draw(thread_ids),
        d.draw(st.one_of(st.none(), resource_ids)),
        d.draw(pages),
        d.draw(pages),
    )
    direction, start, end = d.draw(directions), d.draw(when), d.draw(when)
    return lambda: e.memory.list_messages(tid, rid, per_page, page, direction, start, end), None


@op("memory.delete_messages")
def _(e: Env, d: st.DataObject) -> Any:
    batch = d.draw(
        st.one_of(
            st.lists(st.sampled_from(["m1", "m2", "m3", "nope"]), max_size=2),
            hostile,
            st.lists(message_ids, max_size=2),
        )
    )
    return lambda: e.memory.delete_messages(batch), None


@op("memory.clone_thread")
def _(e: Env, d: st.DataObject) -> Any:
    src, new = d.draw(thread_ids), d.draw(st.one_of(st.none(), thread_ids, st.just("t-clone")))
    rid, title, meta = d.draw(st.one_of(st.none(), resource_ids)), d.draw(titles), d.draw(metadata)
    limit = d.draw(st.one_of(st.none(), st.integers(-2, 3), st.just(True), st.just("2")))
    flt = d.draw(st.one_of(st.none(), st.just({"message_ids": ["m1"]}), st.just({"bogus": 1}), hostile))

    def check(result: Any) -> None:
        if result.thread.id not in THREADS:
            e.memory.delete_thread(result.thread.id)

    return lambda: e.memory.clone_thread(src, new, rid, title, meta, limit, flt), check


@op("memory.clone_queries")
def _(e: Env, d: st.DataObject) -> Any:
    tid, which = d.draw(thread_ids), d.draw(st.sampled_from(["source", "clones", "history"]))
    fn = {"source": e.memory.get_source_thread, "clones": e.memory.list_clones, "history": e.memory.get_clone_history}[
        which
    ]
    return lambda: fn(tid), None


@op("memory.working_memory")
def _(e: Env, d: st.DataObject) -> Any:
    rid, tid, text = (
        d.draw(st.one_of(st.none(), resource_ids)),
        d.draw(st.one_of(st.none(), thread_ids)),
        d.draw(st.one_of(texts, hostile)),
    )
    if d.draw(st.booleans()):
        return lambda: e.memory.get_working_memory(thread_id=tid, resource_id=rid), None

    def check(_: Any) -> None:
        if isinstance(rid, str) and isinstance(text, str):
            assert e.memory.get_working_memory(thread_id=tid, resource_id=rid) == text

    return lambda: e.memory.update_working_memory(tid, rid, text), check


@op("store.save_thread")
def _(e: Env, d: st.DataObject) -> Any:
    tid, rid, title, meta = d.draw(thread_ids), d.draw(resource_ids), d.draw(titles), d.draw(metadata)

    def call() -> Any:
        try:
            thread: Any = Thread(id=tid, resource_id=rid, title=title or "", metadata=meta or {})
        except Exception:  # the model refused it: the store must refuse the raw value too
            thread = {"id": tid, "resource_id": rid}
        return e.store.save_thread(thread)

    return call, lambda t: _drop_new(e, t.id)


@op("store.create_thread")
def _(e: Env, d: st.DataObject) -> Any:
    tid = d.draw(st.one_of(st.sampled_from(THREADS), st.just("t-new")))
    rid = d.draw(st.sampled_from(RESOURCES))

    def check(t: Thread) -> None:
        e.store.delete_thread(t.id)

    return lambda: e.store.create_thread(Thread(id=tid, resource_id=rid)), check


@op("store.list_messages")
def _(e: Env, d: st.DataObject) -> Any:
    tid = d.draw(st.one_of(thread_ids, st.lists(st.sampled_from(THREADS), max_size=3), st.just([])))
    rid = d.draw(st.one_of(st.none(), resource_ids))
    include = d.draw(
        st.one_of(
            st.none(),
            st.just([IncludeSpec(id="m1", with_previous_messages=2)]),
            st.just([{"id": 5}]),
            st.just([{"id": "m1", "with_next_messages": -1}]),
        )
    )
    per_page, page, direction, start, end = d.draw(pages), d.draw(pages), d.draw(directions), d.draw(when), d.draw(when)
    return lambda: e.store.list_messages(tid, rid, include, per_page, page, direction, start, end), None


@op("store.list_messages_by_resource_id")
def _(e: Env, d: st.DataObject) -> Any:
    rid, per_page, page, direction = d.draw(resource_ids), d.draw(pages), d.draw(pages), d.draw(directions)
    return lambda: e.store.list_messages_by_resource_id(rid, per_page, page, direction), None


@op("store.list_messages_by_id")
def _(e: Env, d: st.DataObject) -> Any:
    batch = d.draw(st.one_of(st.lists(message_ids, max_size=3), hostile, st.none()))
    return lambda: e.store.list_messages_by_id(batch), None


@op("store.resources")
def _(e: Env, d: st.DataObject) -> Any:
    rid, wm, meta = d.draw(resource_ids), d.draw(st.one_of(st.none(), texts, hostile)), d.draw(metadata)
    which = d.draw(st.sampled_from(["get", "update", "save"]))
    if which == "get":
        return lambda: e.store.get_resource_by_id(rid), None

    def check(r: Resource) -> None:
        stored = e.store.get_resource_by_id(r.id)
        assert stored is not None
        if wm is not None:
            assert stored.working_memory == wm, (stored.working_memory, wm)

    if which == "update":
        return lambda: e.store.update_resource(rid, wm, meta), check

    def save() -> Any:
        try:
            resource: Any = Resource(id=rid, working_memory=wm, metadata=meta or {})
        except Exception:
            resource = {"id": rid}
        return e.store.save_resource(resource)

    return save, check


@op("store.update_working_memory_atomic")
def _(e: Env, d: st.DataObject) -> Any:
    rid, tid, new = (
        d.draw(st.one_of(st.none(), resource_ids)),
        d.draw(st.one_of(st.none(), thread_ids)),
        d.draw(st.one_of(texts, hostile)),
    )
    return lambda: e.store.update_working_memory_atomic(lambda _cur: new, resource_id=rid, thread_id=tid), None


@op("store.list_message_refs")
def _(e: Env, d: st.DataObject) -> Any:
    tids = d.draw(st.one_of(st.none(), st.lists(thread_ids, max_size=2), hostile))
    rid, after, limit = d.draw(st.one_of(st.none(), resource_ids)), d.draw(when), d.draw(st.one_of(st.none(), pages))
    return lambda: e.store.list_message_refs(tids, rid, after, limit), None


@op("kv.write")
def _(e: Env, d: st.DataObject) -> Any:
    key, value, ttl = (
        d.draw(st.one_of(st.sampled_from(KEYS), texts, hostile)),
        d.draw(any_value),
        d.draw(st.one_of(st.none(), st.sampled_from([60, 0, -1, math.nan, 10**12, "5", True]))),
    )
    which = d.draw(st.sampled_from(["set", "increment", "cas"]))
    if which == "set":

        def check(_: Any) -> None:
            assert _same_json(e.kv.get(key), value), (e.kv.get(key), value)

        return lambda: e.kv.set(key, value, ttl), check
    if which == "increment":
        by = d.draw(st.one_of(st.integers(-5, 5), st.sampled_from([2**70, math.inf, "1", None, 0.5])))
        return lambda: e.kv.increment(key, by, ttl), None
    expected = d.draw(st.one_of(st.none(), json_like))
    return lambda: e.kv.compare_and_set(key, expected, value, ttl), None


@op("kv.read")
def _(e: Env, d: st.DataObject) -> Any:
    key = d.draw(st.one_of(st.sampled_from(KEYS), texts, hostile))
    which = d.draw(st.sampled_from(["get", "get_entry", "exists", "delete", "list_keys", "purge_expired", "clear"]))
    if which == "list_keys":
        return lambda: e.kv.list_keys(key if d.draw(st.booleans()) else None), None
    if which in ("purge_expired", "clear"):
        return getattr(e.kv, which), None
    return lambda: getattr(e.kv, which)(key), None


@op("kv.namespace")
def _(e: Env, d: st.DataObject) -> Any:
    ns = d.draw(st.one_of(texts, hostile))
    return lambda: KVMemory(ns, storage=e.store), None


OP_NAMES = sorted(OPS)


def test_public_api_fuzz(env: Env) -> None:
    """Every public call either succeeds (and a write reads back unchanged) or raises an error
    of the documented tree, never a storage error, and a refused call changes no row."""

    @settings(max_examples=max(1, int(EXAMPLES[env.name] * SCALE)))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(OP_NAMES), label="op")
        call, check = OPS[name](env, data)
        TALLY[f"{env.name}:{name}"] += 1
        before = None if name in READ_ONLY else env.snapshot()
        try:
            result = call()
        except MastraMemoryError as exc:
            assert not isinstance(exc, StorageError), f"{name}: storage error for local input: {exc!r}"
            TALLY[f"refused:{type(exc).__name__}"] += 1
            if before is not None:
                assert env.snapshot() == before, f"{name} raised {exc!r} but changed rows"
            return
        except Exception as exc:
            raise AssertionError(f"{name} raised {type(exc).__name__} outside the error tree: {exc!r}") from exc
        TALLY["accepted"] += 1
        if check is not None:
            check(result)

    run()
    TALLY["examples"] += max(1, int(EXAMPLES[env.name] * SCALE))


def test_zz_fuzz_tally(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the numbers of the run (examples, refusals by error type); runs after the fuzzing."""
    summary = {k: v for k, v in sorted(TALLY.items()) if ":" not in k or k.startswith("refused:")}
    with capsys.disabled():
        print(f"\n[fuzz] {summary}")
    if TALLY["examples"]:
        assert TALLY["accepted"] > 0 and sum(v for k, v in TALLY.items() if k.startswith("refused:")) > 0
