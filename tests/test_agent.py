"""Agent tests with a scripted model on a real libSQL file (and one cross-process test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mastra_memory import (
    Agent,
    ConfigurationError,
    GenerateResult,
    Memory,
    ModelError,
    ResourceMismatchError,
    TextPart,
    ToolInvocationPart,
    ValidationError,
)
from mastra_memory.context import TurnContext
from mastra_memory.models.base import ModelResponse, ToolCall, Usage
from mastra_memory.testing import ScriptedModel
from mastra_memory.tools import Tool
from storage_adapters.libsql import LibSQLStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'agent.db'}"


@pytest.fixture
def memory(db_url: str) -> Any:
    mem = Memory(LibSQLStore(db_url))
    yield mem
    mem.close()


def stored(memory: Memory, thread_id: str) -> list[Any]:
    return memory.list_messages(thread_id, per_page=False).messages


class Calculator:
    """Records the validated arguments each call received."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def add(self, a: int, b: int) -> int:
        """Add two integers."""
        self.calls.append((a, b))
        return a + b


# -- tool loop and storage --------------------------------------------------------------------


def test_tool_call_turn_is_stored_as_one_assistant_message(memory: Memory) -> None:
    calc = Calculator()
    tool = Tool.from_function(calc.add, name="add")
    model = ScriptedModel(
        [
            ModelResponse(
                text="Let me add.",
                tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 2, "b": "3"})],
                usage=Usage(prompt_tokens=10, completion_tokens=5),
            ),
            ModelResponse(
                text="2 + 3 = 5.",
                usage=Usage(prompt_tokens=20, completion_tokens=4),
                finish_reason="stop",
            ),
        ]
    )
    agent = Agent("calc", "You add numbers.", model, memory=memory, tools=[tool])

    result = agent.generate("What is 2 + 3?", thread="t-1", resource="user-1")

    assert isinstance(result, GenerateResult)
    assert result.text == "2 + 3 = 5."
    assert result.usage == Usage(prompt_tokens=30, completion_tokens=9)
    assert result.thread_id == "t-1" and result.resource_id == "user-1"
    assert result.finish_reason == "stop" and len(result.steps) == 2
    # the tool got validated (coerced) arguments
    assert calc.calls == [(2, 3)]
    # the model saw the tool schema, and the tool result on the second call
    assert model.calls[0][1][0]["function"]["name"] == "add"
    assert model.calls[0][1][0]["function"]["parameters"]["required"] == ["a", "b"]
    second = model.calls[1][0]
    assert second[-2]["tool_calls"][0]["id"] == "c1"
    assert second[-1] == {"role": "tool", "tool_call_id": "c1", "content": "5"}

    rows = stored(memory, "t-1")
    assert [m.role for m in rows] == ["user", "assistant"]
    assert rows[0].text == "What is 2 + 3?"
    parts = rows[1].content.parts
    assert [type(p) for p in parts] == [TextPart, ToolInvocationPart, TextPart]
    assert parts[0].text == "Let me add." and parts[2].text == "2 + 3 = 5."
    call = parts[1]
    assert isinstance(call, ToolInvocationPart)
    assert (call.tool_call_id, call.tool_name, call.state, call.result, call.step) == (
        "c1",
        "add",
        "result",
        5,
        0,
    )
    assert call.args == {"a": 2, "b": "3"}
    assert rows[0].created_at < rows[1].created_at
    assert [m.id for m in result.messages] == [m.id for m in rows]
    # the stored JSON has the original's shape
    raw = rows[1].content.to_storage()["parts"][1]
    assert raw == {
        "type": "tool-invocation",
        "toolInvocation": {
            "state": "result",
            "toolCallId": "c1",
            "toolName": "add",
            "args": {"a": 2, "b": "3"},
            "result": 5,
            "step": 0,
        },
    }


def test_history_is_sent_on_the_next_turn_and_seen_by_a_second_instance(db_url: str) -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    with Memory(LibSQLStore(db_url)) as mem:
        model = ScriptedModel([ScriptedModel.tool_call("add", {"a": 1, "b": 1}, "c1"), "It is 2.", "You are Ana."])
        agent = Agent("a", "Be brief.", model, memory=mem, tools=[add])
        agent.generate("My name is Ana. What is 1+1?", thread="t", resource="ana")
        agent.generate("Who am I?", thread="t", resource="ana")
        sent = model.calls[2][0]
        assert sent[0] == {"role": "system", "content": "Be brief."}
        assert sent[1] == {"role": "user", "content": "My name is Ana. What is 1+1?"}
        assert sent[2]["tool_calls"][0]["function"] == {
            "name": "add",
            "arguments": '{"a": 1, "b": 1}',
        }
        assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": "2"}
        assert sent[4] == {"role": "assistant", "content": "It is 2."}
        assert sent[5] == {"role": "user", "content": "Who am I?"}
        assert len(sent) == 6

    # a fresh Memory and Agent on the same file continue the conversation
    with Memory(LibSQLStore(db_url)) as mem2:
        model2 = ScriptedModel(["Still Ana."])
        Agent("b", "Be brief.", model2, memory=mem2).generate("And now?", thread="t", resource="ana")
        texts = [m.get("content") for m in model2.calls[0][0]]
        assert "My name is Ana. What is 1+1?" in texts and "You are Ana." in texts
        rows = stored(mem2, "t")
        assert [m.role for m in rows] == ["user", "assistant"] * 3
        assert [m.text for m in rows[-2:]] == ["And now?", "Still Ana."]


def test_last_messages_limits_history(memory: Memory) -> None:
    model = ScriptedModel(default="ok")
    agent = Agent("a", "", model, memory=memory)
    for i in range(4):
        agent.generate(f"message {i}", thread="t", resource="r", memory_options={"last_messages": 2})
    sent = model.calls[-1][0]
    assert [m["content"] for m in sent] == ["message 2", "ok", "message 3"]


def test_thread_dict_sets_title_and_metadata_on_creation(memory: Memory) -> None:
    agent = Agent("a", "hi", ScriptedModel(default="ok"), memory=memory)
    agent.generate("hello", thread={"id": "t-9", "title": "Trip", "metadata": {"k": 1}}, resource="r")
    thread = memory.get_thread_by_id("t-9")
    assert thread is not None and thread.title == "Trip" and thread.metadata == {"k": 1}
    assert thread.resource_id == "r"


def test_resource_without_thread_creates_a_new_thread(memory: Memory) -> None:
    agent = Agent("a", "", ScriptedModel(default="ok"), memory=memory)
    result = agent.generate("hello", resource="r")
    assert result.thread_id is not None
    assert [m.text for m in stored(memory, result.thread_id)] == ["hello", "ok"]


def test_chat_message_and_message_object_inputs(memory: Memory) -> None:
    model = ScriptedModel(default="ok")
    agent = Agent("a", "sys", model, memory=memory)
    agent.generate(
        [{"role": "system", "content": "extra rule"}, {"role": "user", "content": "hi"}],
        thread="t",
        resource="r",
    )
    from mastra_memory import Message

    msg = Message.user("second", thread_id="elsewhere")
    agent.generate(msg, thread="t", resource="r")
    rows = stored(memory, "t")
    assert [(m.role, m.text) for m in rows] == [
        ("user", "hi"),
        ("assistant", "ok"),
        ("user", "second"),
        ("assistant", "ok"),
    ]
    assert rows[2].id == msg.id and rows[2].thread_id == "t" and rows[2].resource_id == "r"
    assert model.calls[0][0][:3] == [
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "extra rule"},
        {"role": "user", "content": "hi"},
    ]
    # re-sending a message that is already in history does not duplicate it
    agent.generate([msg, Message.user("third", thread_id="t")], thread="t", resource="r")
    assert [m.text for m in stored(memory, "t")].count("second") == 1


# -- tool failures ----------------------------------------------------------------------------


def test_failing_unknown_and_invalid_tool_calls_become_error_results(memory: Memory) -> None:
    def boom(x: int) -> int:
        """Always fails."""
        raise RuntimeError("kaput")

    model = ScriptedModel(
        [
            ModelResponse(
                tool_calls=[
                    ToolCall(id="c1", name="boom", arguments={"x": 1}),
                    ToolCall(id="c2", name="nope", arguments={}),
                    ToolCall(id="c3", name="boom", arguments={"x": "not a number"}),
                    ToolCall(
                        id="c4",
                        name="boom",
                        arguments={},
                        arguments_error="arguments are not valid JSON",
                    ),
                ]
            ),
            "Sorry, the tools failed.",
        ]
    )
    agent = Agent("a", "", model, memory=memory, tools=[boom])
    result = agent.generate("go", thread="t", resource="r")
    assert result.text == "Sorry, the tools failed."
    parts = [p for p in stored(memory, "t")[1].content.parts if isinstance(p, ToolInvocationPart)]
    errors = {p.tool_call_id: p.result["error"] for p in parts}
    assert "RuntimeError: kaput" in errors["c1"]
    assert "unknown tool 'nope'" in errors["c2"] and "boom" in errors["c2"]
    assert "invalid arguments" in errors["c3"]
    assert "not valid JSON" in errors["c4"]
    tool_msgs = [m for m in model.calls[1][0] if m["role"] == "tool"]
    assert [json.loads(m["content"])["error"] for m in tool_msgs] == [errors[c] for c in ("c1", "c2", "c3", "c4")]


def test_max_steps_bounds_the_tool_loop(memory: Memory) -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedModel(default=ScriptedModel.tool_call("ping"))
    agent = Agent("a", "", model, memory=memory, tools=[ping], max_steps=3)
    result = agent.generate("loop", thread="t", resource="r")
    assert len(model.calls) == 3
    assert result.finish_reason == "max_steps" and result.text == ""
    parts = stored(memory, "t")[1].content.parts
    assert [p.step for p in parts if isinstance(p, ToolInvocationPart)] == [0, 1, 2]


def test_tool_results_that_are_not_json_are_stored_as_text(memory: Memory) -> None:
    class Point:
        def __str__(self) -> str:
            return "Point(1, 2)"

    def where() -> Any:
        """Where."""
        return {"at": Point()}

    model = ScriptedModel([ScriptedModel.tool_call("where"), "done"])
    Agent("a", "", model, memory=memory, tools=[where]).generate("?", thread="t", resource="r")
    part = stored(memory, "t")[1].content.parts[0]
    assert isinstance(part, ToolInvocationPart) and part.result == {"at": "Point(1, 2)"}


def test_memory_tools_are_merged_with_agent_tools(db_url: str) -> None:
    notes: list[str] = []

    def remember(note: str) -> str:
        """Remember a note."""
        notes.append(note)
        return "saved"

    class MemoryWithTool(Memory):
        def prepare_turn(self, *args: Any, **kwargs: Any) -> TurnContext:
            ctx = super().prepare_turn(*args, **kwargs)
            ctx.tools.append(Tool.from_function(remember))
            return ctx

    with MemoryWithTool(LibSQLStore(db_url)) as mem:
        model = ScriptedModel([ScriptedModel.tool_call("remember", {"note": "likes tea"}), "noted"])
        Agent("a", "", model, memory=mem, tools=[]).generate("I like tea", thread="t", resource="r")
    assert notes == ["likes tea"]
    assert [t["function"]["name"] for t in model.calls[0][1]] == ["remember"]


# -- streaming --------------------------------------------------------------------------------


def test_stream_yields_deltas_and_saves_the_turn(memory: Memory) -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = ScriptedModel(
        [
            ModelResponse(
                text="Adding.",
                tool_calls=[ToolCall(id="c", name="add", arguments={"a": 2, "b": 2})],
            ),
            "The answer is four.",
        ]
    )
    agent = Agent("a", "", model, memory=memory, tools=[add])
    stream = agent.stream("2+2?", thread="t", resource="r")
    assert stored(memory, "t") == []  # nothing runs before iteration
    deltas = list(stream)
    assert "".join(deltas) == "Adding.The answer is four."
    assert len(deltas) == 5
    result = stream.result
    assert result.text == "The answer is four." and stream.text == result.text
    rows = stored(memory, "t")
    assert [m.role for m in rows] == ["user", "assistant"]
    assert [type(p).__name__ for p in rows[1].content.parts] == [
        "TextPart",
        "ToolInvocationPart",
        "TextPart",
    ]
    assert [m.id for m in result.messages] == [m.id for m in rows]


def test_stream_result_drains_and_closing_early_saves_nothing(memory: Memory) -> None:
    agent = Agent("a", "", ScriptedModel(default="one two three"), memory=memory)
    assert agent.stream("x", thread="t1", resource="r").result.text == "one two three"
    assert len(stored(memory, "t1")) == 2

    with agent.stream("y", thread="t1", resource="r") as stream:
        assert next(stream) == "one"
    assert len(stored(memory, "t1")) == 2
    with pytest.raises(RuntimeError):
        _ = stream.result


# -- failures save nothing --------------------------------------------------------------------


def test_model_failure_saves_nothing(memory: Memory) -> None:
    agent = Agent("a", "", ScriptedModel([RuntimeError("provider down")]), memory=memory)
    with pytest.raises(ModelError, match="provider down") as info:
        agent.generate("hello", thread="new", resource="r")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert memory.get_thread_by_id("new") is None  # the thread this turn created is gone

    ok = Agent("a", "", ScriptedModel(["fine"]), memory=memory)
    ok.generate("first", thread="t", resource="r")

    def ping() -> str:
        """Ping."""
        return "pong"

    # fails on the second step, after a tool already ran
    failing = Agent(
        "a",
        "",
        ScriptedModel([ScriptedModel.tool_call("ping"), ModelError("timeout")]),
        memory=memory,
        tools=[ping],
    )
    with pytest.raises(ModelError, match="timeout"):
        failing.generate("second", thread="t", resource="r")
    assert [m.text for m in stored(memory, "t")] == ["first", "fine"]
    assert memory.get_thread_by_id("t") is not None

    streaming = Agent("a", "", ScriptedModel([RuntimeError("stream broke")]), memory=memory)
    with pytest.raises(ModelError, match="stream broke"):
        list(streaming.stream("third", thread="t", resource="r"))
    assert len(stored(memory, "t")) == 2


def test_storage_error_at_save_leaves_no_half_turn(memory: Memory) -> None:
    memory.storage.max_message_bytes = 1000
    agent = Agent("a", "", ScriptedModel(["x" * 5000]), memory=memory)
    with pytest.raises(ValidationError, match="over the limit"):
        agent.generate("short question", thread="t", resource="r")
    assert memory.get_thread_by_id("t") is None


def test_resource_rules(memory: Memory) -> None:
    agent = Agent("a", "", ScriptedModel(default="ok"), memory=memory)
    agent.generate("hi", thread="t", resource="owner")
    with pytest.raises(ResourceMismatchError):
        agent.generate("sneaky", thread="t", resource="intruder")
    with pytest.raises(ValidationError, match="resource is required"):
        agent.generate("no resource", thread="t")
    with pytest.raises(ValidationError):
        agent.generate("bad id", thread="  padded ", resource="owner")
    with pytest.raises(ValidationError):
        agent.generate("", thread="t", resource="owner")
    with pytest.raises(ValidationError):
        agent.generate("x", thread={"id": "t", "colour": "red"}, resource="owner")
    assert [m.text for m in stored(memory, "t")] == ["hi", "ok"]


def test_stateless_agent_without_memory() -> None:
    model = ScriptedModel(["first", "second"])
    agent = Agent("a", "sys", model, model_settings={"temperature": 0.1})
    r1 = agent.generate("one")
    r2 = agent.generate("two", thread="ignored", resource="ignored")
    assert (r1.text, r2.text) == ("first", "second")
    assert r1.thread_id is None and r1.resource_id is None
    assert [m.role for m in r1.messages] == ["user", "assistant"]
    assert [m["content"] for m in model.calls[1][0]] == ["sys", "two"]  # no history
    assert model.calls[0][2] == {"temperature": 0.1}  # settings reach a model object


def test_agent_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        Agent("a", "", 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Agent("a", "", ScriptedModel(), max_steps=0)

    def f() -> None:
        """F."""

    with pytest.raises(ConfigurationError, match="duplicate"):
        Agent("a", "", ScriptedModel(), tools=[f, f])
    with pytest.raises(ConfigurationError, match="unknown local model"):
        Agent("a", "", "local/gpt-5")


# -- across processes -------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys
    from mastra_memory import Agent, Memory
    from mastra_memory.testing import ScriptedModel
    from storage_adapters.libsql import LibSQLStore

    def answer(messages):
        seen = " | ".join(str(m.get("content")) for m in messages)
        return "history: " + seen

    with Memory(LibSQLStore(sys.argv[1])) as memory:
        agent = Agent("demo", "Be brief.", ScriptedModel(default=answer), memory=memory)
        print(agent.generate(sys.argv[2], thread="demo", resource="ana").text)
""")


@pytest.mark.slow
def test_a_second_process_sees_what_the_first_saved(db_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(text: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, db_url, text],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    first = run("My name is Ana and I live in Lisbon.")
    assert first == "history: Be brief. | My name is Ana and I live in Lisbon."
    second = run("What is my name?")
    assert second == ("history: Be brief. | My name is Ana and I live in Lisbon. | " + first + " | What is my name?")
    with Memory(LibSQLStore(db_url)) as mem:
        assert [m.role for m in stored(mem, "demo")] == ["user", "assistant", "user", "assistant"]
