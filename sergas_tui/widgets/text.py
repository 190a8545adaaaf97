"""Render CRM text as data: never as Rich markup, never as terminal control sequences."""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls except tab and newline, DEL, and C1 controls (which include CSI and OSC).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embedding/override/isolate controls can visually reorder neighbouring columns.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def clean(value: object, *, single_line: bool = False, limit: int | None = None) -> str:
    """Make any CRM value safe to show: control characters become visible, nothing executes."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    text = _BIDI_CONTROL.sub("", text)
    if single_line:
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return text


def safe_text(
    value: object, *, style: str = "", single_line: bool = True, limit: int | None = None
) -> Text:
    """A Rich Text holding ``value`` literally (square brackets stay brackets)."""
    return Text(clean(value, single_line=single_line, limit=limit), style=style)
