"""Dates named in a recall query, as periods that message times can fall into.

Semantic recall boosts the messages written during a period the query names ("what did I cook
in May 2023?", "on 3 June, 2023", "last week"): neither the embedding nor the keyword index
knows a message's time, but its ``created_at`` does. :func:`query_periods` finds the periods,
:func:`in_any_period` tests a message time against them.

Recognised (English, case-insensitive):

* a day: ``2023-05-03``, ``3 May 2023``, ``3rd of May, 2023``, ``May 3, 2023``, ``May 3rd 2023``;
* a day in any year: ``May 3`` / ``3 May`` without a year;
* a month: ``May 2023``, ``May, 2023``; in any year: ``in May``, ``during May``, ``of May``,
  ``last May`` (a bare month name needs one of ``in during of since until last early mid
  late`` before it, so the verb in "this may help" is not a month);
* a year: ``in 2023``, ``during 2023``, ``of 2023``, ``since 2023``, ``year 2023``;
* relative to ``now``: ``today``, ``yesterday``, ``last night``, ``this/last week``,
  ``this/last weekend``, ``this/last month``, ``this/last year``, ``N days/weeks/months/years
  ago`` (N a digit or a word up to twelve, or ``a``); dropped when the query also names an
  absolute date ("the weekend before 10 April 2023" is not relative to now).

Messages talk about an event after it happened ("we went camping last weekend"), so a message
time matches a period from its start until :data:`SLACK` after its end. Nothing here reads the
clock except through the ``now`` argument.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["SLACK", "Period", "in_any_period", "query_periods"]

SLACK = timedelta(days=7)
"""How long after a period a message about it may be written (LoCoMo sessions mention events
of the past week as "last Friday", "last weekend")."""

_MONTHS: dict[str, int] = {}
for _i in range(1, 13):
    _MONTHS[calendar.month_name[_i].lower()] = _i
    _MONTHS[calendar.month_abbr[_i].lower()] = _i
_MONTHS["sept"] = 9

_MON = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_COUNT = r"(?P<n>\d{1,3}|" + "|".join(_NUMBERS) + ")"

# Most specific first; each match blanks its span so a shorter pattern cannot match it again.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mon>[01]\d)-(?P<day>[0-3]\d)\b")),
    ("day", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}\b")),
    ("day", re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b")),
    ("month", re.compile(rf"\b{_MON},?\s+{_YEAR}\b")),
    ("yday", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON}(?![a-z])")),
    ("yday", re.compile(rf"\b{_MON}\s+{_DAY}(?![\d:])\b")),
    ("ymonth", re.compile(rf"\b(?:in|during|of|since|until|last|early|mid|late)\s+{_MON}(?![a-z])")),
    ("year", re.compile(rf"\b(?:in|during|of|since|year)\s+{_YEAR}\b")),
    ("ago", re.compile(rf"\b{_COUNT}\s+(?P<unit>day|week|month|year)s?\s+ago\b")),
    ("rel", re.compile(r"\b(?P<rel>today|tonight|yesterday|last night|(?:this|last) (?:weekend|week|month|year))\b")),
]


@dataclass(frozen=True)
class Period:
    """A time span named by a query.

    Either an absolute half-open UTC interval ``[start, end)``, or a month (and day) in any
    year (``month`` set, ``start``/``end`` ``None``).

    Attributes:
        start: First instant (aware, UTC), or ``None`` for a recurring period.
        end: First instant after the period, or ``None``.
        month: 1-12 for a recurring period.
        day: Day of the month for a recurring day, else ``None``.
    """

    start: datetime | None = None
    end: datetime | None = None
    month: int | None = None
    day: int | None = None

    def contains(self, when: datetime, slack: timedelta = SLACK) -> bool:
        """Whether a message written at ``when`` may be about this period.

        True from the period's start until ``slack`` after its end (a recurring period: in
        that month/day of ``when``'s year or of the year before, for a January message about
        December).
        """
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        if self.start is not None and self.end is not None:
            return self.start <= when < self.end + slack
        assert self.month is not None
        for year in (when.year, when.year - 1):
            start, end = _span(year, self.month, self.day)
            if start is not None and start <= when < end + slack:
                return True
        return False


def _span(year: int, month: int, day: int | None) -> tuple[datetime | None, datetime]:
    if day is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    if day < 1 or day > calendar.monthrange(year, month)[1]:
        return None, datetime(year, month, 1, tzinfo=UTC)
    start = datetime(year, month, day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _month(text: str) -> int:
    return int(text) if text.isdigit() else _MONTHS[text.rstrip(".")]


def _relative(rel: str, today: datetime) -> Period:
    day = timedelta(days=1)
    if rel in ("today", "tonight"):
        return Period(today, today + day)
    if rel in ("yesterday", "last night"):
        return Period(today - day, today)
    which, unit = rel.split()
    this = which == "this"
    if unit == "weekend":  # Saturday and Sunday: the latest one begun ("last": before it on a weekend)
        start = today - timedelta(days=(today.weekday() - 5) % 7)
        weekend_now = today.weekday() >= 5
        if this and not weekend_now:
            start += timedelta(days=7)  # on a weekday "this weekend" is the coming one
        elif not this and weekend_now:
            start -= timedelta(days=7)
        return Period(start, start + 2 * day)
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, today + day) if this else Period(monday - timedelta(days=7), monday)
    if unit == "month":
        first = today.replace(day=1)
        if this:
            return Period(first, today + day)
        prev = (first - day).replace(day=1)
        return Period(prev, first)
    first = today.replace(month=1, day=1)
    return Period(first, today + day) if this else Period(first.replace(year=first.year - 1), first)


def _ago(n: int, unit: str, today: datetime) -> Period:
    if unit == "day":
        start = today - timedelta(days=n)
        return Period(start, start + timedelta(days=1))
    if unit == "week":
        start = today - timedelta(days=7 * n)
        return Period(start - timedelta(days=3), start + timedelta(days=4))
    if unit == "month":
        months = today.year * 12 + today.month - 1 - n
        start = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
        return Period(start, _span(start.year, start.month, None)[1])
    start = datetime(today.year - n, 1, 1, tzinfo=UTC)
    return Period(start, start.replace(year=start.year + 1))


def query_periods(query: str, now: datetime | None = None) -> list[Period]:
    """The periods a query names, in the order found (none for most queries).

    Args:
        query: The recall query.
        now: The reference time for relative expressions ("last week"; default: the current
            time, UTC).

    Returns:
        The periods; impossible dates ("31 February 2023") are skipped.
    """
    text = query.lower()
    ref = (now or datetime.now(UTC)).astimezone(UTC)
    today = ref.replace(hour=0, minute=0, second=0, microsecond=0)
    found: list[tuple[int, bool, Period]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            period = _period(kind, m, today)
            if period is not None:
                found.append((m.start(), kind in ("ago", "rel"), period))
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    if not all(relative for _, relative, _ in found):  # "the weekend before 10 April 2023": not now's
        found = [item for item in found if not item[1]]
    return [p for _, _, p in sorted(found, key=lambda item: item[0])]


def _period(kind: str, m: re.Match[str], today: datetime) -> Period | None:
    groups = m.groupdict()
    if kind in ("iso", "day", "month"):
        month = _month(groups["mon"])
        if not 1 <= month <= 12:
            return None
        start, end = _span(int(groups["year"]), month, int(groups["day"]) if groups.get("day") else None)
        return Period(start, end) if start is not None else None
    if kind == "yday":
        month, day = _month(groups["mon"]), int(groups["day"])
        return Period(month=month, day=day) if 1 <= day <= calendar.monthrange(2024, month)[1] else None
    if kind == "ymonth":
        return Period(month=_month(groups["mon"]))
    if kind == "year":
        year = int(groups["year"])
        return Period(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    if kind == "ago":
        count = groups["n"]
        return _ago(int(count) if count.isdigit() else _NUMBERS[count], groups["unit"], today)
    return _relative(groups["rel"], today)


def in_any_period(when: datetime, periods: Sequence[Period], slack: timedelta = SLACK) -> bool:
    """Whether ``when`` falls in (or up to ``slack`` after) any of ``periods``."""
    return any(p.contains(when, slack) for p in periods)
