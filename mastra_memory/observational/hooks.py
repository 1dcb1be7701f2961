"""Observational-memory hooks (``observational_memory={"hooks": {...}}``).

Notification hooks, called with an :class:`OMCycle` (exceptions are logged, never raised):

* ``on_observation_start(cycle)`` / ``on_observation_end(cycle)``: around each Observer call
  (synchronous observation and background buffering); the end carries ``usage`` and ``cost``
  (USD, from litellm's price table when the model is a priced litellm model, else ``None``) and
  ``error`` when the call failed.
* ``on_reflection_start(cycle)`` / ``on_reflection_end(cycle)``: the same around the Reflector.

Transforms (an exception fails the cycle like a model failure, so nothing unredacted is sent):

* ``before_observation(messages) -> messages``: what the Observer sees, e.g. personal data
  redacted (the stored messages are not changed; the cursor still covers the originals).
* ``after_observation(observations) -> observations``: the Observer's text before it is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mastra_memory.config import OM_HOOK_NAMES
from mastra_memory.errors import ModelError
from mastra_memory.models.base import Usage
from mastra_memory.tracing import model_cost
from mastra_memory.types import Message

__all__ = ["HOOK_NAMES", "OMCycle", "OMHooks"]

logger = logging.getLogger(__name__)

HOOK_NAMES = OM_HOOK_NAMES


@dataclass
class OMCycle:
    """One Observer or Reflector call, as the hooks see it.

    Attributes:
        kind: ``"observation"`` or ``"reflection"``.
        thread_id: The thread (``None`` for a resource-scope reflection).
        resource_id: The resource.
        buffered: True for a background (buffered) cycle.
        message_count: Messages observed (0 for reflections).
        usage: Token usage of the call (at the end).
        cost: Cost in USD when known (at the end).
        duration: Seconds the call took (at the end).
        error: The failure, when the call failed (at the end).
    """

    kind: Literal["observation", "reflection"]
    thread_id: str | None
    resource_id: str
    buffered: bool = False
    message_count: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    duration: float = 0.0
    error: str | None = None
    started: float = field(default_factory=time.monotonic, repr=False)


class OMHooks:
    """The configured hooks, called safely."""

    def __init__(self, hooks: Mapping[str, Callable[..., Any]] | None) -> None:
        self.hooks = dict(hooks or {})

    def notify(self, name: str, cycle: OMCycle) -> None:
        """Call a notification hook; its exceptions are logged only."""
        hook = self.hooks.get(name)
        if hook is None:
            return
        try:
            hook(cycle)
        except Exception:
            logger.warning("observational-memory hook %s raised; ignored", name, exc_info=True)

    def before_observation(self, messages: Sequence[Message]) -> list[Message]:
        """Apply ``before_observation``.

        Raises:
            ModelError: when the transform raised or returned something else than messages.
        """
        hook = self.hooks.get("before_observation")
        if hook is None:
            return list(messages)
        try:
            out = list(hook(list(messages)))
        except Exception as exc:
            raise ModelError(f"before_observation failed: {exc}") from exc
        if not out or not all(isinstance(m, Message) for m in out):
            raise ModelError("before_observation must return a non-empty list of Message")
        return out

    def after_observation(self, observations: str) -> str:
        """Apply ``after_observation``.

        Raises:
            ModelError: when the transform raised or returned something else than text.
        """
        hook = self.hooks.get("after_observation")
        if hook is None:
            return observations
        try:
            out = hook(observations)
        except Exception as exc:
            raise ModelError(f"after_observation failed: {exc}") from exc
        if not isinstance(out, str):
            raise ModelError("after_observation must return a string")
        return out

    def end(self, name: str, cycle: OMCycle, model: Any, usage: Usage | None, error: BaseException | None) -> None:
        """Fill the cycle's usage, cost, duration and error, then notify ``name``."""
        cycle.duration = time.monotonic() - cycle.started
        if usage is not None:
            cycle.usage = usage
            cycle.cost = cost_of(model, usage)
        if error is not None:
            cycle.error = str(error)
        self.notify(name, cycle)


def cost_of(model: Any, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``model`` from litellm's (local) price table, or ``None``.

    Only when litellm is imported already (a litellm model was called): importing it takes
    seconds, which would block the event loop of the async engine for a model litellm does not
    price anyway.
    """
    name = getattr(model, "name", model)
    if not isinstance(name, str) or not (usage.prompt_tokens or usage.completion_tokens):
        return None
    return model_cost(name, usage.prompt_tokens, usage.completion_tokens)
