"""Frozen configuration models. Every default lives here, once.

Defaults follow the original (@mastra/memory 1.2x, ``memoryDefaultOptions``) unless a comment
says otherwise. Each config accepts a plain dict too (``Memory(options={"last_messages": 20})``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_WORKING_MEMORY_TEMPLATE",
    "GenerateTitleConfig",
    "MemoryConfig",
    "MessageHistoryConfig",
    "MessageRange",
    "ObservationConfig",
    "ObservationalMemoryConfig",
    "ReflectionConfig",
    "RetentionConfig",
    "RetentionRule",
    "SemanticRecallConfig",
    "WorkingMemoryConfig",
]

Scope = Literal["resource", "thread"]

DEFAULT_WORKING_MEMORY_TEMPLATE = """# User Information
- **First Name**:
- **Last Name**:
- **Location**:
- **Occupation**:
- **Interests**:
- **Goals**:
- **Events**:
- **Facts**:
- **Projects**:
"""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class MessageRange(_Frozen):
    """How many neighbours to fetch around each semantic hit (messages, same thread)."""

    before: int = Field(default=1, ge=0)
    after: int = Field(default=1, ge=0)


class SemanticRecallConfig(_Frozen):
    """Semantic recall options.

    Attributes:
        top_k: Hits per query (default 4, as the original).
        message_range: Neighbours per hit; an int means the same before and after (default 1).
        scope: ``"resource"`` (default, all of the user's threads) or ``"thread"``.
        threshold: Minimum similarity in [0, 1]; hits below are dropped (also in ``recall``,
            unlike the original, which applies it only in its agent processor).
        index_name: Override the vector index name (default ``memory_messages_<dim>``).
        filter: Extra Mongo-style vector filter, ANDed with the scope filter.
        hybrid: Also run the store's keyword search (in the database: FTS5 ``bm25()`` on
            libSQL, ``tsvector`` on PostgreSQL; stemming and stop words) and fuse it with the
            vector ranking by a weighted sum of per-query min-max-normalised scores. Default
            ``True`` (the original is dense-only; ``False`` restores that): keyword search finds
            names, numbers and rare words that sentence embeddings blur (LoCoMo turn recall@10
            0.55 dense-only against 0.72+ hybrid, see docs/retrieval.md).
        hybrid_weight: Weight of the dense score in the fusion (0..1, default 0.4: the weight
            LoCoMo's held-out rotation chose with the date boost and thread diversity, on two
            splits of three (0.3 the third); see docs/retrieval.md).
        context_messages: Earlier messages of the same thread added to each message's embedded
            text (1; 0 embeds the message alone, as the original). Gives short replies
            ("yes, last May") the context that makes them findable.
        chunk_chars: Longest text embedded as one vector, in characters (16,384 as the
            original; lowered to the embedder's ``max_input_chars`` when it declares one).
        candidates: Hits fetched from each ranking before fusion and de-duplication
            (default ``max(50, 5 * top_k)``).
        date_boost: With ``hybrid``, added to the fused score (in [0, 1]) of messages written
            in a period the query names ("in May 2023", "on 3 June", "last week"; see
            :mod:`mastra_memory.query_dates`). Default 0.5, chosen on LoCoMo's held-out
            rotation (docs/retrieval.md); 0 turns it off.
        thread_diversity: With ``hybrid``, the fused score a hit loses for every better hit
            already taken from its thread (maximal marginal relevance over threads). Default
            0.05, chosen on LoCoMo's held-out rotation; 0 keeps pure score order.
    """

    top_k: int = Field(default=4, ge=1)
    message_range: MessageRange = Field(default_factory=MessageRange)
    scope: Scope = "resource"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    index_name: str | None = None
    filter: dict[str, Any] | None = None
    hybrid: bool = True
    hybrid_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    context_messages: int = Field(default=1, ge=0, le=10)
    chunk_chars: int = Field(default=16_384, ge=100)
    candidates: int | None = Field(default=None, ge=1)
    date_boost: float = Field(default=0.5, ge=0.0, le=10.0)
    thread_diversity: float = Field(default=0.05, ge=0.0, le=10.0)

    @field_validator("message_range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, int):
            return MessageRange(before=value, after=value)
        return value


class WorkingMemoryConfig(_Frozen):
    """Working memory options.

    Attributes:
        enabled: Off by default.
        scope: ``"resource"`` (default) stores in ``mastra_resources.workingMemory``;
            ``"thread"`` in ``thread.metadata["workingMemory"]``.
        template: Markdown template (template mode, replace semantics).
        schema_: A pydantic model class or a JSON schema dict (schema mode, deep merge). Passed
            as ``schema=`` (aliased; ``schema`` shadows a pydantic attribute).
        max_data_bytes: Truncate the data shown to the model (not what is stored), in bytes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)

    enabled: bool = False
    scope: Scope = "resource"
    template: str = DEFAULT_WORKING_MEMORY_TEMPLATE
    schema_: Any = Field(default=None, alias="schema")
    max_data_bytes: int | None = Field(default=None, gt=0)


class ObservationConfig(_Frozen):
    """Observer options (token counts are o200k_base tokens, see :mod:`mastra_memory.tokens`).

    Defaults are the original's (@mastra/memory ``observationalMemory.observation``).

    Attributes:
        message_tokens: Unobserved-message tokens that trigger observation (30,000).
        buffer_tokens: Background buffering interval: a ratio of ``message_tokens`` in (0, 1)
            (0.2, i.e. every 6,000 tokens), an absolute count >= 1, or ``False`` to disable all
            background work (observation and reflection). Must resolve below ``message_tokens``.
        buffer_activation: On activation, remove buffered history until about
            ``message_tokens * (1 - buffer_activation)`` tokens remain (0.8 keeps 6,000); a value
            >= 1000 is an absolute number of tokens to keep.
        block_after: With buffering on, a turn never waits for the Observer below this many
            unobserved tokens; above it, it waits for the in-flight buffer and observes the rest
            synchronously. A multiple of ``message_tokens`` in [1, 100) or an absolute count
            >= 100 (1.2, i.e. 36,000).
        max_tokens_per_batch: Largest Observer input in message tokens; a larger backlog is
            observed in several calls (10,000).
        previous_observer_tokens: Tail of the existing observations shown to the Observer
            (2,000 tokens; 0 omits them, ``False`` shows all).
        truncate_message_tokens: A single message longer than this is shortened (head and tail
            kept) in the Observer's transcript (10,000 tokens, the original's tool-result cap).
        max_attempts: Observer calls per cycle when the output is empty, malformed or
            degenerate (2); after that the cycle fails and ``failure_policy`` applies.
        buffer_wait_seconds: How long a blocked turn waits for an in-flight buffer (60 s).
        instruction: Extra instructions appended to the Observer's system prompt.
        thread_title: Let the Observer set the thread title (only while the title is empty or
            was set by the Observer).
        temporal_markers: Mark pauses of 10 minutes or more between messages in the Observer's
            transcript (``[2 hours later]``).
        failure_policy: When a synchronous observation or reflection fails (the model call
            failed or its output was unusable every attempt): ``"warn"`` (default: log a
            warning and continue the turn on the raw history; the next cycle is tried only
            after the backlog grew, backing off exponentially), ``"bypass"`` (the same,
            silently) or ``"throw"`` (``ModelError`` after the turn's messages were saved).
            An Observer that finds nothing new is no failure: the messages count as observed.
        model: Observer model (falls back to the top-level ``model``).
        model_settings: Passed to the Observer's model call (``temperature=0.3``).
    """

    message_tokens: int = Field(default=30_000, gt=0)
    buffer_tokens: float | Literal[False] = 0.2
    buffer_activation: float = Field(default=0.8, gt=0)
    block_after: float = Field(default=1.2, ge=1)
    max_tokens_per_batch: int = Field(default=10_000, gt=0)
    previous_observer_tokens: int | Literal[False] = 2_000
    truncate_message_tokens: int = Field(default=10_000, gt=0)
    max_attempts: int = Field(default=2, ge=1, le=10)
    buffer_wait_seconds: float = Field(default=60.0, ge=0)
    instruction: str | None = None
    thread_title: bool = False
    temporal_markers: bool = True
    failure_policy: Literal["throw", "warn", "bypass"] = "warn"
    model: Any = None
    model_settings: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0.3})

    @field_validator("buffer_tokens", mode="before")
    @classmethod
    def _buffer(cls, value: Any) -> Any:
        if value is True:
            return 0.2
        if value is not False and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError("buffer_tokens must be a ratio in (0, 1), a count >= 1, or False")
        return value

    @field_validator("buffer_activation")
    @classmethod
    def _activation(cls, value: float) -> float:
        if not (0 < value < 1 or value >= 1000):
            raise ValueError("buffer_activation must be a ratio in (0, 1) or an absolute count >= 1000")
        return value

    @model_validator(mode="after")
    def _check(self) -> ObservationConfig:
        buffer = self.resolved_buffer_tokens
        if buffer is not None and buffer >= self.message_tokens:
            raise ValueError("observation.buffer_tokens must resolve below observation.message_tokens")
        if self.block_after >= 100 and self.block_after <= self.message_tokens:
            raise ValueError("an absolute observation.block_after must exceed message_tokens")
        return self

    @property
    def resolved_buffer_tokens(self) -> int | None:
        """The buffering interval in tokens, or None when buffering is off."""
        if self.buffer_tokens is False:
            return None
        if self.buffer_tokens < 1:
            return max(1, round(self.message_tokens * self.buffer_tokens))
        return int(self.buffer_tokens)


class ReflectionConfig(_Frozen):
    """Reflector options (token counts are o200k_base tokens).

    Attributes:
        observation_tokens: Observation tokens that trigger reflection (40,000).
        buffer_activation: With buffering on, start a background reflection once observations
            reach this share of ``observation_tokens`` (0.5).
        block_after: Reflect synchronously (waiting) above this multiple of
            ``observation_tokens`` when no background reflection is ready (1.2).
        max_level: Highest compression level tried (0-3, default 3): each attempt whose output
            is still above ``observation_tokens`` retries one level more compressed.
        instruction: Extra instructions for the Reflector.
        model: Reflector model (falls back to the top-level ``model``).
        model_settings: Passed to the Reflector's model call (``temperature=0``).
    """

    observation_tokens: int = Field(default=40_000, gt=0)
    buffer_activation: float = Field(default=0.5, gt=0, le=1)
    block_after: float = Field(default=1.2, ge=1)
    max_level: int = Field(default=3, ge=0, le=3)
    instruction: str | None = None
    model: Any = None
    model_settings: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0.0})


OM_HOOK_NAMES = frozenset(
    {
        "on_observation_start",
        "on_observation_end",
        "on_reflection_start",
        "on_reflection_end",
        "before_observation",
        "after_observation",
    }
)
"""The hooks ``ObservationalMemoryConfig.hooks`` accepts (see :mod:`mastra_memory.observational.hooks`)."""


class ObservationalMemoryConfig(_Frozen):
    """Observational memory (Observer + Reflector) options.

    Attributes:
        enabled: True when a config object is given.
        model: Model for both agents: a litellm model string, ``"local/smollm2"`` (the offline
            default) or a model object implementing :class:`~mastra_memory.models.base.ChatModel`.
        model_settings: Passed to the model like the agent's (api_base, temperature, ...);
            ``observation.model_settings``/``reflection.model_settings`` are merged over it.
        scope: ``"thread"`` (default) or ``"resource"`` (one record shared by all of a
            resource's threads; background buffering is off in this scope, as the original).
        share_token_budget: Let history use the unused observation budget: the observation
            threshold becomes ``max(message_tokens + observation_tokens - current observation
            tokens, message_tokens)``. Requires ``observation.buffer_tokens=False``.
        observation: Observer options.
        reflection: Reflector options.
        hooks: Callables by name (``on_observation_start``, ``on_observation_end``,
            ``on_reflection_start``, ``on_reflection_end``, ``before_observation``,
            ``after_observation``); see :mod:`mastra_memory.observational.hooks`.
        retrieval: Give the agent the ``recall`` tool to read the raw messages behind the
            observations (:mod:`mastra_memory.recall_tool`).
    """

    enabled: bool = True
    model: Any = "local/smollm2"
    model_settings: dict[str, Any] = Field(default_factory=dict)
    scope: Scope = "thread"
    share_token_budget: bool = False
    observation: ObservationConfig = Field(default_factory=ObservationConfig)
    reflection: ReflectionConfig = Field(default_factory=ReflectionConfig)
    hooks: dict[str, Any] | None = None
    retrieval: bool = False

    @model_validator(mode="after")
    def _check(self) -> ObservationalMemoryConfig:
        for name, hook in (self.hooks or {}).items():
            if name not in OM_HOOK_NAMES:
                raise ValueError(f"unknown observational-memory hook {name!r}; known: {sorted(OM_HOOK_NAMES)}")
            if not callable(hook):
                raise ValueError(f"hook {name!r} is not callable")
        if self.share_token_budget and self.observation.buffer_tokens is not False:
            raise ValueError("share_token_budget=True requires observation.buffer_tokens=False")
        return self

    @property
    def buffering(self) -> bool:
        """True when background observation/reflection is on (thread scope only)."""
        return self.scope == "thread" and self.observation.buffer_tokens is not False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe summary stored on records (model objects reduced to their names)."""

        def name(model: Any) -> Any:
            return model if model is None or isinstance(model, str) else getattr(model, "name", type(model).__name__)

        return {
            "scope": self.scope,
            "model": name(self.model),
            "shareTokenBudget": self.share_token_budget,
            "observation": {
                "messageTokens": self.observation.message_tokens,
                "bufferTokens": self.observation.buffer_tokens,
                "bufferActivation": self.observation.buffer_activation,
                "blockAfter": self.observation.block_after,
                "model": name(self.observation.model),
            },
            "reflection": {
                "observationTokens": self.reflection.observation_tokens,
                "bufferActivation": self.reflection.buffer_activation,
                "blockAfter": self.reflection.block_after,
                "model": name(self.reflection.model),
            },
        }


class GenerateTitleConfig(_Frozen):
    """Title generation (see :mod:`mastra_memory.titles`).

    Attributes:
        model: Model for titles (a model string or object); default: the agent's model.
        instructions: System prompt for the title model; default
            :data:`mastra_memory.titles.DEFAULT_TITLE_INSTRUCTIONS`.
        min_messages: Generate once the thread holds at least this many messages (1: after
            the first exchange).
        emit_event: ``Agent.stream`` waits for the title and yields a ``ThreadTitleEvent``.
    """

    model: Any = None
    instructions: str | None = None
    min_messages: int = Field(default=1, ge=1)
    emit_event: bool = False


class RetentionRule(_Frozen):
    """How long one kind of data is kept.

    Attributes:
        max_age: Age in seconds (> 0) after which :func:`prune` deletes a row.
    """

    max_age: float = Field(gt=0)


class RetentionConfig(_Frozen):
    """Per-kind retention (``Memory(options={"retention": {...}})``); a kind left out (``None``)
    is kept forever. See :mod:`mastra_memory.retention` for what each age is measured against."""

    messages: RetentionRule | None = None
    threads: RetentionRule | None = None
    resources: RetentionRule | None = None
    observational_memory: RetentionRule | None = None
    vectors: RetentionRule | None = None


BUDGET_LOAD_LIMIT = 1_000
"""Newest messages loaded per turn under a token budget without an explicit ``last_messages``."""


class MessageHistoryConfig(_Frozen):
    """Token-budget history (see :mod:`mastra_memory.history_budget`).

    Attributes:
        max_tokens: Budget for the whole prompt in tokens; ``0`` disables history.
        remove_fraction: Share of ``max_tokens`` freed at once when over budget (0.25).
        at_max_remove_tokens: Tokens freed at once, instead of ``remove_fraction`` (the
            original's ``atMaxRemoveTokens``).
    """

    max_tokens: int = Field(ge=0)
    remove_fraction: float = Field(default=0.25, ge=0.0, le=1.0)
    at_max_remove_tokens: int | None = Field(default=None, ge=0)

    @property
    def remove_tokens(self) -> int | float:
        """Tokens freed at once (an int when whole, as the TypeScript side writes it)."""
        value: float = (
            self.at_max_remove_tokens
            if self.at_max_remove_tokens is not None
            else self.max_tokens * self.remove_fraction
        )
        return int(value) if float(value).is_integer() else value

    @model_validator(mode="after")
    def _check(self) -> MessageHistoryConfig:
        if self.at_max_remove_tokens is not None and self.at_max_remove_tokens > self.max_tokens:
            raise ValueError("at_max_remove_tokens must not exceed max_tokens")
        return self


class MemoryConfig(_Frozen):
    """Memory options.

    Attributes:
        last_messages: Recent messages loaded as history (10); ``False`` disables history.
        semantic_recall: ``False`` (default), ``True`` (defaults) or a config.
        working_memory: Working memory config (off by default).
        observational_memory: ``False`` (default), ``True`` or a config.
        generate_title: ``False`` (default), ``True`` or ``{model, instructions, min_messages,
            emit_event}``.
        read_only: Load memory but never write (no saves, no working-memory tool).
        max_message_bytes: Largest accepted message content, in bytes of JSON (4 MiB).
        message_history: A token budget for the prompt (``{"max_tokens": N,
            "remove_fraction": 0.25}``); without ``last_messages`` the 10-message cap is lifted
            (up to ``BUDGET_LOAD_LIMIT`` = 1,000 newest messages are loaded, then trimmed).
        retain_full_input: Keep input messages that repeat the thread's stored history (off:
            the re-sent history filter of :mod:`mastra_memory.resend_filter` drops them).
        retention: Per-kind ``max_age`` in seconds (``{"messages": {"max_age": 86400}}``) that
            :meth:`Memory.prune` enforces; nothing expires by default.
    """

    last_messages: int | Literal[False] = 10
    semantic_recall: SemanticRecallConfig | Literal[False] = False
    working_memory: WorkingMemoryConfig = Field(default_factory=WorkingMemoryConfig)
    observational_memory: ObservationalMemoryConfig | Literal[False] = False
    generate_title: GenerateTitleConfig | Literal[False] = False
    read_only: bool = False
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    message_history: MessageHistoryConfig | None = None
    retain_full_input: bool = False

    @model_validator(mode="before")
    @classmethod
    def _history_budget(cls, data: Any) -> Any:
        # A token budget without an explicit last_messages lifts the 10-message cap (as the
        # original) to BUDGET_LOAD_LIMIT newest messages; max_tokens=0 turns history off.
        if isinstance(data, dict) and isinstance(data.get("message_history"), dict):
            budget = data["message_history"]
            if budget.get("max_tokens") == 0:
                data = {**data, "last_messages": 0}
            elif "last_messages" not in data:
                data = {**data, "last_messages": BUDGET_LOAD_LIMIT}
        return data

    @field_validator("last_messages", mode="before")
    @classmethod
    def _last(cls, value: Any) -> Any:
        if value is True:
            return 10
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError("last_messages must be >= 0 or False")
        return value

    @field_validator("semantic_recall", mode="before")
    @classmethod
    def _sr(cls, value: Any) -> Any:
        return SemanticRecallConfig() if value is True else value

    @field_validator("observational_memory", mode="before")
    @classmethod
    def _om(cls, value: Any) -> Any:
        if value is True:
            return ObservationalMemoryConfig()
        if isinstance(value, dict) and value.get("enabled") is False:
            return False
        return value

    @field_validator("generate_title", mode="before")
    @classmethod
    def _title(cls, value: Any) -> Any:
        return GenerateTitleConfig() if value is True else value

    def merged(self, overrides: MemoryConfig | dict[str, Any] | None) -> MemoryConfig:
        """Return a copy with ``overrides`` (per-call ``memory_options``) applied on top."""
        if overrides is None:
            return self
        if isinstance(overrides, MemoryConfig):
            return overrides
        data = self.model_dump(by_alias=True, exclude_unset=False)
        for key, value in overrides.items():
            data[key] = value
        return MemoryConfig.model_validate(data)
