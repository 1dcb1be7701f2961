"""Token counting: offline o200k_base, overheads, per-message cache."""

from __future__ import annotations

import math
import os

from mastra_memory import Message
from mastra_memory.tokens import TokenCounter, count_tokens, get_encoding
from mastra_memory.types import MessageContent, ToolInvocationPart


def test_o200k_loads_offline_without_leaving_env_changed() -> None:
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    enc = get_encoding()
    assert enc is not None and enc.name == "o200k_base"
    assert os.environ.get("TIKTOKEN_CACHE_DIR") == before
    # o200k_base splits these as the official encoding does
    assert count_tokens("hello world") == 2
    assert enc.encode_ordinary("Observational memory") == enc.encode_ordinary("Observational memory")
    assert count_tokens("") == 0


def test_message_and_conversation_overheads() -> None:
    counter = TokenCounter()
    m = Message.user("My name is Ana and I live in Lisbon.", "t")
    expected = count_tokens("user") + count_tokens(m.text) + 3.8
    assert counter.count_message(m) == expected
    assert counter.count_messages([m]) == math.ceil(expected + 24)
    assert counter.count_messages([]) == 0


def test_tool_result_counts_an_extra_message_overhead() -> None:
    counter = TokenCounter()
    part = ToolInvocationPart(
        tool_call_id="c1", tool_name="weather", args={"city": "Lisbon"}, result="sunny", state="result"
    )
    m = Message(role="assistant", thread_id="t", content=MessageContent(parts=[part]))
    expected = (
        count_tokens("assistant")
        + 3.8
        + count_tokens("weather")
        + count_tokens('{"city":"Lisbon"}')
        + count_tokens("sunny")
        + 3.8
    )
    assert counter.count_message(m) == expected


def test_counts_are_cached_by_id_and_content() -> None:
    counter = TokenCounter()
    msgs = [Message.user(f"message number {i}", "t", id=f"id-{i}") for i in range(50)]
    first = counter.count_messages(msgs)
    assert counter.misses == 50
    assert counter.count_messages(msgs) == first
    assert counter.misses == 50 and counter.hits == 50
    changed = msgs[0].model_copy(
        update={
            "content": MessageContent.model_validate(
                {"parts": [{"type": "text", "text": "now much longer text than before"}]}
            )
        }
    )
    counter.count_message(changed)
    assert counter.misses == 51


def test_incremental_observation_token_count_is_exact() -> None:
    import random

    from mastra_memory.storage.om import append_observations, observation_tokens

    rng = random.Random(7)
    pieces = ["User said hi.", "🔴 (10:00) likes tea!", "-> sub item", "done ✅", "path a/b", "x\u00e9\u4e2d", "3.14"]
    text, tokens = "", 0
    for i in range(200):
        lines = [f"{'  * ' if rng.random() < 0.2 else '* '}{rng.choice(pieces)} {i}" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            lines.insert(0, f"Date: Jan {i % 28 + 1}, 2025")
        new = append_observations(text, "\n".join(lines))
        tokens = observation_tokens(text, tokens, new)
        text = new
        assert tokens == count_tokens(text)
