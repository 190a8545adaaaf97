"""What Zoho accepts in the fields our writes fill, checked before an edited action is stored.

Zoho refuses a record with a blank mandatory field (``MANDATORY_NOT_FOUND``), a picklist value
that is not exactly one of the list's, or a text longer than its field type takes
(``INVALID_DATA`` with ``maximum_length``): single-line text takes 255 characters, multi-line
(large) text such as a task's ``Description`` or a note's ``Note_Content`` 32,000. An adjusted
action that Zoho would refuse must not be stored as approved (it would fail at execution and
could not be adjusted again), so :func:`action_problems` lists every such problem, field by
field, in words a person can act on. Dates must not lie in the past.

Texts must hold no control characters (escape sequences, bells, carriage returns…) and no
bidirectional-text controls: written to the CRM they would recolour or clear the terminal of
whoever reads the record there, or reorder what it says, while Sergas's own views drop them (so
the owner would approve text that is not what is written). Line breaks and tabs are text in a
multi-line field (a body, a description, a note's content); a single-line field takes neither.
Markup-looking text such as ``[bold red]`` is ordinary text and stays allowed: every view
prints it literally.

Pure: the caller says what day it is. ``ApprovalService`` (every adjustment: CLI, TUI and web
approval page), the TUI's adjust form and the web page's form use it through
:func:`sergas_tui.approvals.service.payload_problems`.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import JsonValue

from sergas_tui.domain.outputs import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    SuggestedAction,
    UpdateAccountAction,
)
from sergas_tui.domain.picklists import TASK_PRIORITIES

SINGLE_LINE_MAX = 255
"""Characters a Zoho single-line text field takes (a task's ``Subject``, a note's title)."""

MULTI_LINE_MAX = 32_000
"""Characters a Zoho multi-line (large) text field takes (``Description``, ``Note_Content``)."""

MARKER_ROOM = 100
"""Characters kept free in a multi-line field for Sergas's marker ``[sergas:<approval id>]``
(and the line breaks before it), which the executor appends to what it writes."""

TEXT_MAX = MULTI_LINE_MAX - MARKER_ROOM
"""The longest text a person may put in a field that is written with the marker."""


SINGLE_LINE_ACCOUNT_FIELDS = frozenset(
    {
        "Account_Name",
        "Account_Number",
        "Account_Site",
        "Account_Type",
        "Industry",
        "Ownership",
        "Phone",
        "Fax",
        "Rating",
        "Ticker_Symbol",
        "Website",
    }
)
"""Standard Accounts fields of single-line type (other fields may be multi-line)."""

_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_CONTROLS}]")
"""What a single-line text may not hold: C0 and C1 controls (line breaks and tabs included),
DEL, and the bidirectional marks, embeddings, overrides and isolates."""
_MULTI_LINE_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_CONTROLS}]|\r(?!\n)")
"""What a multi-line text may not hold: the same, less line feed and tab (a CR LF pair, as a
browser sends a text area's line breaks, counts as one line break)."""
_NAMED = {
    "\x1b": "an escape character (U+001B)",
    "\x9b": "a control sequence introducer (U+009B)",
    "\x07": "a bell character (U+0007)",
    "\x00": "a NUL character (U+0000)",
    "\r": "a carriage return (U+000D)",
    "\n": "a line break (U+000A)",
    "\t": "a tab (U+0009)",
}


def _chars(count: int) -> str:
    return f"{count:,} character{'' if count == 1 else 's'}"


def _described(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = f"U+{ord(char):04X}"
    if re.fullmatch(f"[{_BIDI_CONTROLS}]", char):
        return f"a bidirectional-text control ({code}, which reorders how the text reads)"
    return f"a control character ({code})"


def character_problem(name: str, value: str | None, *, multiline: bool = False) -> str | None:
    """``name: …`` when ``value`` holds a control or bidirectional-text character (for a
    ``multiline`` text, line breaks and tabs are allowed), naming the first and where it is."""
    if not value:
        return None
    found = (_MULTI_LINE_UNSAFE if multiline else _SINGLE_LINE_UNSAFE).search(value)
    if found is None:
        return None
    char = found.group()
    where = f"{name}: contains {_described(char)} at character {found.start() + 1}"
    if char in "\n\t":
        return f"{where}; this field is one line, remove it"
    why = "control, escape and bidirectional-text characters cannot be written to the CRM"
    return f"{where}; {why}, remove them" + (
        " (line breaks and tabs are fine)" if multiline else ""
    )


def text_problem(
    name: str,
    value: str | None,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """``name: …`` when ``value`` is blank though required, holds a control character (see
    :func:`character_problem`; line breaks and tabs allowed when ``multiline``), or is longer
    than ``limit``."""
    if value is None or not value.strip():
        return f"{name}: must not be empty" if required else None
    if (problem := character_problem(name, value, multiline=multiline)) is not None:
        return problem
    if len(value) > limit:
        return f"{name}: is {_chars(len(value))} long; Zoho takes at most {_chars(limit)}"
    return None


def priority_problem(value: str | None) -> str | None:
    """A task priority must be exactly one of :data:`TASK_PRIORITIES` (or none at all)."""
    if value is None or value in TASK_PRIORITIES:
        return None
    shown = value if len(value) <= 40 else value[:39] + "…"
    problem = (
        f"priority: use one of {', '.join(TASK_PRIORITIES)} (or leave it empty), not {shown!r}"
    )
    near = [p for p in TASK_PRIORITIES if p.lower() == value.strip().lower()]
    return f"{problem} — did you mean {near[0]!r}?" if near else problem


def date_problem(name: str, value: dt.date | None, today: dt.date | None) -> str | None:
    """A date before ``today`` (when known) is refused."""
    if value is None or today is None or value >= today:
        return None
    return (
        f"{name}: {value.isoformat()} is in the past (today is {today.isoformat()}); use today "
        "or a later date, or leave it empty"
    )


def _value_problem(field: str, value: JsonValue) -> str | None:
    single = field in SINGLE_LINE_ACCOUNT_FIELDS
    name = f"{field} (new value)"
    if isinstance(value, list):  # a multi-select picklist: each choice is one line
        for item in value:
            if isinstance(item, str) and (problem := character_problem(name, item)) is not None:
                return problem
        return None
    if not isinstance(value, str):
        return None
    limit = SINGLE_LINE_MAX if single else MULTI_LINE_MAX
    return text_problem(name, value, limit, multiline=not single)


def _update_problems(action: UpdateAccountAction) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for change in action.field_changes:
        field = change.field
        if not _API_NAME.fullmatch(field):
            shown = field if len(field) <= 40 else field[:39] + "…"
            problems.append(
                f"field_changes: {shown!r} is not a Zoho field API name (letters, digits and "
                "underscores, starting with a letter, e.g. Rating)"
            )
            continue
        if field in seen:
            problems.append(f"field_changes: {field} is changed twice; keep one change")
        seen.add(field)
        if (problem := _value_problem(field, change.new)) is not None:
            problems.append(problem)
    return problems


def action_problems(action: SuggestedAction, *, today: dt.date | None = None) -> list[str]:
    """Everything Zoho would refuse in ``action`` (empty when it can be written).

    Each problem names the payload field first (``subject: must not be empty``). ``today``
    enables the "not in the past" check of dates.
    """
    found: list[str | None] = []
    if isinstance(action, CreateTaskAction):
        found += [
            text_problem("subject", action.subject, SINGLE_LINE_MAX, required=True),
            date_problem("due_date", action.due_date, today),
            priority_problem(action.priority),
            text_problem("description", action.description, TEXT_MAX, multiline=True),
        ]
    elif isinstance(action, FollowUpEmailAction):
        found += [
            text_problem("recipient", action.recipient, SINGLE_LINE_MAX),
            text_problem("subject", action.subject, SINGLE_LINE_MAX, required=True),
            text_problem("draft_body", action.draft_body, TEXT_MAX, required=True, multiline=True),
        ]
        found += [
            text_problem(f"next_steps[{n}]", step, SINGLE_LINE_MAX)
            for n, step in enumerate(action.next_steps)
        ]
    elif isinstance(action, AddNoteAction):
        found += [
            text_problem("title", action.title, SINGLE_LINE_MAX, required=True),
            text_problem("content", action.content, TEXT_MAX, required=True, multiline=True),
        ]
    elif isinstance(action, EscalationAction):
        found += [
            text_problem("escalate_to", action.escalate_to, SINGLE_LINE_MAX, required=True),
            text_problem("reason", action.reason, TEXT_MAX, required=True, multiline=True),
        ]
    else:
        found += _update_problems(action)
    return [problem for problem in found if problem is not None]


__all__ = [
    "MARKER_ROOM",
    "MULTI_LINE_MAX",
    "SINGLE_LINE_ACCOUNT_FIELDS",
    "SINGLE_LINE_MAX",
    "TEXT_MAX",
    "action_problems",
    "character_problem",
    "date_problem",
    "priority_problem",
    "text_problem",
]
