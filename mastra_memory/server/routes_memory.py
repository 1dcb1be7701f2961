"""Conversation-memory routes: threads, messages, recall, working memory, observational memory.

Every route calls only the public :class:`~mastra_memory.memory.Memory` API. A thread is reached
through its owner: a key scoped to other resources gets 404 for it (the thread's existence is
not revealed), and 403 when it names an out-of-scope ``resource_id`` itself. Thread ids used in
these paths can not contain ``/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import to_jsonable_python

from mastra_memory.errors import ThreadExistsError, ValidationError
from mastra_memory.server.deps import Caller, ServerState, state
from mastra_memory.server.guards import KeyRing
from mastra_memory.server.problems import ProblemError
from mastra_memory.types import (
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    Message,
    RecallResult,
    Thread,
    ThreadPage,
    from_chat_messages,
    validate_json,
)

__all__ = ["router"]

router = APIRouter(tags=["memory"])

ID_PATTERN = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$"
"""What an id is (:func:`mastra_memory.types.validate_id`): no control characters, no
surrounding whitespace, 1 to 255 characters; a thread id in a path also has no ``/``."""

"""The deepest nesting of lists and objects accepted in metadata and message bodies."""

MAX_PAGE = 1_000_000
"""The highest page number the list routes accept (keeps offsets far inside 64 bits)."""

_TEXT = r"^[^\x00]*$"

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
THREAD_ID_PATTERN = r"^[^\x00-\x1f\x7f\s/]([^\x00-\x1f\x7f/]*[^\x00-\x1f\x7f\s/])?$"
ThreadId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=THREAD_ID_PATTERN)]
MessageId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=THREAD_ID_PATTERN)]
Page = Annotated[int, Query(ge=0, le=MAX_PAGE)]
Text = Annotated[str, Field(pattern=_TEXT, description="Any text without NUL characters")]

JSON_SCHEMA_NAME = "StorableJson"
_JSON_REF = {"$ref": f"#/components/schemas/{JSON_SCHEMA_NAME}"}
_NO_NUL = {"pattern": _TEXT}
JSON_SCHEMA: dict[str, Any] = {
    "description": f"Any JSON without NUL characters or lone surrogates, nested at most {MAX_JSON_DEPTH} levels",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", **_NO_NUL},
        {"type": "array", "items": _JSON_REF},
        {"type": "object", "propertyNames": _NO_NUL, "additionalProperties": _JSON_REF},
    ],
}
"""The OpenAPI component of the JSON the routes accept in metadata and messages (``storable``)."""

Metadata = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "propertyNames": _NO_NUL, "additionalProperties": _JSON_REF}),
]
ChatMessage = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "required": ["role"],
            "properties": {"role": {"enum": ["user", "assistant", "system", "tool"]}},
            "propertyNames": _NO_NUL,
            "additionalProperties": _JSON_REF,
        }
    ),
]


def storable(value: Any, what: str) -> Any:
    """Refuse JSON the stores can not hold unchanged (the library's own check,
    :func:`mastra_memory.types.validate_json`: nesting deeper than :data:`MAX_JSON_DEPTH`, NUL
    characters, lone surrogates, integers outside 64 bits), at the route so nothing is stored.

    Raises:
        ValidationError: a ``ValueError``, which pydantic turns into a 422.
    """
    return validate_json(value, what)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: Any) -> Any:
        return storable(value, info.field_name)


class CreateThread(_Body):
    resource_id: Id
    thread_id: Id | None = None
    title: Text | None = None
    metadata: Metadata | None = None


class UpdateThread(_Body):
    title: Text | None = None
    metadata: Metadata | None = Field(default=None, description="Merged into the thread's metadata")


class CloneThread(_Body):
    new_thread_id: Id | None = None
    title: Text | None = None
    metadata: Metadata | None = None
    message_limit: int | None = Field(default=None, ge=0, le=1_000_000)


class SaveMessages(_Body):
    messages: list[ChatMessage] = Field(
        description="OpenAI-style chat messages (format 'openai': role, content, tool_calls, tool_call_id) "
        "or stored messages (format 'mastra': role, content parts, optional id and created_at)",
        max_length=10_000,
    )
    format: Literal["openai", "mastra"] = "openai"


class SavedMessages(BaseModel):
    messages: list[Message]


class WorkingMemoryBody(_Body):
    working_memory: Text
    resource_id: Id | None = None


class WorkingMemoryOut(BaseModel):
    thread_id: str
    working_memory: str | None


class ObservationalMemoryOut(BaseModel):
    thread_id: str
    record: dict[str, Any] | None = Field(description="The current record, or null when there is none")


class Deleted(BaseModel):
    deleted: bool


async def _thread(st: ServerState, caller: Any, thread_id: str, write: bool) -> Thread:
    """The thread, if this caller may see it (404 otherwise, the same for a missing thread and
    another resource's) and use it (403 for a read-only key's writes)."""
    thread = await st.memory.get_thread_by_id(thread_id)
    if thread is None or (caller is not None and not caller.allows_resource(thread.resource_id)):
        raise HTTPException(404, f"thread {thread_id!r} not found")
    KeyRing.require_resource(caller, thread.resource_id, write)
    return thread


def _plain(record: Any) -> dict[str, Any] | None:
    """A pydantic model, dataclass or dict record as JSON-ready data."""
    if record is None:
        return None
    data = to_jsonable_python(record)
    if not isinstance(data, dict):
        raise HTTPException(500, f"unsupported observational memory record type {type(record).__name__}")
    return data


@router.post("/threads", response_model=Thread, status_code=201, summary="Create a thread")
async def create_thread(body: CreateThread, request: Request, caller: Caller) -> Thread:
    st = state(request)
    KeyRing.require_resource(caller, body.resource_id, write=True)
    try:
        return await st.memory.create_thread(body.resource_id, body.thread_id, body.title, body.metadata)
    except ThreadExistsError as exc:
        raise _taken(exc.thread_id) from None


def _taken(thread_id: str) -> ProblemError:
    """409 for a thread id in use; the same text whichever resource owns it."""
    return ProblemError(409, f"thread id {thread_id!r} is not available: choose another", "thread_exists")


@router.get("/threads", response_model=ThreadPage, summary="List threads")
async def list_threads(
    request: Request,
    caller: Caller,
    resource_id: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)] = None,
    page: Page = 0,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
    order_by: Literal["created_at", "updated_at"] = "created_at",
    direction: Literal["ASC", "DESC"] = "DESC",
) -> ThreadPage:
    """Threads of ``resource_id`` (required for keys scoped to particular resources)."""
    st = state(request)
    if resource_id is None:
        if caller is not None and not caller.all_resources:
            raise HTTPException(403, "this API key is scoped to resources: pass resource_id")
    else:
        KeyRing.require_resource(caller, resource_id, write=False)
    return await st.memory.list_threads(resource_id, None, page, per_page, order_by, direction)


@router.get("/threads/{thread_id}", response_model=Thread, summary="Get a thread")
async def get_thread(thread_id: ThreadId, request: Request, caller: Caller) -> Thread:
    return await _thread(state(request), caller, thread_id, write=False)


@router.patch("/threads/{thread_id}", response_model=Thread, summary="Update title and/or merge metadata")
async def update_thread(thread_id: ThreadId, body: UpdateThread, request: Request, caller: Caller) -> Thread:
    st = state(request)
    await _thread(st, caller, thread_id, write=True)
    return await st.memory.update_thread(thread_id, body.title, body.metadata)


@router.delete("/threads/{thread_id}", response_model=Deleted, summary="Delete a thread and its messages")
async def delete_thread(thread_id: ThreadId, request: Request, caller: Caller) -> Deleted:
    st = state(request)
    await _thread(st, caller, thread_id, write=True)
    await st.memory.delete_thread(thread_id)
    return Deleted(deleted=True)


@router.post("/threads/{thread_id}/clone", response_model=Thread, status_code=201, summary="Clone a thread")
async def clone_thread(thread_id: ThreadId, body: CloneThread, request: Request, caller: Caller) -> Thread:
    st = state(request)
    source = await _thread(st, caller, thread_id, write=True)
    try:
        result = await st.memory.clone_thread(
            thread_id, body.new_thread_id, source.resource_id, body.title, body.metadata, body.message_limit
        )
    except ThreadExistsError as exc:
        raise _taken(exc.thread_id) from None
    return result.thread


@router.get("/threads/{thread_id}/messages", response_model=RecallResult, summary="Page through messages")
async def list_messages(
    thread_id: ThreadId,
    request: Request,
    caller: Caller,
    page: Page = 0,
    per_page: Annotated[int, Query(ge=0, le=1000)] = 40,
    direction: Literal["ASC", "DESC"] = "DESC",
) -> RecallResult:
    """``DESC`` pages from the newest end (page 0 = newest); messages come oldest first."""
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=False)
    return await st.memory.list_messages(thread_id, thread.resource_id, per_page, page, direction)


@router.post("/threads/{thread_id}/messages", response_model=SavedMessages, status_code=201, summary="Save messages")
async def save_messages(thread_id: ThreadId, body: SaveMessages, request: Request, caller: Caller) -> SavedMessages:
    """Upsert messages (by id) into the thread in one transaction; system messages are skipped."""
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=True)
    if body.format == "openai":
        messages = from_chat_messages(body.messages, thread_id, thread.resource_id)
    else:
        try:
            messages = [
                Message.model_validate({**m, "thread_id": thread_id, "resource_id": thread.resource_id})
                for m in body.messages
            ]
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
    given = [m.id for m in messages if m.id]
    if given:
        for found in await st.memory.storage.list_messages_by_id(given):
            if found.thread_id != thread_id:  # the same text whichever thread or resource has it
                raise ProblemError(409, f"message id {found.id!r} is not available: choose another", "message_id_taken")
    return SavedMessages(messages=await st.memory.save_messages(messages))


@router.delete(
    "/threads/{thread_id}/messages/{message_id}", response_model=Deleted, summary="Delete one message of a thread"
)
async def delete_message(thread_id: ThreadId, message_id: MessageId, request: Request, caller: Caller) -> Deleted:
    """Delete the message and its semantic-recall vectors. 404 when the thread has no such message
    (a message of another thread is never touched through this thread)."""
    st = state(request)
    await _thread(st, caller, thread_id, write=True)
    found = await st.memory.storage.list_messages_by_id([message_id])
    if not found or found[0].thread_id != thread_id:
        raise HTTPException(404, f"thread {thread_id!r} has no message {message_id!r}")
    await st.memory.delete_messages([message_id])
    return Deleted(deleted=True)


@router.get("/threads/{thread_id}/recall", response_model=RecallResult, summary="Recall context for a turn")
async def recall(
    thread_id: ThreadId,
    request: Request,
    caller: Caller,
    q: Annotated[
        str | None, Query(pattern=_TEXT, description="Text to search semantically (semantic recall on)")
    ] = None,
    per_page: Annotated[int | None, Query(ge=0, le=1000)] = None,
    page: Page = 0,
) -> RecallResult:
    """The newest ``last_messages`` (or ``per_page``) plus semantic hits for ``q``."""
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=False)
    return await st.memory.recall(thread_id, thread.resource_id, vector_search_string=q, per_page=per_page, page=page)


@router.get("/threads/{thread_id}/working-memory", response_model=WorkingMemoryOut, summary="Read working memory")
async def get_working_memory(thread_id: ThreadId, request: Request, caller: Caller) -> WorkingMemoryOut:
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=False)
    return WorkingMemoryOut(
        thread_id=thread_id, working_memory=await st.memory.get_working_memory(thread_id, thread.resource_id)
    )


@router.put("/threads/{thread_id}/working-memory", response_model=WorkingMemoryOut, summary="Replace working memory")
async def put_working_memory(
    thread_id: ThreadId, body: WorkingMemoryBody, request: Request, caller: Caller
) -> WorkingMemoryOut:
    """409 if working memory is disabled in the server's memory options."""
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=True)
    if body.resource_id is not None and body.resource_id != thread.resource_id:
        raise HTTPException(403, "resource_id does not own this thread")
    await st.memory.update_working_memory(thread_id, thread.resource_id, body.working_memory)
    return WorkingMemoryOut(thread_id=thread_id, working_memory=body.working_memory)


@router.get(
    "/threads/{thread_id}/observational-memory",
    response_model=ObservationalMemoryOut,
    summary="Read the observational-memory record",
)
async def get_observational_memory(thread_id: ThreadId, request: Request, caller: Caller) -> ObservationalMemoryOut:
    """``record`` is null when observational memory is off, unsupported by the store, or empty."""
    st = state(request)
    thread = await _thread(st, caller, thread_id, write=False)
    record = await st.memory.get_observational_memory(thread_id, thread.resource_id)
    return ObservationalMemoryOut(thread_id=thread_id, record=_plain(record))
