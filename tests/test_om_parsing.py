"""Observer output parsing: malformed, empty, degenerate and echoed output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mastra_memory.observational.parsing import (
    ObservationParseError,
    is_degenerate,
    optimize_for_context,
    parse_observer_output,
    truncate_observations,
)
from mastra_memory.tokens import count_tokens

GOOD = """Here are my notes.
<observations>
Date: May 8, 2023
* 🔴 (13:56) User stated their name is Ana.
- (13:57) User asked about hiking trails near Lisbon
  * -> assistant suggested Sintra
</observations>
<current-task>
Primary: find a trail
</current-task>
<suggested-response>
Ask about difficulty.
</suggested-response>
<thread-title>
"Lisbon hiking"
</thread-title>"""


def test_well_formed_output() -> None:
    out = parse_observer_output(GOOD)
    assert out.observations.split("\n") == [
        "Date: May 8, 2023",
        "* 🔴 (13:56) User stated their name is Ana.",
        "* 🟡 (13:57) User asked about hiking trails near Lisbon",  # missing marker -> 🟡
        "  * -> assistant suggested Sintra",
    ]
    assert out.current_task == "Primary: find a trail"
    assert out.suggested_response == "Ask about difficulty."
    assert out.thread_title == "Lisbon hiking"
    assert out.line_count == 3


def test_no_tags_falls_back_to_bullets_and_adds_a_date() -> None:
    out = parse_observer_output(
        "Sure!\n* User likes tea\n* User has a cat named Bo\nThanks", datetime(2024, 1, 5, tzinfo=UTC)
    )
    assert out.observations.split("\n")[0] == "Date: Jan 5, 2024"
    assert out.line_count == 2


def test_unclosed_block_keeps_what_it_has() -> None:
    out = parse_observer_output("<observations>\nDate: Jan 1, 2024\n* 🔴 User is vegan\n<current-task>\nnone")
    assert out.line_count == 1 and out.current_task == "none"


@pytest.mark.parametrize(
    "text", ["", "   ", None, "I'm sorry, I can't help with that.", "<observations>\n</observations>"]
)
def test_empty_or_malformed_output_raises(text: str | None) -> None:
    with pytest.raises(ObservationParseError):
        parse_observer_output(text)


def test_degenerate_output_is_rejected() -> None:
    loop = "<observations>\n" + "* 🔴 User said hello again and again. " * 200 + "\n</observations>"
    assert is_degenerate(loop)
    with pytest.raises(ObservationParseError) as info:
        parse_observer_output(loop)
    assert info.value.reason == "degenerate"
    assert is_degenerate("x" * 60_000)
    assert not is_degenerate(GOOD)


def test_prompt_echoes_and_repeats_are_dropped() -> None:
    text = (
        "<observations>\nDate: Jan 1, 2024\n## New Message History to Observe\n"
        "* 🔴 (14:02) User said they are allergic to peanuts.\n"  # the prompt's own example
        "* <system-reminder>continue</system-reminder>\n"
        "* 🔴 User owns a red bike\n* 🔴 User owns a red bike\n* 🟢 Old fact\n</observations>"
    )
    out = parse_observer_output(text, previous=["Date: Jan 1, 2024", "* 🟢 (10:00) Old fact"])
    assert out.observations.split("\n") == ["Date: Jan 1, 2024", "* 🔴 User owns a red bike"]
    assert out.dropped_lines == 5


def test_observation_with_an_echoed_prompt_tail_is_kept_without_the_tail() -> None:
    # seen from SmolLM2 on LoCoMo: one good line that runs on into the prompt's own heading
    text = (
        "  🔴 (14:38) User thanked Caroline for the painting advice. ## Your Task Write new observations "
        "for the message history above, in the output format, for your next task.\n"
        "* ## Previous Observations\n"
    )
    out = parse_observer_output(text, default_date=datetime(2023, 7, 20, tzinfo=UTC))
    assert out.observations.split("\n") == [
        "Date: Jul 20, 2023",
        "* 🔴 (14:38) User thanked Caroline for the painting advice.",
    ]
    assert out.dropped_lines == 1


def test_paraphrased_prompt_sentences_and_starred_date_headers() -> None:
    # seen from SmolLM2 as a Reflector on LoCoMo: a bold-ish header and the prompt read back
    text = (
        "Date: ** Jul 20, 2023\n"
        "* 🟡 Your new lines are appended after the previous ones;\n"
        "* 🟡 (10:00) Caroline went to an LGBTQ support group yesterday.\n"
        "* 🔴 Write new observations for the message history in the output format.\n"
    )
    out = parse_observer_output(text)
    assert out.observations.split("\n") == [
        "Date: Jul 20, 2023",
        "* 🟡 (10:00) Caroline went to an LGBTQ support group yesterday.",
    ]
    assert out.dropped_lines == 2


def test_context_rendering_and_truncation() -> None:
    obs = "Date: Jan 1, 2024\n* 🔴 (10:00) A\n* 🟡 (10:01) B\n  * -> C\nDate: Jan 1, 2024\n* ✅ (10:02) D"
    rendered = optimize_for_context(obs, now=datetime(2024, 1, 22, tzinfo=UTC))
    assert rendered.split("\n") == [
        "Date: Jan 1, 2024 (3 weeks ago)",
        "* 🔴 (10:00) A",
        "* (10:01) B",
        "  * C",
        "* ✅ (10:02) D",
    ]
    long = "\n".join(["Date: Jan 1, 2024", "* 🔴 keep me"] + [f"* 🟡 filler line {i}" for i in range(400)])
    short = truncate_observations(long, 200, count_tokens)
    assert count_tokens(short) <= 220 and "* 🔴 keep me" in short and "filler line 399" in short
    assert truncate_observations(long, 0, count_tokens) == ""
    assert truncate_observations(long, False, count_tokens) == long


def test_near_duplicates_example_paraphrases_and_ungrounded_lines_are_dropped() -> None:
    source = "User (10:00): I adopted a greyhound named Pixel last spring.\nAssistant (10:01): Lovely!"
    text = (
        "<observations>\nDate: Jan 1, 2024\n"
        "* 🔴 (10:00) User adopted a greyhound named Pixel last spring.\n"
        "* 🔴 (10:00) User adopted a greyhound called Pixel last spring.\n"  # near duplicate
        "* 🟡 User requested a dinner recipe; assistant proposed a Thai curry without peanuts.\n"  # example echo
        "* 🟡 (10:02) User plays the violin in an orchestra.\n"  # not in the source at all
        "</observations>"
    )
    out = parse_observer_output(text, source=source)
    assert out.observations.split("\n") == [
        "Date: Jan 1, 2024",
        "* 🔴 (10:00) User adopted a greyhound named Pixel last spring.",
    ]
    assert out.dropped_lines == 3


def test_meta_lines_impossible_times_and_empty_lines_are_dropped() -> None:
    text = (
        "<observations>\nDate: Jul 12, 2023\n* 🟡 Added a new observation in this task.\n* 🟢 (14:4\n"
        "* 🟢 (34:59) User thanked Melanie for the necklace.\n* 🔴 (14:05) User thanked Melanie for the necklace.\n"
        "</observations>"
    )
    out = parse_observer_output(text, source="User (14:05): Thanks for the necklace, Melanie!")
    assert out.observations.split("\n") == ["Date: Jul 12, 2023", "* 🔴 (14:05) User thanked Melanie for the necklace."]
