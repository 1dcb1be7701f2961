"""Memory processors: ToolCallFilter and TokenLimiter, alone and in Memory's turn path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mastra_memory import Memory, Message, ValidationError
from mastra_memory.processors import ProcessorContext, TokenLimiter, ToolCallFilter, apply_processors
from mastra_memory.tokens import TokenCounter
from mastra_memory.types import MessageContent, TextPart, ToolInvocationPart
from storage_adapters.inmemory import InMemoryStore
from tests.om_support import BASE, om_options, scripted, turn


def tool_message(name: str, text: str = "", at_s: int = 0) -> Message:
    parts: list[object] = [TextPart(text=text)] if text else []
    parts.append(
        ToolInvocationPart(tool_call_id=f"c-{name}", tool_name=name, args={"q": name}, result="ok", state="result")
    )
    return Message(
        role="assistant", thread_id="t", content=MessageContent(parts=parts), created_at=BASE + timedelta(seconds=at_s)
    )


def test_tool_call_filter_all_or_named() -> None:
    msgs = [Message.user("hi", "t"), tool_message("search"), tool_message("weather", "It is sunny.")]
    all_removed = ToolCallFilter().process(msgs, ProcessorContext())
    assert [m.text for m in all_removed] == ["hi", "It is sunny."]  # the tool-only message is gone
    only_search = ToolCallFilter(exclude=["search"]).process(msgs, ProcessorContext())
    assert len(only_search) == 2 and only_search[1].content.parts[-1].tool_name == "weather"  # type: ignore[union-attr]
    assert msgs[2].content.parts[-1].tool_name == "weather"  # type: ignore[union-attr]  # input untouched


def test_token_limiter_keeps_newest_within_budget() -> None:
    counter = TokenCounter()
    msgs = [
        Message.user(f"message {i} " + "word " * 20, "t", created_at=BASE + timedelta(seconds=i)) for i in range(10)
    ]
    each = counter.count_message(msgs[0])
    ctx = ProcessorContext(system_messages=["be nice"], input_messages=[Message.user("new", "t")])
    fixed = 24 + counter.count_text("be nice") + 3.8 + counter.count_message(ctx.input_messages[0])
    limit = int(fixed + 3.5 * each)
    kept = TokenLimiter(limit).process(msgs, ctx)
    assert [m.text.split()[1] for m in kept] == ["7", "8", "9"]
    with pytest.raises(ValidationError):
        TokenLimiter(10).process(msgs, ctx)  # system + input alone exceed the limit
    with pytest.raises(ValidationError):
        TokenLimiter(limit, strategy="abort").process(msgs, ctx)


def test_best_fit_skips_a_big_message_contiguous_stops() -> None:
    small = [Message.user(f"s{i}", "t", created_at=BASE + timedelta(seconds=i)) for i in range(3)]
    big = Message.user("big " * 400, "t", created_at=BASE + timedelta(seconds=5))
    tail = Message.user("last", "t", created_at=BASE + timedelta(seconds=6))
    msgs = [*small, big, tail]
    best = TokenLimiter(120).process(msgs, ProcessorContext())
    contiguous = TokenLimiter(120, trim_mode="contiguous").process(msgs, ProcessorContext())
    assert [m.text for m in best] == ["s0", "s1", "s2", "last"]
    assert [m.text for m in contiguous] == ["last"]


def test_filters_run_before_limiters_in_memory() -> None:
    store = InMemoryStore()
    memory = Memory(storage=store, options={"last_messages": 20}, processors=[TokenLimiter(150), ToolCallFilter()])
    memory.create_thread("r", "t")
    big_tool = ToolInvocationPart(
        tool_call_id="c1", tool_name="dump", args={"x": "y " * 500}, result="z", state="result"
    )
    memory.save_messages(
        [
            Message.user("question one", "t", created_at=BASE),
            Message(
                role="assistant",
                thread_id="t",
                content=MessageContent(parts=[big_tool]),
                created_at=BASE + timedelta(seconds=1),
            ),
            Message.user("question two", "t", created_at=BASE + timedelta(seconds=2)),
        ]
    )
    ctx = memory.prepare_turn("t", "r", [Message.user("and?", "t")])
    # the limiter counted after the filter removed the big tool call, so both questions fit
    assert [m.text for m in ctx.history] == ["question one", "question two"]
    assert apply_processors([], ctx.history, ProcessorContext()) == ctx.history


def test_processors_apply_to_observational_memory_context() -> None:
    memory = Memory(storage=InMemoryStore(), options=om_options(scripted()), processors=[TokenLimiter(3_000)])
    for n in range(4):
        turn(memory, "t1", "r1", n, words=300)
    ctx = memory.prepare_turn("t1", "r1", [Message.user("m9-u hi", "t1")])
    total = sum(TokenCounter().count_message(m) for m in ctx.history)
    assert total <= 3_000 and ctx.history
    # the continuation reminder is pinned: never trimmed
    if ctx.system_messages:
        assert ctx.history[0].id == "om-continuation"
