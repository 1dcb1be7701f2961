"""The Observer: turns a stretch of messages into observation lines (one model call, retried on
unusable output)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mastra_memory import _io_async as _io
from mastra_memory.config import ObservationConfig
from mastra_memory.errors import ConfigurationError, MastraMemoryError, ModelError
from mastra_memory.models.base import ChatModel, Usage
from mastra_memory.observational.parsing import (
    ObservationParseError,
    ObserverOutput,
    parse_observer_output,
    truncate_observations,
)
from mastra_memory.observational.prompts import build_observer_messages, format_transcript
from mastra_memory.tokens import TokenCounter
from mastra_memory.tracing import model_span
from mastra_memory.types import Message

__all__ = ["AsyncObserver", "ObserverResult", "resolve_chat_model"]

logger = logging.getLogger(__name__)


def resolve_chat_model(model: Any, settings: dict[str, Any] | None = None) -> ChatModel:
    """Return ``model`` as a :class:`ChatModel`: objects with ``generate`` are used as they
    are; strings (``"openai/gpt-4o-mini"``, ``"local/smollm2"``) go through
    :func:`mastra_memory.models.resolve_model`.

    Raises:
        ConfigurationError: when no model is configured or a string can not be resolved.
    """
    if model is None:
        raise ConfigurationError("observational memory needs a model (observational_memory.model)")
    if hasattr(model, "generate"):
        return model  # type: ignore[no-any-return]
    if isinstance(model, str):
        from mastra_memory.models import resolve_model

        return resolve_model(model, settings or {})
    raise ConfigurationError(f"not a chat model: {model!r}")


@dataclass
class ObserverResult:
    """One successful observation.

    Attributes:
        output: The parsed observations and metadata.
        tokens: Tokens of ``output.observations``.
        attempts: Model calls made (failed ones included).
        usage: Token usage reported by the model, summed over attempts.
    """

    output: ObserverOutput
    tokens: int
    attempts: int
    usage: Usage


class AsyncObserver:
    """Calls the Observer model and parses its reply.

    Args:
        model: The chat model.
        config: Observation options (prompt instruction, retries, truncation).
        settings: Model settings for the call (temperature, ...).
        counter: Token counter.
    """

    def __init__(
        self, model: ChatModel, config: ObservationConfig, settings: dict[str, Any], counter: TokenCounter
    ) -> None:
        self.model = model
        self.config = config
        self.settings = settings
        self.counter = counter

    async def observe(
        self,
        messages: Sequence[Message],
        previous_observations: str = "",
        prior_task: str | None = None,
        prior_suggestion: str | None = None,
        buffered: bool = False,
    ) -> ObserverResult:
        """Observe ``messages`` (oldest first).

        Raises:
            ModelError: when every attempt failed or gave unusable output (the last error is
                the cause; :class:`ObservationParseError` for unusable output).
        """
        if not messages:
            raise ValueError("nothing to observe")
        shown = truncate_observations(
            previous_observations, self.config.previous_observer_tokens, self.counter.count_text
        )
        transcript = format_transcript(
            messages,
            max_message_chars=self.config.truncate_message_tokens * 4,
            temporal_markers=self.config.temporal_markers,
        )
        prompt = build_observer_messages(
            transcript,
            shown,
            prior_task,
            prior_suggestion,
            buffered=buffered,
            thread_title=self.config.thread_title and not buffered,
            instruction=self.config.instruction,
        )
        previous_lines = previous_observations.split("\n") if previous_observations else []
        usage = Usage()
        last: MastraMemoryError | None = None
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                with model_span(self.model, "observer") as span:
                    response = await _io.generate(self.model, prompt, **self.settings)
                    span.record(response)
            except MastraMemoryError as exc:
                last = exc
                logger.warning("observer call failed (attempt %d): %s", attempt, exc)
                continue
            except Exception as exc:  # provider errors of any kind
                last = ModelError(f"observer model call failed: {exc}")
                last.__cause__ = exc
                logger.warning("observer call failed (attempt %d): %s", attempt, exc)
                continue
            usage = usage + response.usage
            try:
                output = parse_observer_output(
                    response.text, messages[-1].created_at, previous_lines, source=transcript
                )
            except ObservationParseError as exc:
                if exc.reason == "nothing-new":  # a normal outcome: the messages count as observed
                    logger.debug("observer found nothing new in %d message(s)", len(messages))
                    nothing = ObserverOutput(observations="", line_count=0)
                    return ObserverResult(nothing, 0, attempt, usage)
                last = exc
                logger.warning("observer output unusable (attempt %d): %s", attempt, exc)
                continue
            return ObserverResult(output, self.counter.count_text(output.observations), attempt, usage)
        assert last is not None
        if isinstance(last, ModelError):
            raise last
        raise ModelError(str(last)) from last
