"""Dates named in recall queries (mastra_memory.query_dates) and the re-ranking that uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mastra_memory.query_dates import SLACK, Period, in_any_period, query_periods
from mastra_memory.semantic_recall import rerank

NOW = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)  # a Wednesday


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("What did Gina find on 1 February, 2023?", day(2023, 2, 1), day(2023, 2, 2)),
        ("painting shown on October 13, 2023?", day(2023, 10, 13), day(2023, 10, 14)),
        ("on the 3rd of May, 2023", day(2023, 5, 3), day(2023, 5, 4)),
        ("May 3rd 2023", day(2023, 5, 3), day(2023, 5, 4)),
        ("Sept. 9, 2024", day(2024, 9, 9), day(2024, 9, 10)),
        ("logged 2023-05-03", day(2023, 5, 3), day(2023, 5, 4)),
        ("what workout did Maria start in December 2023?", day(2023, 12, 1), day(2024, 1, 1)),
        ("trip in Feb, 2024", day(2024, 2, 1), day(2024, 3, 1)),
        ("how often did she go to the beach in 2023?", day(2023, 1, 1), day(2024, 1, 1)),
        ("what happened yesterday", day(2026, 12, 8), day(2026, 12, 9)),
        ("what did I cook today", day(2026, 12, 9), day(2026, 12, 10)),
        ("last week", day(2026, 11, 30), day(2026, 12, 7)),
        ("this week", day(2026, 12, 7), day(2026, 12, 10)),
        ("last weekend", day(2026, 12, 5), day(2026, 12, 7)),
        ("last month", day(2026, 11, 1), day(2026, 12, 1)),
        ("last year", day(2025, 1, 1), day(2026, 1, 1)),
        ("two days ago", day(2026, 12, 7), day(2026, 12, 8)),
        ("3 months ago", day(2026, 9, 1), day(2026, 10, 1)),
        ("a year ago", day(2025, 1, 1), day(2026, 1, 1)),
    ],
)
def test_absolute_and_relative_periods(query: str, start: datetime, end: datetime) -> None:
    assert query_periods(query, now=NOW) == [Period(start, end)]


def test_months_and_days_without_a_year_recur() -> None:
    assert query_periods("When did Melanie go camping in June?", now=NOW) == [Period(month=6)]
    assert query_periods("during Oct and since March", now=NOW) == [Period(month=10), Period(month=3)]
    assert query_periods("dinner on May 3?", now=NOW) == [Period(month=5, day=3)]
    june = Period(month=6)
    assert june.contains(day(2023, 6, 30))
    assert june.contains(day(2019, 7, 5))  # within the slack after June
    assert not june.contains(day(2023, 7, 20))
    december = Period(month=12, day=31)
    assert december.contains(day(2024, 1, 3))  # a January message about the 31st of December


def test_words_that_are_not_dates() -> None:
    for query in (
        "this may help",
        "what may I bring?",
        "did she march with them",
        "the 2023 budget",
        "",
        "31 February 2023",
        "2023-13-01",
        "Feb 30",
        "may 10 people come",
    ):
        found = query_periods(query, now=NOW)
        assert found in ([], [Period(month=5, day=10)]), (query, found)  # "may 10" is read as a date
    assert query_periods("may 10 people come", now=NOW) == [Period(month=5, day=10)]


def test_relative_words_give_way_to_an_absolute_date() -> None:
    # "last weekend before April 10, 2023" is about 2023, not the weekend before now
    assert query_periods("What did Maria do last weekend before April 10, 2023?", now=NOW) == [
        Period(day(2023, 4, 10), day(2023, 4, 11))
    ]


def test_several_periods_in_query_order_and_the_slack() -> None:
    periods = query_periods("in 2022 or on 5 March 2024", now=NOW)
    assert periods == [Period(day(2022, 1, 1), day(2023, 1, 1)), Period(day(2024, 3, 5), day(2024, 3, 6))]
    assert in_any_period(day(2024, 3, 5) + SLACK - timedelta(seconds=1), periods)
    assert not in_any_period(day(2024, 3, 5) + timedelta(days=1) + SLACK, periods)
    assert not in_any_period(day(2024, 3, 4), periods)
    assert in_any_period(datetime(2022, 6, 1), periods)  # naive times are taken as UTC


def test_rerank_date_boost() -> None:
    scores = {"old": 0.9, "may": 0.6, "none": 0.5}
    times = {"old": day(2023, 1, 2), "may": day(2023, 5, 20), "none": day(2023, 8, 1)}
    threads = {"old": "a", "may": "b", "none": "c"}
    periods = query_periods("in May 2023")
    assert [m for m, _ in rerank(scores, threads, 3)] == ["old", "may", "none"]
    ranked = rerank(scores, threads, 3, times=times, periods=periods, date_boost=0.5)
    assert ranked == [("may", pytest.approx(1.1)), ("old", 0.9), ("none", 0.5)]
    # no periods, or a zero boost: plain score order
    assert rerank(scores, threads, 3, times=times, periods=[], date_boost=0.5)[0][0] == "old"
    assert rerank(scores, threads, 3, times=times, periods=periods)[0][0] == "old"


def test_rerank_thread_diversity() -> None:
    scores = {"a1": 1.0, "a2": 0.97, "a3": 0.96, "b1": 0.94, "c1": 0.80}
    threads = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "c1": "C"}
    assert [m for m, _ in rerank(scores, threads, 4)] == ["a1", "a2", "a3", "b1"]
    ranked = rerank(scores, threads, 4, thread_diversity=0.05)
    # a2 loses 0.05 (one earlier hit of A): 0.92 < b1's 0.94; a3 then loses 0.10 against a2's 0.92
    assert [m for m, _ in ranked] == ["a1", "b1", "a2", "a3"]
    assert [s for _, s in ranked] == pytest.approx([1.0, 0.94, 0.92, 0.86])
    # a large penalty takes one hit per thread first
    assert [m for m, _ in rerank(scores, threads, 5, thread_diversity=1.0)] == ["a1", "b1", "c1", "a2", "a3"]
    # a message without a known thread counts as its own thread; ties keep id order
    assert [m for m, _ in rerank({"x": 0.5, "y": 0.5}, {}, 2, thread_diversity=0.1)] == ["x", "y"]
    assert rerank({}, {}, 3, thread_diversity=0.1) == []
    assert rerank(scores, threads, 0, thread_diversity=0.1) == []


def test_weekends() -> None:
    saturday = datetime(2026, 12, 12, 10, tzinfo=UTC)
    assert query_periods("this weekend", now=saturday) == [Period(day(2026, 12, 12), day(2026, 12, 14))]
    assert query_periods("last weekend", now=saturday) == [Period(day(2026, 12, 5), day(2026, 12, 7))]
    assert query_periods("this weekend", now=NOW) == [Period(day(2026, 12, 12), day(2026, 12, 14))]


def test_rerank_scores_never_increase_down_the_ranking() -> None:
    import random

    rng = random.Random(7)
    for _ in range(200):
        scores = {f"m{i}": rng.random() for i in range(rng.randint(0, 30))}
        threads = {m: f"t{rng.randint(0, 4)}" for m in scores}
        ranked = rerank(scores, threads, 10, thread_diversity=rng.choice([0.0, 0.05, 0.3]))
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
        assert len({m for m, _ in ranked}) == len(ranked) == min(10, len(scores))


@pytest.mark.parametrize("option", [{"date_boost": -0.1}, {"thread_diversity": -1}, {"date_boost": "high"}])
def test_bad_options_are_a_configuration_error(option: dict[str, object]) -> None:
    from mastra_memory import ConfigurationError, Memory
    from storage_adapters.inmemory import InMemoryStore

    with pytest.raises(ConfigurationError, match=next(iter(option))):
        Memory(storage=InMemoryStore(), options={"semantic_recall": option})


def test_defaults() -> None:
    from mastra_memory.config import SemanticRecallConfig

    config = SemanticRecallConfig()
    assert (config.hybrid, config.hybrid_weight, config.date_boost, config.thread_diversity) == (True, 0.4, 0.5, 0.05)


def test_times_from_vector_metadata() -> None:
    from mastra_memory.semantic_recall import _metadata_times
    from mastra_memory.storage.vector import QueryResult

    results = [
        QueryResult(id="a", score=0.9, metadata={"message_id": "a", "created_at": "2023-05-03T10:00:00+00:00"}),
        QueryResult(id="a#1", score=0.8, metadata={"message_id": "a", "created_at": "2023-05-03T10:00:00+00:00"}),
        QueryResult(id="b", score=0.7, metadata={"message_id": "b", "created_at": "not a time"}),
        QueryResult(id="c", score=0.6, metadata={"message_id": "c"}),
        QueryResult(id="d", score=0.5, metadata={"created_at": "2024-01-01T00:00:00Z"}),
    ]
    assert _metadata_times(results) == {"a": datetime(2023, 5, 3, 10, tzinfo=UTC), "d": day(2024, 1, 1)}
