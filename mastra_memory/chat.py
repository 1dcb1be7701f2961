"""Conversion between stored messages and OpenAI / litellm chat messages.

:func:`from_chat_messages` turns chat messages (what a client or a framework sends) into
:class:`~mastra_memory.types.Message` objects to store; :func:`to_chat_messages` turns stored
messages into what a chat model accepts. Both are re-exported by :mod:`mastra_memory.types`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from mastra_memory._fast import truncate_ms
from mastra_memory.errors import ValidationError
from mastra_memory.types import FilePart, Message, MessageContent, RawPart, TextPart, ToolInvocationPart

__all__ = ["from_chat_messages", "to_chat_messages"]


def _content_text(content: Any) -> tuple[str, list[FilePart]]:
    """Flatten OpenAI content (string or list of content parts) into text and files."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    files: list[FilePart] = []
    for item in content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            if item.get("type") == "text":
                texts.append(str(item.get("text", "")))
            elif item.get("type") == "image_url":
                url = item.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                files.append(FilePart(url=str(url), mime_type="image/*"))
    return "\n".join(texts), files


def _parse_args(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return {"_raw": arguments}
    return arguments if arguments is not None else {}


def _parse_result(content: Any) -> Any:
    """A tool message's content: decoded JSON when it is JSON, else the text as is."""
    if isinstance(content, str):
        try:
            return json.loads(content)
        except json.JSONDecodeError:
            return content
    text, _ = _content_text(content)
    return text


def _stamp(t: datetime | None) -> dict[str, Any]:
    return {} if t is None else {"created_at": t}


def from_chat_messages(
    chat_messages: Iterable[dict[str, Any]],
    thread_id: str,
    resource_id: str | None = None,
    start: datetime | None = None,
) -> list[Message]:
    """Convert OpenAI/litellm chat messages into stored messages.

    An assistant message's ``tool_calls`` become :class:`ToolInvocationPart` parts; a following
    ``role="tool"`` message fills in the matching part's result (``state="result"``) instead of
    becoming a message of its own, as the original stores them. A tool message with no
    matching call is kept as a ``role="tool"`` message. With ``start``, timestamps are
    ``start`` plus 1 ms per message; without it they are left to ``save_messages``, which
    appends them in order after the thread's newest message.

    Args:
        chat_messages: Dicts with ``role`` and ``content`` (string or content parts),
            optional ``tool_calls``, ``tool_call_id``, ``name`` and ``id``.
        thread_id: Thread of the new messages.
        resource_id: Owning resource.
        start: Time of the first message.

    Raises:
        ValidationError: on a role that is not user/assistant/system/tool.
    """
    out: list[Message] = []
    pending: dict[str, ToolInvocationPart] = {}
    t: datetime | None = truncate_ms(start) if start else None
    for raw in chat_messages:
        role = raw.get("role")
        if role not in ("user", "assistant", "system", "tool"):
            raise ValidationError(f"unsupported chat role: {role!r}")
        if role == "tool":
            call_id = str(raw.get("tool_call_id", ""))
            result = _parse_result(raw.get("content"))
            if call_id in pending:
                part = pending.pop(call_id)
                part.result = result
                part.state = "result"
                continue
            part = ToolInvocationPart(
                tool_call_id=call_id, tool_name=str(raw.get("name", "")), result=result, state="result"
            )
            out.append(
                Message(
                    role="tool",
                    thread_id=thread_id,
                    resource_id=resource_id,
                    **_stamp(t),
                    content=MessageContent(parts=[part]),
                )
            )
            t = t + timedelta(milliseconds=1) if t else None
            continue
        text, files = _content_text(raw.get("content"))
        parts: list[Any] = []
        if text:
            parts.append(TextPart(text=text))
        parts.extend(files)
        for call in raw.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            part = ToolInvocationPart(
                tool_call_id=str(call.get("id", "")),
                tool_name=str(fn.get("name", "")),
                args=_parse_args(fn.get("arguments")),
            )
            pending[part.tool_call_id] = part
            parts.append(part)
        kwargs: dict[str, Any] = {}
        if raw.get("id"):
            kwargs["id"] = str(raw["id"])
        out.append(
            Message(
                role=role,
                thread_id=thread_id,
                resource_id=resource_id,
                **_stamp(t),
                content=MessageContent(parts=parts),
                **kwargs,
            )
        )
        t = t + timedelta(milliseconds=1) if t else None
    return out


def _file_to_openai(part: FilePart) -> dict[str, Any]:
    # Mastra stores a file's URL or data: URI in ``data`` (no ``url`` key)
    url = part.url or (part.data if part.data and part.data.startswith(("http://", "https://", "data:")) else None)
    if url:
        return {"type": "image_url", "image_url": {"url": url}}
    if part.mime_type.startswith("image/") and part.data:
        return {"type": "image_url", "image_url": {"url": f"data:{part.mime_type};base64,{part.data}"}}
    return {"type": "text", "text": f"[file {part.filename or ''} ({part.mime_type})]"}


def _tool_result_text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def _flush_step(out: list[dict[str, Any]], text_buf: list[str], calls: list[ToolInvocationPart]) -> None:
    """Emit one assistant step (text + tool calls) and its tool results, then reset the buffers."""
    if not text_buf and not calls:
        return
    entry: dict[str, Any] = {"role": "assistant", "content": "\n".join(text_buf) if text_buf else None}
    if calls:
        entry["tool_calls"] = [
            {
                "id": c.tool_call_id,
                "type": "function",
                "function": {"name": c.tool_name, "arguments": json.dumps(c.args, ensure_ascii=False)},
            }
            for c in calls
        ]
    out.append(entry)
    for c in calls:
        out.append({"role": "tool", "tool_call_id": c.tool_call_id, "content": _tool_result_text(c.result)})
    text_buf.clear()
    calls.clear()


_CHAT_ROLES = frozenset({"user", "assistant", "system", "tool"})


def to_chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Convert stored messages into OpenAI/litellm chat messages.

    An assistant message whose parts interleave text and tool invocations is split into the
    provider's sequence: ``assistant`` (text + ``tool_calls``), one ``tool`` message per result,
    then the next assistant step. Tool invocations without a result (``state != "result"``) are
    dropped, as the original does with incomplete calls, because providers reject a call
    without its result. Reasoning parts and unknown parts are not sent, nor are messages of
    roles this library does not model (the ``signal`` messages, reminders and state, that a
    Mastra TypeScript agent may keep in a shared thread); they are still stored and recalled.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role not in _CHAT_ROLES:
            continue
        if msg.role == "tool":
            for part in msg.content.parts:
                if isinstance(part, ToolInvocationPart) and part.state == "result":
                    out.append(
                        {"role": "tool", "tool_call_id": part.tool_call_id, "content": _tool_result_text(part.result)}
                    )
            continue
        if msg.role in ("user", "system"):
            texts = [p.text for p in msg.content.parts if isinstance(p, TextPart)]
            files = [p for p in msg.content.parts if isinstance(p, FilePart)]
            if files and msg.role == "user":
                content: Any = [{"type": "text", "text": t} for t in texts] + [_file_to_openai(f) for f in files]
            else:
                content = "\n".join(texts)
            out.append({"role": msg.role, "content": content})
            continue
        # assistant: split into steps at each text that follows tool calls
        text_buf: list[str] = []
        calls: list[ToolInvocationPart] = []
        for part in msg.content.parts:
            if isinstance(part, TextPart):
                if calls:
                    _flush_step(out, text_buf, calls)
                text_buf.append(part.text)
            elif isinstance(part, ToolInvocationPart):
                if part.state == "result":
                    calls.append(part)
            elif isinstance(part, RawPart) and part.type == "step-start" and calls:
                _flush_step(out, text_buf, calls)
        _flush_step(out, text_buf, calls)
    return out
