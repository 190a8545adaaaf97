"""Scenario accounts whose risk is in the deal pipeline: stalled, slipping, shrinking deals."""

from __future__ import annotations

from sergas_tui.demo import kit
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.deals import DealChange, DealPlan
from sergas_tui.demo.model import JsonDict


def stalled_negotiation(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Deal stuck in Negotiation/Review for exactly 45 days; account otherwise active."""
    acct = kit.account(b, me, name, number, industry="Transportation")
    elaine, marco, hannah, _sam = kit.people(
        b,
        acct,
        me,
        [
            ("Elaine", "Porter", "Executive Sponsor", "Chief Operating Officer"),
            ("Marco", "Vitale", "Champion", "Director of Operations"),
            ("Hannah", "Cole", "Economic Buyer", "Procurement Director"),
            ("Sam", "Oduya", "Technical Evaluator", "Solutions Architect"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 120),
            ("Needs Analysis", 104),
            ("Value Proposition", 90),
            ("Identify Decision Makers", 76),
            ("Proposal/Price Quote", 62),
            ("Negotiation/Review", 45),
        ],
    )
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Harbor Point - Fleet Telematics Expansion",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=185_000,
            closing_date=kit.in_days(b, 25),
            changes=moves,
            contact=marco,
            next_step="Chase procurement for contract redlines",
            lead_source="Employee Referral",
            description="Telematics for the remaining 400 trucks.",
        ),
    )
    kit.touch(b, acct, me, "call", 27, [hannah], what=deal, subject="Contract status")
    kit.touch(b, acct, me, "task", 18, [hannah], what=deal, subject="Send contract redlines")
    kit.touch(b, acct, me, "meeting", 11, [elaine, marco], what=deal)
    kit.touch(b, acct, me, "call", 4, [marco], subject="Procurement follow-up")
    kit.notes(
        b,
        acct,
        me,
        [
            (
                45,
                "Negotiation",
                "Moved to negotiation; contract sent to Hannah Cole in procurement.",
            ),
            (25, "Call notes", "Procurement still reviewing redlines; no date for signature yet."),
            (
                6,
                "Call notes",
                "Marco says legal is backlogged; the contract has not moved in six weeks.",
            ),
        ],
    )
    return acct


def close_date_pushed_twice(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Closing_Date pushed later twice (40 and 9 days ago)."""
    acct = kit.account(b, me, name, number)
    nora, ken, lea = kit.people(
        b,
        acct,
        me,
        [
            ("Nora", "Hansen", "Economic Buyer", "VP Finance"),
            ("Kenji", "Ito", "Champion", "VP Engineering"),
            ("Lea", "Moreau", "Technical Evaluator", "Lead Engineer"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 95),
            ("Needs Analysis", 75),
            ("Value Proposition", 55),
            ("Proposal/Price Quote", 22),
        ],
    )
    pushes = (
        DealChange(kit.days_ago(b, 40), me, closing_date=kit.in_days(b, 20)),
        DealChange(kit.days_ago(b, 9), me, closing_date=kit.in_days(b, 50)),
    )
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Silverline - Analytics Add-on",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=96_000,
            closing_date=kit.in_days(b, -10),
            changes=moves + pushes,
            contact=ken,
            next_step="Confirm signature date with the economic buyer",
            lead_source="Web Download",
        ),
    )
    kit.touch(b, acct, me, "meeting", 15, [ken, lea], what=deal, subject="Technical deep dive")
    kit.touch(b, acct, me, "task", 9, [nora], what=deal, subject="Prepare revised quote")
    kit.touch(b, acct, me, "call", 2, [ken])
    kit.notes(
        b,
        acct,
        me,
        [
            (40, "Call notes", "Nora asked to push the close date: budget sign-off moved a month."),
            (9, "Call notes", "Close date pushed again; procurement wants the new fiscal year."),
        ],
    )
    return acct


def amount_cut(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Amount cut from 320,000 to 210,000 on entering Negotiation/Review 15 days ago."""
    acct = kit.account(b, me, name, number, industry="Manufacturing")
    contacts = kit.people(
        b,
        acct,
        me,
        [
            ("Olga", "Petrov", "Executive Sponsor", "Chief Operating Officer"),
            ("Diego", "Ramos", "Champion", "Director of Operations"),
            ("Amara", "Osei", "Economic Buyer", "Head of Purchasing"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 80),
            ("Needs Analysis", 66),
            ("Value Proposition", 50),
            ("Proposal/Price Quote", 33),
        ],
    )
    cut = DealChange(kit.days_ago(b, 15), me, stage="Negotiation/Review", amount=210_000)
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Cobalt Ridge - Field Service Module",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=320_000,
            closing_date=kit.in_days(b, 30),
            changes=(*moves, cut),
            contact=contacts[1],
            next_step="Agree the reduced scope in writing",
            lead_source="Partner",
        ),
    )
    kit.touch(b, acct, me, "meeting", 15, contacts[:3], what=deal, subject="Pricing discussion")
    kit.touch(b, acct, me, "task", 6, contacts[2:], what=deal, subject="Send revised proposal")
    kit.touch(b, acct, me, "call", 1, contacts[1:2])
    kit.notes(
        b,
        acct,
        me,
        [
            (
                15,
                "Pricing discussion",
                "Procurement cut the scope to two plants; amount reduced from 320k to 210k.",
            ),
        ],
        parent=deal,
    )
    return acct
