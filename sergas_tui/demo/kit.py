"""Small helpers for hand-written demo accounts (scenarios and hostile content).

They pin times to exact offsets from the anchor so tests can assert them ("entered 45 days
before now"), and default everything else to plausible values drawn from the shared rng.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sergas_tui.demo import text
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.deals import DealChange
from sergas_tui.demo.fields import company_fields, contact_fields
from sergas_tui.demo.model import JsonDict

# (first name, last name, contact role, title)
Person = tuple[str, str, str, str]


def days_ago(b: OrgBuilder, days: float) -> datetime:
    """The moment exactly ``days`` days before the anchor."""
    return b.now - timedelta(days=days)


def account(
    b: OrgBuilder,
    owner: JsonDict,
    name: str,
    number: int,
    *,
    account_type: str = "Customer",
    industry: str = "Technology",
    age_days: float = 1_100,
    omit: Sequence[str] = (),
    extra: JsonDict | None = None,
) -> JsonDict:
    """An account with plausible fields, created ``age_days`` ago and rated Active."""
    values = company_fields(b.rng, name, number, account_type, sensitive=False)
    values.update({"Industry": industry, "Rating": "Active", **(extra or {})})
    return b.add_account(name, owner, days_ago(b, age_days), values, omit=omit)


def people(
    b: OrgBuilder,
    acct: JsonDict,
    owner: JsonDict,
    persons: Sequence[Person],
    *,
    age_days: float = 900,
) -> list[JsonDict]:
    """Contacts with fixed names, roles and titles, created ``age_days`` ago."""
    domain = f"{text.slug(acct['Account_Name'])}.example"
    created = days_ago(b, age_days)
    contacts = []
    for first, last, role, title in persons:
        values = contact_fields(b.rng, first, last, domain, role, sensitive=False)
        values["Title"] = title
        contacts.append(b.add_contact(acct, owner, first, last, created, values))
    return contacts


def stage_changes(
    b: OrgBuilder, by: JsonDict, stages: Sequence[tuple[str, float]]
) -> tuple[str, datetime, tuple[DealChange, ...]]:
    """From ``[(stage, days_ago), ...]``: the first stage, its time, and the later moves."""
    first_stage, first_ago = stages[0]
    moves = tuple(DealChange(days_ago(b, ago), by, stage=stage) for stage, ago in stages[1:])
    return first_stage, days_ago(b, first_ago), moves


def touch(
    b: OrgBuilder,
    acct: JsonDict,
    owner: JsonDict,
    kind: str,
    ago: float,
    contacts: Sequence[JsonDict],
    *,
    what: JsonDict | None = None,
    subject: str | None = None,
    result: str = "Interested",
) -> None:
    """One past activity exactly ``ago`` days before the anchor with ``contacts``."""
    at = days_ago(b, ago)
    who = contacts[0] if contacts else None
    if kind == "call":
        b.add_call(
            acct,
            owner,
            at,
            subject or "Check-in call",
            seconds=1_260,
            call_type="Outbound",
            result=result,
            purpose="Project",
            who=who,
            what=what,
        )
    elif kind == "task":
        b.add_task(
            acct,
            owner,
            at,
            subject or "Send follow-up summary",
            created=at - timedelta(days=2),
            completed=True,
            due=(at - timedelta(days=1)).date(),
            priority="High",
            what=what,
            who=who,
            description="Summary of the last meeting and agreed actions.",
        )
    elif kind == "meeting":
        b.add_event(
            acct,
            owner,
            at,
            subject or "Quarterly business review",
            start=at - timedelta(minutes=60),
            minutes=60,
            created=at - timedelta(days=7),
            attendees=contacts,
            what=what,
            venue="Customer office",
        )
    else:
        raise ValueError(f"unknown activity kind {kind!r}")


def notes(
    b: OrgBuilder,
    acct: JsonDict,
    owner: JsonDict,
    entries: Sequence[tuple[float, str, str]],
    *,
    parent: JsonDict | None = None,
) -> None:
    """Notes from ``[(days_ago, title, content), ...]``."""
    for ago, title, content in entries:
        b.add_note(acct, owner, days_ago(b, ago), content, title=title, parent=parent)


def in_days(b: OrgBuilder, days: int) -> date:
    """The calendar date ``days`` days after the anchor."""
    return (b.now + timedelta(days=days)).date()
