"""MastraMessageHistory against the real pydantic-ai-slim package (FunctionModel, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pydantic_ai", reason="needs the [pydantic-ai] extra")

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mastra_memory import Memory, ResourceMismatchError
from mastra_memory.errors import ValidationError
from mastra_memory.integrations.pydantic_ai import MastraMessageHistory, to_model_messages
from mastra_memory.types import Message, ToolInvocationPart
from storage_adapters.libsql import LibSQLStore


def _scripted() -> tuple[FunctionModel, list[list[ModelMessage]]]:
    seen: list[list[ModelMessage]] = []

    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        last = messages[-1].parts[-1]
        if isinstance(last, UserPromptPart) and "2+3" in str(last.content):
            return ModelResponse(parts=[ToolCallPart(tool_name="add", args={"a": 2, "b": 3}, tool_call_id="c1")])
        if isinstance(last, UserPromptPart):
            prompts = [p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart)]
            return ModelResponse(parts=[TextPart(content=f"You said: {' | '.join(map(str, prompts))}")])
        return ModelResponse(parts=[TextPart(content="It is 5.")])

    return FunctionModel(reply), seen


def test_history_in_new_messages_out_across_restarts(tmp_path: Path) -> None:
    model, seen = _scripted()
    agent = Agent(model, system_prompt="You add numbers.")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    db = f"file:{tmp_path}/pai.db"
    with LibSQLStore(db) as store:
        history = MastraMessageHistory(Memory(storage=store), "t1", "ana")
        assert history.messages() == []
        first = agent.run_sync("What is 2+3?", message_history=history.messages())
        assert first.output == "It is 5."
        history.save(first.new_messages())
        assert history.messages() == first.all_messages()
    with LibSQLStore(db) as store:  # a restart
        memory = Memory(storage=store)
        history = MastraMessageHistory(memory, "t1", "ana")
        second = agent.run_sync("And now?", message_history=history.messages())
        assert second.output == "You said: What is 2+3? | And now?"
        assert seen[-1][: len(first.all_messages())] == first.all_messages()
        history.save(second.new_messages())
        stored = memory.list_messages("t1", "ana", per_page=False).messages
        assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
        call = stored[1].content.parts[0]
        assert isinstance(call, ToolInvocationPart) and (call.tool_name, call.args) == ("add", {"a": 2, "b": 3})
        result = stored[2].content.parts[0]
        assert isinstance(result, ToolInvocationPart) and (result.state, result.result) == ("result", 5)
        assert stored[4].text == "And now?"
        # last=N never starts with a tool return
        assert isinstance(history.messages(last=4)[0], ModelResponse)
        assert history.messages(last=4)[0].parts[0].content == "It is 5."  # type: ignore[union-attr]


def test_messages_from_other_surfaces_and_bad_input(tmp_path: Path) -> None:
    with LibSQLStore(f"file:{tmp_path}/o.db") as store:
        memory = Memory(storage=store)
        memory.get_or_create_thread("t2", "ana")
        reply = Message.assistant("Looked it up.", "t2", resource_id="ana")
        reply.content.parts.append(
            ToolInvocationPart(tool_call_id="c9", tool_name="find", args={"q": 1}, result="ok", state="result")
        )
        memory.save_messages([Message.user("Find q.", "t2", resource_id="ana"), reply])
        converted = to_model_messages(memory.list_messages("t2", "ana", per_page=False).messages)
        assert isinstance(converted[0], ModelRequest) and converted[0].parts[0].content == "Find q."  # type: ignore[union-attr]
        assert isinstance(converted[1], ModelResponse)
        assert [type(p).__name__ for p in converted[1].parts] == ["TextPart", "ToolCallPart"]
        assert converted[2].parts[0].part_kind == "tool-return"  # type: ignore[union-attr]
        # a run continues from them
        model, _ = _scripted()
        history = MastraMessageHistory(memory, "t2", "ana")
        out = Agent(model).run_sync("Thanks!", message_history=history.messages())
        assert out.output == "You said: Find q. | Thanks!"
        before = memory.list_messages("t2", "ana", per_page=False).messages
        bad: list[Any] = [{"kind": "nonsense"}]
        with pytest.raises(ValidationError):
            history.save(bad)
        assert memory.list_messages("t2", "ana", per_page=False).messages == before
        with pytest.raises(ResourceMismatchError):
            MastraMessageHistory(memory, "t2", "mallory")
