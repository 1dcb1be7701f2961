"""AsyncKVMemory behaves as KVMemory: embedded (libSQL file, PostgreSQL), in process over ASGI
and over a real uvicorn server on loopback; 200 concurrent increments from one event loop lose
nothing."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import AsyncKVMemory, KVMemory
from mastra_memory.errors import ConfigurationError, StorageError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.storage.threaded import ThreadedAsyncStorage
from mastra_memory.testing.kv_conformance import TYPED_VALUES
from mastra_memory.testing.live_server import LiveServer, free_port, live_server
from storage_adapters.libsql import LibSQLStore

httpx = pytest.importorskip("httpx", reason='needs the [server] extra: pip install "mastra-memory[server]"')
pytest.importorskip("fastapi", reason='needs the [server] extra: pip install "mastra-memory[server]"')

from mastra_memory.server import create_app  # noqa: E402

ADMIN = "admin-token-0123456789"

# A backend: an async context manager giving a factory of AsyncKVMemory on fresh namespaces.
Factory = Callable[[str], AsyncKVMemory]
Backend = Callable[[], Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("live") / "server.db"
    with live_server(f"file:{db}", api_keys=[ADMIN]) as srv:
        yield srv


@pytest.fixture
def pg_store() -> Iterator[Any]:
    url = os.environ.get("MASTRA_TEST_PG_URL")
    if not url:
        pytest.skip("MASTRA_TEST_PG_URL is not set (scripts/services.sh start)")
    psycopg = pytest.importorskip("psycopg")
    from storage_adapters.pg import PostgresStore

    schema = f"akv_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(url, schema_name=schema)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["libsql", "pg", "pg-async", "asgi", "uvicorn"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """``backend()`` is an async context manager yielding a factory of AsyncKVMemory objects;
    every object made is closed on exit."""
    suffix = uuid.uuid4().hex[:8]
    kind = request.param
    store: Any = None
    if kind == "libsql":
        store = LibSQLStore(f"file:{tmp_path}/kv.db")
        request.addfinalizer(store.close)
    elif kind == "pg":
        store = request.getfixturevalue("pg_store")
    elif kind == "pg-async" and not os.environ.get("MASTRA_TEST_PG_URL"):
        pytest.skip("MASTRA_TEST_PG_URL is not set (scripts/services.sh start)")
    elif kind == "asgi":
        store = LibSQLStore(f"file:{tmp_path}/asgi.db")
    live: LiveServer | None = request.getfixturevalue("server") if kind == "uvicorn" else None

    @asynccontextmanager
    async def open_backend() -> AsyncIterator[Factory]:
        made: list[AsyncKVMemory] = []
        client: Any = None
        native: Any = None  # the native async PostgreSQL store: its pool lives on this loop
        schema = f"akv_{uuid.uuid4().hex[:10]}"
        if kind == "pg-async":
            from storage_adapters.pg import AsyncPostgresStore

            native = AsyncPostgresStore(os.environ["MASTRA_TEST_PG_URL"], schema_name=schema)
            await native.setup()
        if kind == "asgi":
            app = create_app(Memory(store), api_keys=[ADMIN])
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://asgi")

        def factory(ns: str) -> AsyncKVMemory:
            name = f"{ns}-{suffix}"
            if kind in ("libsql", "pg", "pg-async"):
                kv = AsyncKVMemory(name, storage=native if native is not None else store)
            elif kind == "asgi":
                kv = AsyncKVMemory(name, http_client=client, api_key=ADMIN, page_size=400)
            else:
                assert live is not None
                kv = AsyncKVMemory(name, base_url=live.url, api_key=ADMIN, page_size=400, timeout=30)
            made.append(kv)
            return kv

        try:
            yield factory
        finally:
            for kv in made:
                await kv.aclose()
            if client is not None:
                await client.aclose()
            if native is not None:
                await native.close()
                import psycopg

                async with await psycopg.AsyncConnection.connect(
                    os.environ["MASTRA_TEST_PG_URL"], autocommit=True
                ) as conn:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return open_backend


def run(backend: Backend, body: Callable[[Factory], Awaitable[None]]) -> None:
    async def main() -> None:
        async with backend() as factory:
            await body(factory)

    asyncio.run(main())


def test_every_json_type_round_trips(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("types")
        await asyncio.gather(*(kv.set(f"v{i}", value) for i, value in enumerate(TYPED_VALUES)))
        for i, value in enumerate(TYPED_VALUES):
            got = await kv.get(f"v{i}")
            assert json.dumps(got, sort_keys=True) == json.dumps(value, sort_keys=True)
            assert type(got) is type(value)

    run(backend, body)


def test_set_get_exists_delete_entry(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("basic")
        assert await kv.get("missing") is None and await kv.get("missing", default=0) == 0
        await kv.set("user/name", "Ana")
        assert await kv.get("user/name") == "Ana" and await kv.exists("user/name")
        entry = await kv.get_entry("user/name")
        assert entry is not None and entry.value == "Ana" and entry.expires_at is None
        assert await kv.delete("user/name") is True and await kv.delete("user/name") is False
        assert not await kv.exists("user/name") and await kv.get_entry("user/name") is None

    run(backend, body)


def test_ttl_expires_in_real_time(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("ttl")
        await kv.set("soon", "x", ttl=2)
        await kv.set("later", "y", ttl=600)
        entry = await kv.get_entry("soon")
        assert entry is not None and entry.expires_at is not None
        assert await kv.get("soon") == "x"
        await asyncio.sleep(2.3)
        assert await kv.get("soon") is None and not await kv.exists("soon")
        assert await kv.get("later") == "y" and await kv.list_keys() == ["later"]

    run(backend, body)


def test_increment_and_compare_and_set(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("counters")
        assert await kv.increment("n") == 1 and await kv.increment("n", 4) == 5
        value = await kv.increment("n", 0.5)
        assert value == 5.5 and type(value) is float
        assert await kv.compare_and_set("lock", AsyncKVMemory.MISSING, "me") is True
        assert await kv.compare_and_set("lock", AsyncKVMemory.MISSING, "you") is False
        assert await kv.compare_and_set("lock", "me", "you") is True
        assert await kv.compare_and_set("lock", "me", "again") is False
        assert await kv.get("lock") == "you"
        await kv.set("text", "abc")
        with pytest.raises(ValidationError):
            await kv.increment("text")

    run(backend, body)


def test_list_and_iter_keys_page_completely(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("listing")
        keys = [f"k/{i:04d}" for i in range(450)] + ["other"]
        for start in range(0, len(keys), 50):
            await asyncio.gather(*(kv.set(k, i) for i, k in enumerate(keys[start : start + 50])))
        assert await kv.list_keys() == sorted(keys)
        assert await kv.list_keys(prefix="k/") == sorted(keys[:-1])
        streamed = [k async for k in kv.iter_keys(prefix="k/00")]
        assert streamed == [f"k/{i:04d}" for i in range(100)]
        assert await kv.clear() == len(keys) and await kv.list_keys() == []

    run(backend, body)


def test_two_hundred_concurrent_increments_lose_nothing(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("race")
        began = time.perf_counter()
        results = await asyncio.gather(*(kv.increment("hits") for _ in range(200)))
        elapsed = time.perf_counter() - began
        assert sorted(results) == list(range(1, 201)), f"lost or repeated increments ({elapsed:.2f} s)"
        assert await kv.get("hits") == 200
        flags = await asyncio.gather(*(kv.compare_and_set("owner", AsyncKVMemory.MISSING, i) for i in range(50)))
        assert flags.count(True) == 1

    run(backend, body)


def test_invalid_input_raises_the_same_errors(backend: Backend) -> None:
    async def body(make: Factory) -> None:
        kv = make("invalid")
        for bad in ["", "a\x00b", "../x", "x" * 513]:
            with pytest.raises(ValidationError):
                await kv.set(bad, 1)
        with pytest.raises(ValidationError):
            await kv.set("k", 1, ttl=0)
        with pytest.raises(ValidationError):
            await kv.set("k", float("nan"))

    run(backend, body)


def test_sync_and_async_faces_share_one_store(tmp_path: Path) -> None:
    store = LibSQLStore(f"file:{tmp_path}/both.db")
    sync_kv = KVMemory("shared", storage=store)

    async def main() -> None:
        async with AsyncKVMemory("shared", storage=store) as kv:
            await kv.set("a", {"x": [1, 2]})
            assert sync_kv.get("a") == {"x": [1, 2]}
            sync_kv.increment("n", 2)
            assert await kv.increment("n") == 3
            assert "ThreadedAsyncStorage" in repr(kv) and "LibSQLStore" in repr(sync_kv)

    asyncio.run(main())
    assert sync_kv.list_keys() == ["a", "n"]  # the caller's store is not closed by aclose
    store.close()


def test_a_threaded_store_is_not_wrapped_twice(tmp_path: Path) -> None:
    wrapped = ThreadedAsyncStorage(LibSQLStore(f"file:{tmp_path}/w.db"))

    async def main() -> None:
        kv = AsyncKVMemory("w", storage=wrapped)
        await kv.set("k", 1)
        assert kv._backend.storage is wrapped  # type: ignore[attr-defined]
        await kv.aclose()

    asyncio.run(main())
    assert KVMemory("w", storage=wrapped).get("k") == 1  # the sync face unwraps it
    wrapped.sync.close()


def test_default_storage_is_the_local_libsql_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def main() -> None:
        async with AsyncKVMemory("agent") as kv:
            await kv.set("name", "Ana")
        async with AsyncKVMemory("agent") as again:
            assert await again.get("name") == "Ana"

    asyncio.run(main())
    assert (tmp_path / "mastra.db").exists()
    with KVMemory("agent") as sync_kv:
        assert sync_kv.get("name") == "Ana"


def test_constructor_errors_match_the_sync_face() -> None:
    for cls in (KVMemory, AsyncKVMemory):
        with pytest.raises(ConfigurationError):
            cls("ns", storage=LibSQLStore(":memory:"), base_url="http://127.0.0.1:1")  # type: ignore[operator]
        with pytest.raises(ValidationError):
            cls("bad/ns")  # type: ignore[operator]
        with pytest.raises(ValidationError):
            cls("ns", base_url="http://127.0.0.1:1", page_size=0)  # type: ignore[operator]


def test_unreachable_server_is_a_storage_error() -> None:
    async def main() -> None:
        async with AsyncKVMemory("ns", base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as kv:
            assert kv.is_remote
            with pytest.raises(StorageError):
                await kv.get("k")

    asyncio.run(main())


def test_api_key_comes_from_the_environment(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_MEMORY_API_KEY", ADMIN)

    async def main() -> None:
        async with AsyncKVMemory("envkey-async", base_url=server.url) as kv:
            await kv.set("k", 1)
            assert await kv.get("k") == 1
            assert await kv.purge_expired() >= 0

    asyncio.run(main())


def test_wrong_api_key_is_access_denied(server: LiveServer) -> None:
    from mastra_memory.errors import AccessDeniedError

    async def main() -> None:
        async with AsyncKVMemory("ns", base_url=server.url, api_key="not-the-key-0123456789") as kv:
            with pytest.raises(AccessDeniedError):
                await kv.get("k")

    asyncio.run(main())


def _summary(obj: Any) -> str:
    return (inspect.getdoc(obj) or "").split("\n\n")[0]


def test_every_kvmemory_method_has_its_async_twin() -> None:
    """Same public methods, signatures (minus ``async``) and docstring summaries; ``close`` is
    ``aclose`` and the context manager is ``async with``."""
    twins = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
    names = {n for n in vars(KVMemory) if not n.startswith("_") or n in twins or n == "__init__"}
    assert {twins.get(n, n) for n in names} == {
        n for n in vars(AsyncKVMemory) if not n.startswith("_") or n in twins.values() or n == "__init__"
    }
    for name in sorted(names):
        sync_member, async_member = getattr(KVMemory, name), getattr(AsyncKVMemory, twins.get(name, name))
        if not callable(sync_member):
            continue
        sync_sig = str(inspect.signature(sync_member)).replace("Iterator", "AsyncIterator")
        async_sig = str(inspect.signature(async_member)).replace("AsyncKVMemory", "KVMemory")
        async_sig = async_sig.replace("AsyncMemoryStorage", "MemoryStorage")
        assert async_sig == sync_sig.replace("httpx.Client", "httpx.AsyncClient"), name
        assert _summary(async_member) == _summary(sync_member), name
        if name not in ("__init__", "iter_keys"):
            assert inspect.iscoroutinefunction(async_member), name
    assert inspect.isasyncgenfunction(AsyncKVMemory.iter_keys)
