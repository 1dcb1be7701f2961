"""``mastra-memory mcp`` driven by the official ``mcp`` SDK's stdio client, on a real libSQL file.

The server runs as a subprocess exactly as an MCP client (Claude Desktop, Cursor, ...) starts it;
every tool is listed and called, and its effect checked in the file afterwards.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")
import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from mastra_memory import Memory
from mastra_memory.kv import KVMemory
from mastra_memory.settings import load_settings, local_embedder_available
from mastra_memory.storage import open_storage
from mastra_memory.types import Message
from tests.om_support import om_options, scripted, turn

REPO = Path(__file__).resolve().parent.parent
TOOLS = {
    "remember",
    "recall",
    "forget",
    "list_keys",
    "search_history",
    "get_working_memory",
    "update_working_memory",
    "list_threads",
    "get_observations",
}


def _seed(url: str) -> None:
    """Two threads of ``ana`` (one observed by OM), one thread of ``eve``; embeddings for recall."""
    settings = load_settings(db=url, environ={})
    with settings.open_memory() as memory:
        memory.create_thread("ana", "trip", "Trip planning")
        memory.create_thread("eve", "eve-1", "Eve's secrets")
        texts = [
            ("user", "I am planning a trip to Lisbon in May."),
            ("assistant", "Lovely! Lisbon is sunny in May."),
            ("user", "My sister Marta lives near the Alfama district."),
            ("assistant", "Then you can stay with Marta."),
        ]
        memory.save_messages([getattr(Message, role)(text, "trip", resource_id="ana") for role, text in texts])
        memory.save_messages([Message.user("My bank PIN is 1234.", "eve-1", resource_id="eve")])
    with Memory(open_storage(url), options=om_options(scripted(), observation={"message_tokens": 100})) as om:
        for n in range(4):
            turn(om, "observed", "ana", n)


async def _session_calls(url: str) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mastra_memory", "mcp", "--db", url, "--resource", "ana", "--namespace", "agent-ana"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    out: dict[str, Any] = {}

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        out["tools"] = {t.name: t for t in listed.tools}

        async def call(name: str, **arguments: Any) -> Any:
            result = await session.call_tool(name, arguments)
            if result.is_error:
                return {"error": " ".join(c.text for c in result.content if hasattr(c, "text"))}
            if result.structured_content is not None:
                return result.structured_content
            return json.loads(result.content[0].text)

        out["remember"] = await call("remember", key="city", value={"name": "Lisbon", "since": 2021})
        out["remember2"] = await call("remember", key="pet", value="cat")
        out["recall"] = await call("recall", key="city")
        out["recall_missing"] = await call("recall", key="nope")
        out["list_keys"] = await call("list_keys")
        out["forget"] = await call("forget", key="pet")
        out["forget_again"] = await call("forget", key="pet")
        out["search"] = await call("search_history", query="where does my sister live?", top_k=2)
        out["search_other"] = await call("search_history", query="PIN", thread_id="eve-1")
        out["wm_empty"] = await call("get_working_memory")
        out["wm_update"] = await call("update_working_memory", content="# User\n- Name: Ana\n- City: Lisbon")
        out["wm"] = await call("get_working_memory")
        out["threads"] = await call("list_threads")
        out["observations"] = await call("get_observations", thread_id="observed")
        out["observations_none"] = await call("get_observations", thread_id="trip")
        out["observations_other"] = await call("get_observations", thread_id="eve-1")
        out["bad_top_k"] = await call("search_history", query="x", top_k=0)
    return out


@pytest.mark.skipif(not local_embedder_available(), reason="needs the [local] extra (offline embedder)")
def test_stdio_client_lists_and_calls_every_tool(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/mcp.db"
    _seed(url)
    out = anyio.run(_session_calls, url)

    assert set(out["tools"]) == TOOLS
    assert out["tools"]["remember"].description and "key" in out["tools"]["remember"].input_schema["properties"]
    assert out["remember"] == {"key": "city", "stored": True}
    assert out["recall"] == {"key": "city", "found": True, "value": {"name": "Lisbon", "since": 2021}}
    assert out["recall_missing"]["found"] is False
    assert out["list_keys"] == {"keys": ["city", "pet"]}
    assert out["forget"]["deleted"] is True and out["forget_again"]["deleted"] is False

    hits = out["search"]["hits"]
    assert hits and "Marta" in hits[0]["text"] and hits[0]["thread_id"] == "trip"
    assert all(h["thread_id"] != "eve-1" for h in hits)  # scoped to ana
    assert "not found" in out["search_other"]["error"]  # eve's thread is invisible

    assert out["wm_empty"] == {"working_memory": None}
    assert out["wm_update"] == {"updated": True} and "City: Lisbon" in out["wm"]["working_memory"]
    assert {t["id"] for t in out["threads"]["threads"]} == {"trip", "observed"}
    assert out["threads"]["total"] == 2

    assert out["observations"]["generation"] == 0 and "noted m0-u" in out["observations"]["observations"]
    assert out["observations"]["observation_tokens"] > 0
    assert out["observations_none"]["observations"] is None
    assert "not found" in out["observations_other"]["error"]
    assert "top_k" in out["bad_top_k"]["error"]

    # the effects are in the file
    store = open_storage(url)
    try:
        kv = KVMemory("agent-ana", store)
        assert kv.get("city") == {"name": "Lisbon", "since": 2021} and not kv.exists("pet")
        resource = store.get_resource_by_id("ana")
        assert resource is not None and "City: Lisbon" in (resource.working_memory or "")
        assert store.get_resource_by_id("eve") is None or not (store.get_resource_by_id("eve").working_memory or "")
    finally:
        store.close()


def test_without_the_extra_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from mastra_memory.errors import MissingDependencyError
    from mastra_memory.mcp_server import build_server

    real_import = builtins.__import__

    def no_mcp(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "mcp" or name.startswith("mcp."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mcp)
    with (
        Memory(open_storage("memory://"), options={"semantic_recall": False}) as memory,
        pytest.raises(MissingDependencyError, match=r"mastra-memory\[mcp\]"),
    ):
        build_server(memory, "ana", "ns")


def test_streamable_http_on_loopback(tmp_path: Path) -> None:
    """``--http PORT``: the SDK's streamable HTTP client reaches the same tools on 127.0.0.1."""
    import subprocess
    import time

    from mcp.client.streamable_http import streamable_http_client

    from mastra_memory.testing.live_server import free_port

    port = free_port()
    url = f"file:{tmp_path}/http.db"
    args = [sys.executable, "-m", "mastra_memory", "mcp", "--db", url, "--embedder", "none", "--http", str(port)]
    log = (tmp_path / "mcp.log").open("wb")
    proc = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT)

    async def run() -> tuple[set[str], Any]:
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            await session.call_tool("remember", {"key": "k", "value": [1, 2]})
            got = await session.call_tool("recall", {"key": "k"})
            searched = await session.call_tool("search_history", {"query": "x"})
            return names, (got.structured_content, searched.is_error)

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                result = anyio.run(run)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    names, (got, search_failed) = result
    assert names == TOOLS
    assert got == {"key": "k", "found": True, "value": [1, 2]}
    assert search_failed  # --embedder none: semantic recall is off, said as a tool error
