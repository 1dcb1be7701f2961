"""Load real multi-session conversations into memory: the LoCoMo format and a plain chat JSON.

Both loaders turn a file into :class:`ThreadBatch` items (one thread and its messages); then
:func:`ingest` stores them with one ``save_messages`` call per thread. Message ids are
deterministic, so ingesting the same file again updates rows instead of duplicating them.

**LoCoMo** (Maharana et al., ACL 2024; ``snap-research/LoCoMo``): a JSON list of conversations
``{sample_id, conversation: {speaker_a, speaker_b, session_N_date_time, session_N: [turns]}}``.
One resource per conversation (``sample_id``), one thread per session (id ``<sample_id>-s<N>``,
created at the session's date), ``speaker_a`` -> ``user`` and ``speaker_b`` -> ``assistant``,
the speaker name and ``dia_id`` kept in ``content.metadata``, an image's ``blip_caption``
appended as a text part, ``created_at`` = session time + turn index in milliseconds, message id
``<sample_id>:<dia_id>``.

**Chat JSON**: ``{"threads": [{"id", "resource_id", "title"?, "metadata"?, "created_at"?,
"messages": [{"role", "content", "id"?, "created_at"?, "metadata"?, "tool_calls"?, ...}]}]}``
(or the bare list of threads). Messages are OpenAI-style chat messages; tool results
(``role: "tool"``) are folded into the assistant's tool-invocation parts. A message without
``id`` gets ``uuid5(<thread id>/<index>)``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from mastra_memory.chat import from_chat_messages
from mastra_memory.errors import MastraMemoryError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.types import (
    Message,
    MessageContent,
    Part,
    TextPart,
    Thread,
    now_utc,
    truncate_ms,
)

__all__ = [
    "IngestFormat",
    "IngestStats",
    "ThreadBatch",
    "detect_format",
    "ingest",
    "load_chat_json",
    "load_file",
    "load_locomo",
    "parse_locomo_datetime",
]

IngestFormat = Literal["auto", "locomo", "chat"]

_ID_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e8f-9a0b-1c2d3e4f5a6b")
_SESSION_KEY = re.compile(r"^session_(\d+)$")


@dataclass
class ThreadBatch:
    """One thread and the messages to store in it (one ``save_messages`` call).

    Attributes:
        thread: The thread to create (or reuse, ownership checked).
        messages: Its messages.
        source: Where the thread is in the input file (``"threads[2]"``), for error messages.
        positions: Message id -> its place in the file (``"threads[2].messages[5]"``) for ids
            the loader generated, so an error names what the user wrote, not a UUID.
    """

    thread: Thread
    messages: list[Message]
    source: str = ""
    positions: dict[str, str] = field(default_factory=dict)


@dataclass
class IngestStats:
    """What :func:`ingest` did.

    Attributes:
        resources: Distinct resources touched.
        threads: Threads in the input; ``threads_created`` of them were new.
        messages: Messages stored; ``messages_new`` of them did not exist before.
        seconds: Wall time of the whole ingest.
    """

    resources: int = 0
    threads: int = 0
    threads_created: int = 0
    messages: int = 0
    messages_new: int = 0
    seconds: float = 0.0


def parse_locomo_datetime(text: str) -> datetime:
    """Parse a LoCoMo session time such as ``"1:56 pm on 8 May, 2023"`` (taken as UTC).

    Raises:
        ValidationError: if the text is not in that format.
    """
    try:
        return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except (AttributeError, ValueError) as exc:
        raise ValidationError(f"not a LoCoMo session date: {text!r}") from exc


def load_locomo(data: Sequence[dict[str, Any]]) -> list[ThreadBatch]:
    """Convert parsed LoCoMo JSON into one batch per session (see the module docstring).

    Raises:
        ValidationError: on a malformed conversation.
    """
    if not isinstance(data, list):
        raise ValidationError("LoCoMo data must be a JSON list of conversations")
    batches: list[ThreadBatch] = []
    for c_index, conv in enumerate(data):
        try:
            sample_id = str(conv["sample_id"])
            c = conv["conversation"]
            speaker_a, speaker_b = str(c["speaker_a"]), str(c["speaker_b"])
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"[{c_index}]: not a LoCoMo conversation (missing {exc})") from exc
        sessions = sorted((int(m.group(1)), key) for key in c if (m := _SESSION_KEY.match(key)) and c[key])
        for number, key in sessions:
            date_text = str(c.get(f"{key}_date_time", ""))
            start = parse_locomo_datetime(date_text)
            thread = Thread(
                id=f"{sample_id}-s{number}",
                resource_id=sample_id,
                title=f"{speaker_a} & {speaker_b}, session {number} ({date_text})",
                metadata={
                    "source": "locomo",
                    "session": number,
                    "date_time": date_text,
                    "speaker_a": speaker_a,
                    "speaker_b": speaker_b,
                },
                created_at=start,
                updated_at=start,
            )
            messages = []
            for i, turn in enumerate(c[key]):
                speaker = str(turn.get("speaker", ""))
                if speaker not in (speaker_a, speaker_b):
                    raise ValidationError(f"{sample_id} {key}: unknown speaker {speaker!r}")
                dia_id = str(turn.get("dia_id") or f"D{number}:{i + 1}")
                parts: list[Part] = [TextPart(text=str(turn.get("text", "")))]
                if turn.get("blip_caption"):
                    parts.append(TextPart(text=f"[shares a photo: {turn['blip_caption']}]"))
                metadata: dict[str, Any] = {"speaker": speaker, "dia_id": dia_id}
                if turn.get("img_url"):
                    metadata["img_url"] = turn["img_url"]
                messages.append(
                    Message(
                        id=f"{sample_id}:{dia_id}",
                        thread_id=thread.id,
                        resource_id=sample_id,
                        role="user" if speaker == speaker_a else "assistant",
                        created_at=start + timedelta(milliseconds=i),
                        content=MessageContent(parts=parts, metadata=metadata),
                    )
                )
            batches.append(ThreadBatch(thread, messages, source=f"[{c_index}].conversation.{key}"))
    return batches


class _ChatThread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    resource_id: str
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    messages: list[dict[str, Any]]


def load_chat_json(data: Any) -> list[ThreadBatch]:
    """Convert parsed chat JSON (see the module docstring) into one batch per thread.

    Raises:
        ValidationError: on a malformed file (with the pydantic details).
    """
    items = data.get("threads") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValidationError('chat JSON must be {"threads": [...]} or a list of threads')
    batches: list[ThreadBatch] = []
    for n, item in enumerate(items):
        try:
            spec = _ChatThread.model_validate(item)
        except PydanticValidationError as exc:
            raise ValidationError(f"threads[{n}]: {exc}") from exc
        created = spec.created_at or now_utc()
        try:
            thread = Thread(
                id=spec.id,
                resource_id=spec.resource_id,
                title=spec.title,
                metadata=spec.metadata,
                created_at=created,
                updated_at=created,
            )
        except PydanticValidationError as exc:
            raise ValidationError(f"threads[{n}]: {exc}") from exc
        raw: list[dict[str, Any]] = []
        extras: dict[str, dict[str, Any]] = {}
        positions: dict[str, str] = {}
        for i, msg in enumerate(spec.messages):
            msg = dict(msg)
            msg_id = str(msg.get("id") or uuid.uuid5(_ID_NAMESPACE, f"{spec.id}/{i}"))
            if not msg.get("id"):
                positions[msg_id] = f"threads[{n}].messages[{i}]"
            msg["id"] = msg_id
            extras[msg_id] = {
                "created_at": msg.pop("created_at", None),
                "metadata": msg.pop("metadata", None),
            }
            raw.append(msg)
        try:
            messages = from_chat_messages(raw, spec.id, spec.resource_id, start=created)
            for j, message in enumerate(messages):
                extra = extras.get(message.id, {})
                update: dict[str, Any] = {}
                if extra.get("created_at"):
                    update["created_at"] = truncate_ms(datetime.fromisoformat(str(extra["created_at"])))
                if extra.get("metadata"):
                    update["content"] = message.content.model_copy(update={"metadata": dict(extra["metadata"])})
                if update:
                    messages[j] = message.model_copy(update=update)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"threads[{n}] (thread {spec.id!r}): {exc}") from exc
        batches.append(ThreadBatch(thread, messages, source=f"threads[{n}]", positions=positions))
    return batches


def detect_format(data: Any) -> Literal["locomo", "chat"]:
    """Guess the format of parsed JSON.

    Raises:
        ValidationError: if it is neither LoCoMo nor chat JSON.
    """
    if isinstance(data, list) and data and isinstance(data[0], dict) and "conversation" in data[0]:
        return "locomo"
    if isinstance(data, dict) and "threads" in data:
        return "chat"
    if isinstance(data, list) and (not data or (isinstance(data[0], dict) and "messages" in data[0])):
        return "chat"
    raise ValidationError("unrecognised file: expected LoCoMo JSON or chat JSON (see docs/cli.md)")


def load_file(path: str | Path, format: IngestFormat = "auto") -> tuple[str, list[ThreadBatch]]:
    """Read ``path`` and return ``(format, batches)``.

    Raises:
        ValidationError: if the file is not JSON or not in the format.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc
    fmt = detect_format(data) if format == "auto" else format
    if fmt == "locomo":
        return fmt, load_locomo(data)
    if fmt == "chat":
        return fmt, load_chat_json(data)
    raise ValidationError(f"unknown format {format!r}; use auto, locomo or chat")


def ingest(
    memory: Memory,
    batches: Iterable[ThreadBatch],
    on_batch: Callable[[ThreadBatch], None] | None = None,
) -> IngestStats:
    """Store batches: create each thread if missing (keeping its ``created_at``; an existing
    thread is left as it is, ownership checked), then upsert its messages in one
    ``save_messages`` call.

    Args:
        memory: Where to store.
        batches: From :func:`load_locomo`, :func:`load_chat_json` or :func:`load_file`.
        on_batch: Called after each stored batch (e.g. to advance a progress bar).

    Raises:
        ResourceMismatchError: if a thread exists under another resource.
        ValidationError: on bad messages (that thread's batch is not written).
    """
    stats = IngestStats()
    resources: set[str] = set()
    started = time.perf_counter()
    for batch in batches:
        thread = batch.thread
        _check_batch(memory, batch)  # refuse bad messages before the thread is created
        _, created = memory.storage.get_or_create_thread(thread)
        existing = memory.storage.list_messages_by_id([m.id for m in batch.messages]) if batch.messages else []
        try:
            stored = memory.save_messages(batch.messages)
        except BaseException as exc:
            if created:  # all or nothing per thread: no empty thread is left behind
                memory.storage.delete_thread(thread.id)
            if isinstance(exc, MastraMemoryError):
                raise _located(exc, batch) from exc
            raise
        if created:
            stats.threads_created += 1
        stats.threads += 1
        stats.messages += len(stored)
        stats.messages_new += len(stored) - len(existing)
        resources.add(thread.resource_id)
        if on_batch is not None:
            on_batch(batch)
    stats.resources = len(resources)
    stats.seconds = time.perf_counter() - started
    return stats


def _located(exc: MastraMemoryError, batch: ThreadBatch) -> MastraMemoryError:
    """``exc`` with its text naming file positions instead of generated message ids."""
    text = str(exc)
    for message_id, position in batch.positions.items():
        text = text.replace(f"message {message_id!r}", position).replace(repr(message_id), position)
    if batch.source and not text.startswith(batch.source):
        text = f"{batch.source}: {text}"
    if isinstance(exc, ValidationError):
        return ValidationError(text)
    return type(exc)(text) if type(exc).__init__ is Exception.__init__ else exc


def _check_batch(memory: Memory, batch: ThreadBatch) -> None:
    """Validate every message of ``batch`` without I/O (content, size, ids).

    Raises:
        ValidationError: naming the file position of the first bad message.
    """
    try:
        memory.storage.check_messages(batch.messages)
    except ValidationError as exc:
        raise _located(exc, batch) from exc
