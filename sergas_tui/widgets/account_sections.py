"""Rich renderings of the account detail's text sections (overview, changes, memory, actions).

Every value that may come from the CRM, the memory or an agent goes through ``safe_text`` so
it is shown literally; only our own labels carry styles.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from sergas_tui.viewmodels.account import AccountDetail
from sergas_tui.viewmodels.account_format import risk_label
from sergas_tui.viewmodels.account_rows import ChangeRow
from sergas_tui.viewmodels.mutes import MutedRow
from sergas_tui.viewmodels.portfolio_rows import PortfolioRow
from sergas_tui.widgets.text import safe_text

LABEL_WIDTH = 16
RATIONALE_LIMIT = 400
STATUS_STYLES = {
    "pending": "bold",
    "approved": "green",
    "adjusted": "green",
    "executing": "cyan",
    "executed": "green",
    "rejected": "dim",
    "expired": "dim",
    "failed": "bold red",
    "conflict": "bold yellow",
    "queued": "dim italic",
}
PRIORITY_STYLES = {"critical": "bold red", "high": "bold red", "medium": "yellow", "low": "dim"}


def _heading(text: Text, title: str, *, first: bool = False) -> None:
    if not first:
        text.append("\n")
    text.append(f"{title}\n", style="bold underline")


def _lines(parts: Iterable[Text]) -> Text:
    return Text("\n").join(parts)


def _fields(text: Text, rows: Iterable[tuple[str, str]]) -> None:
    for label, value in rows:
        text.append(f"{label:<{LABEL_WIDTH}}", style="dim")
        text.append_text(safe_text(value))
        text.append("\n")


def overview_text(detail: AccountDetail) -> Text:
    """At a glance, the account's fields, the description (folded) and the risk signals."""
    text = Text()
    _fields(text, detail.glance)
    _heading(text, "Account")
    _fields(text, [("Owner", detail.owner or "—"), *detail.overview])
    if detail.description.preview:
        _heading(text, "Description")
        text.append_text(safe_text(detail.description.preview, single_line=False))
        if detail.description.foldable:
            text.append(f"\n{detail.description.more_text}", style="dim")
        text.append("\n")
    _heading(text, f"Risk signals ({detail.reviewed})")
    if not detail.signals:
        if detail.muted:
            text.append("No other risk signals.", style="dim")
        else:
            text.append("No risk signals." if detail.risk_level != "not reviewed" else "—")
    else:
        text.append_text(_lines(Text("• ").append_text(safe_text(s)) for s in detail.signals))
    if detail.muted:
        text.append("\n")
        _heading(text, "Snoozed or dismissed")
        text.append_text(_lines(_muted_line(row) for row in detail.muted))
    return text


def preview_risk(row: PortfolioRow) -> tuple[str, str]:
    """The risk badge's text and level class suffix for an account known by its row."""
    level = row.risk_level if row.risk_level in ("high", "medium", "low", "none") else "unknown"
    return risk_label(row.risk_level), level


def preview_text(row: PortfolioRow) -> Text:
    """What the portfolio row already says about an account, shown while its detail loads."""
    text = Text()
    _fields(
        text,
        [
            ("Owner", row.owner_name or "—"),
            ("Industry", row.industry or "—"),
            ("Open pipeline", row.pipeline_text),
            ("Quiet", row.activity_text),
            ("Top signal", row.top_signal or "—"),
        ],
    )
    return text


def _muted_line(row: MutedRow) -> Text:
    """``• Gone quiet: Snoozed until 2027-01-10 — on holiday (by Ana <ana@…>)``, dimmed."""
    line = Text("• ")
    line.append(row.label, style="bold")
    line.append(": ")
    line.append_text(safe_text(row.text, style="dim"))
    if row.message:
        line.append("\n  ")
        line.append_text(safe_text(row.message, style="dim italic"))
    return line


def deals_text(detail: AccountDetail) -> Text:
    """One block per deal: name and amount, then stage, time in stage and closing date."""
    if not detail.deals:
        return Text("No deals on this account.", style="dim")
    blocks: list[Text] = []
    for deal in detail.deals:
        block = Text()
        block.append_text(safe_text(deal.name, style="bold" if deal.is_open else "dim"))
        block.append(f"  {deal.amount}", style="bold" if deal.is_open else "dim")
        block.append("\n  ")
        block.append_text(safe_text(deal.stage))
        if deal.in_stage:
            block.append(f" · {deal.in_stage}")
        block.append(" · closes " if deal.is_open else " · closed ", style="dim")
        block.append(deal.close_date, style="bold red" if deal.late else "")
        blocks.append(block)
    return Text("\n\n").join(blocks)


def activity_text(detail: AccountDetail) -> Text:
    """The activity timeline, newest first: date, kind and subject, then status and people."""
    if not detail.activities:
        return Text("No tasks, meetings or calls on this account.", style="dim")
    lines: list[Text] = []
    for row in detail.activities:
        line = Text()
        line.append(f"{row.when[:10]:<12}", style="dim")
        line.append(f"{row.kind:<8}", style="bold")
        line.append_text(safe_text(row.subject))
        line.append(f"\n{'':<20}")
        facts = [row.relative or row.when, row.status]
        if row.who != "—":
            facts.append(f"with {row.who}")
        line.append_text(safe_text(" · ".join(f for f in facts if f and f != "—"), style="dim"))
        lines.append(line)
    return Text("\n").join(lines)


def changes_text(rows: list[ChangeRow]) -> Text:
    """Changes grouped by record: ``field: old → new`` under the record's name."""
    if not rows:
        return Text("Nothing changed since the review before the latest one.", style="dim")
    text = Text()
    text.append("What changed since the previous review\n", style="bold underline")
    record = None
    for row in rows:
        if row.record != record:
            record = row.record
            text.append("\n")
            text.append_text(safe_text(row.record, style="bold"))
            text.append("\n")
        text.append("  ")
        text.append_text(safe_text(row.field))
        text.append(": ")
        text.append_text(safe_text(row.old, style="red"))
        text.append(" → ", style="bold")
        text.append_text(safe_text(row.new, style="green"))
        if row.when != "—":
            text.append(f"  {row.when}", style="dim")
        text.append("\n")
    return text


def memory_text(detail: AccountDetail) -> Text:
    """Sentiment, relationship, key events, prior recommendations and their outcomes."""
    memory = detail.memory
    text = Text()
    text.append("Sentiment ", style="dim")
    text.append(memory.sentiment, style="bold")
    text.append(" · Relationship ", style="dim")
    text.append(memory.relationship, style="bold")
    if memory.stale:
        text.append("\nMemory is stale: review the account to refresh it.", style="bold yellow")
    text.append("\n")
    _heading(text, "Key events")
    if not memory.key_events:
        text.append("None recorded.\n", style="dim")
    for event in memory.key_events:
        text.append(f"{event.day}  ", style="dim")
        text.append_text(safe_text(event.event))
        if event.impact:
            text.append("\n            ")
            text.append_text(safe_text(event.impact, style="dim"))
        text.append("\n")
    _heading(text, "Prior recommendations and outcomes")
    if not memory.prior:
        text.append("None yet.\n", style="dim")
    for prior in memory.prior:
        text.append(f"{prior.day}  ", style="dim")
        text.append(f"[{prior.status}] ", style=STATUS_STYLES.get(prior.status, ""))
        text.append_text(safe_text(prior.recommendation))
        if prior.outcome:
            text.append("\n            → ")
            text.append_text(safe_text(prior.outcome))
        text.append("\n")
    if memory.commitments:
        _heading(text, "Commitments")
        text.append_text(_lines(Text("• ").append_text(safe_text(c)) for c in memory.commitments))
    return text


EVIDENCE_LIMIT = 6
"""At most this many evidence lines under one recommendation."""


def recommendations_text(detail: AccountDetail) -> Text:
    """This account's recommendations, newest first, with their approval status."""
    if not detail.recommendations:
        return Text("No recommendations for this account yet. Press r to review it.", style="dim")
    blocks: list[Text] = []
    for rec in detail.recommendations:
        block = Text()
        block.append(f"{rec.priority.upper():<8}", style=PRIORITY_STYLES.get(rec.priority, ""))
        block.append_text(safe_text(rec.summary, style="bold"))
        block.append("\n        ")
        status = "more, lower priority: m pulls it in" if rec.status == "queued" else rec.status
        block.append(f"[{status}]", style=STATUS_STYLES.get(rec.status, ""))
        block.append(" · ", style="dim")
        block.append_text(safe_text(rec.detail, style="dim"))
        block.append("\n        ")
        block.append_text(safe_text(rec.rationale, limit=RATIONALE_LIMIT))
        for line in rec.evidence[:EVIDENCE_LIMIT]:
            block.append("\n        · ", style="dim")
            block.append_text(safe_text(line, style="dim"))
        blocks.append(block)
    return Text("\n\n").join(blocks)
