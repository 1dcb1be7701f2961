"""Message content as Mastra's TypeScript packages store it, decoded and re-encoded here.

The stored JSON below was produced by @mastra/core 1.71's MessageList (what an Agent saves for a
turn); tests/test_ts_interop.py checks the same against the live packages when they are installed.
"""

from __future__ import annotations

import json
from typing import Any

from mastra_memory.types import (
    FilePart,
    Message,
    MessageContent,
    RawPart,
    ReasoningPart,
    TextPart,
    ToolInvocationPart,
    to_chat_messages,
)

AGENT_REPLY: dict[str, Any] = {
    "format": 2,
    "parts": [
        {
            "type": "reasoning",
            "reasoning": "need tool",
            "details": [{"type": "text", "text": "need tool"}],
            "providerMetadata": {"openai": {"itemId": "rs_1"}},
            "createdAt": 1795264420299,
        },
        {
            "type": "text",
            "text": "Let me check.",
            "providerMetadata": {"openai": {"itemId": "msg_1"}},
            "createdAt": 1795264420299,
        },
        {
            "type": "tool-invocation",
            "toolInvocation": {
                "toolCallId": "call_1",
                "toolName": "weather",
                "args": {"city": "Oslo"},
                "state": "result",
                "result": {"temp": 3},
            },
            "createdAt": 1795264420299,
        },
        {"type": "step-start"},
        {"type": "text", "text": "It is 3C.", "createdAt": 1795264420299},
    ],
    "toolInvocations": [
        {
            "toolCallId": "call_1",
            "toolName": "weather",
            "args": {"city": "Oslo"},
            "state": "result",
            "result": {"temp": 3},
        }
    ],
    "reasoning": "need tool",
    "content": "It is 3C.",
}


def test_agent_reply_decodes_to_modelled_parts() -> None:
    content = MessageContent.from_storage(json.dumps(AGENT_REPLY))
    reasoning, text, tool, step, final = content.parts
    assert isinstance(reasoning, ReasoningPart) and reasoning.text == "need tool"
    assert reasoning.extra == {"providerMetadata": {"openai": {"itemId": "rs_1"}}, "createdAt": 1795264420299}
    assert isinstance(text, TextPart) and text.extra["providerMetadata"] == {"openai": {"itemId": "msg_1"}}
    assert isinstance(tool, ToolInvocationPart)
    assert (tool.tool_call_id, tool.args, tool.result, tool.extra) == (
        "call_1",
        {"city": "Oslo"},
        {"temp": 3},
        {"createdAt": 1795264420299},
    )
    assert isinstance(step, RawPart) and step.type == "step-start"
    assert isinstance(final, TextPart)
    assert content.text == "Let me check.\nIt is 3C."
    assert content.extra == {k: AGENT_REPLY[k] for k in ("toolInvocations", "reasoning", "content")}
    # re-encoding gives back exactly what was stored
    assert content.to_storage() == AGENT_REPLY


def test_agent_reply_converts_to_chat_with_tool_calls() -> None:
    msg = Message(role="assistant", thread_id="t", content=AGENT_REPLY)  # stored shape is accepted
    assert isinstance(msg.content.parts[2], ToolInvocationPart)
    chat = to_chat_messages([msg])
    assert [c["role"] for c in chat] == ["assistant", "tool", "assistant"]
    assert chat[0]["content"] == "Let me check." and chat[0]["tool_calls"][0]["id"] == "call_1"
    assert chat[2]["content"] == "It is 3C."


def test_unmodelled_tool_invocation_keys_are_kept() -> None:
    stored = {
        "format": 2,
        "parts": [
            {
                "type": "tool-invocation",
                "providerExecuted": True,
                "toolInvocation": {
                    "state": "output-error",
                    "toolCallId": "c",
                    "toolName": "f",
                    "args": {},
                    "isError": True,
                    "errorText": "boom",
                    "rawInput": "{}",
                    "step": 1,
                },
            },
        ],
    }
    content = MessageContent.from_storage(stored)
    (part,) = content.parts
    assert isinstance(part, ToolInvocationPart) and part.state == "output-error" and part.step == 1
    assert part.extra == {"providerExecuted": True}
    assert part.invocation_extra == {"isError": True, "errorText": "boom", "rawInput": "{}"}
    assert content.to_storage() == stored


def test_parts_with_unexpected_value_types_stay_raw() -> None:
    stored = {
        "format": 2,
        "parts": [
            {"type": "text", "text": 42},
            {"type": "reasoning", "reasoning": "r", "details": {"not": "a list"}},
            {"type": "tool-invocation", "toolInvocation": {"toolCallId": 7, "toolName": "f"}},
            {"type": "file", "mimeType": "image/png", "data": {"bytes": 1}},
        ],
    }
    content = MessageContent.from_storage(stored)
    assert all(isinstance(p, RawPart) for p in content.parts)
    assert content.to_storage() == stored


def test_file_data_urls_as_mastra_stores_them() -> None:
    stored = {
        "format": 2,
        "parts": [
            {"type": "text", "text": "look"},
            {"type": "file", "data": "https://example.com/cat.png", "mimeType": "image/jpeg", "createdAt": 1},
            {"type": "file", "data": "data:image/png;base64,iVBORw0KGgo=", "mimeType": "image/png"},
            {"type": "file", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        ],
    }
    msg = Message(role="user", thread_id="t", content=stored)
    assert [type(p) for p in msg.content.parts] == [TextPart, FilePart, FilePart, FilePart]
    (chat,) = to_chat_messages([msg])
    urls = [c["image_url"]["url"] for c in chat["content"] if c["type"] == "image_url"]
    assert urls == [
        "https://example.com/cat.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/png;base64,iVBORw0KGgo=",
    ]
    assert msg.content.to_storage() == stored


def test_model_shaped_dicts_still_validate_as_models() -> None:
    content = MessageContent(
        parts=[TextPart(text="hi", extra={"createdAt": 1}), ToolInvocationPart(tool_call_id="c", tool_name="f")]
    )
    again = Message(role="assistant", thread_id="t", content=content.model_dump())
    assert again.content == content


def test_signal_messages_are_not_chat_turns() -> None:
    signal = Message.model_construct(
        id="s",
        thread_id="t",
        resource_id="r",
        role="signal",
        type="system-reminder",
        content=MessageContent(parts=[TextPart(text="<system-reminder>x</system-reminder>")]),
    )
    user = Message.user("hi", "t")
    assert to_chat_messages([user, signal]) == [{"role": "user", "content": "hi"}]
