"""MastraSession against the real openai-agents package (a scripted agents Model, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents", reason="needs the [openai-agents] extra")

from agents import Agent, Runner, function_tool
from agents.items import ModelResponse as AgentsModelResponse
from agents.memory.session import Session
from agents.models.interface import Model
from agents.usage import Usage as AgentsUsage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from mastra_memory import Memory, ResourceMismatchError
from mastra_memory.errors import ValidationError
from mastra_memory.integrations.openai_agents import MastraSession, from_response_items, to_response_items
from mastra_memory.types import Message, ToolInvocationPart
from storage_adapters.libsql import LibSQLStore
from tests.servers import FACTORIES


class ScriptedAgentsModel(Model):
    """An agents-SDK Model that replies from a script and records the input it was given."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
        self.inputs.append(input)
        reply = self.replies.pop(0)
        if isinstance(reply, str):
            output: list[Any] = [
                ResponseOutputMessage(
                    id="msg_1",
                    type="message",
                    role="assistant",
                    status="completed",
                    content=[ResponseOutputText(type="output_text", text=reply, annotations=[])],
                )
            ]
        else:
            output = [reply]
        return AgentsModelResponse(output=output, usage=AgentsUsage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - not used
        raise NotImplementedError


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    with LibSQLStore(f"file:{tmp_path}/agents.db") as store:
        yield Memory(storage=store)


def test_is_an_agents_session_and_round_trips_items(memory: Memory) -> None:
    session = MastraSession(memory, "t1", "ana")
    assert isinstance(session, Session)
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "What is 2+3?"},
        {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}', "id": "fc_1"},
        {"type": "function_call_output", "call_id": "c1", "output": "5"},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_9",
            "status": "completed",
            "content": [{"type": "output_text", "text": "It is 5.", "annotations": []}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "adding"}]},
    ]

    async def run() -> None:
        await session.add_items(items[:2])
        await session.add_items(items[2:])
        assert await session.get_items() == items
        assert await session.get_items(limit=2) == items[-2:]
        assert await session.pop_item() == items[-1]
        assert await session.get_items() == items[:-1]

    asyncio.run(run())
    # stored as mastra messages other surfaces understand
    stored = memory.list_messages("t1", "ana", per_page=False).messages
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[0].text == "What is 2+3?" and stored[3].text == "It is 5."
    call = stored[1].content.parts[0]
    assert isinstance(call, ToolInvocationPart) and (call.tool_name, call.args) == ("add", {"a": 2, "b": 3})
    result = stored[2].content.parts[0]
    assert isinstance(result, ToolInvocationPart) and (result.state, result.result) == ("result", "5")


def test_messages_written_by_others_become_items(memory: Memory) -> None:
    memory.get_or_create_thread("t2", "ana")
    memory.save_messages([Message.user("Hi, I am Ana.", "t2", resource_id="ana")])
    call = ToolInvocationPart(
        tool_call_id="c9", tool_name="lookup", args={"q": "x"}, result={"ok": True}, state="result"
    )
    reply = Message.assistant("Found it.", "t2", resource_id="ana")
    reply.content.parts.append(call)
    memory.save_messages([reply])
    items = asyncio.run(MastraSession(memory, "t2", "ana").get_items())
    assert items == [
        {"role": "user", "content": "Hi, I am Ana."},
        {"role": "assistant", "content": "Found it."},
        {"type": "function_call", "call_id": "c9", "name": "lookup", "arguments": '{"q": "x"}'},
        {"type": "function_call_output", "call_id": "c9", "output": '{"ok": true}'},
    ]
    assert to_response_items(from_response_items(items, "t2", "ana")) == items


@pytest.mark.parametrize("backend", ["inmemory", "postgres", "mongodb"])
def test_clear_and_pop_on_real_backends(backend: str, tmp_path: Path) -> None:
    with FACTORIES[backend](tmp_path) as store:
        session = MastraSession(Memory(storage=store), "t3", "bob")

        async def run() -> None:
            assert await session.pop_item() is None and await session.get_items() == []
            await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(5)])
            assert [i["content"] for i in await session.get_items(limit=3)] == ["m2", "m3", "m4"]
            assert (await session.pop_item() or {})["content"] == "m4"
            await session.clear_session()
            assert await session.get_items() == []
            assert store.get_thread_by_id("t3") is not None  # the thread stays

        asyncio.run(run())


def test_bad_items_are_refused_and_change_nothing(memory: Memory) -> None:
    session = MastraSession(memory, "t4", "ana")
    good = {"role": "user", "content": "ok"}
    for bad in ({"role": "system", "content": "x"}, {"role": "developer", "content": "x"}, "text", {"role": "owl"}):
        with pytest.raises(ValidationError):
            asyncio.run(session.add_items([good, bad]))
    assert asyncio.run(session.get_items()) == []
    assert memory.get_thread_by_id("t4") is None
    with pytest.raises(ValidationError):
        session.get_items_sync(limit=-1)
    asyncio.run(session.add_items([good]))
    with pytest.raises(ResourceMismatchError):
        MastraSession(memory, "t4", "mallory")


def test_runner_keeps_the_conversation_in_the_thread(memory: Memory) -> None:
    @function_tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = ScriptedAgentsModel(
        [
            ResponseFunctionToolCall(
                type="function_call", call_id="call_1", name="add", arguments='{"a": 2, "b": 3}', id="fc_1"
            ),
            "It is 5.",
            "You asked about 2+3.",
        ]
    )
    agent = Agent(name="calc", instructions="You add.", model=model, tools=[add])
    session = MastraSession(memory, "t5", "ana")

    async def run() -> None:
        first = await Runner.run(agent, "What is 2+3?", session=session)
        assert first.final_output == "It is 5."
        second = await Runner.run(agent, "What did I ask?", session=session)
        assert second.final_output == "You asked about 2+3."

    asyncio.run(run())
    # the second run's model input replays the first run from the thread
    replay = model.inputs[-1]
    kinds = [i.get("type", "message") if isinstance(i, dict) else "?" for i in replay]
    assert kinds.count("function_call") == 1 and kinds.count("function_call_output") == 1
    assert replay[0]["content"] == "What is 2+3?" and replay[-1]["content"] == "What did I ask?"
    texts = [m.text for m in memory.list_messages("t5", "ana", per_page=False).messages]
    assert texts[0] == "What is 2+3?" and "It is 5." in texts and texts[-1] == "You asked about 2+3."
