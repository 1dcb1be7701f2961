"""Framework integrations: the LangChain chat history over threads (real langchain-core) and the
remember / recall / forget tool functions."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from mastra_memory.errors import ResourceMismatchError, ValidationError
from mastra_memory.integrations.tools import make_kv_tools
from mastra_memory.kv import KVMemory
from mastra_memory.memory import Memory
from mastra_memory.tools import Tool
from storage_adapters.libsql import LibSQLStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    return Memory(LibSQLStore(f"file:{tmp_path}/lc.db"))


# -- LangChain -------------------------------------------------------------------------------------


def test_langchain_history_round_trip_with_tool_calls(memory: Memory) -> None:
    lc = pytest.importorskip("langchain_core.messages", reason='needs pip install "mastra-memory[langchain]"')
    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    history = MastraChatMessageHistory(memory, thread_id="t1", resource_id="user-ana", title="LangChain")
    assert history.messages == []
    history.add_user_message("Book a table for two")
    history.add_messages(
        [
            lc.AIMessage("", tool_calls=[{"id": "c1", "name": "book", "args": {"people": 2}}]),
            lc.ToolMessage('{"ok": true}', tool_call_id="c1"),
            lc.AIMessage("Booked for two."),
            lc.SystemMessage("not stored, as in Mastra"),
        ]
    )
    history.add_ai_message("Anything else?")
    again = MastraChatMessageHistory(memory, thread_id="t1", resource_id="user-ana").messages
    assert [type(m).__name__ for m in again] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "AIMessage"]
    assert again[0].content == "Book a table for two"
    ai, tool = again[1], again[2]
    assert isinstance(ai, lc.AIMessage) and isinstance(tool, lc.ToolMessage)
    assert ai.tool_calls[0]["name"] == "book" and ai.tool_calls[0]["args"] == {"people": 2}
    assert tool.tool_call_id == "c1" and tool.content == '{"ok": true}'
    assert again[-1].content == "Anything else?"
    thread = memory.get_thread_by_id("t1")
    assert thread is not None and thread.title == "LangChain" and thread.resource_id == "user-ana"
    stored = memory.list_messages("t1", per_page=False).messages
    assert [m.role for m in stored] == ["user", "assistant", "assistant", "assistant"]  # call+result in one
    last_two = MastraChatMessageHistory(memory, "t1", "user-ana", last_messages=2).messages
    assert [m.content for m in last_two] == ["Booked for two.", "Anything else?"]


def test_langchain_history_order_across_rapid_calls(memory: Memory) -> None:
    pytest.importorskip("langchain_core")
    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    history = MastraChatMessageHistory(memory, thread_id="fast", resource_id="u")
    for i in range(30):
        history.add_user_message(f"m{i}")
    assert [m.content for m in history.messages] == [f"m{i}" for i in range(30)]


def test_langchain_history_clear_and_ownership(memory: Memory) -> None:
    pytest.importorskip("langchain_core")
    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    history = MastraChatMessageHistory(memory, thread_id="t2", resource_id="user-a")
    history.add_user_message("hello")
    history.clear()
    assert history.messages == []
    assert memory.get_thread_by_id("t2") is not None
    with pytest.raises(ResourceMismatchError):
        MastraChatMessageHistory(memory, thread_id="t2", resource_id="user-b")


def test_langchain_runnable_with_message_history(memory: Memory) -> None:
    """The history plugs into LangChain's own RunnableWithMessageHistory."""
    pytest.importorskip("langchain_core")
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.runnables.history import RunnableWithMessageHistory

    from mastra_memory.integrations.langchain import MastraChatMessageHistory

    def echo(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(f"seen {len(messages)} messages")

    chain = RunnableWithMessageHistory(
        RunnableLambda(echo), lambda session_id: MastraChatMessageHistory(memory, session_id, "user-x")
    )
    config = {"configurable": {"session_id": "s1"}}
    assert chain.invoke("first", config=config).content == "seen 1 messages"  # type: ignore[arg-type]
    assert chain.invoke("second", config=config).content == "seen 3 messages"  # type: ignore[arg-type]
    assert memory.list_messages("s1", per_page=False).total == 4


def test_missing_langchain_names_the_install_command(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "from mastra_memory.memory import Memory\n"
        "from storage_adapters.inmemory import InMemoryStore\n"
        "from mastra_memory.integrations.langchain import MastraChatMessageHistory\n"
        "from mastra_memory.errors import MissingDependencyError\n"
        "try:\n"
        "    MastraChatMessageHistory(Memory(InMemoryStore()), 't', 'r')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert out.returncode == 0, out.stderr
    assert 'pip install "mastra-memory[langchain]"' in out.stdout


def test_importing_mastra_memory_does_not_import_frameworks() -> None:
    code = (
        "import sys, mastra_memory, mastra_memory.kv, mastra_memory.integrations.tools; "
        "print(sorted(m for m in ('langchain_core', 'fastapi', 'httpx', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- tool functions ------------------------------------------------------------------------------


def test_kv_tools_work_and_are_self_describing(tmp_path: Path) -> None:
    kv = KVMemory("agent", storage=LibSQLStore(f"file:{tmp_path}/tools.db"))
    remember, recall, forget = make_kv_tools(kv)
    assert [f.__name__ for f in (remember, recall, forget)] == ["remember", "recall", "forget"]
    for fn in (remember, recall, forget):
        assert inspect.getdoc(fn) and "Args:" in (inspect.getdoc(fn) or "")
        sig = inspect.signature(fn)
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
        assert not any(isinstance(p.annotation, str) for p in sig.parameters.values())  # real types
    assert remember("user/city", "Lisbon") == {"key": "user/city", "remembered": True, "expires_in_seconds": None}
    assert remember("user/age", 41)["remembered"] is True
    assert recall("user/city") == {"key": "user/city", "found": True, "value": "Lisbon"}
    assert recall("user/age")["value"] == 41 and type(recall("user/age")["value"]) is int
    assert recall("nothing") == {"key": "nothing", "found": False, "value": None}
    assert forget("user/city") == {"key": "user/city", "forgotten": True}
    assert forget("user/city") == {"key": "user/city", "forgotten": False}
    remember("otp", "1234", ttl_seconds=0.05)
    import time

    time.sleep(0.1)
    assert recall("otp")["found"] is False
    with pytest.raises(ValidationError):
        remember("../escape", 1)


def test_kv_tools_register_in_mastra_and_langchain(tmp_path: Path) -> None:
    kv = KVMemory("agent", storage=LibSQLStore(f"file:{tmp_path}/reg.db"))
    remember, recall, forget = make_kv_tools(kv)
    tool = Tool.from_function(remember)
    assert tool.parameters["required"] == ["key", "value"]
    assert tool.to_openai()["function"]["name"] == "remember"
    assert tool.invoke({"key": "k", "value": [1, 2.5, None]})["remembered"] is True
    assert Tool.from_function(recall).invoke({"key": "k"})["value"] == [1, 2.5, None]
    lc_tools = pytest.importorskip("langchain_core.tools")
    structured = lc_tools.StructuredTool.from_function(forget, parse_docstring=True)
    assert "remembered under" in structured.args["key"]["description"]
    assert structured.invoke({"key": "k"}) == {"key": "k", "forgotten": True}
