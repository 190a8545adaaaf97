"""Scenario accounts that pin what "quiet" means (see :mod:`sergas_tui.domain.touches`).

Each one puts a single kind of event in the last two weeks and nothing else that counts, so
the quiet signal is right or wrong for one reason only:

- ``own_task_only``: the only recent records are a task Sergas created through an approval
  (open, its description carrying ``[sergas:<approval id>]``), an unanswered call and an edit
  of the account; ``Last_Activity_Time`` says two days ago. The last customer touch is a call
  40 days ago, so the account is quiet (critical), with that call as evidence.
- ``deal_won_recently``: a renewal was won 12 days ago; the last call was 50 days ago. Not
  quiet.
- ``stage_move_recently``: an open deal moved to Needs Analysis 6 days ago; the last call was
  45 days ago. Not quiet (the Data Scout reads the deal's stage history to date the move).
- ``completed_call_recently``: a completed call 3 days ago; an open, overdue task and older
  meetings around it. Not quiet.

These accounts are generated after every other account, so adding them left the rest of the
org as it was (see :func:`~sergas_tui.demo.generator.build_org`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sergas_tui.demo import kit
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.deals import DealChange, DealPlan
from sergas_tui.demo.model import SIGNAL_NO_ACTIVITY, JsonDict

SERGAS_APPROVAL_ID = "5b0c6a52-2f0e-4d1c-9a0e-3c5d00000001"
"""The approval the demo's Sergas-written task claims to come from."""


@dataclass(frozen=True)
class TouchScenario:
    """A scenario account about the quiet definition: key, name, catalogue text, builder."""

    key: str
    name: str
    title: str
    description: str
    signals: tuple[str, ...]
    build: Callable[[OrgBuilder, JsonDict, str, int], JsonDict]


def own_task_only(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Quiet for 40 days although Sergas's own task, a missed call and an edit are recent."""
    acct = kit.account(b, me, name, number, industry="Manufacturing")
    elena, jonas, _ruth = kit.people(
        b,
        acct,
        me,
        [
            ("Elena", "Vasquez", "Executive Sponsor", "Managing Director"),
            ("Jonas", "Brandt", "Champion", "Head of Quality"),
            ("Ruth", "Adeyemi", "End User", "Lab Supervisor"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b, me, [("Qualification", 520), ("Proposal/Price Quote", 470), ("Closed Won", 400)]
    )
    b.add_deal(
        acct,
        DealPlan(
            name="Tidewater - Calibration Suite",
            deal_type="New Business",
            owner=me,
            created=created,
            stage=stage,
            amount=54_000,
            closing_date=kit.days_ago(b, 400).date(),
            changes=moves,
            contact=jonas,
            lead_source="Web Download",
        ),
    )
    kit.touch(b, acct, me, "meeting", 75, [elena, jonas], subject="Annual review")
    kit.touch(b, acct, me, "call", 40, [jonas], subject="Calibration schedule")
    kit.touch(
        b, acct, me, "call", 5, [elena], subject="Renewal check-in", result="No response/Busy"
    )
    new_phone = "+1 617 555 0199"
    b.record_change(
        "Accounts", acct, kit.days_ago(b, 1), me, [("Phone", acct.get("Phone"), new_phone)]
    )
    acct["Phone"] = new_phone
    task_at = kit.days_ago(b, 2)
    b.add_task(
        acct,
        me,
        task_at,
        f"Call {elena['Full_Name']}",
        created=task_at,
        completed=False,
        status="Not Started",
        due=kit.in_days(b, 3),
        priority="High",
        who=elena,
        description=f"Re-establish contact with {elena['Full_Name']}.\n\n"
        f"[sergas:{SERGAS_APPROVAL_ID}]",
    )
    kit.notes(b, acct, me, [(40, "Call notes", "Jonas confirmed the calibration schedule.")])
    return acct


def deal_won_recently(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """A renewal won 12 days ago is the latest touch; the last call was 50 days ago."""
    acct = kit.account(b, me, name, number, industry="Transportation")
    kofi, lena, _marta = kit.people(
        b,
        acct,
        me,
        [
            ("Kofi", "Mensah", "Executive Sponsor", "Chief Operating Officer"),
            ("Lena", "Fischer", "Economic Buyer", "Finance Director"),
            ("Marta", "Nowak", "Champion", "Fleet Manager"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b, me, [("Proposal/Price Quote", 90), ("Negotiation/Review", 55)]
    )
    won = DealChange(kit.days_ago(b, 12), me, stage="Closed Won", closing_date=kit.in_days(b, -12))
    b.add_deal(
        acct,
        DealPlan(
            name="Gullwing - Renewal 2027",
            deal_type="Renewal",
            owner=me,
            created=created,
            stage=stage,
            amount=88_000,
            closing_date=kit.in_days(b, 5),
            changes=(*moves, won),
            contact=lena,
            lead_source="Existing Customer",
        ),
    )
    kit.touch(b, acct, me, "meeting", 80, [kofi, lena], subject="Renewal planning")
    kit.touch(b, acct, me, "call", 50, [lena], subject="Renewal terms")
    kit.notes(b, acct, me, [(50, "Call notes", "Lena agreed the renewal terms; signature next.")])
    return acct


def stage_move_recently(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """An open deal moved stage 6 days ago; the last call was 45 days ago."""
    acct = kit.account(b, me, name, number, industry="Media")
    anders, bea, carl = kit.people(
        b,
        acct,
        me,
        [
            ("Anders", "Holm", "Executive Sponsor", "Chief Executive Officer"),
            ("Bea", "Lindqvist", "Champion", "Production Director"),
            ("Carl", "Ostrom", "Economic Buyer", "Head of Purchasing"),
        ],
    )
    stage, created, moves = kit.stage_changes(b, me, [("Qualification", 20), ("Needs Analysis", 6)])
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Lindenhof - Press Automation",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=240_000,
            closing_date=kit.in_days(b, 70),
            changes=moves,
            contact=bea,
            next_step="Workshop on the press-line requirements",
            lead_source="Existing Customer",
        ),
    )
    kit.touch(b, acct, me, "meeting", 70, [anders, bea, carl], subject="Annual review")
    kit.touch(b, acct, me, "call", 45, [bea], subject="Automation ideas")
    kit.notes(
        b,
        acct,
        me,
        [(6, "Deal update", "Bea sent the requirements; moved to needs analysis.")],
        parent=deal,
    )
    return acct


def completed_call_recently(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """A completed call 3 days ago; an open overdue task and older meetings around it."""
    acct = kit.account(b, me, name, number, industry="Healthcare")
    greta, hugo = kit.people(
        b,
        acct,
        me,
        [
            ("Greta", "Lund", "Executive Sponsor", "Managing Director"),
            ("Hugo", "Marin", "Champion", "Practice Manager"),
        ],
    )
    kit.touch(b, acct, me, "meeting", 60, [greta, hugo], subject="Supply review")
    open_at = kit.days_ago(b, 50)
    b.add_task(
        acct,
        me,
        open_at,
        "Send the new price list",
        created=open_at,
        completed=False,
        status="In Progress",
        due=(open_at + timedelta(days=7)).date(),
        who=hugo,
        description="Price list for the spring catalogue.",
    )
    kit.touch(b, acct, me, "call", 3, [hugo], subject="Order follow-up")
    kit.notes(b, acct, me, [(3, "Call notes", "Hugo is happy with delivery times.")])
    return acct


TOUCH_SCENARIOS: tuple[TouchScenario, ...] = (
    TouchScenario(
        "own_task_only",
        "Tidewater Instruments",
        "Only our own task is recent",
        "The last customer touch is a call 40 days ago. Since then: a task Sergas created "
        "(open, marked [sergas:…]), an unanswered call and an account edit; "
        "Last_Activity_Time says 2 days ago. Still quiet.",
        (SIGNAL_NO_ACTIVITY,),
        own_task_only,
    ),
    TouchScenario(
        "deal_won_recently",
        "Gullwing Aviation Services",
        "Renewal won 12 days ago",
        "The renewal was Closed Won 12 days ago; the last call was 50 days ago. Not quiet.",
        (),
        deal_won_recently,
    ),
    TouchScenario(
        "stage_move_recently",
        "Lindenhof Print Works",
        "Deal moved stage 6 days ago",
        "An open deal moved to Needs Analysis 6 days ago; the last call was 45 days ago. "
        "Not quiet.",
        (),
        stage_move_recently,
    ),
    TouchScenario(
        "completed_call_recently",
        "Ravensworth Dental Supply",
        "Completed call 3 days ago",
        "A completed call 3 days ago, an open task overdue since 43 days ago and older "
        "meetings. Not quiet.",
        (),
        completed_call_recently,
    ),
)

TOUCH_NAMES: dict[str, str] = {spec.key: spec.name for spec in TOUCH_SCENARIOS}


def add_touch_scenarios(b: OrgBuilder, me: JsonDict, numbers: Iterator[int]) -> None:
    """Add every quiet-definition scenario account, owned by ``me``, to the scenario list."""
    for spec in TOUCH_SCENARIOS:
        acct = spec.build(b, me, spec.name, next(numbers))
        b.add_scenario(spec.key, acct, spec.title, spec.description, spec.signals)
