"""Prompt text for the Observer, the Reflector and the agent's context, written for this project.

The structure follows the original's design (reference section 5.4-5.6): the Observer turns a
transcript into a date-grouped, time-stamped, priority-marked log plus the current task and a
suggested response; the Reflector condenses the log at escalating compression levels; the
agent sees the log in a system message followed by a continuation reminder. The wording is our
own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from mastra_memory.types import FilePart, Message, ReasoningPart, TextPart, ToolInvocationPart

__all__ = [
    "CONTINUATION_REMINDER",
    "PRIORITY_MARKERS",
    "build_observer_messages",
    "build_reflector_messages",
    "context_system_message",
    "format_date",
    "format_transcript",
]

PRIORITY_MARKERS = ("🔴", "🟡", "🟢", "✅")

_FORMAT = """Output format (use exactly these tags, each on its own line):
<observations>
Date: Jan 5, 2025
* 🔴 (14:02) User said they are allergic to peanuts.
* 🟡 (14:05) User asked for a dinner recipe; assistant suggested a Thai curry without peanuts.
  * -> assistant listed 4 ingredients: coconut milk, chicken, basil, rice
* ✅ (14:09) Recipe delivered; user confirmed it works for them.
</observations>
<current-task>
Primary: what the user is working on right now (say "waiting for user" if nothing is open).
</current-task>
<suggested-response>
One or two sentences on how the assistant should continue.
</suggested-response>"""

_OBSERVER_RULES = """You are the memory of an AI assistant. You read a stretch of conversation \
and write down what is worth remembering. Your notes will be the assistant's only memory of \
this conversation once the messages themselves are gone, so they must stand on their own.

How to write observations:
- One fact per line. Start each line with a priority marker and the message time (HH:MM):
  🔴 facts the user stated about themselves, their preferences, goals, constraints, decisions
     and anything the assistant must not forget;
  🟡 useful details: what was discussed, learned, tried, or returned by tools;
  🟢 minor or uncertain details;
  ✅ something that was finished or answered (say what it resolved).
- Group lines under a "Date: Mon D, YYYY" line for the day the messages were sent.
- Tell statements from questions: "User stated ..." is a fact; "User asked ..." is a request.
- When the user changes something said earlier, write the new state and that it replaces the old.
- Resolve relative dates when you can: "next Friday (meaning Jan 10, 2025)".
- Keep names, numbers, quantities, places, titles, handles and exact wording that matters.
- Record short user messages almost word for word.
- For tool use, say which tool was called, why, and what came back.
- Be terse: 1-5 lines per exchange. Never repeat earlier observations you are shown.
- Do not record these instructions, system reminders, or anything that is not conversation."""

_CONTEXT_PREAMBLE_THREAD = (
    "The observations below are your memory of the earlier part of this conversation. The "
    "messages they came from are no longer shown to you. Reuse names, ids and results noted "
    "in them instead of asking again."
)
_CONTEXT_PREAMBLE_RESOURCE = (
    "The observations below are your memory of past conversations with this user, across all "
    "of their threads. The messages they came from are no longer shown to you."
)
_CONTEXT_GUIDE = """How to use them:
- Personalise your replies with what you know about the user.
- When two observations disagree, the newer one wins.
- What the user stated is authoritative; what the assistant suggested is not a fact.
- A planned action whose date has passed probably happened.
- The user's latest message decides what to answer.
- Messages wrapped in <system-reminder> are internal notes, not from the user."""

CONTINUATION_REMINDER = (
    "<system-reminder>Earlier messages of this conversation were condensed into your "
    "observations. Continue naturally from the latest message below, using the observations as "
    "background and the suggested response as a hint. Do not mention memory, notes or "
    "summaries; newer messages take priority over observations.</system-reminder>"
)


def format_date(value: datetime) -> str:
    """``Jan 5, 2025``."""
    return f"{value:%b} {value.day}, {value.year}"


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%M")


def _shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]} [... {len(text) - 2 * half} characters omitted ...] {text[-half:]}"


def _json(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


TEMPORAL_GAP_SECONDS = 600
"""The smallest pause between two messages that the Observer's transcript marks (10 minutes)."""


def format_gap(seconds: float) -> str:
    """A pause for a temporal marker: ``"[2 hours 5 minutes later]"`` (days, hours, minutes)."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute")) if n
    ]
    return f"[{' '.join(parts)} later]"


def format_transcript(
    messages: Sequence[Message], max_message_chars: int = 40_000, temporal_markers: bool = True
) -> str:
    """Render messages for the Observer: a ``Mon D YYYY:`` header whenever the date changes,
    then ``Role (HH:MM): text`` lines; tool calls and results on their own lines.

    Args:
        messages: Messages, oldest first.
        max_message_chars: Longer message texts keep their head and tail (about 4 characters
            per token, so 40,000 characters is the 10,000-token cap of the original).
        temporal_markers: Mark a pause of :data:`TEMPORAL_GAP_SECONDS` (10 minutes) or more
            between two messages with a ``[... later]`` line, so the Observer can tell sessions
            apart.
    """
    lines: list[str] = []
    last_date: str | None = None
    previous: Message | None = None
    for m in messages:
        when = m.created_at.astimezone(UTC)
        if temporal_markers and previous is not None:
            gap = (m.created_at - previous.created_at).total_seconds()
            if gap >= TEMPORAL_GAP_SECONDS:
                lines.append(format_gap(gap))
        previous = m
        day = f"{when:%b} {when.day} {when.year}"
        if day != last_date:
            lines.append(f"{day}:")
            last_date = day
        role = {"user": "User", "assistant": "Assistant", "tool": "Tool", "system": "System"}[m.role]
        pieces: list[str] = []
        for part in m.content.parts:
            if isinstance(part, TextPart) and part.text.strip():
                pieces.append(part.text.strip())
            elif isinstance(part, ToolInvocationPart):
                pieces.append(f"Tool Call {part.tool_name}: {_json(part.args)}")
                if part.state == "result":
                    pieces.append(f"Tool Result {part.tool_name}: {_json(part.result)}")
            elif isinstance(part, ReasoningPart) and part.text.strip():
                pieces.append(f"Reasoning: {part.text.strip()}")
            elif isinstance(part, FilePart):
                pieces.append(f"[File: {part.filename or part.mime_type}]")
        if not pieces:
            continue
        body = _shorten("\n".join(pieces), max_message_chars)
        lines.append(f"{role} ({_time(when)}): {body}")
    return "\n".join(lines)


def build_observer_messages(
    transcript: str,
    previous_observations: str,
    prior_task: str | None = None,
    prior_suggestion: str | None = None,
    buffered: bool = False,
    thread_title: bool = False,
    instruction: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages for one Observer call.

    Args:
        transcript: :func:`format_transcript` output of the messages to observe.
        previous_observations: Existing observations (possibly truncated) to avoid repeating.
        prior_task: The current task noted last time.
        prior_suggestion: The suggested response noted last time.
        buffered: A background call: do not ask for current task / suggested response (they
            would be stale by the time the observations are activated).
        thread_title: Ask for a ``<thread-title>`` (a 2-5 word noun phrase).
        instruction: Custom instructions appended to the system prompt.
    """
    system = f"{_OBSERVER_RULES}\n\n{_FORMAT}"
    if thread_title:
        system += "\n<thread-title>\nA 2-5 word title for the conversation.\n</thread-title>"
    if instruction:
        system += f"\n\n=== CUSTOM INSTRUCTIONS ===\n{instruction.strip()}"
    parts = [f"## New Message History to Observe\n\n{transcript}"]
    if previous_observations.strip():
        parts.append(
            "## Previous Observations\n\nAlready recorded; do not repeat them, your new lines are "
            f"appended after them:\n\n{previous_observations.strip()}"
        )
    if prior_task or prior_suggestion:
        meta = []
        if prior_task:
            meta.append(f"Current task so far: {prior_task}")
        if prior_suggestion:
            meta.append(f"Suggested response so far: {prior_suggestion}")
        parts.append("## Prior Thread Metadata\n\n" + "\n".join(meta))
    task = "## Your Task\n\nWrite new observations for the message history above, in the output format."
    if buffered:
        task += " Only write <observations>; leave out <current-task> and <suggested-response>."
    parts.append(task)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


_COMPRESSION = {
    0: "",
    1: "Compress slightly more than usual: aim for about 8/10 of the detail.",
    2: "Compress aggressively: aim for about 6/10 of the detail. Merge related lines and drop procedural steps.",
    3: "Compress hard, the log is far too long: summarise the oldest 50-70% into a few short "
    "paragraphs per date, keep only 🔴 facts and final outcomes there, about 4/10 of the detail. "
    "Keep the newest part detailed.",
}


def build_reflector_messages(
    observations: str, level: int = 0, target_tokens: int | None = None, instruction: str | None = None
) -> list[dict[str, str]]:
    """Chat messages for one Reflector call.

    Args:
        observations: The observation log to condense.
        level: Compression level 0-3 (none, slight, aggressive, critical).
        target_tokens: The size the result must stay under, if any.
        instruction: Custom guidance.
    """
    system = (
        "You maintain the long-term memory of an AI assistant. The memory is a log of "
        "observations written by an observer that followed these rules:\n\n"
        f"{_OBSERVER_RULES}\n\n"
        "Your job: rewrite the whole log into a shorter, better organised version. Your output "
        "replaces the log entirely, so anything you leave out is forgotten.\n"
        "- Keep every date and time; keep the Date: groups in order.\n"
        "- Merge lines about the same thing; keep the newest state when facts changed.\n"
        "- Keep ✅ lines with what they resolved; keep all 🔴 facts.\n"
        "- Condense older material more than recent material.\n"
        "- What the user stated outranks later questions or assistant suggestions.\n"
        "- Note if the assistant drifted from the user's task and how to get back.\n\n"
        f"{_FORMAT}"
    )
    user = f"## OBSERVATIONS TO REFLECT ON\n\n{observations.strip()}\n\n"
    user += "Write the refined, condensed observation log in the output format."
    if target_tokens:
        user += f" Stay well under {target_tokens} tokens."
    if instruction:
        user += f"\n\n## SPECIFIC GUIDANCE\n\n{instruction.strip()}"
    guidance = _COMPRESSION.get(max(0, min(level, 3)), "")
    if guidance:
        user += f"\n\n## COMPRESSION\n\n{guidance}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def context_system_message(
    observations: str,
    scope: str = "thread",
    current_task: str | None = None,
    suggested_response: str | None = None,
    other_threads: str | None = None,
) -> str:
    """The system message the agent sees each turn (observations already optimised)."""
    preamble = _CONTEXT_PREAMBLE_RESOURCE if scope == "resource" else _CONTEXT_PREAMBLE_THREAD
    parts = [preamble, f"<observations>\n{observations.strip()}\n</observations>", _CONTEXT_GUIDE]
    if other_threads:
        parts.append(
            "START_OTHER_CONVERSATIONS_BLOCK\nRecent messages from the user's other conversations, "
            "not yet in the observations (for reference only; do not answer them):\n"
            f"{other_threads}\nEND_OTHER_CONVERSATIONS_BLOCK"
        )
    if current_task:
        parts.append(f"<current-task>\n{current_task.strip()}\n</current-task>")
    if suggested_response:
        parts.append(f"<suggested-response>\n{suggested_response.strip()}\n</suggested-response>")
    return "\n\n".join(parts)
