"""The exact CRM write of the selected approval, with why it was proposed and the evidence.

Every value comes from the CRM or an agent, so it is shown through ``clean`` as literal text:
markup stays brackets, escape sequences become visible, bodies keep their lines. Records are
named (the id short and secondary), evidence is in words, and a record with a page in Zoho's
web UI says so (the queue's ``o`` key opens the account's page).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from sergas_tui.viewmodels.approval_preview import conflict_values
from sergas_tui.viewmodels.approvals import QueueItem, outcome_lines, status_sentence
from sergas_tui.widgets.text import clean

_INDENT = "  "


def _field(text: Text, label: str, value: str, *, multiline: bool) -> None:
    text.append(f"{label}: ", style="bold")
    if not multiline:
        text.append(clean(value, single_line=True))
        text.append("\n")
        return
    text.append("\n")
    for line in clean(value).splitlines() or [""]:
        text.append(f"{_INDENT}{line}\n")


def render_item(item: QueueItem, seconds_left: int | None = None) -> Text:
    """The preview of ``item`` as literal Rich text."""
    approval = item.approval
    preview = item.preview
    text = Text()
    text.append(f"{item.type_label.upper()}", style="bold reverse")
    label = item.account_label or item.account_name
    text.append(f"  {clean(label, single_line=True)}\n", style="bold")
    if item.owner_label:  # a manager's team view: whose item it is
        text.append("Owner: ", style="dim")
        text.append(clean(item.owner_label, single_line=True) + "\n")
    text.append("At stake: ", style="dim")
    text.append(f"{item.value_text} in open deals\n")
    text.append(clean(preview.heading, single_line=True) + "\n", style="italic")
    text.append("Module: ", style="dim")
    text.append(preview.module)
    text.append("   Record: ", style="dim")
    text.append(clean(preview.record, single_line=True) + "\n\n")
    for entry in preview.fields:
        _field(text, entry.label, entry.value, multiline=entry.multiline)
    for change in preview.changes:
        text.append(f"{clean(change.field, single_line=True)}: ", style="bold")
        text.append(clean(change.old, single_line=True), style="strike dim")
        text.append(" → ")
        text.append(clean(change.new, single_line=True) + "\n", style="bold")
    if preview.also:
        text.append("\nAlso written with this decision:\n", style="bold")
        for line in preview.also:
            text.append(f"{_INDENT}- {clean(line, single_line=True)}\n")
    current = conflict_values(approval)
    if current:
        text.append("\nThe CRM's current values:\n", style="bold")
        for name, value in current:
            text.append(
                f"{_INDENT}{clean(name, single_line=True)}: {clean(value, single_line=True)}\n"
            )
    text.append("\nWhy", style="bold")
    priority = item.priority or "unknown"
    confidence = item.confidence or "unknown"
    text.append(f"  priority {priority} · confidence {confidence}\n", style="dim")
    text.append(clean(item.rationale or "(the recommendation is no longer stored)") + "\n")
    if item.evidence:
        text.append("\nEvidence\n", style="bold")
        for evidence in item.evidence:
            text.append(f"{_INDENT}- {clean(evidence.text, single_line=True)}")
            text.append(" ↗\n" if evidence.url else "\n", style="dim")
    if item.account_url:
        text.append("\nIn Zoho: ", style="dim")
        text.append(clean(item.account_url, single_line=True), style="underline")
        text.append(" (o opens it)\n", style="dim")
    text.append("\nStatus: ", style="bold")
    text.append(status_sentence(approval, seconds_left) + "\n")
    for line in outcome_lines(approval, item.names):
        text.append(clean(line, single_line=True) + "\n")
    text.rstrip()
    return text


class WritePreview(VerticalScroll):
    """Shows one queue item; the screen calls :meth:`show` when the selection changes."""

    DEFAULT_CSS = """
    WritePreview {
        padding: 0 1;
    }
    WritePreview > #write-preview-body {
        width: 1fr;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("Nothing selected.", id="write-preview-body", markup=False)

    def show(self, item: QueueItem | None, seconds_left: int | None = None) -> None:
        body = self.query_one("#write-preview-body", Static)
        if item is None:
            body.update("Nothing selected.")
            return
        body.update(render_item(item, seconds_left))
