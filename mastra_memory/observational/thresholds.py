"""Pure token-budget math for observational memory (no I/O, no models).

Numbers and rules follow Mastra's ``thresholds.ts`` (see the reference, section 5.3):

* observation threshold: ``message_tokens``; with ``share_token_budget`` it is
  ``max(message_tokens + observation_tokens - current_observation_tokens, message_tokens)``
  (70k with empty observations and the defaults, falling to 30k at 40k of observations);
* background buffering: start a buffer when the tokens not yet covered by buffered chunks reach
  ``buffer_tokens``; the interval halves near the threshold (within ``1.1 * buffer_tokens``);
* activation: keep about ``threshold * (1 - buffer_activation)`` tokens of history (the
  retention floor) by activating the best prefix of buffered chunks;
* reflection: at ``observation_tokens``; a background reflection starts at
  ``observation_tokens * reflection.buffer_activation``; synchronous above ``block_after``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mastra_memory.config import ObservationalMemoryConfig

__all__ = [
    "ObservationPlan",
    "block_after_tokens",
    "effective_message_threshold",
    "plan_observation",
    "plan_reflection",
    "retention_floor",
    "select_activation_prefix",
    "should_buffer",
]


def effective_message_threshold(config: ObservationalMemoryConfig, observation_tokens: int) -> int:
    """Unobserved-message tokens that trigger observation.

    Args:
        config: The OM config.
        observation_tokens: Tokens of the current observations.
    """
    message_tokens = config.observation.message_tokens
    if not config.share_token_budget:
        return message_tokens
    total = message_tokens + config.reflection.observation_tokens
    return max(total - max(observation_tokens, 0), message_tokens)


def block_after_tokens(block_after: float, threshold: int) -> int:
    """``block_after`` as tokens: a multiple of ``threshold`` below 100, else absolute."""
    return round(threshold * block_after) if block_after < 100 else int(block_after)


def retention_floor(threshold: int, activation: float) -> int:
    """Tokens of history to keep after activation (``activation >= 1000`` is absolute)."""
    if activation >= 1000:
        return int(activation)
    return round(threshold * (1 - activation))


def should_buffer(pending: int, covered: int, threshold: int, buffer_tokens: int) -> bool:
    """True when a background buffer should start.

    Args:
        pending: Unobserved tokens in context.
        covered: Tokens of those already covered by buffered chunks.
        threshold: The observation threshold.
        buffer_tokens: The buffering interval.
    """
    if pending >= threshold:
        return False
    interval = buffer_tokens
    if pending >= threshold - 1.1 * buffer_tokens:
        interval = max(1, buffer_tokens // 2)
    return pending - covered >= interval


def select_activation_prefix(
    chunk_tokens: Sequence[int], pending: int, threshold: int, activation: float, force_max: bool = False
) -> int:
    """How many leading buffered chunks to activate.

    Args:
        chunk_tokens: Message tokens each chunk covers, in buffer order.
        pending: Unobserved tokens in context.
        threshold: The observation threshold.
        activation: ``buffer_activation``.
        force_max: Above ``block_after``: prefer removing more than the target.

    Returns:
        The prefix length (0 when there is nothing to activate). Rules, from the original: the
        smallest prefix reaching the target (``pending - floor``) when it overshoots by at most
        ``0.95 * floor`` and leaves at least ``min(1000, floor)`` tokens; otherwise the largest
        prefix under the target that leaves that minimum; otherwise the smallest prefix over it.
    """
    if not chunk_tokens:
        return 0
    floor = retention_floor(threshold, activation)
    target = pending - floor
    if target <= 0:
        return 0
    minimum = min(1000, floor)
    cumulative: list[int] = []
    total = 0
    for tokens in chunk_tokens:
        total += tokens
        cumulative.append(total)
    over = next((i for i, c in enumerate(cumulative) if c >= target), None)
    if force_max:
        return (over + 1) if over is not None else len(cumulative)
    if over is not None:
        c = cumulative[over]
        if c - target <= 0.95 * floor and pending - c >= minimum:
            return over + 1
    under = [i for i, c in enumerate(cumulative) if c < target and pending - c >= minimum]
    if under:
        return under[-1] + 1
    return (over + 1) if over is not None else len(cumulative)


@dataclass(frozen=True)
class ObservationPlan:
    """What a turn should do about unobserved history.

    Attributes:
        threshold: The effective observation threshold.
        activate: Buffered chunks to activate now (a prefix length).
        buffer: Start a background buffer.
        observe: Observe synchronously (after waiting for an in-flight buffer).
    """

    threshold: int
    activate: int = 0
    buffer: bool = False
    observe: bool = False


def plan_observation(
    config: ObservationalMemoryConfig,
    pending: int,
    observation_tokens: int,
    chunk_tokens: Sequence[int],
    buffer_in_flight: bool,
) -> ObservationPlan:
    """Decide the observation work of one turn (see the module docstring).

    Args:
        config: The OM config.
        pending: Unobserved message tokens in context (after this turn's messages).
        observation_tokens: Tokens of the current observations.
        chunk_tokens: Message tokens of each buffered chunk, in order.
        buffer_in_flight: A background buffer of this record is running in this process.
    """
    threshold = effective_message_threshold(config, observation_tokens)
    buffer_tokens = config.observation.resolved_buffer_tokens
    if not config.buffering or buffer_tokens is None:
        return ObservationPlan(threshold=threshold, observe=pending >= threshold)
    covered = sum(chunk_tokens)
    if pending < threshold:
        return ObservationPlan(
            threshold=threshold,
            buffer=not buffer_in_flight and should_buffer(pending, covered, threshold, buffer_tokens),
        )
    blocking = pending >= block_after_tokens(config.observation.block_after, threshold)
    activate = select_activation_prefix(
        chunk_tokens, pending, threshold, config.observation.buffer_activation, force_max=blocking
    )
    left = pending - sum(chunk_tokens[:activate])
    if blocking:
        return ObservationPlan(threshold=threshold, activate=activate, observe=True)
    return ObservationPlan(
        threshold=threshold,
        activate=activate,
        buffer=left >= threshold and not buffer_in_flight and pending - covered > 0,
    )


def plan_reflection(
    config: ObservationalMemoryConfig, observation_tokens: int, has_buffered: bool, in_flight: bool
) -> Literal["none", "activate", "buffer", "reflect"]:
    """Decide the reflection work of one turn.

    Returns:
        ``"activate"`` a ready background reflection, ``"buffer"`` (start one), ``"reflect"``
        synchronously, or ``"none"``.
    """
    limit = config.reflection.observation_tokens
    if not config.buffering:
        return "reflect" if observation_tokens >= limit else "none"
    if observation_tokens >= limit and has_buffered:
        return "activate"
    if observation_tokens >= block_after_tokens(config.reflection.block_after, limit):
        return "reflect"
    start = round(limit * config.reflection.buffer_activation)
    if observation_tokens >= start and not has_buffered and not in_flight:
        return "buffer"
    return "none"
