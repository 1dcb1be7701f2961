"""``context.assemble``: what was loaded -> what the model sees, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mastra_memory.config import MemoryConfig
from mastra_memory.context import TurnInputs, assemble, build_chat_messages
from mastra_memory.processors import TokenLimiter
from mastra_memory.tools import Tool
from mastra_memory.types import Message, Thread

T0 = datetime(2026, 1, 2, 15, 4, tzinfo=UTC)


def _thread(tid: str = "t1") -> Thread:
    return Thread(id=tid, resource_id="ana", title="", metadata={}, created_at=T0, updated_at=T0)


def _msg(text: str, minutes: int, thread_id: str = "t1", role: str = "user", mid: str | None = None) -> Message:
    factory = Message.user if role == "user" else Message.assistant
    return factory(text, thread_id, id=mid or f"{thread_id}-{minutes}", created_at=T0 + timedelta(minutes=minutes))


def _inputs(**kw: object) -> TurnInputs:
    return TurnInputs(thread=_thread(), resource_id="ana", config=MemoryConfig(), **kw)  # type: ignore[arg-type]


def test_nothing_loaded_gives_an_empty_context() -> None:
    ctx = assemble(_inputs(), [])
    assert ctx.system_messages == [] and ctx.history == [] and ctx.tools == []
    assert ctx.thread.id == "t1" and ctx.inputs is not None


def test_system_messages_in_order_and_other_threads_as_one_block() -> None:
    recalled = [_msg("b", 2), _msg("elsewhere <x>", 1, thread_id="t9"), _msg("a", 0)]
    ctx = assemble(_inputs(working_memory="WM", observations="OBS", recalled=recalled), [])
    assert ctx.system_messages[:2] == ["WM", "OBS"]
    assert len(ctx.system_messages) == 3
    block = ctx.system_messages[2]
    assert "<remembered_from_other_conversation>" in block and "elsewhere &lt;x&gt;" in block
    assert "3:05 PM: User:" in block
    assert [m.text for m in ctx.history] == ["a", "b"]  # this thread only, oldest first


def test_observational_tail_is_merged_with_recalled_messages_without_duplicates() -> None:
    reminder = _msg("reminder", -10_000, mid="om-continuation")
    tail = [_msg("u3", 3), _msg("a4", 4, role="assistant")]
    recalled = [_msg("u1", 1), _msg("u3", 3)]
    ctx = assemble(_inputs(om_reminder=reminder, om_messages=tail, recalled=recalled), [])
    assert [m.text for m in ctx.history] == ["reminder", "u1", "u3", "a4"]


def test_observational_tail_alone_keeps_its_order() -> None:
    tail = [_msg("late", 5), _msg("early", 1)]
    ctx = assemble(_inputs(om_messages=tail), [])
    assert [m.text for m in ctx.history] == ["late", "early"]  # not re-sorted: nothing was merged


def test_processors_see_the_system_messages_and_new_input() -> None:
    seen: dict[str, object] = {}

    class Spy:
        order = 10

        def process(self, messages: list[Message], context: object) -> list[Message]:
            seen["system"] = list(context.system_messages)  # type: ignore[attr-defined]
            seen["input"] = [m.text for m in context.input_messages]  # type: ignore[attr-defined]
            return messages[-1:]

    new = [_msg("now", 9)]
    ctx = assemble(_inputs(working_memory="WM", recalled=[_msg("a", 0), _msg("b", 1)]), new, [Spy()])
    assert [m.text for m in ctx.history] == ["b"]
    assert seen == {"system": ["WM"], "input": ["now"]}


def test_token_limiter_trims_the_oldest_history() -> None:
    recalled = [_msg("word " * 200, i) for i in range(5)]
    ctx = assemble(_inputs(recalled=recalled), [], [TokenLimiter(600)])
    assert 0 < len(ctx.history) < 5
    assert ctx.history[-1].id == recalled[-1].id


def test_tools_are_copied_and_state_is_shared() -> None:
    tool = Tool(name="update_working_memory", fn=lambda: None)
    inputs = _inputs(tools=[tool])
    inputs.state["om"] = "loaded"
    ctx = assemble(inputs, [])
    assert ctx.state is inputs.state and ctx.tools == [tool]
    ctx.tools.append(Tool(name="extra", fn=lambda: None))
    assert inputs.tools == [tool]


def test_chat_messages_put_instructions_memory_history_then_new_input() -> None:
    history = [_msg("a", 0), _msg("b", 1, role="assistant")]
    ctx = assemble(_inputs(working_memory="WM", recalled=history), [])
    new = [history[1], _msg("c", 2)]  # a client resending history is not duplicated
    chat = build_chat_messages("Be brief.", ctx, new)
    assert [(m["role"], m["content"]) for m in chat] == [
        ("system", "Be brief."),
        ("system", "WM"),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "c"),
    ]
