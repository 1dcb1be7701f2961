"""Pure budget math and config validation."""

from __future__ import annotations

import pytest

from mastra_memory.config import ObservationalMemoryConfig
from mastra_memory.observational.thresholds import (
    block_after_tokens,
    effective_message_threshold,
    plan_observation,
    plan_reflection,
    retention_floor,
    select_activation_prefix,
    should_buffer,
)


def shared() -> ObservationalMemoryConfig:
    return ObservationalMemoryConfig(share_token_budget=True, observation={"buffer_tokens": False})


def test_share_token_budget_math_with_defaults() -> None:
    cfg = shared()
    # total budget = 30k + 40k; history may use what observations do not
    assert effective_message_threshold(cfg, 0) == 70_000
    assert effective_message_threshold(cfg, 20_000) == 50_000
    assert effective_message_threshold(cfg, 40_000) == 30_000
    assert effective_message_threshold(cfg, 55_000) == 30_000  # never below message_tokens
    assert effective_message_threshold(ObservationalMemoryConfig(), 20_000) == 30_000


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="share_token_budget"):
        ObservationalMemoryConfig(share_token_budget=True)
    with pytest.raises(ValueError, match="buffer_tokens"):
        ObservationalMemoryConfig(observation={"message_tokens": 1000, "buffer_tokens": 1000})
    with pytest.raises(ValueError):
        ObservationalMemoryConfig(observation={"buffer_activation": 5})
    cfg = ObservationalMemoryConfig()
    assert cfg.observation.resolved_buffer_tokens == 6_000
    assert cfg.buffering and not ObservationalMemoryConfig(scope="resource").buffering


def test_buffer_interval_halves_near_threshold() -> None:
    assert not should_buffer(5_999, 0, 30_000, 6_000)
    assert should_buffer(6_000, 0, 30_000, 6_000)
    assert should_buffer(12_000, 6_000, 30_000, 6_000) is not False  # a second interval reached
    assert not should_buffer(11_000, 6_000, 30_000, 6_000)
    # within 1.1 * 6000 of the threshold the interval is 3000
    assert should_buffer(24_000, 21_000, 30_000, 6_000)
    assert not should_buffer(30_000, 0, 30_000, 6_000)  # at the threshold we activate instead


def test_activation_prefix_selection() -> None:
    assert retention_floor(30_000, 0.8) == 6_000
    assert retention_floor(30_000, 2_000) == 2_000
    # pending 31k, floor 6k -> target 25k; chunks of 6k: 5 chunks = 30k overshoots by 5k <= 5.7k
    assert select_activation_prefix([6_000] * 5, 31_000, 30_000, 0.8) == 5
    # overshoot too large -> best prefix under the target
    assert select_activation_prefix([20_000, 11_000], 31_000, 30_000, 0.8) == 1
    # force_max above block_after takes the over prefix
    assert select_activation_prefix([20_000, 11_000], 31_000, 30_000, 0.8, force_max=True) == 2
    assert select_activation_prefix([], 31_000, 30_000, 0.8) == 0
    assert block_after_tokens(1.2, 30_000) == 36_000 and block_after_tokens(50_000, 30_000) == 50_000


def test_observation_plans() -> None:
    cfg = ObservationalMemoryConfig()
    assert plan_observation(cfg, 5_000, 0, [], False).buffer is False
    assert plan_observation(cfg, 6_500, 0, [], False).buffer is True
    assert plan_observation(cfg, 6_500, 0, [], True).buffer is False  # one buffer at a time
    at = plan_observation(cfg, 31_000, 0, [6_000] * 4, False)
    assert at.activate == 4 and not at.observe
    blocked = plan_observation(cfg, 37_000, 0, [6_000], False)
    assert blocked.observe and blocked.activate == 1
    sync = ObservationalMemoryConfig(observation={"buffer_tokens": False})
    assert not plan_observation(sync, 29_999, 0, [], False).observe
    assert plan_observation(sync, 30_000, 0, [], False).observe


def test_reflection_plans() -> None:
    cfg = ObservationalMemoryConfig()
    assert plan_reflection(cfg, 19_999, False, False) == "none"
    assert plan_reflection(cfg, 20_000, False, False) == "buffer"
    assert plan_reflection(cfg, 41_000, True, False) == "activate"
    assert plan_reflection(cfg, 41_000, False, True) == "none"
    assert plan_reflection(cfg, 48_000, False, True) == "reflect"
    sync = ObservationalMemoryConfig(observation={"buffer_tokens": False})
    assert plan_reflection(sync, 39_999, False, False) == "none"
    assert plan_reflection(sync, 40_000, False, False) == "reflect"
