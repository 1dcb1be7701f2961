"""The server on the async API: a server opened from a PostgreSQL URL serves its memory routes
through the native AsyncPostgresStore and awaits it for key-value calls (no thread pool)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastra_memory.server import app as server_app
from mastra_memory.server import create_app, deps
from tests.test_races import _backend_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with _backend_url("postgres", tmp_path) as url:
        yield url


async def test_a_postgres_server_runs_on_the_native_async_store(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pooled: list[str] = []
    original = deps.run_in_threadpool

    async def spy(fn: Any, *args: Any) -> Any:
        pooled.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args)

    monkeypatch.setattr(deps, "run_in_threadpool", spy)
    # a capped namespace: the usage tracker's counts (kv_stats, kv_get) await the store too
    app = create_app(storage_url=pg_url, limits={"namespaces": {"capped": {"max_keys": 3}}, "usage_refresh_seconds": 0})
    st = app.state.mastra
    assert type(st.memory.storage).__name__ == "AsyncPostgresStore"
    assert type(st.storage).__name__ == "PostgresStore"  # the usage tracker's sync twin
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post("/threads", json={"resource_id": "u1", "thread_id": "t1"})
            assert r.status_code == 201, r.text
            chat = [{"role": "user", "content": f"hello {i}"} for i in range(3)]
            assert (await client.post("/threads/t1/messages", json={"messages": chat})).status_code == 201
            page = (await client.get("/threads/t1/messages")).json()
            assert [m["content"]["parts"][0]["text"] for m in page["messages"]] == ["hello 0", "hello 1", "hello 2"]
            # 50 concurrent increments over HTTP: exact, and awaited on the native store
            results = await asyncio.gather(
                *(client.post("/memory/ns/counter/increment", json={"by": 1}) for _ in range(50))
            )
            assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
            got = (await client.get("/memory/ns/counter")).json()
            assert got["value"] == 50
            for i in range(3):
                r = await client.put(f"/memory/capped/k{i}", json={"n": i})
                assert r.status_code == 200, r.text
            assert (await client.put("/memory/capped/k0", json={"n": 10})).status_code == 200  # overwrite fits
            full = await client.put("/memory/capped/k3", json={"n": 3})
            assert full.status_code == 507, full.text
            assert (await client.get("/memory/capped/k3")).status_code == 404
    assert not [name for name in pooled if name.startswith("kv_") or name == "check_write"], pooled
    assert server_app  # the module under test


async def test_a_memory_given_to_the_server_is_served_through_async_memory(tmp_path: Path) -> None:
    from mastra_memory import AsyncMemory, Memory
    from mastra_memory.storage import open_storage

    memory = Memory(open_storage(f"file:{tmp_path}/s.db"))
    app = create_app(memory)
    assert isinstance(app.state.mastra.memory, AsyncMemory)
    assert app.state.mastra.memory.storage.sync is memory.storage
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.post("/threads", json={"resource_id": "u1", "thread_id": "t1"})).status_code == 201
    assert memory.get_thread_by_id("t1") is not None  # the same store
    memory.close()
