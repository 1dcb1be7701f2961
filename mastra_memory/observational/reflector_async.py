"""The Reflector: condenses the observation log, escalating the compression level until the
result fits under ``reflection.observation_tokens`` (levels 0-3, as the original)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mastra_memory import _io_async as _io
from mastra_memory.config import ReflectionConfig
from mastra_memory.errors import MastraMemoryError, ModelError
from mastra_memory.models.base import ChatModel, Usage
from mastra_memory.observational.parsing import ObservationParseError, parse_observer_output
from mastra_memory.observational.prompts import build_reflector_messages
from mastra_memory.tokens import TokenCounter
from mastra_memory.tracing import model_span

__all__ = ["AsyncReflector", "ReflectionResult"]

logger = logging.getLogger(__name__)

_DATE_HEADER = re.compile(r"^Date: ([A-Z][a-z]{2} \d{1,2}, \d{4})", re.M)


def _first_date(observations: str) -> datetime | None:
    """The first ``Date: Mon D, YYYY`` header of a log: the date a reflection that starts
    without a header belongs to (not today's)."""
    match = _DATE_HEADER.search(observations)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%b %d, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class ReflectionResult:
    """A usable reflection.

    Attributes:
        observations: The condensed log.
        tokens: Its tokens.
        input_tokens: Tokens of the log it condensed.
        level: Compression level of the accepted attempt.
        attempts: Model calls made.
        fits: True when ``tokens`` is under the target; False when the smallest candidate was
            kept because no attempt got under it (still smaller than the input).
        usage: Token usage summed over attempts.
    """

    observations: str
    tokens: int
    input_tokens: int
    level: int
    attempts: int
    fits: bool
    usage: Usage


class AsyncReflector:
    """Calls the Reflector model with escalating compression.

    Args:
        model: The chat model.
        config: Reflection options.
        settings: Model settings (temperature, ...).
        counter: Token counter.
    """

    def __init__(
        self, model: ChatModel, config: ReflectionConfig, settings: dict[str, Any], counter: TokenCounter
    ) -> None:
        self.model = model
        self.config = config
        self.settings = settings
        self.counter = counter

    async def reflect(self, observations: str, target_tokens: int | None = None) -> ReflectionResult:
        """Condense ``observations`` to under ``target_tokens`` (default
        ``reflection.observation_tokens``).

        Level 0 is tried first; each attempt that is unusable or still too large is retried one
        level higher, up to ``max_level``. If none fits, the smallest usable candidate that is
        smaller than the input is returned (``fits=False``).

        Raises:
            ModelError: when no attempt produced a usable reflection smaller than the input.
        """
        target = target_tokens or self.config.observation_tokens
        input_tokens = self.counter.count_text(observations)
        usage = Usage()
        best: ReflectionResult | None = None
        last: Exception | None = None
        attempts = 0
        for level in range(0, self.config.max_level + 1):
            attempts += 1
            prompt = build_reflector_messages(observations, level, target, self.config.instruction)
            try:
                with model_span(self.model, "reflector") as span:
                    response = await _io.generate(self.model, prompt, **self.settings)
                    span.record(response)
                usage = usage + response.usage
                output = parse_observer_output(
                    response.text, default_date=_first_date(observations), source=observations
                )
            except ObservationParseError as exc:
                last = exc
                logger.warning("reflector output unusable (level %d): %s", level, exc)
                continue
            except MastraMemoryError as exc:
                last = exc
                logger.warning("reflector call failed (level %d): %s", level, exc)
                continue
            except Exception as exc:
                last = exc
                logger.warning("reflector call failed (level %d): %s", level, exc)
                continue
            tokens = self.counter.count_text(output.observations)
            candidate = ReflectionResult(
                output.observations, tokens, input_tokens, level, attempts, tokens < target, usage
            )
            if candidate.fits:
                return candidate
            if tokens < input_tokens and (best is None or tokens < best.tokens):
                best = candidate
        if best is not None:
            best.attempts = attempts
            best.usage = usage
            return best
        raise ModelError(f"reflection failed after {attempts} attempt(s): {last or 'output not smaller'}")
