"""The HTTP service: auth and scopes, limits and quotas, hostile input, memory routes, OpenAPI,
the serve command. In process through ``httpx.ASGITransport`` and against a real uvicorn."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi", reason='needs the [server] extra: pip install "mastra-memory[server]"')
import httpx  # noqa: E402

from mastra_memory.memory import Memory  # noqa: E402
from mastra_memory.server import ApiKey, NamespaceLimits, ServerLimits, create_app  # noqa: E402
from mastra_memory.server.cli import is_loopback  # noqa: E402
from mastra_memory.testing.live_server import LiveServer, live_server  # noqa: E402
from storage_adapters.inmemory import InMemoryStore  # noqa: E402
from storage_adapters.libsql import LibSQLStore  # noqa: E402

pytestmark = pytest.mark.anyio

ADMIN = "admin-token-0123456789"
AGENT = "agent-token-0123456789"  # namespaces agent-*, resources user-a
READER = "reader-token-012345678"  # read-only, everything
KEYS = [
    ApiKey(token=ADMIN, name="admin"),  # type: ignore[arg-type]
    ApiKey(token=AGENT, name="agent", namespaces=("agent-*",), resources=("user-a",)),  # type: ignore[arg-type]
    ApiKey(token=READER, name="reader", read_only=True),  # type: ignore[arg-type]
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    mem = Memory(LibSQLStore(f"file:{tmp_path}/server.db"), options={"working_memory": {"enabled": True}})
    yield mem
    mem.close()


async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(memory: Memory) -> AsyncIterator[httpx.AsyncClient]:
    limits = ServerLimits(max_value_bytes=64 * 1024, max_key_length=128)
    async for c in _client(create_app(memory, api_keys=KEYS, limits=limits)):
        yield c


# -- auth -------------------------------------------------------------------------------------


async def test_missing_malformed_and_unknown_keys_get_401(client: httpx.AsyncClient) -> None:
    for headers in [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, bearer("not-a-known-token-123")]:
        r = await client.get("/memory/agent-1/k", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
    r = await client.put("/memory/agent-1/k", json=1)  # rejected before the body is used
    assert r.status_code == 401


async def test_scopes_give_403(client: httpx.AsyncClient) -> None:
    assert (await client.put("/memory/agent-1/k", json=1, headers=bearer(AGENT))).status_code == 200
    assert (await client.put("/memory/other/k", json=1, headers=bearer(AGENT))).status_code == 403
    assert (await client.get("/memory/other", headers=bearer(AGENT))).status_code == 403
    assert (await client.get("/memory/agent-1/k", headers=bearer(READER))).json()["value"] == 1
    for method, path, body in [
        ("PUT", "/memory/agent-1/k", 2),
        ("DELETE", "/memory/agent-1/k", None),
        ("DELETE", "/memory/agent-1", None),
        ("POST", "/memory/agent-1/k/increment", {}),
        ("POST", "/threads", {"resource_id": "user-a"}),
    ]:
        r = await client.request(method, path, json=body, headers=bearer(READER))
        assert r.status_code == 403, (method, path, r.text)
    assert (await client.post("/admin/purge-expired", headers=bearer(AGENT))).status_code == 403
    assert (await client.post("/admin/purge-expired", headers=bearer(ADMIN))).json() == {"deleted": 0}


async def test_resource_scopes_on_threads(client: httpx.AsyncClient) -> None:
    r = await client.post("/threads", json={"resource_id": "user-a", "thread_id": "ta"}, headers=bearer(AGENT))
    assert r.status_code == 201
    r = await client.post("/threads", json={"resource_id": "user-b", "thread_id": "tb"}, headers=bearer(AGENT))
    assert r.status_code == 403
    r = await client.post("/threads", json={"resource_id": "user-b", "thread_id": "tb"}, headers=bearer(ADMIN))
    assert r.status_code == 201
    # another resource's thread is not revealed to a scoped key
    assert (await client.get("/threads/tb", headers=bearer(AGENT))).status_code == 404
    assert (await client.get("/threads/tb/messages", headers=bearer(AGENT))).status_code == 404
    assert (await client.get("/threads/ta", headers=bearer(AGENT))).status_code == 200
    assert (await client.get("/threads", headers=bearer(AGENT))).status_code == 403  # must name its resource
    assert (await client.get("/threads?resource_id=user-b", headers=bearer(AGENT))).status_code == 403
    page = (await client.get("/threads?resource_id=user-a", headers=bearer(AGENT))).json()
    assert [t["id"] for t in page["threads"]] == ["ta"]
    assert (await client.get("/threads", headers=bearer(ADMIN))).json()["total"] == 2


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["auth"] is True and r.json()["storage"] == "LibSQLStore"


# -- hostile and malformed input ----------------------------------------------------------------


async def _asgi(app: Any, method: str, raw_path: bytes, body: bytes = b"1") -> int:
    """Call the app with a hand-made scope: the raw path reaches it exactly as a hostile client
    would send it (httpx itself removes dot segments from URLs)."""
    from urllib.parse import unquote

    path = raw_path.decode("latin-1")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {ADMIN}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize(
    "path",
    [
        b"/memory/ns/..%2Fx",
        b"/memory/ns/a%2F..%2Fb",
        b"/memory/ns/..",
        b"/memory/ns/x/../y",
        b"/memory/../x",
        b"/memory/ns/.",
        b"/memory/%2E%2E/k",
        b"/memory/ns/%2e%2e",
        b"/memory/ns/a/./b",
        b"/memory/./k",
    ],
)
async def test_path_traversal_is_refused(memory: Memory, path: bytes) -> None:
    app = create_app(memory, api_keys=KEYS)
    assert await _asgi(app, "PUT", path) in (400, 404, 422)
    assert await _asgi(app, "GET", path) in (400, 404, 422)
    assert memory.storage.kv_list_keys("ns").keys == []
    assert await _asgi(app, "PUT", b"/memory/ns/fine") == 200  # the same harness accepts a normal key


async def test_url_encoded_keys_round_trip(client: httpx.AsyncClient) -> None:
    from urllib.parse import quote

    keys = ["a/b", "a%2Fb", "sp ace", "q?x=1", "h#f", "ü/键", "+", "%", "%25", "a\\b"]
    for key in keys:
        r = await client.put(f"/memory/enc/{quote(key, safe='')}", json=key, headers=bearer(ADMIN))
        assert r.status_code == 200 and r.json()["key"] == key, (key, r.text)
    for key in keys:
        r = await client.get(f"/memory/enc/{quote(key, safe='')}", headers=bearer(ADMIN))
        assert r.json()["value"] == key
    assert (await client.get("/memory/enc", headers=bearer(ADMIN))).json()["keys"] == sorted(keys)


async def test_huge_bodies_get_413(client: httpx.AsyncClient) -> None:
    json_headers = {**bearer(ADMIN), "Content-Type": "application/json"}
    big = json.dumps("x" * (64 * 1024)).encode()
    r = await client.put("/memory/ns/big", content=big, headers=json_headers)
    assert r.status_code == 413
    fits = json.dumps("x" * (64 * 1024 - 2)).encode()
    r = await client.put("/memory/ns/fits", content=fits, headers=json_headers)
    assert r.status_code == 200

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        yield b'"'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"'

    r = await client.put("/memory/ns/streamed", content=chunks(), headers=json_headers)
    assert r.status_code == 413
    r = await client.post("/threads", content=b"{" + b" " * (5 * 1024 * 1024) + b"}", headers=json_headers)
    assert r.status_code == 413
    assert (await client.get("/memory/ns", headers=bearer(ADMIN))).json()["keys"] == ["fits"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"NaN", 400),
        (b'{"a": Infinity}', 400),
        (b"[1,]", 400),
        (b"\xff\xfe", 400),
        (b"[" * 30_000 + b"]" * 30_000, 400),
        (b'{"a":1}{"b":2}', 400),
    ],
    ids=["broken", "empty", "nan", "infinity", "trailing-comma", "not-utf8", "deep", "two-docs"],
)
async def test_invalid_json_is_refused(client: httpx.AsyncClient, body: bytes, status: int) -> None:
    r = await client.put("/memory/ns/k", content=body, headers={**bearer(ADMIN), "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert (await client.get("/memory/ns/k", headers=bearer(ADMIN))).status_code == 404


async def test_other_bad_requests(client: httpx.AsyncClient) -> None:
    h = bearer(ADMIN)
    r = await client.put("/memory/ns/k", content=b"1", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert (await client.put("/memory/ns/" + "k" * 129, json=1, headers=h)).status_code == 422  # server max 128
    assert (await client.put("/memory/ns/k?ttl=0", json=1, headers=h)).status_code == 422
    assert (await client.put("/memory/ns/k?ttl=abc", json=1, headers=h)).status_code == 422
    assert (await client.put("/memory/ns/k?ttl=inf", json=1, headers=h)).status_code == 422
    assert (await client.put("/memory/ns/", json=1, headers=h)).status_code == 422  # empty key
    assert (await client.put("/memory/ns/a%00b", json=1, headers=h)).status_code == 422  # control char
    assert (await client.get("/memory/ns?limit=0", headers=h)).status_code == 422
    assert (await client.get("/memory/ns?cursor=%21%21", headers=h)).status_code == 422
    assert (await client.post("/memory/ns/k/increment", json={"by": "1"}, headers=h)).status_code == 422
    assert (await client.post("/memory/ns/k/increment", json={"oops": 1}, headers=h)).status_code == 422
    assert (await client.post("/memory/ns/k/increment", json=[1], headers=h)).status_code == 422
    await client.put("/memory/ns/s", json="text", headers=h)
    r = await client.post("/memory/ns/s/increment", json={}, headers=h)
    assert r.status_code == 422 and "not a number" in r.json()["detail"]
    r = await client.post("/memory/ns/k/compare-and-set", json={"value": 1}, headers=h)
    assert r.status_code == 422
    r = await client.post("/threads", json={"resource_id": "r", "bogus": 1}, headers=h)
    assert r.status_code == 422
    r = await client.post("/threads", json={"resource_id": "bad\nid"}, headers=h)
    assert r.status_code == 422


# -- key-value behaviour over HTTP ---------------------------------------------------------------


async def test_types_ttl_listing_and_atomic_ops(client: httpx.AsyncClient) -> None:
    h = bearer(ADMIN)
    values = {"int": 1, "float": 1.0, "bool": True, "null": None, "nested": {"a": [1, 2.5, {"b": None}]}, "big": 2**70}
    for key, value in values.items():
        r = await client.put(
            f"/memory/types/{key}", content=json.dumps(value), headers={**h, "Content-Type": "application/json"}
        )
        assert r.status_code == 200
    for key, value in values.items():
        raw = (await client.get(f"/memory/types/{key}", headers=h)).text
        got = json.loads(raw)["value"]
        assert json.dumps(got) == json.dumps(value) and type(got) is type(value)
    r = await client.put("/memory/types/t?ttl=30", json="x", headers=h)
    assert r.json()["ttl"] == 30
    assert (await client.get("/memory/types/t", headers=h)).json()["expires_at"].endswith("Z")
    assert (await client.head("/memory/types/t", headers=h)).status_code == 200
    assert (await client.head("/memory/types/zzz", headers=h)).status_code == 404
    keys: list[str] = []
    for i in range(1100):
        await client.put(f"/memory/list/k{i:04d}", json=i, headers=h)
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"prefix": "k", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/memory/list", params=params, headers=h)).json()
        keys += page["keys"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and keys == [f"k{i:04d}" for i in range(1100)]
    assert (await client.post("/memory/c/n/increment", json={"by": 2}, headers=h)).json() == {"value": 2}
    assert (await client.post("/memory/c/n/increment", json={"by": 0.5}, headers=h)).json() == {"value": 2.5}
    r = await client.post("/memory/c/lock/compare-and-set", json={"expect_missing": True, "value": "me"}, headers=h)
    assert r.json() == {"swapped": True}
    r = await client.post("/memory/c/lock/compare-and-set", json={"expected": "you", "value": "x"}, headers=h)
    assert r.json() == {"swapped": False}
    assert (await client.delete("/memory/c/lock", headers=h)).json() == {"deleted": True}
    assert (await client.delete("/memory/list", headers=h)).json() == {"deleted": 1100}


async def test_write_rate_quota_gives_429(memory: Memory) -> None:
    limits = ServerLimits(
        # one token per 100 s: a slow machine can not refill the bucket during the test
        default=NamespaceLimits(write_rate=0.01, write_burst=3),
        namespaces={"vip": NamespaceLimits(write_rate=1000)},
    )
    async for client in _client(create_app(memory, limits=limits)):
        codes = [(await client.put(f"/memory/slow/k{i}", json=i)).status_code for i in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = await client.put("/memory/slow/k9", json=9)
        assert r.status_code == 429 and 0 < float(r.headers["Retry-After"]) <= 100
        assert (await client.get("/memory/slow/k0")).status_code == 200  # reads are not limited
        vip = [(await client.put(f"/memory/vip/k{i}", json=i)).status_code for i in range(20)]
        assert vip == [200] * 20


async def test_storage_caps_give_507(memory: Memory) -> None:
    limits = ServerLimits(default=NamespaceLimits(max_keys=3, max_bytes=100), usage_refresh_seconds=0)
    async for client in _client(create_app(memory, limits=limits)):
        for i in range(3):
            assert (await client.put(f"/memory/capped/k{i}", json=i)).status_code == 200
        r = await client.put("/memory/capped/k3", json=3)
        assert r.status_code == 507 and "full" in r.json()["detail"]
        assert (await client.put("/memory/capped/k0", json="overwrite is fine")).status_code == 200
        assert (await client.put("/memory/capped/k1", json="x" * 120)).status_code == 507  # bytes cap
        assert (await client.delete("/memory/capped/k2")).status_code == 200
        assert (await client.put("/memory/capped/k3", json=3)).status_code == 200
        assert (await client.post("/memory/capped/k4/increment", json={})).status_code == 507
        assert (await client.put("/memory/other/k0", json=0)).status_code == 200  # per namespace


# -- memory routes -----------------------------------------------------------------------------


async def test_thread_message_recall_working_memory_routes(client: httpx.AsyncClient) -> None:
    h = bearer(AGENT)
    r = await client.post(
        "/threads",
        json={"resource_id": "user-a", "thread_id": "t1", "title": "Plans", "metadata": {"topic": "trip"}},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["title"] == "Plans"
    chat = [
        {"role": "user", "content": "Book a table for two"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "book", "arguments": '{"n": 2}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
        {"role": "assistant", "content": "Booked."},
        {"role": "system", "content": "never stored"},
    ]
    r = await client.post("/threads/t1/messages", json={"messages": chat}, headers=h)
    assert r.status_code == 201, r.text
    saved = r.json()["messages"]
    assert [m["role"] for m in saved] == ["user", "assistant", "assistant"]
    r = await client.post(
        "/threads/t1/messages",
        json={"format": "mastra", "messages": [{"role": "user", "content": "and dessert", "id": "m-last"}]},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["messages"][0]["id"] == "m-last"
    page = (await client.get("/threads/t1/messages?per_page=2", headers=h)).json()
    assert page["total"] == 4 and page["has_more"] is True and page["messages"][-1]["id"] == "m-last"
    recalled = (await client.get("/threads/t1/recall", headers=h)).json()
    assert [m["role"] for m in recalled["messages"]] == ["user", "assistant", "assistant", "user"]
    tool_part = recalled["messages"][1]["content"]["parts"][0]
    assert tool_part["tool_name"] == "book" and tool_part["result"] == {"ok": True}
    assert (await client.get("/threads/t1/working-memory", headers=h)).json()["working_memory"] is None
    r = await client.put("/threads/t1/working-memory", json={"working_memory": "# Name: Ana"}, headers=h)
    assert r.status_code == 200
    assert (await client.get("/threads/t1/working-memory", headers=h)).json()["working_memory"] == "# Name: Ana"
    r = await client.put("/threads/t1/working-memory", json={"working_memory": "x", "resource_id": "user-z"}, headers=h)
    assert r.status_code == 403
    om = (await client.get("/threads/t1/observational-memory", headers=h)).json()
    assert om == {"thread_id": "t1", "record": None}
    r = await client.patch("/threads/t1", json={"title": "Dinner", "metadata": {"more": 1}}, headers=h)
    assert r.json()["title"] == "Dinner" and r.json()["metadata"] == {"topic": "trip", "more": 1}
    clone = await client.post("/threads/t1/clone", json={"new_thread_id": "t1-copy", "message_limit": 2}, headers=h)
    assert clone.status_code == 201 and clone.json()["metadata"]["clone"]["sourceThreadId"] == "t1"
    assert (await client.get("/threads/t1-copy/messages", headers=h)).json()["total"] == 2
    # one message: only through its own thread, only with write access
    assert (await client.delete("/threads/t1-copy/messages/m-last", headers=h)).status_code == 404
    assert (await client.delete("/threads/t1/messages/m-last", headers=bearer(READER))).status_code == 403
    assert (await client.delete("/threads/t1/messages/m-last", headers=h)).json() == {"deleted": True}
    assert (await client.delete("/threads/t1/messages/m-last", headers=h)).status_code == 404
    assert (await client.get("/threads/t1/messages", headers=h)).json()["total"] == 3
    assert (await client.delete("/threads/t1", headers=h)).json() == {"deleted": True}
    assert (await client.get("/threads/t1", headers=h)).status_code == 404
    assert (await client.post("/threads/missing/messages", json={"messages": []}, headers=h)).status_code == 404


async def test_recall_route_adds_semantic_hits(tmp_path: Path) -> None:
    from mastra_memory.testing import HashingEmbedder
    from storage_adapters.inmemory import InMemoryVector

    memory = Memory(
        InMemoryStore(),
        vector=InMemoryVector(),
        embedder=HashingEmbedder(),
        options={"last_messages": 1, "semantic_recall": {"top_k": 1, "message_range": 0}},
    )
    async for client in _client(create_app(memory)):
        await client.post("/threads", json={"resource_id": "r", "thread_id": "t"})
        chat = [
            {"role": "user", "content": text}
            for text in ["my cat is named Pixel", "the weather is grey today", "I bought new running shoes"]
        ]
        assert (await client.post("/threads/t/messages", json={"messages": chat})).status_code == 201
        plain = (await client.get("/threads/t/recall")).json()["messages"]
        assert [m["content"]["parts"][0]["text"] for m in plain] == ["I bought new running shoes"]
        hits = (await client.get("/threads/t/recall", params={"q": "what is my cat called"})).json()["messages"]
        texts = [m["content"]["parts"][0]["text"] for m in hits]
        assert texts == ["my cat is named Pixel", "I bought new running shoes"]


async def test_observational_memory_route_returns_the_record(tmp_path: Path) -> None:
    from tests.om_support import om_options, scripted, turn

    memory = Memory(LibSQLStore(f"file:{tmp_path}/om.db"), options=om_options(scripted()))
    for n in range(9):  # enough turns to cross the 300-token observation threshold
        turn(memory, "t1", "r1", n)
    expected = memory.get_observational_memory("t1")
    assert expected is not None
    async for client in _client(create_app(memory)):
        body = (await client.get("/threads/t1/observational-memory")).json()
        record = body["record"]
        assert record is not None and "noted m0-u" in record["activeObservations"]  # the original's spelling
        assert record["generationCount"] == expected.generation_count == 0
        assert (await client.get("/threads/nope/observational-memory")).status_code == 404
    memory.close()


async def test_working_memory_disabled_is_409(tmp_path: Path) -> None:
    memory = Memory(InMemoryStore())
    async for client in _client(create_app(memory)):
        await client.post("/threads", json={"resource_id": "r", "thread_id": "t"})
        r = await client.put("/threads/t/working-memory", json={"working_memory": "x"})
        assert r.status_code == 409 and "disabled" in r.json()["detail"]


async def test_openapi_documents_routes_and_bearer_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 401  # auth is on: the document needs a key
    spec = (await client.get("/openapi.json", headers=bearer(READER))).json()
    paths = spec["paths"]
    for path in [
        "/memory/{namespace}",
        "/memory/{namespace}/{key}",
        "/memory/{namespace}/{key}/increment",
        "/threads",
        "/threads/{thread_id}/messages",
        "/threads/{thread_id}/recall",
        "/threads/{thread_id}/working-memory",
        "/threads/{thread_id}/observational-memory",
        "/health",
    ]:
        assert path in paths, path
    assert set(paths["/memory/{namespace}/{key}"]) >= {"get", "put", "delete", "head"}
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}] and paths["/health"]["get"]["security"] == []
    assert (await client.get("/docs", headers=bearer(READER))).status_code == 200


def test_store_without_kv_support_gives_501() -> None:
    from fastapi.testclient import TestClient

    class NoKV(InMemoryStore):
        from mastra_memory.storage.base import MemoryStorage as _Base

        _kv_get = _Base._kv_get
        _kv_exists = _Base._kv_exists

    client = TestClient(create_app(Memory(NoKV())))
    r = client.get("/memory/ns/k")
    assert r.status_code == 501 and "does not support key-value memory" in r.json()["detail"]


# -- a real uvicorn on loopback ------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("uvicorn") / "live.db"
    with live_server(f"file:{db}", api_keys=KEYS, extra_args=["--max-value-bytes", "4096"]) as srv:
        yield srv


def _raw(live: LiveServer, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_live_auth_and_round_trip(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as c:
        assert c.get("/memory/agent-1/k").status_code == 401
        assert c.put("/memory/zzz/k", json=1, headers=bearer(AGENT)).status_code == 403
        r = c.put("/memory/agent-1/k%2F..x", json={"n": 1.0}, headers=bearer(AGENT))
        assert r.status_code == 200 and r.json()["key"] == "k/..x"
        got = c.get("/memory/agent-1/k%2F..x", headers=bearer(AGENT)).json()["value"]
        assert got == {"n": 1.0} and type(got["n"]) is float
        assert c.get("/health").json()["status"] == "ok"


def test_live_raw_traversal_and_bodies(live: LiveServer) -> None:
    auth = f"Authorization: Bearer {ADMIN}\r\n".encode()
    status, _ = _raw(live, b"GET /memory/ns/../../etc/passwd HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
    assert status in (400, 404, 422)
    status, _ = _raw(live, b"GET /memory/ns/%2e%2e/x HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
    assert status == 422
    # a declared huge body is refused before it is sent
    status, _ = _raw(
        live,
        b"PUT /memory/ns/k HTTP/1.1\r\nHost: x\r\n"
        + auth
        + b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n",
    )
    assert status == 413
    # a chunked body is counted while it streams (server limit: 4096 bytes)
    chunk = b'"' + b"z" * 8000 + b'"'
    body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    status, _ = _raw(
        live,
        b"PUT /memory/ns/k HTTP/1.1\r\nHost: x\r\n"
        + auth
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body,
    )
    assert status == 413
    status, _ = _raw(
        live,
        b"PUT /memory/ns/k HTTP/1.1\r\nHost: x\r\n"
        + auth
        + b"Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{bad}",
    )
    assert status == 400
    with httpx.Client(base_url=live.url, timeout=10) as c:
        assert c.get("/memory/ns", headers=bearer(ADMIN)).json()["keys"] == []


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PATH": "/usr/bin:/bin",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    args = ["--host", "0.0.0.0", "--port", "1", "--db", f"file:{tmp_path}/x.db"]
    result = subprocess.run(
        [sys.executable, "-m", "mastra_memory.server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "not a loopback address and no API key" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_serve_refuses_a_short_api_key(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PATH": "/usr/bin:/bin",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mastra_memory.server", "--api-key", "short", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "invalid API key" in result.stderr and "16 characters" in result.stderr


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")


def test_serve_command_registers_on_a_typer_app() -> None:
    import typer
    from typer.testing import CliRunner

    from mastra_memory.server.cli import register

    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command so typer keeps subcommands
        pass

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--api-keys-file" in result.output


def test_open_store_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    import os

    from mastra_memory.server.cli import open_store

    assert type(open_store(f"file:{tmp_path}/a.db")).__name__ == "LibSQLStore"
    assert type(open_store(":memory:")).__name__ == "LibSQLStore"
    pytest.importorskip("sqlalchemy")
    store = open_store(f"sqlite+pysqlite:///{tmp_path}/b.db")
    assert type(store).__name__ == "SQLAlchemyStore"
    store.kv_set("ns", "k", 1.5)
    assert store.kv_get("ns", "k").value == 1.5  # type: ignore[union-attr]
    store.close()
    if os.environ.get("MASTRA_TEST_PG_URL"):
        pg = open_store(os.environ["MASTRA_TEST_PG_URL"])
        assert type(pg).__name__ == "PostgresStore"
        pg.close()


def test_two_workers_share_one_database_and_lose_no_increment(tmp_path: Path) -> None:
    """``--workers 2``: two uvicorn processes on one libSQL file; 4 client threads increment."""
    import threading

    from mastra_memory.kv import KVMemory

    with live_server(f"file:{tmp_path}/w.db", api_keys=[ADMIN], extra_args=["--workers", "2"]) as srv:

        def hammer() -> None:
            with KVMemory("workers", base_url=srv.url, api_key=ADMIN, timeout=30) as kv:
                for _ in range(50):
                    kv.increment("n")

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        with KVMemory("workers", base_url=srv.url, api_key=ADMIN) as kv:
            assert kv.get("n") == 200


def test_missing_server_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['httpx'] = None\n"
        "import mastra_memory.server as server\n"
        "from mastra_memory.kv import KVMemory\n"
        "for make in (lambda: server.create_app(), lambda: KVMemory('ns', base_url='http://127.0.0.1:1')):\n"
        "    try:\n"
        "        make()\n"
        "    except ImportError as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PATH": "/usr/bin:/bin",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines == [
        'MissingDependencyError fastapi is not installed; install it with: pip install "mastra-memory[server]"',
        'MissingDependencyError httpx is not installed; install it with: pip install "mastra-memory[server]"',
    ]


def test_namespace_overrides_merge_over_the_default() -> None:
    limits = ServerLimits(
        default=NamespaceLimits(write_rate=1, write_burst=3, max_keys=5),
        namespaces={"fast": NamespaceLimits(write_rate=10), "big": NamespaceLimits(max_keys=100)},
    )
    fast, big, other = (limits.for_namespace(n) for n in ("fast", "big", "other"))
    assert (fast.write_rate, fast.write_burst, fast.max_keys) == (10, None, 5)
    assert (big.write_rate, big.write_burst, big.max_keys) == (1, 3, 100)
    assert other == limits.default
