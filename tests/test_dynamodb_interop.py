"""One DynamoDB table shared with Mastra's TypeScript packages (@mastra/memory + @mastra/dynamodb).

The real TypeScript ``Memory`` (tests/interop/ts_write.mjs, ts_read.mjs, given a ``dynamodb://``
URL instead of a libSQL file) and ``DynamoDBStore`` here read and write the same table on the
DynamoDB-compatible server of ``scripts/services.sh`` (moto). Skipped unless that server runs and
the pinned npm packages are installed (``bash scripts/ts_interop.sh``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message
from mastra_memory.types import Thread, format_timestamp
from tests import servers

pytest.importorskip("boto3", reason="boto3 not installed ([dynamodb])")

from storage_adapters.dynamodb import DynamoDBStore

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "interop"
TS_DIR = Path(os.environ.get("MASTRA_TEST_TS_INTEROP") or ROOT / ".services" / "ts-interop")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (TS_DIR / "node_modules" / "@mastra" / "dynamodb" / "package.json").is_file(),
    reason=f"@mastra/dynamodb not installed in {TS_DIR}: run `bash scripts/ts_interop.sh`",
)


def ts(script: str, url: str, *ops: dict[str, Any]) -> list[Any]:
    """Run ``tests/interop/<script>`` against the table of ``url``; return its JSON results."""
    proc = subprocess.run(
        ["node", str(SCRIPTS / script), url, "-"],
        input=json.dumps({"ops": list(ops)}),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MASTRA_TEST_TS_INTEROP": str(TS_DIR)},
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def table() -> Iterator[tuple[DynamoDBStore, str]]:
    with servers.dynamodb_store() as store:
        assert isinstance(store, DynamoDBStore)
        url = f"dynamodb://{store.table_name}?region=us-east-1&endpoint_url={store.endpoint_url}"
        yield store, url


def _ts_message(mid: str, thread: str, role: str, at: datetime, text: str) -> dict[str, Any]:
    return {
        "id": mid,
        "threadId": thread,
        "resourceId": "res-1",
        "role": role,
        "createdAt": format_timestamp(at),
        "content": {"format": 2, "parts": [{"type": "text", "text": text}]},
    }


def test_typescript_writes_python_reads(table: tuple[DynamoDBStore, str]) -> None:
    store, url = table
    ts(
        "ts_write.mjs",
        url,
        {
            "op": "saveThread",
            "thread": {
                "id": "t-alpha",
                "resourceId": "res-1",
                "title": "Alpha",
                "metadata": {"topic": "weather", "n": 3},
                "createdAt": format_timestamp(T0),
                "updatedAt": format_timestamp(T0),
            },
        },
        {
            "op": "saveMessages",
            "messages": [
                _ts_message("m-1", "t-alpha", "user", T0, "Hello from TypeScript"),
                _ts_message("m-2", "t-alpha", "assistant", T0 + timedelta(seconds=1), "Hi, Python here? No, TS."),
                _ts_message("m-3", "t-alpha", "user", T0 + timedelta(seconds=2), "Third"),
            ],
        },
    )
    thread = store.get_thread_by_id("t-alpha")
    assert thread is not None
    assert (thread.resource_id, thread.title, thread.metadata) == ("res-1", "Alpha", {"topic": "weather", "n": 3})
    assert thread.created_at == T0
    page = store.list_messages("t-alpha", per_page=False)
    assert [(m.id, m.role, m.text) for m in page.messages] == [
        ("m-1", "user", "Hello from TypeScript"),
        ("m-2", "assistant", "Hi, Python here? No, TS."),
        ("m-3", "user", "Third"),
    ]
    assert [t.id for t in store.list_threads(resource_id="res-1").threads] == ["t-alpha"]
    memory = Memory(storage=store)  # and the facade continues the TypeScript thread
    memory.save_messages([Message.user("from Python", "t-alpha", resource_id="res-1", id="m-4")])
    assert [m.id for m in memory.recall("t-alpha", resource_id="res-1").messages][-1] == "m-4"


def test_python_writes_typescript_reads(table: tuple[DynamoDBStore, str]) -> None:
    store, url = table
    store.create_thread(
        Thread(id="t-py", resource_id="res-1", title="From Python", metadata={"k": "v"}, created_at=T0, updated_at=T0)
    )
    store.save_messages(
        [
            Message.user("first", "t-py", id="p-1", created_at=T0 + timedelta(seconds=1)),
            Message.assistant("second", "t-py", id="p-2", created_at=T0 + timedelta(seconds=2)),
        ]
    )
    store.update_resource("res-1", working_memory="# User\n- name: Ana")
    got, listed, recalled, resource = ts(
        "ts_read.mjs",
        url,
        {"op": "getThreadById", "threadId": "t-py"},
        {"op": "listThreads", "filter": {"resourceId": "res-1"}},
        {"op": "recall", "threadId": "t-py", "resourceId": "res-1"},
        {"op": "getResourceById", "resourceId": "res-1"},
    )
    assert (got["id"], got["resourceId"], got["title"], got["metadata"]) == ("t-py", "res-1", "From Python", {"k": "v"})
    assert [t["id"] for t in listed["threads"]] == ["t-py"]
    msgs = recalled["messages"]
    assert [(m["id"], m["role"]) for m in msgs] == [("p-1", "user"), ("p-2", "assistant")]
    assert msgs[0]["content"]["parts"][0]["text"] == "first"
    assert resource["workingMemory"] == "# User\n- name: Ana"
