"""Issue 12, server side: one error body (RFC 9457 problem details with a stable ``code``) on
every route, an OpenAPI document that says so, the docs behind the keys and offline, bounded
input at the routes, 4xx texts that reveal nothing about other resources, and ``serve``
start-up failures as one line. In process on a real libSQL file; ``serve`` as a subprocess."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi", reason='needs the [server] extra: pip install "mastra-memory[server]"')
import httpx  # noqa: E402

from mastra_memory.memory import Memory  # noqa: E402
from mastra_memory.server import ApiKey, ServerLimits, create_app  # noqa: E402
from storage_adapters.libsql import LibSQLStore  # noqa: E402

pytestmark = pytest.mark.anyio

ADMIN = "admin-token-0123456789"
AGENT = "agent-token-0123456789"  # resources user-a only
KEYS = [
    ApiKey(token=ADMIN, name="admin"),  # type: ignore[arg-type]
    ApiKey(token=AGENT, name="agent", namespaces=("agent-*",), resources=("user-a",)),  # type: ignore[arg-type]
]
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    mem = Memory(LibSQLStore(f"file:{tmp_path}/problems.db"), options={"working_memory": {"enabled": True}})
    yield mem
    mem.close()


@pytest.fixture
async def client(memory: Memory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(memory, api_keys=KEYS, limits=ServerLimits(max_value_bytes=4096, max_request_bytes=64 * 1024))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=bearer(ADMIN)) as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status and body["type"] == "about:blank" and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


# -- item 8: one error shape everywhere -----------------------------------------------------------


async def test_every_kind_of_error_is_problem_details(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"resource_id": "user-a", "thread_id": "t1"})
    assert_problem(
        await client.get("/threads/t1", headers={"Authorization": "Bearer nope-nope-nope-nope"}), 401, "unauthorized"
    )
    assert_problem(await client.get("/memory/x/k", headers={"Authorization": ""}), 401, "unauthorized")  # fast path
    assert_problem(await client.get("/memory/other/k", headers=bearer(AGENT)), 403, "forbidden")
    assert_problem(await client.get("/threads/nope"), 404, "not_found")
    assert_problem(await client.get("/memory/ns/missing"), 404, "not_found")
    assert_problem(await client.get("/no/such/route"), 404, "not_found")
    assert_problem(
        await client.post("/threads", json={"resource_id": "user-a", "thread_id": "t1"}), 409, "thread_exists"
    )
    assert_problem(await client.put("/memory/ns/k", content=b"1", headers={"Content-Type": "text/plain"}), 415)
    assert_problem(await client.put("/memory/ns/k", json="x" * 5000), 413, "payload_too_large")
    body = assert_problem(await client.post("/threads", json={"resource_id": 5}), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "resource_id"]
    assert_problem(await client.get("/threads", params={"page": "x"}), 422, "validation_error")
    assert_problem(await client.put("/memory/ns/..%2Fx", json=1), 422, "validation_error")  # library error
    assert_problem(await client.request("PATCH", "/health"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/threads"),
        ("PATCH", "/threads/t1"),
        ("POST", "/threads/t1/messages"),
        ("PUT", "/threads/t1/working-memory"),
        ("PUT", "/memory/ns/k"),
        ("POST", "/memory/ns/k/increment"),
        ("POST", "/memory/ns/k/compare-and-set"),
    ],
)
async def test_unparseable_json_is_400_on_every_route(client: httpx.AsyncClient, method: str, path: str) -> None:
    await client.post("/threads", json={"resource_id": "user-a", "thread_id": "t1"})
    for body in (b"{oops", b'{"a": NaN}' if path.startswith("/memory") else b"{,}"):
        r = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert_problem(r, 400, "invalid_json")


async def test_oversized_body_on_the_message_route_is_problem_json(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"resource_id": "user-a", "thread_id": "t1"})
    big = {"messages": [{"role": "user", "content": "x" * (70 * 1024)}]}
    assert_problem(await client.post("/threads/t1/messages", json=big), 413, "payload_too_large")
    assert (await client.get("/threads/t1/messages")).json()["messages"] == []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}]}'

    streamed = await client.post("/threads/t1/messages", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "payload_too_large")
    assert (await client.get("/threads/t1/messages")).json()["messages"] == []


async def test_openapi_documents_the_problem_responses_and_id_rules(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert set(doc["components"]["schemas"]["Problem"]["required"]) >= {"title", "status", "detail", "code"}
    ops = {(p, m): op for p, item in doc["paths"].items() for m, op in item.items()}
    for (path, method), op in ops.items():
        errors = {int(s) for s in op["responses"] if int(s) >= 400}
        if path != "/health":
            assert {401, 403, 422, 503} <= errors, (path, method)
        for status in errors:
            content = op["responses"][str(status)].get("content")
            if method != "head":
                assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert {400, 404, 409, 413} <= {int(s) for s in ops[("/threads/{thread_id}/messages", "post")]["responses"]}
    assert {429, 507} <= {int(s) for s in ops[("/memory/{namespace}/{key}", "put")]["responses"]}
    assert "409" in ops[("/threads", "post")]["responses"]
    thread_id = next(p for p in ops[("/threads/{thread_id}", "get")]["parameters"] if p["name"] == "thread_id")
    assert thread_id["schema"]["maxLength"] == 255 and "pattern" in thread_id["schema"]
    create = doc["components"]["schemas"]["CreateThread"]["properties"]["resource_id"]
    assert create["maxLength"] == 255 and create["pattern"].startswith("^")
    key = next(p for p in ops[("/memory/{namespace}/{key}", "get")]["parameters"] if p["name"] == "key")
    assert key["schema"]["maxLength"] == 512
    links = ops[("/threads", "post")]["responses"]["201"]["links"]
    assert {link["parameters"]["thread_id"] for link in links.values()} == {"$response.body#/id"}
    linked = {link["operationId"] for link in links.values()}
    assert ops[("/threads/{thread_id}/messages", "post")]["operationId"] in linked and len(linked) == 10
    saved = ops[("/threads/{thread_id}/messages", "post")]["responses"]["201"]["links"]["delete_message"]
    assert saved["parameters"]["message_id"] == "$response.body#/messages/0/id"
    increment = ops[("/memory/{namespace}/{key}/increment", "post")]["requestBody"]
    assert set(increment["content"]["application/json"]["schema"]["properties"]) == {"by", "ttl"}


# -- items 1-3: bounded input at the routes ----------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_deep_metadata_is_refused_with_422_and_stores_nothing(client: httpx.AsyncClient) -> None:
    for depth in (101, 300):
        r = await client.post(
            "/threads", json={"resource_id": "user-a", "thread_id": f"d{depth}", "metadata": _nested(depth)}
        )
        assert_problem(r, 422, "validation_error")
        assert_problem(await client.get(f"/threads/d{depth}"), 404)
    deep = '{"resource_id": "user-a", "metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5001  # over the parser's stack
    r = await client.post("/threads", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
    ok = await client.post("/threads", json={"resource_id": "user-a", "thread_id": "d99", "metadata": _nested(99)})
    assert ok.status_code == 201
    assert (await client.get("/threads", params={"resource_id": "user-a"})).status_code == 200
    msg = {"messages": [{"role": "user", "content": "hi", "metadata": _nested(150)}], "format": "openai"}
    assert_problem(await client.post("/threads/d99/messages", json=msg), 422)


async def test_nul_and_lone_surrogates_are_refused_at_the_route(client: httpx.AsyncClient) -> None:
    for body in (
        '{"resource_id": "user-a", "title": "a\\u0000b"}',
        '{"resource_id": "user-a", "title": "a\\ud800b"}',
        '{"resource_id": "user-a", "metadata": {"k\\udc00": 1}}',
        '{"resource_id": "user-\\ud800"}',
    ):
        r = await client.post("/threads", content=body.encode(), headers={"Content-Type": "application/json"})
        assert_problem(r, 422, "validation_error")
    assert (await client.get("/threads")).json()["threads"] == []


async def test_pages_of_empty_and_unknown_threads_and_huge_numbers(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"resource_id": "user-a", "thread_id": "empty"})
    for page in (1, 5, 1_000_000):
        r = await client.get("/threads/empty/messages", params={"page": page, "per_page": 10})
        assert r.status_code == 200 and r.json()["messages"] == []
        assert (await client.get("/threads/empty/recall", params={"page": page, "per_page": 3})).status_code == 200
    assert_problem(await client.get("/threads/unknown/messages", params={"page": 3}), 404)
    for params in ({"page": 10**30}, {"per_page": 10**30}, {"page": 1_000_001}, {"page": -1}, {"per_page": 1001}):
        assert_problem(await client.get("/threads/empty/messages", params=params), 422)
        assert_problem(await client.get("/threads", params=params), 422)
    assert_problem(await client.get("/memory/ns", params={"limit": 10**30}), 422)
    assert_problem(await client.post("/memory/ns/n/increment", json={"by": 2**70}), 422)
    assert_problem(await client.put("/memory/ns/n", params={"ttl": 1e300}, json=1), 422)


# -- item 7: refusals reveal nothing about other resources ------------------------------------


async def test_conflict_texts_do_not_confirm_other_resources(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"resource_id": "user-b", "thread_id": "theirs"})
    await client.post(
        "/threads/theirs/messages",
        json={"format": "mastra", "messages": [{"id": "m-theirs", "role": "user", "content": "x"}]},
    )
    agent = bearer(AGENT)
    await client.post("/threads", json={"resource_id": "user-a", "thread_id": "mine"}, headers=agent)
    taken = await client.post("/threads", json={"resource_id": "user-a", "thread_id": "theirs"}, headers=agent)
    own = await client.post("/threads", json={"resource_id": "user-a", "thread_id": "mine"}, headers=agent)
    for r, tid in ((taken, "theirs"), (own, "mine")):
        body = assert_problem(r, 409, "thread_exists")
        assert body["detail"] == f"thread id {tid!r} is not available: choose another"
        assert "user-b" not in r.text and "exists" not in body["detail"]
    clone = await client.post("/threads/mine/clone", json={"new_thread_id": "theirs"}, headers=agent)
    assert (
        assert_problem(clone, 409, "thread_exists")["detail"] == "thread id 'theirs' is not available: choose another"
    )
    msg = {"format": "mastra", "messages": [{"id": "m-theirs", "role": "user", "content": "mine now?"}]}
    body = assert_problem(await client.post("/threads/mine/messages", json=msg, headers=agent), 409, "message_id_taken")
    assert "another thread" not in body["detail"] and "theirs" not in body["detail"].replace("m-theirs", "")
    assert (await client.get("/threads/theirs/messages")).json()["messages"][0]["content"] != "mine now?"
    assert_problem(await client.get("/threads/theirs", headers=agent), 404)
    assert (await client.get("/threads/theirs", headers=agent)).json()["detail"] == (
        await client.get("/threads/never-was", headers=agent)
    ).json()["detail"].replace("never-was", "theirs")


# -- item 9: docs and OpenAPI behind the keys, offline ----------------------------------------


async def test_openapi_and_docs_need_a_key_and_docs_work_offline(client: httpx.AsyncClient) -> None:
    anonymous = {"Authorization": ""}
    assert_problem(await client.get("/openapi.json", headers=anonymous), 401)
    r = await client.get("/docs", headers=anonymous)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "mastra-memory"
    basic = "Basic " + base64.b64encode(f"anyone:{AGENT}".encode()).decode()
    page = await client.get("/docs", headers={"Authorization": basic})
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    wrong = "Basic " + base64.b64encode(b"anyone:not-a-key-at-all-no").decode()
    assert_problem(await client.get("/docs", headers={"Authorization": wrong}), 401)
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = await client.get(f"/docs/assets/{asset}", headers=anonymous)
        assert r.status_code == 200 and len(r.content) > 10_000
    assert_problem(await client.get("/docs/assets/..%2F..%2Fsetup.py"), 404)
    assert "/docs" not in (await client.get("/openapi.json")).json()["paths"]


async def test_docs_need_no_key_on_a_keyless_server(memory: Memory) -> None:
    transport = httpx.ASGITransport(app=create_app(memory))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/docs")).status_code == 200


# -- item 13: serve start-up failures ---------------------------------------------------------


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mastra_memory.server", "--port", "9", "--db", f"file:{tmp_path}/s.db", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--memory-options", "{not json"], "--memory-options is not valid JSON", 2),
        (["--memory-options", "[1, 2]"], "--memory-options must be a JSON object", 2),
        (["--memory-options", '{"last_messages": "many"}'], "--memory-options", 2),
        (["--db", "postgresql://nobody@127.0.0.1:9/none"], "error:", 1),
    ],
)
def test_serve_start_up_failures_are_one_line_before_serving(
    tmp_path: Path, args: list[str], message: str, code: int
) -> None:
    result = _serve(tmp_path, *args)
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "serving" not in result.stderr


def test_serve_without_the_server_extra_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "fastapi.py").write_text("raise ImportError('blocked', name='fastapi')\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{blocker}"}
    result = _serve(tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ['error: fastapi is not installed; install it with: pip install "mastra-memory[server]"']
