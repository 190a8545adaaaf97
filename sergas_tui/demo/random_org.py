"""The bulk of the demo org: realistic random accounts with their contacts, deals and history.

Each account draws an *archetype* that shapes its data, so the org holds a believable mix of
healthy and at-risk accounts: ``healthy``, ``quiet`` (no activity for weeks), ``stalled`` (an
open deal stuck in its stage), ``slipping`` (close date pushed), ``single`` (one contact),
``souring`` (notes turning negative) and ``shrinking`` (deal amount cut).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from random import Random

from sergas_tui.demo import text, words, zoho
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.deals import DealChange, DealPlan
from sergas_tui.demo.fields import back, between, company_fields, contact_fields, office_hours
from sergas_tui.demo.model import JsonDict
from sergas_tui.domain.picklists import OPEN_STAGES, WON_OR_LOST

ARCHETYPES: tuple[str, ...] = (
    "healthy", "quiet", "stalled", "slipping", "single", "souring", "shrinking",
)  # fmt: skip
ARCHETYPE_WEIGHTS: tuple[int, ...] = (42, 13, 10, 10, 9, 10, 6)
_AT_RISK_DEAL = ("stalled", "slipping", "single", "shrinking")
_AMOUNTS: tuple[int, ...] = (
    4_500, 8_000, 12_000, 18_500, 25_000, 36_000, 48_000, 60_000, 75_000, 90_000,
    120_000, 150_000, 240_000, 380_000, 520_000, 900_000,
)  # fmt: skip


def add_random_account(
    b: OrgBuilder, name: str, number: int, owner: JsonDict, parent: JsonDict | None
) -> JsonDict:
    """Add one random account of a random archetype, with everything related to it."""
    rng = b.rng
    archetype = rng.choices(ARCHETYPES, ARCHETYPE_WEIGHTS)[0]
    account_type = rng.choices(words.ACCOUNT_TYPES, words.ACCOUNT_TYPE_WEIGHTS)[0]
    created = back(rng, b.now, 560, 2_200)
    fields = company_fields(rng, name, number, account_type, sensitive=rng.random() < 0.1)
    if parent is not None:
        fields["Parent_Account"] = zoho.lookup("Accounts", parent)
        fields["Ownership"] = "Subsidiary"
    previous_owner = None
    others = [u for u in b.users if u["id"] != owner["id"]]
    if others and rng.random() < 0.07:
        previous_owner = rng.choice(others)
    account = b.add_account(name, owner, created, fields, created_by=previous_owner)
    if previous_owner is not None:
        at = back(rng, b.now, 20, 400)
        change = [("Owner", zoho.done_by(previous_owner), zoho.done_by(owner))]
        b.record_change("Accounts", account, at, previous_owner, change)
    if fields["Rating"] != "Active" and rng.random() < 0.5:
        at = back(rng, b.now, 10, 300)
        b.record_change("Accounts", account, at, owner, [("Rating", "Active", fields["Rating"])])

    count = 1 if archetype == "single" else rng.choices((1, 2, 3, 4, 5), (15, 25, 30, 18, 12))[0]
    domain = f"{text.slug(name)}.example"
    contacts = add_random_contacts(b, account, owner, domain, count, created)
    deals = add_random_deals(b, account, owner, contacts, archetype, account_type)
    open_deals = [d for d in deals if d["Stage"] in OPEN_STAGES]
    latest = add_random_activities(b, account, owner, contacts, open_deals, archetype)
    add_random_notes(b, account, owner, contacts, deals, archetype, latest)
    return account


def add_random_contacts(
    b: OrgBuilder, account: JsonDict, owner: JsonDict, domain: str, count: int, since: datetime
) -> list[JsonDict]:
    """Add ``count`` contacts with distinct names; at most one is the Executive Sponsor."""
    rng = b.rng
    roles = [
        "Executive Sponsor" if rng.random() < 0.6 else "Champion",
        *rng.choices(words.CONTACT_ROLES[1:], (30, 20, 25, 20, 5), k=count - 1),
    ]
    names: list[tuple[str, str]] = []
    while len(names) < count:
        pair = (rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES))
        if pair not in names:
            names.append(pair)
    contacts = []
    for (first, last), role in zip(names, roles, strict=True):
        created = since + timedelta(seconds=rng.randint(3_600, 60 * 86_400))
        fields = contact_fields(rng, first, last, domain, role, sensitive=rng.random() < 0.15)
        contacts.append(b.add_contact(account, owner, first, last, created, fields))
    return contacts


def add_random_deals(
    b: OrgBuilder,
    account: JsonDict,
    owner: JsonDict,
    contacts: Sequence[JsonDict],
    archetype: str,
    account_type: str,
) -> list[JsonDict]:
    """Add 0-4 deals; at-risk archetypes always get one open deal showing their risk."""
    rng = b.rng
    count = rng.choices((0, 1, 2, 3, 4), (15, 35, 30, 14, 6))[0]
    if archetype in _AT_RISK_DEAL or archetype == "souring":
        count = max(count, 1)
    deals = []
    for index in range(count):
        at_risk = archetype in _AT_RISK_DEAL or archetype == "souring"
        forced = archetype if index == 0 and at_risk else None
        deals.append(
            b.add_deal(account, random_deal_plan(b, account, owner, contacts, forced, account_type))
        )
    return deals


def _stage_path(rng: Random, outcome: str) -> list[str]:
    start = rng.choice((0, 0, 0, 1, 2))
    end = 5 if outcome == "won" else rng.randint(start, 5)
    path = [
        stage
        for i, stage in enumerate(OPEN_STAGES[start : end + 1])
        if i == 0 or start + i == end or rng.random() < 0.8
    ]
    if outcome == "won":
        path.append("Closed Won")
    elif outcome == "lost":
        path.append("Closed Lost")
    return path


def random_deal_plan(
    b: OrgBuilder,
    account: JsonDict,
    owner: JsonDict,
    contacts: Sequence[JsonDict],
    archetype: str | None,
    account_type: str,
) -> DealPlan:
    """A random deal's life story, bent towards ``archetype``'s risk when one is given."""
    rng, now = b.rng, b.now
    outcome = (
        "open" if archetype is not None else rng.choices(("open", "won", "lost"), (55, 28, 17))[0]
    )
    path = _stage_path(rng, outcome)
    if archetype == "stalled" and len(path) == 1:
        # A stalled deal has moved at least once, so it has a stage it is stuck in.
        index = OPEN_STAGES.index(path[0])
        path = [OPEN_STAGES[index - 1], path[0]] if index else [path[0], OPEN_STAGES[1]]
    if outcome == "open":
        last_ago = rng.uniform(40, 100) if archetype == "stalled" else rng.uniform(1, 30)
    else:
        last_ago = rng.uniform(5, 200)
    times = [now - timedelta(seconds=int(last_ago * 86_400))]
    for _ in path[1:]:
        times.insert(0, times[0] - timedelta(seconds=rng.randint(4 * 86_400, 30 * 86_400)))
    created = times[0]
    amount = rng.choice(_AMOUNTS)
    if outcome == "open":
        closing = max(
            created.date() + timedelta(days=14), now.date() + timedelta(days=rng.randint(-10, 120))
        )
    else:
        closing = created.date() + timedelta(days=rng.randint(30, 120))

    others = [u for u in b.users if u["id"] != owner["id"]]
    first_owner = owner
    if others and rng.random() < 0.04:
        first_owner = rng.choice(others)
    changes: list[DealChange] = []
    for stage, at in zip(path[1:], times[1:], strict=True):
        new_amount = None
        if archetype == "shrinking" and stage == path[-1]:
            new_amount = round(amount * rng.uniform(0.55, 0.85) / 500) * 500
        elif rng.random() < 0.08:
            new_amount = round(amount * rng.uniform(1.05, 1.4) / 500) * 500
        closing_change = at.date() if stage in WON_OR_LOST else None
        changes.append(
            DealChange(at, owner, stage=stage, amount=new_amount, closing_date=closing_change)
        )
    if first_owner is not owner:
        changes.append(DealChange(between(rng, created, now), first_owner, owner=owner))
    pushes = (
        rng.randint(1, 3)
        if archetype == "slipping"
        else int(outcome == "open" and rng.random() < 0.1)
    )
    moment, pushed = created, closing
    for _ in range(pushes):
        moment = moment + (now - moment) * rng.uniform(0.2, 0.7)
        pushed = pushed + timedelta(days=rng.randint(14, 60))
        changes.append(DealChange(moment, owner, closing_date=pushed))
    if archetype == "shrinking" and len(path) == 1:
        at = between(rng, created, now)
        changes.append(DealChange(at, owner, amount=round(amount * 0.7 / 500) * 500))

    short = text.short_name(account["Account_Name"])
    if account_type == "Customer":
        deal_type = rng.choice(("Existing Business",) * 3 + ("Renewal",) * 2 + ("New Business",))
    else:
        deal_type = "New Business"
    product = rng.choice(words.PRODUCTS)
    name = f"{short} - Renewal {closing.year}" if deal_type == "Renewal" else f"{short} - {product}"
    return DealPlan(
        name=name,
        deal_type=deal_type,
        owner=first_owner,
        created=created,
        stage=path[0],
        amount=amount,
        closing_date=closing,
        changes=tuple(changes),
        contact=rng.choice(contacts) if contacts else None,
        next_step=rng.choice(words.NEXT_STEPS)
        if outcome == "open" and rng.random() < 0.75
        else None,
        lead_source=rng.choice(words.LEAD_SOURCES),
        description=f"{product} for {short}.",
    )


def add_random_activities(
    b: OrgBuilder,
    account: JsonDict,
    owner: JsonDict,
    contacts: Sequence[JsonDict],
    open_deals: Sequence[JsonDict],
    archetype: str,
) -> datetime:
    """Add a year of tasks, calls and meetings; returns the latest activity time."""
    rng, now = b.rng, b.now
    if archetype == "healthy":
        latest = back(rng, now, 0.05, 10)
    elif archetype == "quiet":
        latest = back(rng, now, 15, 75)
    else:
        latest = back(rng, now, 0.1, 25)
    count = rng.randint(1, 5) if archetype == "quiet" else rng.randint(2, 9)
    moments = [latest] + [
        office_hours(latest - timedelta(seconds=rng.randint(0, 365 * 86_400)), latest)
        for _ in range(count - 1)
    ]
    for i, at in enumerate(sorted(moments)):
        who = (contacts[0] if archetype == "single" else rng.choice(contacts)) if contacts else None
        what = rng.choice(open_deals) if open_deals and rng.random() < 0.5 else None
        kind = rng.choices(("task", "call", "event"), (40, 35, 25))[0]
        if kind == "task":
            completed = (now - at).days > 2 or rng.random() < 0.5
            subject = rng.choice(words.TASK_SUBJECTS)
            created = at - timedelta(seconds=rng.randint(0, 10 * 86_400)) if completed else at
            due = (created if completed else at).date() + timedelta(days=rng.randint(1, 14))
            b.add_task(
                account,
                owner,
                at,
                subject,
                created=created,
                completed=completed,
                status=rng.choice(words.TASK_STATUSES_OPEN),
                due=due,
                priority=rng.choices(words.PRIORITIES, words.PRIORITY_WEIGHTS)[0],
                what=what,
                who=who,
                description=f"{subject} for {account['Account_Name']}.",
            )
        elif kind == "call":
            b.add_call(
                account,
                owner,
                at,
                rng.choice(words.CALL_SUBJECTS),
                seconds=rng.randint(45, 2_700),
                call_type=rng.choices(("Outbound", "Inbound", "Missed"), (70, 25, 5))[0],
                result=rng.choice(words.CALL_RESULTS),
                purpose=rng.choice(words.CALL_PURPOSES),
                who=who,
                what=what,
            )
        else:
            attendees = rng.sample(list(contacts), k=min(len(contacts), rng.randint(1, 3)))
            if archetype == "single":
                attendees = list(contacts[:1])
            minutes = rng.choice((30, 45, 60, 90))
            future = i == count - 1 and archetype != "quiet" and rng.random() < 0.3
            start = (
                now + timedelta(days=rng.randint(1, 21))
                if future
                else at - timedelta(minutes=minutes)
            )
            created = at if future else start - timedelta(seconds=rng.randint(86_400, 14 * 86_400))
            b.add_event(
                account,
                owner,
                at,
                rng.choice(words.EVENT_TITLES),
                start=start,
                minutes=minutes,
                created=created,
                attendees=attendees,
                what=what,
                venue=rng.choice(("Video call", "Customer office", "Our office", None)),
            )
    return latest


def add_random_notes(
    b: OrgBuilder,
    account: JsonDict,
    owner: JsonDict,
    contacts: Sequence[JsonDict],
    deals: Sequence[JsonDict],
    archetype: str,
    latest: datetime,
) -> None:
    """Add 1-5 notes up to the latest activity; ``souring`` accounts turn negative over time."""
    rng = b.rng
    count = rng.randint(1, 5)
    moments = sorted(
        office_hours(latest - timedelta(seconds=rng.randint(0, 365 * 86_400)), latest)
        for _ in range(count)
    )
    for i, at in enumerate(moments):
        if archetype == "souring":
            tone = text.TONES[min(2, (3 * i) // count)]
        elif archetype == "healthy":
            tone = rng.choices(text.TONES, (60, 35, 5))[0]
        else:
            tone = rng.choices(text.TONES, (30, 45, 25))[0]
        contact = rng.choice(contacts) if contacts else None
        title, content = text.meeting_note(rng, tone, contact)
        parent = rng.choice(deals) if deals and rng.random() < 0.25 else None
        b.add_note(account, owner, at, content, title=title, parent=parent)
