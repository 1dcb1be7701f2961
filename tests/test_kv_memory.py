"""KVMemory behaves the same on the embedded store, in-process over ASGI, and over a real uvicorn
server on loopback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.errors import ConfigurationError, ValidationError
from mastra_memory.kv import KVMemory, decode_cursor, encode_cursor
from mastra_memory.memory import Memory
from mastra_memory.testing.kv_conformance import TYPED_VALUES
from mastra_memory.testing.live_server import LiveServer, live_server
from storage_adapters.libsql import LibSQLStore

fastapi = pytest.importorskip("fastapi", reason='needs the [server] extra: pip install "mastra-memory[server]"')
import anyio.from_thread  # noqa: E402
import httpx  # noqa: E402

from mastra_memory.server import create_app  # noqa: E402

ADMIN = "admin-token-0123456789"

KVFactory = Callable[[str], KVMemory]


class ASGIPortalTransport(httpx.BaseTransport):
    """A sync httpx transport into an ASGI app, in process: ``httpx.ASGITransport`` driven through
    an anyio blocking portal. (Starlette's TestClient percent-decodes paths twice, turning a key
    ``"a%2F"`` into ``"a/"``; httpx's ASGI transport does not.)"""

    def __init__(self, app: Any) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def forward() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

        return self._portal.call(forward)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("live") / "server.db"
    with live_server(f"file:{db}", api_keys=[ADMIN]) as srv:
        yield srv


@pytest.fixture(params=["embedded", "asgi", "uvicorn"])
def make_kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVFactory]:
    """A factory of KVMemory objects on one backend; each test uses fresh namespaces."""
    made: list[KVMemory] = []
    suffix = uuid.uuid4().hex[:8]
    if request.param == "embedded":
        store = LibSQLStore(f"file:{tmp_path}/kv.db")

        def factory(ns: str) -> KVMemory:
            made.append(KVMemory(f"{ns}-{suffix}", storage=store))
            return made[-1]
    elif request.param == "asgi":
        app = create_app(Memory(LibSQLStore(f"file:{tmp_path}/asgi.db")), api_keys=[ADMIN])
        client = httpx.Client(transport=ASGIPortalTransport(app), base_url="http://asgi")
        request.addfinalizer(client.close)

        def factory(ns: str) -> KVMemory:
            made.append(KVMemory(f"{ns}-{suffix}", http_client=client, api_key=ADMIN, page_size=400))
            return made[-1]
    else:
        live: LiveServer = request.getfixturevalue("server")

        def factory(ns: str) -> KVMemory:
            made.append(KVMemory(f"{ns}-{suffix}", base_url=live.url, api_key=ADMIN, page_size=400))
            return made[-1]

    yield factory
    for kv in made:
        kv.close()


def test_every_json_type_round_trips(make_kv: KVFactory) -> None:
    kv = make_kv("types")
    for i, value in enumerate(TYPED_VALUES):
        kv.set(f"v{i}", value)
    for i, value in enumerate(TYPED_VALUES):
        got = kv.get(f"v{i}")
        assert json.dumps(got, sort_keys=True) == json.dumps(value, sort_keys=True) and type(got) is type(value)
    assert type(kv.get("v0")) is int and type(kv.get("v3")) is float and kv.get("v7") is True


def test_get_default_delete_exists(make_kv: KVFactory) -> None:
    kv = make_kv("basic")
    assert kv.get("nope") is None
    assert kv.get("nope", default=0) == 0
    kv.set("null", None)
    assert kv.exists("null") and kv.get("null", default="x") is None
    assert kv.delete("null") is True and kv.delete("null") is False
    assert not kv.exists("null")
    entry = kv.get_entry("nope")
    assert entry is None


def test_list_keys_is_complete_beyond_one_thousand(make_kv: KVFactory) -> None:
    kv = make_kv("many")
    keys = [f"doc/{i:04d}" for i in range(1050)]
    for key in keys:
        kv.set(key, 1)
    kv.set("other", 1)
    assert kv.list_keys(prefix="doc/") == keys
    assert len(kv.list_keys()) == 1051
    assert kv.clear() == 1051
    assert kv.list_keys() == []


def test_keys_needing_url_encoding(make_kv: KVFactory) -> None:
    kv = make_kv("enc")
    keys = ["a/b/c", "sp ace", "q?x=1&y=2", "hash#frag", "pct%2F", "ünï/键", "+plus", "/lead", "trail/", "...x"]
    for key in keys:
        kv.set(key, key)
    for key in keys:
        assert kv.get(key) == key
    assert kv.list_keys() == sorted(keys)


def test_increment_and_compare_and_set(make_kv: KVFactory) -> None:
    kv = make_kv("atomic")
    assert kv.increment("n") == 1
    assert kv.increment("n", 9) == 10 and type(kv.get("n")) is int
    assert kv.increment("n", 0.25) == 10.25 and type(kv.get("n")) is float
    kv.set("s", "text")
    with pytest.raises(ValidationError):
        kv.increment("s")
    assert kv.compare_and_set("lock", KVMemory.MISSING, "me") is True
    assert kv.compare_and_set("lock", KVMemory.MISSING, "you") is False
    assert kv.compare_and_set("lock", "me", {"owner": "you"}) is True
    assert kv.compare_and_set("n", 10, 0) is False  # 10 != 10.25
    assert kv.get("lock") == {"owner": "you"}


def test_ttl_expires_in_real_time(make_kv: KVFactory) -> None:
    kv = make_kv("ttl")
    kv.set("soon", "x", ttl=3)
    assert kv.exists("soon")  # unless this process stalls for 3 s
    kv.set("later", "y", ttl=600)
    entry = kv.get_entry("later")
    assert entry is not None and entry.expires_at is not None
    time.sleep(3.2)
    assert kv.get("soon") is None and not kv.exists("soon")
    assert kv.list_keys() == ["later"]


def test_namespaces_are_isolated(make_kv: KVFactory) -> None:
    a, b = make_kv("iso-a"), make_kv("iso-b")
    a.set("k", "a")
    b.set("k", "b")
    assert a.get("k") == "a" and b.get("k") == "b"
    a.clear()
    assert a.get("k") is None and b.get("k") == "b"


def test_invalid_input_raises_validation_error(make_kv: KVFactory) -> None:
    kv = make_kv("bad")
    for key in ["", "../x", "a/..", "x" * 513, "a\nb"]:
        with pytest.raises(ValidationError):
            kv.set(key, 1)
    with pytest.raises(ValidationError):
        kv.set("k", float("nan"))
    with pytest.raises(ValidationError):
        kv.set("k", 1, ttl=0)


def test_default_storage_is_the_local_libsql_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with KVMemory("agent") as kv:
        kv.set("name", "Ana")
    assert (tmp_path / "mastra.db").exists()
    with KVMemory("agent") as again:  # a new object on the same file: survives a restart
        assert again.get("name") == "Ana"
    assert "LibSQLStore" in repr(again)


def test_storage_and_base_url_are_exclusive() -> None:
    with pytest.raises(ConfigurationError):
        KVMemory("ns", storage=LibSQLStore(":memory:"), base_url="http://127.0.0.1:1")
    with pytest.raises(ValidationError):
        KVMemory("bad/ns")


def test_api_key_comes_from_the_environment(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_MEMORY_API_KEY", ADMIN)
    with KVMemory("envkey", base_url=server.url) as kv:
        kv.set("k", 1)
        assert kv.get("k") == 1 and kv.is_remote


def test_cursor_round_trip() -> None:
    for key in ["a", "ünï/键 ?#", "x" * 512]:
        assert decode_cursor(encode_cursor(key)) == key
    assert encode_cursor(None) is None and decode_cursor(None) is None
    for bad in ["!!!", "a", "//8"]:  # not base64url, bad length, not UTF-8
        with pytest.raises(ValidationError):
            decode_cursor(bad)


def test_unreachable_server_is_a_storage_error() -> None:
    from mastra_memory.errors import StorageError
    from mastra_memory.testing.live_server import free_port

    with KVMemory("ns", base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as kv, pytest.raises(StorageError):
        kv.get("k")
