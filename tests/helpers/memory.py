"""Account facts and recommendations for the memory backends' tests, at a fixed time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sergas_tui.domain import (
    Account,
    AccountFacts,
    Activity,
    Change,
    Contact,
    CreateTaskAction,
    Note,
    Owner,
    Recommendation,
    RiskSignal,
    ScoutReport,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def make_facts(
    aid: str,
    *,
    name: str | None = None,
    notes: Sequence[tuple[float, str]] = (),
    changes: Sequence[Change] = (),
    signals: Sequence[RiskSignal] = (),
    activities: Sequence[Activity] = (),
    contacts: Sequence[Contact] = (),
    reviewed_at: datetime = NOW,
) -> AccountFacts:
    """Facts for one crafted account; notes are (days ago, content)."""
    name = name or f"Account {aid}"
    owner = Owner(id="u1", name="Jordan Avery", email="jordan@demo.sergas.test")
    return AccountFacts(
        account=Account(id=aid, name=name, owner=owner),
        contacts=list(contacts),
        activities=list(activities),
        notes=[
            Note(id=f"{aid}-n{i}", title="Call notes", content=text, created_time=days_ago(age))
            for i, (age, text) in enumerate(notes)
        ],
        changes=list(changes),
        signals=list(signals),
        report=ScoutReport(account_id=aid, account_name=name, owner=owner.email or ""),
        reviewed_at=reviewed_at,
    )


def recommendation(aid: str, rid: str, created: datetime, subject: str = "Call") -> Recommendation:
    return Recommendation(
        id=rid,
        account_id=aid,
        type="create_task",
        priority="high",
        confidence="medium",
        rationale="Sponsor changed; re-establish the business case.",
        suggested_action=CreateTaskAction(subject=f"{subject} {rid}", priority="High"),
        data_references=[f"zoho:Accounts:{aid}"],
        created_at=created,
    )


STABLE = [
    (90, "Walked through the current usage numbers."),
    (60, "Shared the updated documentation links."),
    (30, "Their fiscal year starts in April."),
    (5, "IT is reviewing the integration requirements."),
]
