"""The stored observational-memory record (one row of ``mastra_observational_memory`` per
generation; the newest generation of a lookup key is the *head*).

Field names are snake_case; ``model_dump(by_alias=True)`` gives the original's camelCase column
names (``activeObservations``, ``lastObservedAt``, ...), which the SQL stores use verbatim.

The observation cursor is two fields: ``last_observed_at`` (every message of the scope created
at or before it is observed) and ``observed_message_ids`` (messages created after it that are
observed too, because a commit covered them while an older message was still unobserved). A
message is *unobserved* exactly when ``created_at > last_observed_at`` and its id is not in
``observed_message_ids``. The cursor never moves backwards; see :mod:`mastra_memory.storage.om`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from mastra_memory.types import new_id, now_utc

__all__ = [
    "BufferedChunk",
    "MessageRef",
    "OMScope",
    "ObservationCursor",
    "ObservationalMemoryRecord",
    "lookup_key",
]

OMScope = Literal["thread", "resource"]


def lookup_key(scope: OMScope, thread_id: str | None, resource_id: str | None) -> str:
    """``"thread:<id>"`` or ``"resource:<id>"``, the original's ``lookupKey``."""
    if scope == "thread":
        if not thread_id:
            raise ValueError("thread-scope observational memory needs a thread_id")
        return f"thread:{thread_id}"
    if not resource_id:
        raise ValueError("resource-scope observational memory needs a resource_id")
    return f"resource:{resource_id}"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class MessageRef(NamedTuple):
    """A message's identity and position, without its content (what cursor logic needs).

    A named tuple, not a pydantic model: hundreds are built per turn on the hot path.

    Attributes:
        id: Message id.
        thread_id: Its thread.
        created_at: Its ``created_at`` (ms precision, UTC).
        size: Length of the stored content JSON in characters (a cheap change detector).
    """

    id: str
    thread_id: str
    created_at: datetime
    size: int = 0


class BufferedChunk(_Camel):
    """Observations made in the background, waiting to be activated.

    Stored in ``bufferedObservationChunks`` with the original's keys (``cycleId``,
    ``tokenCount``, ``messageIds``, ``messageTokens``, ``lastObservedAt``, ...).

    Attributes:
        id: Chunk id.
        cycle_id: Id of the buffering cycle that made it (duplicates are dropped by cycle).
        observations: The observation lines.
        token_count: Tokens of ``observations``.
        message_ids: Messages the chunk covers.
        message_tokens: Tokens of those messages (what activating it removes from context).
        last_observed_at: ``created_at`` of the newest covered message.
        created_at: When the chunk was committed.
        suggested_continuation: The Observer's suggested response (not asked for when buffered).
        current_task: The Observer's current task (not asked for when buffered).
        thread_title: A title proposed by the Observer.
    """

    id: str = Field(default_factory=new_id)
    cycle_id: str = Field(default_factory=new_id)
    observations: str
    token_count: int = 0
    message_ids: list[str] = Field(default_factory=list)
    message_tokens: int = 0
    last_observed_at: datetime | None = None
    created_at: datetime = Field(default_factory=now_utc)
    suggested_continuation: str | None = None
    current_task: str | None = None
    thread_title: str | None = None


class ObservationCursor(BaseModel):
    """Where observation has reached: see the module docstring."""

    model_config = ConfigDict(frozen=True)

    last_observed_at: datetime | None = None
    observed_message_ids: frozenset[str] = frozenset()

    def is_observed(self, message_id: str, created_at: datetime) -> bool:
        """True if the message is covered by committed observations."""
        if self.last_observed_at is not None and created_at <= self.last_observed_at:
            return True
        return message_id in self.observed_message_ids


class ObservationalMemoryRecord(_Camel):
    """One generation of observational memory for a thread or a resource.

    Attributes:
        id: Row id (a new one per generation).
        lookup_key: ``"thread:<id>"`` or ``"resource:<id>"``.
        scope: ``"thread"`` or ``"resource"``.
        resource_id: The resource.
        thread_id: The thread (``None`` in resource scope).
        active_observations: The observation log the agent sees.
        origin_type: ``"initial"`` or ``"reflection"`` (made by the Reflector).
        config: The OM config in force when the record was made (JSON).
        generation_count: 0 for the first generation, +1 per reflection.
        last_observed_at: The cursor (see the module docstring).
        observed_message_ids: Observed messages created after the cursor.
        last_reflection_at: When the Reflector last produced this generation.
        pending_message_tokens: Unobserved tokens at the last commit (informational).
        total_tokens_observed: Message tokens observed over the record's lifetime (carried over
            to new generations).
        observation_token_count: Tokens of ``active_observations``.
        buffered_observation_chunks: Background observations not yet activated.
        buffered_reflection: A background reflection waiting to be activated.
        buffered_reflection_tokens: Its tokens.
        buffered_reflection_input_tokens: Tokens of the observations it condensed.
        reflected_observation_line_count: How many leading lines of ``active_observations`` it
            replaces.
        is_observing, is_reflecting, is_buffering_observation, is_buffering_reflection: Hints
            kept for compatibility with the original's columns; never used as locks.
        metadata: JSON; ``metadata["version"]`` counts writes to the row.
        created_at, updated_at: Row times.
    """

    id: str = Field(default_factory=new_id)
    lookup_key: str
    scope: OMScope = "thread"
    resource_id: str | None = None
    thread_id: str | None = None
    active_observations: str = ""
    active_observations_pending_update: str | None = None
    origin_type: Literal["initial", "reflection"] = "initial"
    config: dict[str, Any] = Field(default_factory=dict)
    generation_count: int = 0
    last_observed_at: datetime | None = None
    last_reflection_at: datetime | None = None
    pending_message_tokens: int = 0
    total_tokens_observed: int = 0
    observation_token_count: int = 0
    is_observing: bool = False
    is_reflecting: bool = False
    observed_message_ids: list[str] = Field(default_factory=list)
    observed_timezone: str | None = "UTC"
    buffered_observation_chunks: list[BufferedChunk] = Field(default_factory=list)
    buffered_reflection: str | None = None
    buffered_reflection_tokens: int | None = None
    buffered_reflection_input_tokens: int | None = None
    reflected_observation_line_count: int | None = None
    is_buffering_observation: bool = False
    is_buffering_reflection: bool = False
    last_buffered_at_tokens: int = 0
    last_buffered_at_time: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)

    @property
    def version(self) -> int:
        """Writes to this row so far (a compare-and-set token for stores without row locks)."""
        value = self.metadata.get("version", 0)
        return value if isinstance(value, int) else 0

    @property
    def cursor(self) -> ObservationCursor:
        """The observation cursor."""
        return ObservationCursor(
            last_observed_at=self.last_observed_at,
            observed_message_ids=frozenset(self.observed_message_ids),
        )

    @property
    def buffered_message_ids(self) -> set[str]:
        """Ids covered by buffered (not yet activated) chunks."""
        return {mid for chunk in self.buffered_observation_chunks for mid in chunk.message_ids}

    @property
    def observations(self) -> str:
        """Alias of :attr:`active_observations`."""
        return self.active_observations
