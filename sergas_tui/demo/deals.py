"""Deals and their history: a deal's life is a plan (initial state plus changes) replayed.

Replaying one list of changes into both Stage_History and the ``__timeline`` keeps the two
consistent by construction: a stage change is a timeline entry *and* a new Stage_History row
that captures the amount, probability and closing date in force at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sergas_tui.demo import zoho
from sergas_tui.demo.model import JsonDict
from sergas_tui.domain.picklists import STAGE_PROBABILITY

if TYPE_CHECKING:
    from sergas_tui.demo.builder import OrgBuilder


LOSS_REASONS: tuple[str, ...] = (
    "Price",
    "Lost to Competitor",
    "No Budget",
    "No Decision / Non-responsive",
    "Product Fit",
)


@dataclass(frozen=True)
class DealChange:
    """A change to a deal at ``at`` made by ``by``; ``None`` fields are left unchanged."""

    at: datetime
    by: JsonDict
    stage: str | None = None
    amount: int | None = None
    closing_date: date | None = None
    owner: JsonDict | None = None


@dataclass(frozen=True)
class DealPlan:
    """Everything about a deal's life: its initial state and every later change."""

    name: str
    deal_type: str
    owner: JsonDict
    created: datetime
    stage: str
    amount: int | None
    closing_date: date | None
    changes: tuple[DealChange, ...] = ()
    contact: JsonDict | None = None
    next_step: str | None = None
    lead_source: str | None = None
    description: str | None = None
    omit: tuple[str, ...] = ()


def replay(b: OrgBuilder, account: JsonDict, plan: DealPlan) -> tuple[JsonDict, list[JsonDict]]:
    """Build a deal and replay ``plan.changes`` into its Stage_History rows and timeline.

    Stage_History gets one row per stage entered, capturing the deal's values at that
    moment; ``Duration`` (days) is filled only once the deal has left the stage, as in Zoho.
    The row carries the deal's id under the ``$deal_id`` meta key. Timeline entries are
    added to ``b`` as they happen; the deal and its rows are returned for the caller to add.
    """
    deal_id = b.new_id()
    stage, amount, closing, owner = plan.stage, plan.amount, plan.closing_date, plan.owner
    deal: JsonDict = {"id": deal_id, "Deal_Name": plan.name}
    b.record_change("Deals", deal, plan.created, owner, (), action="added")
    history: list[tuple[datetime, JsonDict]] = []

    def stage_row(at: datetime, by: JsonDict) -> None:
        row: JsonDict = {
            "id": b.new_id(),
            "$deal_id": deal_id,
            "Stage": stage,
            "Amount": amount,
            "Probability": STAGE_PROBABILITY[stage],
            "Expected_Revenue": zoho.expected_revenue(amount, STAGE_PROBABILITY[stage]),
            "Close_Date": None if closing is None else zoho.day(closing),
            "Modified_Time": zoho.iso(at),
            "Modified_By": zoho.user_ref(by),
            "Duration": None,
        }
        if history:
            history[-1][1]["Duration"] = (at - history[-1][0]).days
        history.append((at, row))

    stage_row(plan.created, owner)
    for change in sorted(plan.changes, key=lambda c: c.at):
        if change.at < plan.created or change.at > b.now:
            raise ValueError(f"change to {plan.name!r} at {change.at} is out of range")
        diff: list[tuple[str, Any, Any]] = []
        new_stage = change.stage is not None and change.stage != stage
        if change.stage is not None and new_stage:
            diff.append(("Stage", stage, change.stage))
            old_p, new_p = STAGE_PROBABILITY[stage], STAGE_PROBABILITY[change.stage]
            if old_p != new_p:
                diff.append(("Probability", old_p, new_p))
            stage = change.stage
        if change.amount is not None and change.amount != amount:
            diff.append(("Amount", amount, change.amount))
            amount = change.amount
        if change.closing_date is not None and change.closing_date != closing:
            old_day = None if closing is None else zoho.day(closing)
            diff.append(("Closing_Date", old_day, zoho.day(change.closing_date)))
            closing = change.closing_date
        if change.owner is not None and change.owner["id"] != owner["id"]:
            diff.append(("Owner", zoho.done_by(owner), zoho.done_by(change.owner)))
            owner = change.owner
        if diff:
            b.record_change("Deals", deal, change.at, change.by, diff)
        if new_stage:
            stage_row(change.at, change.by)

    probability = STAGE_PROBABILITY[stage]
    modified_time, modified_by = deal.pop("Modified_Time"), deal.pop("Modified_By")
    lost = stage == "Closed Lost"
    deal.update(
        {
            "Account_Name": zoho.lookup("Accounts", account),
            "Contact_Name": None if plan.contact is None else zoho.lookup("Contacts", plan.contact),
            "Stage": stage,
            "Amount": amount,
            "Closing_Date": None if closing is None else zoho.day(closing),
            "Probability": probability,
            "Expected_Revenue": zoho.expected_revenue(amount, probability),
            "Type": plan.deal_type,
            "Pipeline": zoho.PIPELINE,
            "Lead_Source": plan.lead_source,
            "Next_Step": plan.next_step,
            "Description": plan.description,
            "Owner": zoho.user_ref(owner),
            "Created_Time": zoho.iso(plan.created),
            "Created_By": zoho.user_ref(plan.owner),
            "Modified_Time": modified_time,
            "Modified_By": modified_by,
            "Last_Activity_Time": None,
            "Reason_For_Loss__s": b.rng.choice(LOSS_REASONS) if lost else None,
            **zoho.system_fields(),
        }
    )
    if amount is None:
        deal.pop("Amount")
        deal.pop("Expected_Revenue")
    if closing is None:
        deal.pop("Closing_Date")
    for key in plan.omit:
        deal.pop(key, None)
    return deal, [row for _, row in history]
