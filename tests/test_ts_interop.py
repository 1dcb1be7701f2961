"""One libSQL file shared with Mastra's TypeScript packages (@mastra/memory + @mastra/libsql).

Each test drives the real TypeScript ``Memory`` through the small Node scripts in
``tests/interop/`` (no LLM: threads, messages, working memory and clones are written with the
Memory API directly) and reads or writes the same file here with ``LibSQLStore``/``Memory``.

Skipped unless the pinned npm packages are installed: ``bash scripts/ts_interop.sh`` installs
them into ``.services/ts-interop``; ``MASTRA_TEST_TS_INTEROP=DIR`` points at another install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import Memory, Message, ResourceMismatchError
from mastra_memory.types import (
    FilePart,
    MessageContent,
    ReasoningPart,
    TextPart,
    Thread,
    ToolInvocationPart,
    format_timestamp,
    to_chat_messages,
)
from storage_adapters.libsql import LibSQLStore

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "interop"
TS_DIR = Path(os.environ.get("MASTRA_TEST_TS_INTEROP") or ROOT / ".services" / "ts-interop")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (TS_DIR / "node_modules" / "@mastra" / "memory" / "package.json").is_file()
    or not (TS_DIR / "deps.mjs").is_file(),
    reason=(
        f"Mastra TypeScript packages not installed in {TS_DIR}: run `bash scripts/ts_interop.sh` "
        "(needs node >= 20 and the npm registry) or set MASTRA_TEST_TS_INTEROP=DIR"
    ),
)


def ts(script: str, db: Path, ops: list[dict[str, Any]], options: dict[str, Any] | None = None) -> list[Any]:
    """Run ``tests/interop/<script>`` on ``db`` with ``ops``; return its JSON results."""
    spec: dict[str, Any] = {"ops": ops}
    if options is not None:
        spec["options"] = options
    proc = subprocess.run(
        ["node", str(SCRIPTS / script), str(db), "-"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MASTRA_TEST_TS_INTEROP": str(TS_DIR)},
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def ts_write(db: Path, *ops: dict[str, Any]) -> list[Any]:
    return ts("ts_write.mjs", db, list(ops))


def ts_read(db: Path, *ops: dict[str, Any]) -> list[Any]:
    return ts("ts_read.mjs", db, list(ops))


def iso(dt: datetime) -> str:
    return format_timestamp(dt)


def raw_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import libsql

    conn = libsql.connect(str(db))
    try:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def open_memory(db: Path) -> Memory:
    return Memory(storage=LibSQLStore(f"file:{db}"), options={"working_memory": {"enabled": True}})


# -- TypeScript writes, Python reads ---------------------------------------------------------------

AGENT_TURN = [  # AI SDK model messages, stored by Mastra's MessageList as an Agent stores a turn
    {"role": "user", "content": "What is the weather in Oslo?"},
    {
        "role": "assistant",
        "content": [
            {
                "type": "reasoning",
                "text": "I need the weather tool.",
                "providerOptions": {"openai": {"itemId": "rs_1"}},
            },
            {"type": "text", "text": "Let me check.", "providerOptions": {"openai": {"itemId": "msg_1"}}},
            {"type": "tool-call", "toolCallId": "call_1", "toolName": "weather", "input": {"city": "Oslo"}},
        ],
    },
    {
        "role": "tool",
        "content": [
            {
                "type": "tool-result",
                "toolCallId": "call_1",
                "toolName": "weather",
                "output": {"type": "json", "value": {"tempC": 3, "sky": "snow"}},
            }
        ],
    },
    {"role": "assistant", "content": [{"type": "text", "text": "It is 3°C and snowing in Oslo."}]},
]


def _ts_message(
    mid: str, thread: str, role: str, at: datetime, parts: list[dict[str, Any]], **content: Any
) -> dict[str, Any]:
    return {
        "id": mid,
        "threadId": thread,
        "resourceId": "res-1",
        "role": role,
        "createdAt": iso(at),
        "content": {"format": 2, "parts": parts, **content},
    }


TS_MESSAGES = [
    _ts_message(
        "m-1", "t-alpha", "user", T0, [{"type": "text", "text": "Hello from TypeScript"}], metadata={"client": "web"}
    ),
    # two messages in the same millisecond: order is (createdAt, id), so "m-2a" before "m-2b"
    _ts_message(
        "m-2b",
        "t-alpha",
        "assistant",
        T0 + timedelta(seconds=1),
        [
            {"type": "step-start"},
            {
                "type": "tool-invocation",
                "toolInvocation": {
                    "state": "result",
                    "toolCallId": "c-1",
                    "toolName": "lookup",
                    "args": {"q": "tides"},
                    "result": {"high": "06:12"},
                },
            },
            {"type": "text", "text": "High tide is at 06:12."},
        ],
    ),
    _ts_message("m-2a", "t-alpha", "user", T0 + timedelta(seconds=1), [{"type": "text", "text": "same ms, id first"}]),
    _ts_message(
        "m-3",
        "t-alpha",
        "assistant",
        T0 + timedelta(seconds=2),
        [
            {
                "type": "tool-invocation",
                "toolInvocation": {"state": "call", "toolCallId": "c-2", "toolName": "lookup", "args": {"q": "moon"}},
            },
        ],
    ),
]


@pytest.fixture(scope="module")
def ts_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """A database created and written only by the TypeScript packages."""
    db = tmp_path_factory.mktemp("ts-first") / "mastra.db"
    results = ts_write(
        db,
        {
            "op": "saveThread",
            "thread": {
                "id": "t-alpha",
                "resourceId": "res-1",
                "title": "Alpha",
                "metadata": {"topic": "weather", "n": 3, "flag": True, "nested": {"tags": ["x", "y"]}},
                "createdAt": iso(T0),
                "updatedAt": iso(T0),
            },
        },
        {
            "op": "saveThread",
            "thread": {
                "id": "t-beta",
                "resourceId": "res-1",
                "title": "Beta",
                "metadata": {},
                "createdAt": iso(T0 + timedelta(minutes=1)),
                "updatedAt": iso(T0 + timedelta(minutes=1)),
            },
        },
        {"op": "createThread", "resourceId": "res-2", "threadId": "t-other", "title": "Someone else's"},
        {"op": "saveMessages", "messages": TS_MESSAGES},
        {"op": "createThread", "resourceId": "res-1", "threadId": "t-agent", "title": "Agent turn"},
        {"op": "agentTurn", "threadId": "t-agent", "resourceId": "res-1", "messages": AGENT_TURN},
        {"op": "updateThread", "id": "t-beta", "title": "Beta (renamed)", "metadata": {"status": "open"}},
        {
            "op": "updateWorkingMemory",
            "threadId": "t-alpha",
            "resourceId": "res-1",
            "workingMemory": "# User\n- name: Ann\n- city: Oslo",
        },
        {"op": "cloneThread", "sourceThreadId": "t-alpha", "newThreadId": "t-alpha-copy", "title": "Alpha copy"},
        {"op": "saveMessages", "messages": [SIGNAL]},
    )
    return db, results


SIGNAL = {  # the shape @mastra/core gives a stored agent signal (a system reminder)
    "id": "sig-1",
    "threadId": "t-beta",
    "resourceId": "res-1",
    "role": "signal",
    "type": "system-reminder",
    "createdAt": iso(T0 + timedelta(minutes=2)),
    "content": {
        "format": 2,
        "parts": [{"type": "text", "text": "<system-reminder>be brief</system-reminder>"}],
        "metadata": {
            "signal": {
                "id": "sig-1",
                "type": "system-reminder",
                "tagName": "system-reminder",
                "createdAt": iso(T0 + timedelta(minutes=2)),
            }
        },
    },
}


def test_ts_threads_titles_metadata_and_ownership(ts_db: tuple[Path, list[Any]]) -> None:
    db, _ = ts_db
    # the original stores thread metadata as SQLite JSONB (a blob), read with json()
    kinds = dict(raw_rows(db, "SELECT id, typeof(metadata) FROM mastra_threads"))
    assert kinds["t-alpha"] == "blob"
    with open_memory(db) as memory:
        alpha = memory.get_thread_by_id("t-alpha")
        assert alpha is not None
        assert alpha.title == "Alpha"
        assert alpha.metadata == {"topic": "weather", "n": 3, "flag": True, "nested": {"tags": ["x", "y"]}}
        assert alpha.created_at == T0
        beta = memory.get_thread_by_id("t-beta")
        assert beta is not None and beta.title == "Beta (renamed)" and beta.metadata == {"status": "open"}
        other = memory.get_thread_by_id("t-other")  # created without metadata: NULL in the row
        assert other is not None and other.metadata == {} and other.resource_id == "res-2"
        page = memory.list_threads(resource_id="res-1", per_page=2, page=0)
        assert page.total == 4 and page.has_more
        ids = [t.id for t in page.threads] + [t.id for t in memory.list_threads("res-1", per_page=2, page=1).threads]
        assert sorted(ids) == ["t-agent", "t-alpha", "t-alpha-copy", "t-beta"]
        assert [t.id for t in memory.list_threads(resource_id="res-1", metadata={"topic": "weather"}).threads] == [
            "t-alpha"
        ]
        assert [t.id for t in memory.list_threads(metadata={"flag": True}).threads] == ["t-alpha"]
        # resource ownership written by TypeScript is enforced here
        with pytest.raises(ResourceMismatchError):
            memory.get_thread_by_id("t-other", resource_id="res-1")
        with pytest.raises(ResourceMismatchError):
            memory.recall("t-other", resource_id="res-1")
        with pytest.raises(ResourceMismatchError):
            memory.save_messages([Message.user("intruder", "t-other", resource_id="res-1")])


def test_ts_messages_order_and_tool_parts(ts_db: tuple[Path, list[Any]]) -> None:
    db, _ = ts_db
    with open_memory(db) as memory:
        result = memory.recall("t-alpha", resource_id="res-1", per_page=False)
        assert [m.id for m in result.messages] == ["m-1", "m-2a", "m-2b", "m-3"]
        assert result.total == 4
        first, _, tool_msg, pending = result.messages
        assert first.text == "Hello from TypeScript"
        assert first.content.metadata == {"client": "web"}
        assert first.resource_id == "res-1" and first.created_at == T0
        call = [p for p in tool_msg.content.parts if isinstance(p, ToolInvocationPart)]
        assert call == [
            ToolInvocationPart(
                tool_call_id="c-1", tool_name="lookup", args={"q": "tides"}, result={"high": "06:12"}, state="result"
            )
        ]
        assert tool_msg.text == "High tide is at 06:12."
        assert pending.content.parts[0] == ToolInvocationPart(
            tool_call_id="c-2", tool_name="lookup", args={"q": "moon"}, state="call"
        )
        # newest page first, chronological inside the page
        last_two = memory.recall("t-alpha", resource_id="res-1", per_page=2)
        assert [m.id for m in last_two.messages] == ["m-2b", "m-3"] and last_two.has_more


def test_ts_agent_turn_reads_as_text_and_tool_calls(ts_db: tuple[Path, list[Any]]) -> None:
    """What a Mastra Agent stores (parts with createdAt/providerMetadata, the legacy `content`
    and `toolInvocations` mirrors) reads as text, reasoning and tool calls, not opaque parts."""
    db, results = ts_db
    saved = results[5]
    with open_memory(db) as memory:
        messages = memory.recall("t-agent", resource_id="res-1", per_page=False).messages
    assert [m.id for m in messages] == [m["id"] for m in saved]
    user, assistant = messages
    assert user.role == "user" and user.text == "What is the weather in Oslo?"
    assert assistant.role == "assistant"
    kinds = [type(p).__name__ for p in assistant.content.parts]
    assert "RawPart" not in [
        k for k, p in zip(kinds, assistant.content.parts, strict=True) if getattr(p, "type", "") != "step-start"
    ]
    reasoning = next(p for p in assistant.content.parts if isinstance(p, ReasoningPart))
    assert reasoning.text == "I need the weather tool."
    tool = next(p for p in assistant.content.parts if isinstance(p, ToolInvocationPart))
    assert (tool.tool_call_id, tool.tool_name, tool.args, tool.result, tool.state) == (
        "call_1",
        "weather",
        {"city": "Oslo"},
        {"tempC": 3, "sky": "snow"},
        "result",
    )
    assert assistant.text == "Let me check.\nIt is 3°C and snowing in Oslo."
    chat = to_chat_messages(messages)
    assert [c["role"] for c in chat] == ["user", "assistant", "tool", "assistant"]
    assert chat[1]["tool_calls"][0]["function"]["name"] == "weather"
    assert json.loads(chat[2]["content"]) == {"tempC": 3, "sky": "snow"}
    assert chat[3]["content"] == "It is 3°C and snowing in Oslo."


def test_ts_working_memory_and_clone_metadata(ts_db: tuple[Path, list[Any]]) -> None:
    db, results = ts_db
    clone = results[8]
    with open_memory(db) as memory:
        assert memory.get_working_memory("t-alpha", "res-1") == "# User\n- name: Ann\n- city: Oslo"
        resource = memory.storage.get_resource_by_id("res-1")
        assert resource is not None and resource.metadata == {}
        copy = memory.get_thread_by_id("t-alpha-copy")
        assert copy is not None and copy.title == "Alpha copy"
        meta = Memory.get_clone_metadata(copy)
        assert meta is not None
        assert meta["sourceThreadId"] == "t-alpha"
        assert meta["lastMessageId"] == clone["thread"]["metadata"]["clone"]["lastMessageId"]
        assert meta["clonedAt"] == clone["thread"]["metadata"]["clone"]["clonedAt"]
        source = memory.get_source_thread("t-alpha-copy")
        assert source is not None and source.id == "t-alpha"
        assert [t.id for t in memory.list_clones("t-alpha", resource_id="res-1")] == ["t-alpha-copy"]
        copied = memory.recall("t-alpha-copy", per_page=False).messages
        texts = [m.text for m in copied]
        # the two same-millisecond messages got new random ids, so their order may swap
        assert texts[0] == "Hello from TypeScript" and texts[3] == ""
        assert sorted(texts[1:3]) == ["High tide is at 06:12.", "same ms, id first"]


def test_ts_signal_messages_are_kept_but_not_sent_to_a_model(ts_db: tuple[Path, list[Any]], tmp_path: Path) -> None:
    src, _ = ts_db
    db = tmp_path / "signals.db"
    shutil.copy(src, db)
    with open_memory(db) as memory:
        (signal,) = memory.recall("t-beta", per_page=False).messages
        assert (signal.id, signal.role, signal.type) == ("sig-1", "signal", "system-reminder")
        assert signal.text == "<system-reminder>be brief</system-reminder>"
        assert to_chat_messages([signal]) == []
        clone = memory.clone_thread("t-beta", new_thread_id="t-beta-py")
    (copied,) = ts_read(
        db, {"op": "recall", "threadId": "t-beta-py", "resourceId": "res-1", "perPage": False, "hideSignals": False}
    )[0]["messages"]
    assert copied["id"] == clone.cloned_messages[0].id
    assert (copied["role"], copied["type"]) == ("signal", "system-reminder")
    assert copied["content"] == SIGNAL["content"]


def test_ts_content_survives_python_round_trip(ts_db: tuple[Path, list[Any]], tmp_path: Path) -> None:
    """Keys this library does not model (part createdAt/providerMetadata, content mirrors) are
    written back unchanged by a Python clone and by re-saving, and TypeScript reads them back."""
    src, _ = ts_db
    db = tmp_path / "copy.db"
    shutil.copy(src, db)
    with open_memory(db) as memory:
        originals = {m.id: m for m in memory.recall("t-agent", per_page=False).messages}
        before = dict(raw_rows(db, "SELECT id, content FROM mastra_messages WHERE thread_id = 't-agent'"))
        # re-save what was read (an upsert by id) and clone it
        memory.save_messages(list(originals.values()))
        after = dict(raw_rows(db, "SELECT id, content FROM mastra_messages WHERE thread_id = 't-agent'"))
        assert {k: json.loads(v) for k, v in after.items()} == {k: json.loads(v) for k, v in before.items()}
        cloned = memory.clone_thread("t-agent", new_thread_id="t-agent-py", title="Python clone")
        memory.update_thread("t-alpha", metadata={"reviewed": True})
    id_map = cloned.message_id_map
    got = ts_read(
        db,
        {"op": "recall", "threadId": "t-agent-py", "resourceId": "res-1", "perPage": False},
        {"op": "getThreadById", "threadId": "t-alpha"},
    )
    ts_msgs = {m["id"]: m for m in got[0]["messages"]}
    for old_id, new_id in id_map.items():
        assert ts_msgs[new_id]["content"] == json.loads(before[old_id])
    assert got[1]["metadata"] == {
        "topic": "weather",
        "n": 3,
        "flag": True,
        "nested": {"tags": ["x", "y"]},
        "reviewed": True,
    }


# -- Python writes, TypeScript reads ---------------------------------------------------------------


def _py_messages(thread_id: str) -> list[Message]:
    at = T0 + timedelta(hours=1)
    return [
        Message(
            id="p-1",
            thread_id=thread_id,
            role="user",
            created_at=at,
            content=MessageContent(
                parts=[
                    TextPart(text="Hi from Python"),
                    FilePart(url="https://example.com/cat.png", mime_type="image/png"),
                ],
                metadata={"lang": "en"},
            ),
        ),
        Message(
            id="p-2",
            thread_id=thread_id,
            role="assistant",
            created_at=at + timedelta(seconds=1),
            content=MessageContent(
                parts=[
                    ReasoningPart(text="Use the calculator."),
                    ToolInvocationPart(
                        tool_call_id="k-1", tool_name="add", args={"a": 2, "b": 3}, result=5, state="result"
                    ),
                    TextPart(text="2 + 3 = 5"),
                ]
            ),
        ),
        Message(
            id="p-3",
            thread_id=thread_id,
            role="user",
            created_at=at + timedelta(seconds=2),
            content=MessageContent(parts=[TextPart(text="thanks")]),
        ),
        Message(
            id="p-4",
            thread_id=thread_id,
            role="assistant",
            created_at=at + timedelta(seconds=3),
            content=MessageContent(
                parts=[
                    ToolInvocationPart(tool_call_id="k-2", tool_name="add", args={"a": 1, "b": 1}),
                ]
            ),
        ),
    ]


@pytest.fixture(scope="module")
def py_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Thread], list[Message]]:
    """A database created and written only by this library."""
    db = tmp_path_factory.mktemp("py-first") / "mastra.db"
    with open_memory(db) as memory:
        threads = [
            memory.storage.save_thread(
                Thread(
                    id=f"py-{i}",
                    resource_id="res-py",
                    title=f"Python thread {i}",
                    metadata={"index": i, "kind": "even" if i % 2 == 0 else "odd", "nested": {"i": [i]}},
                    created_at=T0 + timedelta(minutes=i),
                    updated_at=T0 + timedelta(minutes=i),
                )
            )
            for i in range(5)
        ]
        memory.create_thread("res-other", "py-other", title="not res-py")
        saved = memory.save_messages(_py_messages("py-0"))
        memory.update_working_memory("py-0", "res-py", "# Notes\n- likes: tea")
        memory.clone_thread("py-0", new_thread_id="py-0-clone", title="Cloned in Python")
    return db, threads, saved


def test_ts_lists_python_threads_with_pagination(py_db: tuple[Path, list[Thread], list[Message]]) -> None:
    db, threads, _ = py_db
    assert {k for _, k in raw_rows(db, "SELECT id, typeof(metadata) FROM mastra_threads")} == {"blob"}
    pages, filtered, one, other = ts_read(
        db,
        {
            "op": "listThreads",
            "filter": {"resourceId": "res-py"},
            "perPage": 2,
            "allPages": True,
            "orderBy": {"field": "createdAt", "direction": "DESC"},
        },
        {"op": "listThreads", "filter": {"resourceId": "res-py", "metadata": {"kind": "even"}}, "perPage": 10},
        {"op": "getThreadById", "threadId": "py-3"},
        {"op": "getThreadById", "threadId": "py-other", "resourceId": "res-py"},
    )
    assert [p["page"] for p in pages] == [0, 1, 2]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert {p["total"] for p in pages} == {6}
    got = [t["id"] for p in pages for t in p["threads"]]
    assert got[0] == "py-0-clone"  # cloned last, so newest
    assert got[1:] == ["py-4", "py-3", "py-2", "py-1", "py-0"]
    # a Python clone carries the source's metadata (TypeScript's cloneThread does not)
    assert sorted(t["id"] for t in filtered["threads"]) == ["py-0", "py-0-clone", "py-2", "py-4"]
    assert one["title"] == "Python thread 3"
    assert one["metadata"] == {"index": 3, "kind": "odd", "nested": {"i": [3]}}
    assert one["createdAt"] == iso(threads[3].created_at) and one["resourceId"] == "res-py"
    assert other is None  # TypeScript scopes getThreadById by resource too


def test_ts_recalls_python_messages(py_db: tuple[Path, list[Thread], list[Message]]) -> None:
    db, _, saved = py_db
    recall, last_two, wm, resource, clones = ts_read(
        db,
        {"op": "recall", "threadId": "py-0", "resourceId": "res-py", "perPage": False},
        {
            "op": "recall",
            "threadId": "py-0",
            "resourceId": "res-py",
            "perPage": 2,
            "page": 0,
            "orderBy": {"field": "createdAt", "direction": "DESC"},
        },
        {"op": "getWorkingMemory", "threadId": "py-0", "resourceId": "res-py"},
        {"op": "getResourceById", "resourceId": "res-py"},
        {"op": "listClones", "sourceThreadId": "py-0", "resourceId": "res-py"},
    )
    assert [m["id"] for m in recall["messages"]] == ["p-1", "p-2", "p-3", "p-4"]
    assert recall["total"] == 4
    for ts_msg, py_msg in zip(recall["messages"], saved, strict=True):
        assert ts_msg["role"] == py_msg.role
        assert ts_msg["threadId"] == "py-0" and ts_msg["resourceId"] == "res-py"
        assert ts_msg["createdAt"] == iso(py_msg.created_at)
        assert ts_msg["content"] == json.loads(py_msg.content_json())
    tool = recall["messages"][1]["content"]["parts"][1]
    assert tool == {
        "type": "tool-invocation",
        "toolInvocation": {
            "state": "result",
            "toolCallId": "k-1",
            "toolName": "add",
            "args": {"a": 2, "b": 3},
            "result": 5,
        },
    }
    assert recall["messages"][0]["content"]["metadata"] == {"lang": "en"}
    assert sorted(m["id"] for m in last_two["messages"]) == ["p-3", "p-4"]
    assert last_two["total"] == 4 and last_two["hasMore"] is True
    assert wm == "# Notes\n- likes: tea"
    assert resource["workingMemory"] == "# Notes\n- likes: tea" and resource["metadata"] == {}
    assert [t["id"] for t in clones] == ["py-0-clone"]
    meta = clones[0]["metadata"]["clone"]
    assert meta["sourceThreadId"] == "py-0" and set(meta) == {"sourceThreadId", "clonedAt", "lastMessageId"}


# -- both sides on one file, schema created by either ----------------------------------------------


def _indexes_and_triggers(db: Path) -> set[str]:
    return {r[0] for r in raw_rows(db, "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}


@pytest.mark.parametrize("first", ["typescript", "python"])
def test_schemas_coexist_and_counts_stay_right(first: str, tmp_path: Path) -> None:
    """Whichever side creates the file, the other opens it, both keep writing, and each sees the
    other's rows; message totals (kept by triggers here) include rows TypeScript wrote/deleted."""
    db = tmp_path / "shared.db"
    if first == "typescript":
        ts_write(
            db,
            {"op": "createThread", "resourceId": "res-x", "threadId": "t-ts", "title": "ts"},
            {
                "op": "saveMessages",
                "messages": [
                    {
                        "id": f"early-{i}",
                        "threadId": "t-ts",
                        "resourceId": "res-x",
                        "role": "user",
                        "createdAt": iso(T0 + timedelta(seconds=i)),
                        "content": {"format": 2, "parts": [{"type": "text", "text": f"early {i}"}]},
                    }
                    for i in range(3)
                ],
            },
        )
        with open_memory(db) as memory:  # message counts of rows written before our schema existed
            assert memory.recall("t-ts", resource_id="res-x", per_page=1).total == 3
    memory = open_memory(db)  # stays open (WAL) while TypeScript writes
    memory.create_thread("res-x", "t-py", title="py", metadata={"origin": "python"})
    memory.save_messages([Message.user(f"py {i}", "t-py", created_at=T0 + timedelta(seconds=i)) for i in range(3)])
    ts_write(
        db,
        {"op": "createThread", "resourceId": "res-x", "threadId": "t-ts2", "title": "ts2"},
        {
            "op": "saveMessages",
            "messages": [
                {
                    "id": f"ts-{i}",
                    "threadId": "t-py",
                    "resourceId": "res-x",
                    "role": "assistant",
                    "createdAt": iso(T0 + timedelta(seconds=10 + i)),
                    "content": {"format": 2, "parts": [{"type": "text", "text": f"ts {i}"}]},
                }
                for i in range(3)
            ],
        },
        {"op": "deleteMessages", "messageIds": ["ts-1"]},
        {"op": "updateThread", "id": "t-py", "metadata": {"seenBy": "typescript"}},
    )
    names = _indexes_and_triggers(db)
    assert {"idx_messages_thread_created_at", "mm_messages_thread_created_id", "mm_messages_count_insert"} <= names
    with memory:
        page = memory.recall("t-py", resource_id="res-x", per_page=2)
        assert page.total == 5 and page.has_more
        assert [m.text for m in page.messages] == ["ts 0", "ts 2"]
        thread = memory.get_thread_by_id("t-py")
        assert thread is not None and thread.metadata == {"origin": "python", "seenBy": "typescript"}
        assert {t.id for t in memory.list_threads("res-x").threads} >= {"t-py", "t-ts2"}
        memory.save_messages([Message.user("py again", "t-ts2")])
    got = ts_read(
        db,
        {"op": "recall", "threadId": "t-ts2", "resourceId": "res-x"},
        {"op": "listThreads", "filter": {"resourceId": "res-x"}},
    )
    assert [m["content"]["parts"] for m in got[0]["messages"]] == [[{"type": "text", "text": "py again"}]]
    assert got[1]["total"] == (3 if first == "typescript" else 2)
    ts_write(db, {"op": "deleteThread", "threadId": "t-py"})
    with open_memory(db) as memory:
        assert memory.get_thread_by_id("t-py") is None
        assert memory.recall("t-py", per_page=False).total == 0


def test_columns_added_by_a_newer_mastra_survive_python_writes(tmp_path: Path) -> None:
    """A later @mastra/libsql may add columns (e.g. ``archivedAt``) and indexes: Python's reads,
    upserts and updates name their columns, so those values are left as they are."""
    db = tmp_path / "newer.db"
    ts_write(db, {"op": "createThread", "resourceId": "res-n", "threadId": "t-n", "title": "n"})
    import libsql

    conn = libsql.connect(str(db))
    conn.execute('ALTER TABLE mastra_threads ADD COLUMN "archivedAt" TEXT')
    conn.execute('ALTER TABLE mastra_messages ADD COLUMN "editedAt" TEXT DEFAULT NULL')
    conn.execute('ALTER TABLE mastra_resources ADD COLUMN "tier" TEXT')
    conn.execute('CREATE INDEX idx_threads_archived ON mastra_threads ("archivedAt")')
    conn.execute("UPDATE mastra_threads SET \"archivedAt\" = '2025-01-02T00:00:00.000Z'")
    conn.commit()
    conn.close()
    with open_memory(db) as memory:
        memory.update_thread("t-n", title="renamed", metadata={"k": 1})
        thread = memory.get_thread_by_id("t-n")
        assert thread is not None
        memory.storage.save_thread(thread.model_copy(update={"title": "upserted"}))
        memory.save_messages([Message.user("hello", "t-n", id="n-1")])
        memory.save_messages([Message.user("hello again", "t-n", id="n-1")])
        memory.update_working_memory("t-n", "res-n", "wm")
        memory.create_thread("res-n", "t-n2")
    rows = raw_rows(db, 'SELECT id, title, "archivedAt" FROM mastra_threads ORDER BY id')
    assert rows == [("t-n", "upserted", "2025-01-02T00:00:00.000Z"), ("t-n2", "", None)]
    got = ts_read(
        db,
        {"op": "recall", "threadId": "t-n", "resourceId": "res-n"},
        {"op": "getWorkingMemory", "threadId": "t-n", "resourceId": "res-n"},
    )
    assert [m["content"]["parts"][0]["text"] for m in got[0]["messages"]] == ["hello again"]
    assert got[1] == "wm"


# -- issue 15: titles, pruning and erasure leave a file TypeScript reads ----------------------------


def test_ts_reads_after_titles_pruning_and_erasure(tmp_path: Path) -> None:
    from mastra_memory import Agent
    from mastra_memory.testing import ScriptedModel

    db = tmp_path / "lifecycle.db"
    ts_write(db, {"op": "createThread", "resourceId": "ana", "threadId": "ts-t", "title": ""})
    memory = Memory(
        LibSQLStore(f"file:{db}"),
        options={"generate_title": True, "retention": {"messages": {"max_age": 86_400}}},
    )
    agent = Agent(
        "helper", "Be brief.", ScriptedModel(["Tea is good.", "Tea Talk", "Sure.", "Coffee Chat"]), memory=memory
    )
    agent.generate("I like tea", thread="ts-t", resource="ana")  # a TypeScript thread gets a title
    assert memory.settled(10)
    agent.generate("And coffee", thread="py-t", resource="ana")
    assert memory.settled(10)
    memory.save_messages(
        [Message.user(f"old {i}", "py-t", id=f"old-{i}", created_at=T0 + timedelta(seconds=i)) for i in range(3)]
    )
    memory.create_thread("bob", thread_id="bob-t", title="Bob's")
    memory.save_messages([Message.user("bob here", "bob-t", id="bob-1")])
    memory.clone_thread("bob-t", new_thread_id="bob-copy", resource_id="ana")
    assert memory.prune() == {"messages": 3}
    assert memory.delete_resource("bob") == {"threads": 1, "clones": 1, "resources": 0}
    memory.close()

    threads, recall, bob = ts_read(
        db,
        {"op": "listThreads", "filter": {"resourceId": "ana"}, "perPage": 10},
        {"op": "recall", "threadId": "py-t", "resourceId": "ana", "perPage": False},
        {"op": "listThreads", "filter": {"resourceId": "bob"}, "perPage": 10},
    )
    assert {t["id"]: t["title"] for t in threads["threads"]} == {"ts-t": "Tea Talk", "py-t": "Coffee Chat"}
    assert [m["content"]["parts"][0]["text"] for m in recall["messages"]] == ["And coffee", "Sure."]
    assert bob["threads"] == [] and bob["total"] == 0
    # TypeScript keeps writing to the file afterwards
    ts_write(db, {"op": "createThread", "resourceId": "bob", "threadId": "bob-again", "title": "Back"})
    [again] = ts_read(db, {"op": "getThreadById", "threadId": "bob-again"})
    assert again["title"] == "Back"


def test_ts_recall_honours_a_python_history_boundary(tmp_path: Path) -> None:
    from mastra_memory import Agent
    from mastra_memory.testing import ScriptedModel

    db = tmp_path / "budget.db"
    store = LibSQLStore(f"file:{db}")
    store.save_thread(Thread(id="t", resource_id="ana"))
    store.save_messages(
        [
            Message.user(f"note {i} " + "lorem ipsum " * 30, "t", id=f"n{i:02d}", created_at=T0 + timedelta(minutes=i))
            for i in range(20)
        ]
    )
    budget = {"max_tokens": 1_200, "at_max_remove_tokens": 300}
    memory = Memory(store, options={"message_history": budget})
    # Long instructions (never stored) leave no room: Python drops the whole history.
    agent = Agent("a", "Be brief. " + "rule " * 1_000, ScriptedModel(default="ok"), memory=memory)
    agent.generate("hi", thread="t", resource="ana")
    boundary = store.get_thread_by_id("t").metadata["memoryTokenLimiter"]  # type: ignore[union-attr]
    memory.close()
    assert boundary["maxTokens"] == 1_200 and boundary["atMaxRemoveTokens"] == 300

    [recall] = ts(
        "ts_read.mjs",
        db,
        [{"op": "recall", "threadId": "t", "resourceId": "ana"}],
        options={"messageHistory": {"maxTokens": 1_200, "atMaxRemoveTokens": 300}},
    )
    assert boundary["messageIds"] == ["n19"]
    # Without the boundary TypeScript's own budget would keep the newest notes; with it, none.
    assert [m["content"]["parts"][0].get("text") for m in recall["messages"]] == ["hi", "ok"]
    [control] = ts(  # a boundary written under another budget is ignored: notes come back
        "ts_read.mjs",
        db,
        [{"op": "recall", "threadId": "t", "resourceId": "ana"}],
        options={"messageHistory": {"maxTokens": 1_201, "atMaxRemoveTokens": 300}},
    )
    assert any(m["content"]["parts"][0].get("text", "").startswith("note") for m in control["messages"])
