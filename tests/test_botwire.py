"""The unmodified ``botwire`` 0.2.1 client (PyPI) against a real ``mastra-memory serve`` process.

The client reads ``BOTWIRE_URL`` when it is imported, so each scenario runs it in its own Python
process with that variable set, exactly as a BotWire user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("botwire")
httpx = pytest.importorskip("httpx")

from mastra_memory.server.config import ApiKey  # noqa: E402
from mastra_memory.server.routes_botwire import decode_botwire_value  # noqa: E402
from mastra_memory.testing.live_server import LiveServer, live_server  # noqa: E402

ADMIN = "botwire-admin-token-0123"
SCOPED = "botwire-scoped-token-0123"

VALUES: dict[str, Any] = {
    "s": "hello world",
    "i": 42,
    "f": 2.5,
    "b": True,
    "l": [1, "two", {"three": 3}],
    "d": {"name": "Ana", "tags": ["x", "y"], "n": None},
    "none": None,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("botwire") / "bw.db"
    keys = [ApiKey(token=ADMIN, name="admin"), ApiKey(token=SCOPED, name="agent", namespaces=("agent-*",))]
    with live_server(f"file:{db}", api_keys=keys, extra_args=["--max-value-bytes", "1024"]) as srv:
        yield srv


def run_client(base_url: str, script: str) -> Any:
    """Run ``script`` (which prints one JSON document) with ``BOTWIRE_URL=base_url``."""
    env = {**os.environ, "BOTWIRE_URL": base_url}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def with_key(server: LiveServer, token: str) -> str:
    return server.url.replace("http://", f"http://botwire:{token}@") + "/botwire"


def test_values_round_trip_with_their_json_types_and_keys_are_listed(server: LiveServer) -> None:
    result = run_client(
        with_key(server, ADMIN),
        f"""
        import json
        from botwire import Memory
        values = json.loads({json.dumps(json.dumps(VALUES))})
        mem = Memory("agent-roundtrip")
        for key, value in values.items():
            mem.set(key, value)
        got = {{key: mem.get(key, default="<missing>") for key in values}}
        print(json.dumps({{
            "got": got,
            "types": {{k: type(v).__name__ for k, v in got.items()}},
            "keys": mem.keys(),
            "deleted": mem.delete("s"),
            "deleted_again": mem.delete("s"),
            "after": mem.get("s", default="<missing>"),
            "contains": "i" in mem,
            "keys_after": mem.keys(),
        }}))
        """,
    )
    assert result["got"] == VALUES
    assert result["types"] == {
        "s": "str",
        "i": "int",
        "f": "float",
        "b": "bool",
        "l": "list",
        "d": "dict",
        "none": "NoneType",
    }
    assert result["keys"] == sorted(VALUES)
    assert result["deleted"] is True and result["deleted_again"] is False
    assert result["after"] == "<missing>" and result["contains"] is True
    assert result["keys_after"] == sorted(set(VALUES) - {"s"})
    # the same entries through the native routes: one store, typed values
    native = httpx.get(
        f"{server.url}/memory/agent-roundtrip/d", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    )
    assert native.status_code == 200 and native.json()["value"] == VALUES["d"]


def test_auth_scopes_and_limits_apply(server: LiveServer) -> None:
    no_key = httpx.put(f"{server.url}/botwire/memory/agent-x/k", json={"value": "v"}, timeout=10)
    assert no_key.status_code == 401
    wrong = httpx.get(f"{server.url}/botwire/memory/agent-x/k", auth=("botwire", "not-a-real-token-xx"), timeout=10)
    assert wrong.status_code == 401
    # a key scoped to agent-* may not touch another namespace, through the real client too
    out = run_client(
        with_key(server, SCOPED),
        """
        import json, httpx
        from botwire import Memory
        Memory("agent-ok").set("k", 1)
        try:
            Memory("other").set("k", 1)
            status = None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
        print(json.dumps({"ok": Memory("agent-ok").get("k"), "other": status}))
        """,
    )
    assert out == {"ok": 1, "other": 403}
    big = httpx.put(
        f"{server.url}/botwire/memory/agent-x/big",
        json={"value": "x" * 2000},
        auth=("botwire", ADMIN),
        timeout=10,
    )
    assert big.status_code == 413
    assert httpx.get(f"{server.url}/botwire/memory/agent-x/big", auth=("", ADMIN), timeout=10).status_code == 404
    bad = httpx.put(
        f"{server.url}/botwire/memory/agent-x/k",
        json={"v": 1},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert bad.status_code == 422


def test_decode_botwire_value() -> None:
    assert decode_botwire_value("12") == 12
    assert decode_botwire_value("-1.5e3") == -1500.0
    assert decode_botwire_value("null") is None
    assert decode_botwire_value("false") is False
    assert decode_botwire_value('{"a": [1]}') == {"a": [1]}
    assert decode_botwire_value("hello") == "hello"
    assert decode_botwire_value('"quoted"') == '"quoted"'  # a JSON string stays the text that was sent
    assert decode_botwire_value("[not json") == "[not json"
    assert decode_botwire_value("NaN") == "NaN" and decode_botwire_value("nonsense") == "nonsense"
    assert decode_botwire_value(7) == 7 and decode_botwire_value([1]) == [1]
    assert decode_botwire_value("") == ""


def test_botwire_routes_are_served_but_not_in_our_openapi(server: LiveServer) -> None:
    """BotWire's wire format is its client's, not this API's: the routes answer, and the OpenAPI
    document (which schemathesis holds every response to) describes only our own API."""
    doc = httpx.get(f"{server.url}/openapi.json", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert not [p for p in doc.json()["paths"] if p.startswith("/botwire")]
    assert "/botwire" in (Path(__file__).parents[1] / "docs" / "server.md").read_text()


def test_uses_the_pinned_client() -> None:
    from importlib.metadata import version

    assert version("botwire") == "0.2.1"
    assert Path(__import__("botwire").__file__).parent.name == "botwire"
