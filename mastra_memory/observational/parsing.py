"""Parsing of Observer/Reflector output, degenerate-output detection, and the context rendering
of observations.

Rules (from the original's design, reference section 5.4, plus fixes for its known bugs):

* Only line-anchored ``<observations>`` tags count; an unclosed block runs to the next tag or
  the end (a truncated reply keeps what it has). Without tags, bullet lines are used.
* ``<current-task>``, ``<suggested-response>`` and ``<thread-title>`` are read separately.
* Lines are normalised to ``* <marker> text`` (a missing priority marker becomes 🟡), longer
  than 10,000 characters are cut, repeated lines and lines already in the previous observations
  are dropped, and echoes of the prompt itself (section headers, system reminders, the format
  example) are removed (the original stored its own control prompt as user facts, #22195);
  near duplicates and lines sharing no content word with the transcript are dropped too.
* Degenerate output (at least 2,000 characters where more than 40% of 50 sampled 200-character
  windows repeat elsewhere, or a line over 50,000 characters) and output with no observation
  line raise :class:`ObservationParseError`, so it is retried or discarded, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pydantic import BaseModel

from mastra_memory.errors import ModelError
from mastra_memory.observational.prompts import (
    PRIORITY_MARKERS,
    build_observer_messages,
    build_reflector_messages,
    format_date,
)

__all__ = [
    "ObservationParseError",
    "ObserverOutput",
    "is_degenerate",
    "optimize_for_context",
    "parse_observer_output",
    "render_observations",
    "truncate_observations",
]

MAX_LINE_CHARS = 10_000
DEGENERATE_MIN_CHARS = 2_000
DEGENERATE_LINE_CHARS = 50_000
_WINDOW = 200
_SAMPLES = 50
_REPEAT_SHARE = 0.4

_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_TAG_NAMES = ("observations", "current-task", "suggested-response", "thread-title")
_BULLET = re.compile(r"^(\s*)(?:[*\-•]|\d+[.)])\s+(.*)$")
_DATE = re.compile(r"^\s*\**\s*date\s*:[\s*]*(.+?)[\s*]*$", re.I)
_ECHO = re.compile(
    r"(## (new message history|previous observations|your task|prior thread metadata|"
    r"observations to reflect on|specific guidance|compression)|<system-reminder|"
    r"=== custom instructions|output format \(use exactly|</?(observations|current-task|"
    r"suggested-response|thread-title)>)",
    re.I,
)
_EXAMPLE_LINES = {
    "user said they are allergic to peanuts.",
    "user asked for a dinner recipe; assistant suggested a thai curry without peanuts.",
    "-> assistant listed 4 ingredients: coconut milk, chicken, basil, rice",
    "recipe delivered; user confirmed it works for them.",
}


class ObservationParseError(ModelError):
    """The model's output could not be used (empty, malformed or degenerate).

    Attributes:
        reason: ``"empty"``, ``"degenerate"``, ``"no-observations"`` (no observation block and
            no observation line: malformed) or ``"nothing-new"`` (a well-formed reply whose
            lines all repeat the record or were dropped: a normal outcome, not a failure).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"unusable observer output ({reason}){': ' + detail if detail else ''}")
        self.reason = reason


class ObserverOutput(BaseModel):
    """Parsed Observer (or Reflector) output.

    Attributes:
        observations: Normalised, date-grouped observation lines.
        current_task: ``<current-task>`` text, if any.
        suggested_response: ``<suggested-response>`` text, if any.
        thread_title: ``<thread-title>`` text, if any (at most 80 characters).
        line_count: Observation lines (date headers excluded).
        dropped_lines: Lines removed as repeats or prompt echoes.
    """

    observations: str
    current_task: str | None = None
    suggested_response: str | None = None
    thread_title: str | None = None
    line_count: int = 0
    dropped_lines: int = 0


def is_degenerate(text: str) -> bool:
    """True for runaway, repetitive output (see the module docstring for the thresholds)."""
    if any(len(line) > DEGENERATE_LINE_CHARS for line in text.split("\n")):
        return True
    if len(text) < DEGENERATE_MIN_CHARS:
        return False
    span = len(text) - _WINDOW
    step = max(1, span // _SAMPLES)
    windows = [text[i : i + _WINDOW] for i in range(0, span + 1, step)][:_SAMPLES]
    repeated = sum(1 for w in windows if text.count(w) > 1)
    return repeated > _REPEAT_SHARE * len(windows)


def _tag(text: str, name: str) -> str | None:
    """Content of a line-anchored ``<name>`` block; unclosed blocks run to the next tag."""
    match = re.search(rf"^[ \t]*<{name}>[ \t]*(.*)$", text, re.M | re.I)
    if match is None:
        return None
    rest = text[match.start(1) :]
    end = re.search(rf"</{name}>", rest, re.I)
    if end is not None:
        return rest[: end.start()].strip()
    nxt = re.search(rf"^[ \t]*</?({'|'.join(_TAG_NAMES)})>", rest, re.M | re.I)
    return (rest[: nxt.start()] if nxt else rest).strip()


def _short(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = re.sub(r"\s+", " ", text).strip().strip("\"'")
    return text[:limit] if text else None


def _normalise(line: str) -> str | None:
    """``* <marker> text`` (or an indented ``  * -> text`` sub-bullet), or None to drop."""
    if not line.strip():
        return None
    echo = _ECHO.search(line)
    if echo:
        # a real observation followed by the echoed prompt ("... ## Your Task Write new ..."),
        # a habit of small models: keep the observation, drop the echo
        line = line[: echo.start()].rstrip()
        if not _WORD.search(_BULLET.sub(r"\2", line).lower()):
            return None
    date = _DATE.match(line)
    if date:
        return f"Date: {date.group(1).strip()}"
    match = _BULLET.match(line)
    indent, body = (match.group(1), match.group(2)) if match else ("", line.strip())
    body = body.strip()
    if not body:
        return None
    if len(body) > MAX_LINE_CHARS:
        body = body[:MAX_LINE_CHARS] + " [...]"
    plain = body
    for marker in PRIORITY_MARKERS:
        plain = plain.replace(marker, "")
    plain = re.sub(r"^\s*\(\d{1,2}:\d{2}\)\s*", "", plain).strip()
    if not plain or plain.lower() in _EXAMPLE_LINES:
        return None
    if len(indent.replace("\t", "  ")) >= 2:
        return f"  * {body}"
    if not body.startswith(PRIORITY_MARKERS):
        body = f"🟡 {body}"
    return f"* {body}"


_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = (
    "the a an and or but of to in on at for with from by about as is are was were be been it its this "
    "that these those they them their there then than user users assistant said stated asked told also "
    "very just some into over after before when what which who whom how why not no yes can could would "
    "should will shall may might has have had do does did done our your his her she he you we i me my "
    "mine"
)
_STOP = frozenset(_STOP_WORDS.split())
_META_WORDS = frozenset(
    [
        "observation",
        "observations",
        "note",
        "notes",
        "line",
        "lines",
        "message",
        "messages",
        "history",
        "task",
        "tasks",
        "added",
        "new",
        "above",
        "below",
        "output",
        "format",
        "previous",
    ]
)
_TIME = re.compile(r"\((\d{1,2}):(\d{1,2})\)")
_NEAR_DUPLICATE = 0.7
_ECHO_SIMILARITY = 0.5


def _words(text: str) -> frozenset[str]:
    """Content words: lower case, no stop words or bare numbers, at least 3 characters (or
    mixing letters and digits, like ``m0``)."""
    return frozenset(
        w
        for w in _WORD.findall(text.lower())
        if w not in _STOP and not w.isdigit() and (len(w) >= 3 or any(c.isdigit() for c in w))
    )


_EXAMPLE_WORDS = [_words(line) for line in _EXAMPLE_LINES]


def _prompt_sentences() -> list[frozenset[str]]:
    """Content words of every sentence of our own Observer and Reflector prompts (at least 3
    words each): small models paraphrase them back as observations ("Your new lines are
    appended after the previous ones")."""
    rendered = build_observer_messages("", "x", "x", "x", thread_title=True)
    rendered += build_reflector_messages("x", level=3, target_tokens=1)
    out: list[frozenset[str]] = []
    for message in rendered:
        for sentence in re.split(r"[.;:\n]+", message["content"]):
            words = _words(sentence)
            if len(words) >= 3 and words not in out:
                out.append(words)
    return out


_PROMPT_WORDS = _prompt_sentences()


def _echoes_prompt(words: frozenset[str]) -> bool:
    """Half or more of the line's content words (and of the sentence's) are one prompt sentence's."""
    return len(words) >= 3 and any(len(words & p) / len(words | p) >= _ECHO_SIMILARITY for p in _PROMPT_WORDS)


def _similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Jaccard similarity of content words, only for lines of at least 4 content words (short
    lines differ in a token or two and are compared exactly instead)."""
    return len(a) >= 4 and len(b) >= 4 and len(a & b) / len(a | b) >= threshold


def _content_key(line: str) -> str:
    key = line
    for marker in PRIORITY_MARKERS:
        key = key.replace(marker, "")
    key = re.sub(r"^[\s*\-]*\(\d{1,2}:\d{2}\)", "", key.strip())
    return re.sub(r"[\s*\-]+", " ", key).strip().lower()


def parse_observer_output(
    text: str | None,
    default_date: datetime | None = None,
    previous: Iterable[str] = (),
    source: str | None = None,
) -> ObserverOutput:
    """Parse a reply of the Observer or the Reflector.

    Besides exact repeats, a line is dropped when it has no content word or only words about
    the notes themselves ("Added a new observation"), an impossible time (``(34:59)``), is a
    near duplicate (70% of its content words shared) of an earlier line or of a previous
    observation, paraphrases the prompt's format example (50%), or, given ``source``, when none
    of its content words occurs in the source (small models invent such lines).

    Args:
        text: The model's reply.
        default_date: Date for a leading ``Date:`` header when the reply has none (the date of
            the newest observed message).
        previous: Existing observation lines; lines repeating them are dropped.
        source: The text the observations are about (the transcript, or the log a reflection
            condenses), for the grounding check.

    Raises:
        ObservationParseError: when the reply is empty, degenerate, or has no observation line.
    """
    if text is None or not text.strip():
        raise ObservationParseError("empty")
    text = _THINK.sub("", text)
    if is_degenerate(text):
        raise ObservationParseError("degenerate", f"{len(text)} characters of repetitive output")
    block = _tag(text, "observations")
    tagged = block is not None
    if block is None:
        block = "\n".join(
            ln
            for ln in text.split("\n")
            if _BULLET.match(ln) or _DATE.match(ln) or ln.strip().startswith(PRIORITY_MARKERS)
        )
    seen = {_content_key(p) for p in previous if p.strip() and not _DATE.match(p)}
    seen_words = [_words(p) for p in previous if p.strip() and not _DATE.match(p)]
    source_words = _words(source) if source is not None else None
    out: list[str] = []
    dropped = 0
    lines = 0
    last_header: str | None = None
    for raw in block.split("\n"):
        line = _normalise(raw)
        if line is None:
            dropped += 1 if raw.strip() else 0
            continue
        if line.startswith("Date:"):
            if out and out[-1].startswith("Date:"):
                out[-1] = line  # the previous date group was empty
            elif line != last_header:
                out.append(line)
            last_header = line
            continue
        key = _content_key(line)
        words = _words(key)
        time = _TIME.search(line)
        if (
            not words  # nothing but markers, times or stop words
            or words <= _META_WORDS  # talk about the notes themselves
            or (time is not None and (int(time.group(1)) > 23 or int(time.group(2)) > 59))
            or key in seen
            or any(_similar(words, w, _NEAR_DUPLICATE) for w in seen_words)
            or any(_similar(words, w, _ECHO_SIMILARITY) for w in _EXAMPLE_WORDS)
            or _echoes_prompt(words)
            or (source_words is not None and words and not words & source_words)
        ):
            dropped += 1
            continue
        seen.add(key)
        seen_words.append(words)
        out.append(line)
        lines += 1
    while out and out[-1].startswith("Date:"):
        out.pop()
    if lines == 0:
        if tagged or dropped:  # a well-formed reply with nothing new in it (e.g. after small talk)
            raise ObservationParseError("nothing-new", "no new observation lines")
        raise ObservationParseError("no-observations", "no observation lines found")
    if not out[0].startswith("Date:"):
        out.insert(0, f"Date: {format_date(default_date or datetime.now(UTC))}")
    return ObserverOutput(
        observations="\n".join(out),
        current_task=_short(_tag(text, "current-task"), 2_000),
        suggested_response=_short(_tag(text, "suggested-response"), 2_000),
        thread_title=_short(_tag(text, "thread-title"), 80),
        line_count=lines,
        dropped_lines=dropped,
    )


_RELATIVE_UNITS = ((365, "year"), (30, "month"), (7, "week"), (1, "day"))


def _relative(day: datetime, now: datetime) -> str:
    days = (now.date() - day.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    for size, unit in _RELATIVE_UNITS:
        if days >= size:
            n = days // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return f"{days} days ago"  # pragma: no cover


def optimize_for_context(observations: str, now: datetime | None = None) -> str:
    """Render observations for the agent: 🟡/🟢 markers and ``->`` arrows removed (🔴 and ✅
    kept), whitespace collapsed, repeated date headers merged, and each date annotated with
    its distance from ``now`` ("3 weeks ago")."""
    return render_observations(observations, now)[0]


def render_observations(
    observations: str, now: datetime | None = None, last_header: str | None = None
) -> tuple[str, str | None]:
    """:func:`optimize_for_context` that can continue a previous rendering: pass the last date
    label it ended with, get ``(text, last date label)`` back (appended observations are
    rendered alone and joined, so a turn never re-renders the whole log)."""
    now = now or datetime.now(UTC)
    out: list[str] = []
    for line in observations.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        date = _DATE.match(line) if "ate" in stripped[:8].lower() else None
        if date:
            label = date.group(1).strip()
            if label == last_header:
                continue
            last_header = label
            try:
                when = datetime.strptime(label, "%b %d, %Y").replace(tzinfo=UTC)
                out.append(f"Date: {label} ({_relative(when, now)})")
            except ValueError:
                out.append(f"Date: {label}")
            continue
        indent = "  " if line[0] in " \t" else ""
        body = " ".join(stripped.replace("🟡", "").replace("🟢", "").replace("->", "").split())
        if body in ("*", ""):
            continue
        out.append(f"{indent}{body}")
    return "\n".join(out), last_header


def truncate_observations(observations: str, max_tokens: int | bool, count: Callable[[str], int]) -> str:
    """Shorten observations shown to the Observer to about ``max_tokens``: the newest lines are
    kept, plus older 🔴 lines (with their date headers) while they fit.

    Args:
        observations: The full log.
        max_tokens: Budget; ``0`` returns ``""``, ``False`` returns the log unchanged.
        count: Token counter for a string.
    """
    if max_tokens is False or max_tokens is True:
        return observations
    if max_tokens <= 0:
        return ""
    if count(observations) <= max_tokens:
        return observations
    lines = observations.split("\n")
    tail: list[str] = []
    used = 0
    i = len(lines)
    while i > 0:
        cost = count(lines[i - 1]) + 1
        if used + cost > max_tokens * 0.75:
            break
        used += cost
        i -= 1
        tail.insert(0, lines[i])
    if tail and not tail[0].startswith("Date:"):
        header = next((ln for ln in reversed(lines[:i]) if ln.startswith("Date:")), None)
        if header:
            tail.insert(0, header)
    head: list[str] = []
    header_pending: str | None = None
    for line in lines[:i]:
        if line.startswith("Date:"):
            header_pending = line
            continue
        if "🔴" not in line:
            continue
        extra = [header_pending, line] if header_pending else [line]
        cost = sum(count(x) + 1 for x in extra)
        if used + cost > max_tokens:
            break
        used += cost
        head.extend(extra)
        header_pending = None
    marker = ["* [older observations omitted]"] if i > 0 else []
    return "\n".join(head + marker + tail)
