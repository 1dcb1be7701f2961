"""Key-value memory on real stores: the shared conformance suite plus libSQL specifics
(migration, persistence across processes, concurrent increments from several processes)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.testing.kv_conformance import KeyValueConformance
from mastra_memory.types import Message, Resource, Thread
from storage_adapters.base import MemoryStorage
from storage_adapters.inmemory import InMemoryStore
from storage_adapters.libsql import LibSQLStore


def _inmemory(tmp_path: Path) -> MemoryStorage:
    return InMemoryStore()


def _libsql_file(tmp_path: Path) -> MemoryStorage:
    return LibSQLStore(f"file:{tmp_path}/kv.db")


def _libsql_memory(tmp_path: Path) -> MemoryStorage:
    return LibSQLStore(":memory:")


FACTORIES: dict[str, Callable[[Path], MemoryStorage]] = {
    "inmemory": _inmemory,
    "libsql-file": _libsql_file,
    "libsql-memory": _libsql_memory,
}


class TestKeyValueConformance(KeyValueConformance):
    @pytest.fixture(params=sorted(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            yield store


# -- libSQL specifics --------------------------------------------------------------------------


def test_migration_4_creates_the_table_and_indexes(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/m.db") as store:
        conn = store._conn()
        rows = conn.execute("SELECT version FROM mastra_memory_migrations ORDER BY version").fetchall()
        versions = [r[0] for r in rows]
        assert 4 in versions
        cols = [r[1] for r in conn.execute("PRAGMA table_info(mastra_kv)").fetchall()]
        assert cols == ["namespace", "key", "value", "expiresAt", "createdAt", "updatedAt"]
        info = conn.execute("PRAGMA table_info(mastra_kv)").fetchall()
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        assert pk == ["namespace", "key"]
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(mastra_kv)").fetchall()}
        assert "mm_kv_expires" in indexes


def test_values_are_stored_as_json_text(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/t.db") as store:
        store.kv_set("ns", "k", {"a": [1, 2.0, True, None]}, ttl=60)
        row = store._conn().execute('SELECT value, "expiresAt", "createdAt" FROM mastra_kv').fetchone()
        assert row[0] == '{"a":[1,2.0,true,null]}'
        assert row[1].endswith("Z") and row[2].endswith("Z")
        assert datetime.fromisoformat(row[1].replace("Z", "+00:00")) > datetime.fromisoformat(
            row[2].replace("Z", "+00:00")
        )


def test_lazy_purge_deletes_the_expired_row(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/p.db") as store:
        store.kv_set("ns", "k", 1, ttl=0.05)
        import time

        time.sleep(0.1)
        assert store.kv_get("ns", "k") is None
        assert store._conn().execute("SELECT count(*) FROM mastra_kv").fetchone()[0] == 0


def test_other_tables_are_untouched_by_clear(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/c.db") as store:
        store.save_thread(Thread(id="t1", resource_id="r1"))
        store.save_messages([Message.user("hi", thread_id="t1")])
        store.save_resource(Resource(id="r1"))
        store.kv_set("t1", "k", 1)
        store.kv_clear("t1")
        assert store.get_thread_by_id("t1") is not None
        assert store.list_messages("t1").total == 1


def _write_in_child(url: str) -> None:
    with LibSQLStore(url) as store:
        store.kv_set("shared", "from-child", {"pid": 1, "pi": 3.14})


def test_a_second_process_sees_the_values(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/x.db"
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_write_in_child, args=(url,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    with LibSQLStore(url) as store:
        entry = store.kv_get("shared", "from-child")
        assert entry is not None and entry.value == {"pid": 1, "pi": 3.14}


def _increment_in_child(url: str, n: int, barrier: Any) -> None:
    with LibSQLStore(url) as store:
        store.setup()
        barrier.wait(30)
        for _ in range(n):
            store.kv_increment("ctr", "hits")
            store.kv_increment("ctr", "float", 0.5)


def test_concurrent_increments_from_processes_lose_nothing(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/ctr.db"
    LibSQLStore(url).setup()
    procs, n = 4, 150
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    workers = [ctx.Process(target=_increment_in_child, args=(url, n, barrier)) for _ in range(procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * procs
    with LibSQLStore(url) as store:
        hits, half = store.kv_get("ctr", "hits"), store.kv_get("ctr", "float")
        assert hits is not None and hits.value == procs * n and type(hits.value) is int
        assert half is not None and half.value == procs * n * 0.5


def test_backend_without_kv_hooks_fails_clearly() -> None:
    class NoKV(InMemoryStore):
        pass

    for name in [n for n in vars(InMemoryStore) if n.startswith("_kv_")]:
        setattr(NoKV, name, getattr(MemoryStorage, name, None))
    store = NoKV()
    with pytest.raises(NotImplementedError, match="NoKV does not support key-value memory"):
        store.kv_set("ns", "k", 1)
    with pytest.raises(NotImplementedError, match="_kv_list_keys"):
        store.kv_list_keys("ns")
