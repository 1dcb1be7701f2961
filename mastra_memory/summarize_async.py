"""One-shot conversation summaries with the Observer of observational memory.

:func:`summarize_conversation` distills messages you hold; :func:`summarize_thread` (what
:meth:`mastra_memory.Memory.summarize_thread` runs) loads a stored thread's newest messages
first, bounded by ``last_messages`` and ``max_input_tokens``. Both return the Observer's dense
bullet observations and write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mastra_memory.config import ObservationConfig
from mastra_memory.errors import ValidationError
from mastra_memory.tokens import default_counter
from mastra_memory.types import Message

if TYPE_CHECKING:
    from mastra_memory.memory_async import AsyncMemory

__all__ = ["DEFAULT_MAX_INPUT_TOKENS", "summarize_conversation", "summarize_thread"]

DEFAULT_MAX_INPUT_TOKENS = 1_000_000
_PAGE = 100


async def summarize_conversation(
    messages: Sequence[Message], model: Any, instructions: str | None = None, max_attempts: int = 2
) -> str:
    """Summarize ``messages`` (oldest first) with the Observer prompt; nothing is stored.

    Args:
        messages: The conversation. Empty: returns ``""`` without calling the model.
        model: A chat model object or a model string (``"openai/gpt-4o-mini"``).
        instructions: Extra guidance appended to the Observer's instructions (what to focus
            on, who the summary is for).
        max_attempts: Model calls before giving up on unusable output (2).

    Returns:
        The observations, in dense bullet form.

    Raises:
        ConfigurationError: if ``model`` is missing or not a model.
        ModelError: if every attempt failed or gave unusable output.
    """
    from mastra_memory.observational.observer_async import AsyncObserver, resolve_chat_model

    if not messages:
        return ""
    chat_model = resolve_chat_model(model)
    config = ObservationConfig(instruction=instructions, max_attempts=max_attempts)
    result = await AsyncObserver(chat_model, config, {}, default_counter()).observe(list(messages))
    return result.output.observations


async def summarize_thread(
    memory: AsyncMemory,
    thread_id: str,
    model: Any = None,
    last_messages: int | None = None,
    max_input_tokens: int | None = None,
    instructions: str | None = None,
    resource_id: str | None = None,
) -> str:
    """Summarize a stored thread (see :meth:`mastra_memory.Memory.summarize_thread`)."""
    if last_messages is not None and (isinstance(last_messages, bool) or last_messages < 1):
        raise ValidationError(f"last_messages must be a positive integer, got {last_messages!r}")
    budget = DEFAULT_MAX_INPUT_TOKENS if max_input_tokens is None else max_input_tokens
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValidationError(f"max_input_tokens must be a positive integer, got {max_input_tokens!r}")
    await memory._require_thread(thread_id, resource_id)
    if model is None:
        om = memory.config.observational_memory
        model = None if om is False else (om.observation.model or om.model)
    counter = default_counter()
    picked: list[Message] = []
    tokens = 0.0
    page = 0
    size = _PAGE if last_messages is None else min(_PAGE, last_messages)
    while True:  # newest first, page by page, until a bound is reached
        batch = await memory.storage.list_messages(thread_id, per_page=size, page=page, direction="DESC")
        for message in reversed(batch.messages):
            cost = counter.count_message(message)
            if picked and tokens + cost > budget:
                return await summarize_conversation(picked, model, instructions)
            picked.insert(0, message)
            tokens += cost
            if last_messages is not None and len(picked) >= last_messages:
                return await summarize_conversation(picked, model, instructions)
        if not batch.has_more:
            return await summarize_conversation(picked, model, instructions)
        page += 1
