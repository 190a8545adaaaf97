"""Hand-built AccountFacts for the rules author's tests: one account, a deal, two contacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sergas_tui.agents.author.core import RuleAuthor
from sergas_tui.agents.author.rules import AuthorPolicy
from sergas_tui.agents.drafting import TemplateSet
from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    Account,
    AccountFacts,
    Change,
    Contact,
    Deal,
    HistoricalContext,
    Link,
    Note,
    Owner,
    RecordRef,
    RiskSignal,
    ScoutReport,
)
from sergas_tui.domain.common import Severity

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday
TODAY = NOW.date()
ACCOUNT_ID = "A1"
DEAL_ID = "D1"
ACCOUNT = RecordRef(module="Accounts", id=ACCOUNT_ID)
DEAL = RecordRef(module="Deals", id=DEAL_ID)
SPONSOR = RecordRef(module="Contacts", id="C1")
CHAMPION = RecordRef(module="Contacts", id="C2")
NOTE = RecordRef(module="Notes", id="N1")

_TEMPLATES: TemplateSet | None = None


def templates() -> TemplateSet:
    """The built-in templates, loaded once for the whole module."""
    global _TEMPLATES
    if _TEMPLATES is None:
        _TEMPLATES = TemplateSet.load(None)
    return _TEMPLATES


def author(policy: AuthorPolicy | None = None, now: datetime = NOW) -> RuleAuthor:
    return RuleAuthor(templates(), FixedClock(now), policy=policy)


def field(ref: RecordRef, name: str) -> RecordRef:
    return ref.model_copy(update={"field": name})


def signal(
    key: str,
    severity: Severity = "warning",
    evidence: Sequence[RecordRef] = (ACCOUNT,),
    message: str | None = None,
) -> RiskSignal:
    return RiskSignal(
        key=key, severity=severity, message=message or f"{key} seen", evidence=list(evidence)
    )


def make_deal(**over: Any) -> Deal:
    values: dict[str, Any] = {
        "id": DEAL_ID,
        "name": "Acme - Platform Licence",
        "stage": "Proposal/Price Quote",
        "amount": 50_000.0,
        "closing_date": TODAY + timedelta(days=60),
        "type": "New Business",
        "next_step": "Send the order form",
        "contact": Link(id="C2", name="Marco Vitale", module="Contacts"),
        "modified_time": NOW - timedelta(days=3),
    }
    values.update(over)
    return Deal(**values)


def make_contacts() -> list[Contact]:
    return [
        Contact(
            id="C2",
            name="Marco Vitale",
            first_name="Marco",
            email="marco@acme.test",
            role="Champion",
        ),
        Contact(
            id="C1",
            name="Elaine Porter",
            first_name="Elaine",
            email="elaine@acme.test",
            role="Executive Sponsor",
        ),
    ]


def make_facts(
    signals: Sequence[RiskSignal] = (),
    *,
    deals: Sequence[Deal] | None = None,
    contacts: Sequence[Contact] | None = None,
    notes: Sequence[Note] = (),
    changes: Sequence[Change] = (),
    reviewed_at: datetime = NOW,
    account_id: str = ACCOUNT_ID,
    **account: Any,
) -> AccountFacts:
    values: dict[str, Any] = {
        "id": account_id,
        "name": "Acme Corp",
        "rating": "Active",
        "owner": Owner(id="U1", name="Jordan Avery", email="jordan@demo.test"),
        "last_activity_time": NOW - timedelta(days=20),
        "modified_time": NOW - timedelta(days=2),
    }
    values.update(account)
    acct = Account(**values)
    return AccountFacts(
        account=acct,
        contacts=list(make_contacts() if contacts is None else contacts),
        deals=list([make_deal()] if deals is None else deals),
        notes=list(notes),
        changes=list(changes),
        signals=list(signals),
        report=ScoutReport(account_id=acct.id, account_name=acct.name, owner="jordan@demo.test"),
        reviewed_at=reviewed_at,
    )


def context(**history: Any) -> HistoricalContext:
    stale = bool(history.pop("memory_stale", False))
    return HistoricalContext.model_validate(
        {"account_id": ACCOUNT_ID, "historical_context": history, "memory_stale": stale}
    )


def in_days(days: int) -> date:
    return TODAY + timedelta(days=days)
