"""Data model: content JSON in the original's shape and chat-message converters."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.types import (
    Message,
    MessageContent,
    RawPart,
    TextPart,
    ToolInvocationPart,
    from_chat_messages,
    message_from_row,
    to_chat_messages,
)

ORIGINAL_ROW = (
    '{"format":2,"parts":[{"type":"step-start"},{"type":"text","text":"Checking"},'
    '{"type":"tool-invocation","toolInvocation":{"state":"result","toolCallId":"c1","toolName":"weather",'
    '"args":{"city":"Oslo"},"result":{"t":3}}},{"type":"text","text":"It is 3 degrees."}],'
    '"content":"It is 3 degrees.","metadata":{"x":1}}'
)


def test_reads_and_writes_the_originals_content_json() -> None:
    content = MessageContent.from_storage(ORIGINAL_ROW)
    assert isinstance(content.parts[0], RawPart) and content.parts[0].type == "step-start"
    inv = content.parts[2]
    assert isinstance(inv, ToolInvocationPart) and inv.args == {"city": "Oslo"} and inv.result == {"t": 3}
    assert content.metadata == {"x": 1} and content.extra == {"content": "It is 3 degrees."}
    assert json.loads(content.to_json()) == json.loads(ORIGINAL_ROW)


def test_legacy_plain_string_content() -> None:
    assert MessageContent.from_storage("just text").text == "just text"
    assert MessageContent.from_storage('{"format":2,"content":"flat"}').text == "flat"


def test_chat_roundtrip_with_tool_calls() -> None:
    chat = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"t": 3}'},
        {"role": "assistant", "content": "It is 3 degrees."},
    ]
    start = datetime(2025, 5, 1, tzinfo=UTC)
    msgs = from_chat_messages(chat, "t1", "r1", start=start)
    assert [m.role for m in msgs] == ["user", "assistant", "assistant"]
    assert msgs[0].created_at == start
    call = msgs[1].content.parts[0]
    assert isinstance(call, ToolInvocationPart) and call.state == "result" and call.result == {"t": 3}
    assert all(b.created_at > a.created_at for a, b in itertools.pairwise(msgs))
    back = to_chat_messages(msgs)
    assert [m["role"] for m in back] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(back[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert back[2] == {"role": "tool", "tool_call_id": "c1", "content": '{"t": 3}'}


def test_one_assistant_message_with_steps_splits_into_provider_sequence() -> None:
    msg = Message(
        thread_id="t",
        role="assistant",
        content=MessageContent(
            parts=[
                TextPart(text="Let me look."),
                ToolInvocationPart(tool_call_id="a", tool_name="f", args={}, result="r1", state="result"),
                ToolInvocationPart(tool_call_id="b", tool_name="g", args={"x": 1}, result="r2", state="result"),
                TextPart(text="Done."),
                ToolInvocationPart(tool_call_id="z", tool_name="h", args={}, state="call"),
            ]
        ),
    )
    chat = to_chat_messages([msg])
    assert [c["role"] for c in chat] == ["assistant", "tool", "tool", "assistant"]
    assert chat[0]["content"] == "Let me look." and len(chat[0]["tool_calls"]) == 2
    assert chat[3] == {"role": "assistant", "content": "Done."}


def test_unpaired_tool_message_is_kept() -> None:
    (msg,) = from_chat_messages([{"role": "tool", "tool_call_id": "x", "name": "f", "content": "ok"}], "t")
    assert msg.role == "tool"
    assert to_chat_messages([msg]) == [{"role": "tool", "tool_call_id": "x", "content": "ok"}]


def test_bad_role_is_rejected() -> None:
    with pytest.raises(ValidationError):
        from_chat_messages([{"role": "wizard", "content": "x"}], "t")


FAST_PATH_SHAPES = [
    '{"format":2,"parts":[{"type":"text","text":"hello"}]}',
    '{"format":2,"parts":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"metadata":{"k":[1,2]}}',
    '{"format":2,"parts":[]}',
    '{"format":2,"parts":[{"type":"text","text":"x","createdAt":1}]}',  # extra key: general path
    '{"format":2,"parts":[{"type":"text","text":5}]}',  # bad text type: RawPart
    '{"format":2,"parts":[{"type":"text","text":"x"}],"metadata":"not a dict"}',
    '{"format":2,"parts":[{"type":"text","text":"x"}],"content":"x"}',
    '{"format":2,"content":"legacy only"}',
    '{"format":2,"parts":[{"type":"text","text":"big"}],"metadata":{"n":123456789012345678901234567890}}',
    '{"format":2,"parts":[{"type":"text","text":"nan"}],"metadata":{"v":NaN}}',
    ORIGINAL_ROW,
    "plain legacy text",
    '"a JSON string"',
    "[1, 2]",
]


@pytest.mark.parametrize("stored", FAST_PATH_SHAPES)
def test_row_decoder_matches_the_validated_model(stored: str) -> None:
    """The unvalidated read path builds exactly what validation would, for every stored shape."""
    fast = message_from_row(("m1", "t1", "r1", "user", "2025-01-02T03:04:05.678Z", stored, None))
    slow = Message(
        id="m1",
        thread_id="t1",
        resource_id="r1",
        role="user",
        created_at=datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        content=MessageContent.model_validate(MessageContent.from_storage(stored).model_dump()),
    )
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.content_json() == stored  # kept verbatim, never re-encoded on a copy
    fast.content.parts.append(TextPart(text="mutable"))  # a fresh object, safe to change
    assert fast.model_fields_set == slow.model_fields_set | {"created_at", "id", "type", "resource_id"}


def test_row_decoder_accepts_bytes_and_naive_timestamps() -> None:
    m = message_from_row(("m1", "t1", None, "assistant", "2025-01-02T03:04:05.678", b'{"format":2,"parts":[]}', "v2"))
    assert m.created_at.tzinfo is UTC and m.content.parts == [] and m.resource_id is None


def test_text_only_to_json_equals_the_general_encoder() -> None:
    """The text-only fast path of ``MessageContent.to_json`` writes what the general encoder
    writes, for any text (escapes, control characters, non-ASCII, U+2028) and any number of parts."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mastra_memory.types import _CONTENT_ENCODER

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",))), max_size=4))
    def check(texts: list[str]) -> None:
        content = MessageContent(parts=[TextPart(text=t) for t in texts])
        assert content.to_json() == _CONTENT_ENCODER(content.to_storage())
        assert json.loads(content.to_json())["parts"] == [{"type": "text", "text": t} for t in texts]

    check()
    with_metadata = MessageContent(parts=[TextPart(text="a")], metadata={"k": 1})  # the general path
    assert with_metadata.to_json() == '{"format":2,"parts":[{"type":"text","text":"a"}],"metadata":{"k":1}}'


def test_format_timestamp_equals_isoformat() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mastra_memory.types import format_timestamp

    @settings(max_examples=400, deadline=None)
    @given(st.datetimes(timezones=st.just(UTC)))
    def check(value: datetime) -> None:
        assert format_timestamp(value) == value.isoformat(timespec="milliseconds")[:-6] + "Z"

    check()
    assert format_timestamp(datetime(7, 3, 4, 5, 6, 7, 891_999, tzinfo=UTC)) == "0007-03-04T05:06:07.891Z"
