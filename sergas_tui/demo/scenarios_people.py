"""Scenario accounts whose risk (or health) is in people and engagement."""

from __future__ import annotations

from sergas_tui.demo import kit
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.deals import DealPlan
from sergas_tui.demo.model import JsonDict


def exec_sponsor_changed(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Executive Sponsor replaced 20 days ago (role change, new contact, timeline, note)."""
    acct = kit.account(b, me, name, number, industry="Healthcare")
    dana, luis, grace = kit.people(
        b,
        acct,
        me,
        [
            ("Dana", "Whitfield", "Influencer", "Board Advisor"),
            ("Luis", "Moreno", "Champion", "Head of IT"),
            ("Grace", "Okoye", "Technical Evaluator", "IT Manager"),
        ],
    )
    changed = kit.days_ago(b, 20)
    b.record_change(
        "Contacts",
        dana,
        changed,
        me,
        [("Contact_Role", "Executive Sponsor", "Influencer"), ("Title", "CFO", "Board Advisor")],
    )
    (priya,) = kit.people(
        b,
        acct,
        me,
        [("Priya", "Raman", "Executive Sponsor", "Chief Financial Officer")],
        age_days=20,
    )
    b.record_change("Contacts", priya, changed, me, (), action="added")
    b.record_change("Accounts", acct, changed, me, (), action="added", related=("Contacts", priya))
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 70),
            ("Needs Analysis", 55),
            ("Value Proposition", 40),
            ("Proposal/Price Quote", 16),
        ],
    )
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Meridian Health - Patient Scheduling Platform",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=240_000,
            closing_date=kit.in_days(b, 45),
            changes=moves,
            contact=luis,
            next_step="Re-present the business case to the new CFO",
            lead_source="Partner",
        ),
    )
    kit.touch(b, acct, me, "task", 14, [grace], what=deal, subject="Confirm security questionnaire")
    kit.touch(b, acct, me, "meeting", 8, [priya, luis], what=deal, subject="Executive alignment")
    kit.touch(b, acct, me, "call", 3, [luis])
    kit.notes(
        b,
        acct,
        me,
        [
            (
                60,
                "QBR summary",
                "Dana Whitfield (CFO) backed the scheduling rollout. Budget approved for Q1.",
            ),
            (
                20,
                "Executive sponsor change",
                "Executive sponsor change: Dana Whitfield (CFO) has stepped back to a board "
                "advisory role. Priya Raman joins as the new CFO and takes over as executive "
                "sponsor. We need to re-establish the business case with her before signature.",
            ),
            (8, "Meeting recap", "First meeting with Priya Raman; she wants a fresh ROI review."),
        ],
    )
    return acct


def no_activity_35d(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """A customer whose latest activity was exactly 35 days ago."""
    acct = kit.account(b, me, name, number, industry="Manufacturing")
    ines, tom, rosa = kit.people(
        b,
        acct,
        me,
        [
            ("Ines", "Barros", "Executive Sponsor", "Chief Executive Officer"),
            ("Tom", "Keller", "Champion", "Head of IT"),
            ("Rosa", "Lindqvist", "End User", "Operations Analyst"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b, me, [("Qualification", 260), ("Proposal/Price Quote", 200), ("Closed Won", 140)]
    )
    b.add_deal(
        acct,
        DealPlan(
            name="Quarry Ridge - Platform Licence",
            deal_type="New Business",
            owner=me,
            created=created,
            stage=stage,
            amount=72_000,
            closing_date=kit.days_ago(b, 140).date(),
            changes=moves,
            contact=tom,
            lead_source="Trade Show",
        ),
    )
    kit.touch(b, acct, me, "meeting", 130, [ines, tom], subject="Onboarding kickoff")
    kit.touch(b, acct, me, "task", 80, [rosa], subject="Check in after go-live")
    kit.touch(b, acct, me, "call", 52, [tom])
    kit.touch(b, acct, me, "call", 35, [tom], subject="Usage review", result="Requested call back")
    kit.notes(
        b,
        acct,
        me,
        [
            (128, "Meeting recap", "Kickoff went well; go-live planned for next month."),
            (36, "Account update", "Tom Keller asked for a usage review; will call back."),
        ],
    )
    return acct


def single_threaded(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Big open deal, one contact, every activity with that contact."""
    acct = kit.account(b, me, name, number, account_type="Prospect", industry="Energy")
    (marcus,) = kit.people(b, acct, me, [("Marcus", "Bell", "Champion", "Director of IT")])
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 60),
            ("Needs Analysis", 45),
            ("Value Proposition", 30),
            ("Proposal/Price Quote", 10),
        ],
    )
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Solstice Grid - Enterprise Tier",
            deal_type="New Business",
            owner=me,
            created=created,
            stage=stage,
            amount=640_000,
            closing_date=kit.in_days(b, 35),
            changes=moves,
            contact=marcus,
            next_step="Ask Marcus for an introduction to the CFO",
            lead_source="Cold Call",
        ),
    )
    kit.touch(b, acct, me, "meeting", 33, [marcus], subject="Discovery workshop")
    kit.touch(b, acct, me, "call", 20, [marcus], what=deal)
    kit.touch(b, acct, me, "task", 12, [marcus], what=deal, subject="Send proposal")
    kit.touch(b, acct, me, "meeting", 7, [marcus], what=deal, subject="Pricing discussion")
    kit.touch(b, acct, me, "call", 2, [marcus])
    kit.notes(
        b,
        acct,
        me,
        [
            (
                7,
                "Meeting recap",
                "Marcus is keen and says the CFO will sign off; we have not met her.",
            )
        ],
    )
    return acct


def renewal_declining_sentiment(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """Renewal closing in 60 days; notes go from positive to negative."""
    name = name
    acct = kit.account(b, me, name, number, industry="Retail")
    contacts = kit.people(
        b,
        acct,
        me,
        [
            ("Sofia", "Costa", "Executive Sponsor", "Chief Operating Officer"),
            ("Liam", "Walsh", "Champion", "Program Manager"),
            ("Farah", "Haddad", "Economic Buyer", "Procurement Director"),
            ("Chen", "Zhang", "End User", "Team Lead"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b, me, [("Qualification", 50), ("Needs Analysis", 35), ("Proposal/Price Quote", 12)]
    )
    closing = kit.in_days(b, 60)
    deal = b.add_deal(
        acct,
        DealPlan(
            name=f"Evergreen Retail - Platform Renewal {closing.year}",
            deal_type="Renewal",
            owner=me,
            created=created,
            stage=stage,
            amount=150_000,
            closing_date=closing,
            changes=moves,
            contact=contacts[1],
            next_step="Renewal review with procurement",
            lead_source="Employee Referral",
        ),
    )
    kit.touch(b, acct, me, "meeting", 20, contacts[:2], what=deal, subject="Renewal planning")
    kit.touch(b, acct, me, "task", 6, contacts[2:3], what=deal, subject="Prepare renewal quote")
    kit.touch(b, acct, me, "call", 4, contacts[1:2], what=deal, result="No response/Busy")
    kit.notes(
        b,
        acct,
        me,
        [
            (150, "QBR summary", "Great QBR: adoption up 30% and they love the new dashboards."),
            (
                120,
                "Renewal check-in",
                "Renewal intent confirmed in principle. Very happy customer.",
            ),
            (90, "Account update", "A new VP of stores joined and asked for usage data."),
            (60, "Call notes", "Raised concerns about support response times after the outage."),
            (35, "Call notes", "They are evaluating Quillsoft as an alternative."),
            (
                14,
                "Renewal check-in",
                "Procurement is pushing for a 20% discount or they will not renew.",
            ),
            (
                4,
                "Internal note",
                "Liam has gone quiet and missed our last two calls. Renewal at risk.",
            ),
        ],
    )
    return acct


def healthy_expansion(b: OrgBuilder, me: JsonDict, name: str, number: int) -> JsonDict:
    """No risk at all: recent, broad engagement and an on-time expansion deal."""
    acct = kit.account(b, me, name, number, industry="Retail")
    sponsor, champion, buyer, tech, user = kit.people(
        b,
        acct,
        me,
        [
            ("Valentina", "Rossi", "Executive Sponsor", "Chief Executive Officer"),
            ("Noah", "Jensen", "Champion", "Director of Operations"),
            ("Aisha", "Mahmoud", "Economic Buyer", "VP Finance"),
            ("Felix", "Weber", "Technical Evaluator", "Solutions Architect"),
            ("Mei", "Tanaka", "End User", "Team Lead"),
        ],
    )
    stage, created, moves = kit.stage_changes(
        b, me, [("Qualification", 400), ("Proposal/Price Quote", 340), ("Closed Won", 300)]
    )
    b.add_deal(
        acct,
        DealPlan(
            name="Brightwater Foods - Platform Licence",
            deal_type="New Business",
            owner=me,
            created=created,
            stage=stage,
            amount=120_000,
            closing_date=kit.days_ago(b, 300).date(),
            changes=moves,
            contact=champion,
            lead_source="Trade Show",
        ),
    )
    stage, created, moves = kit.stage_changes(
        b,
        me,
        [
            ("Qualification", 50),
            ("Needs Analysis", 38),
            ("Value Proposition", 27),
            ("Identify Decision Makers", 17),
            ("Proposal/Price Quote", 8),
        ],
    )
    deal = b.add_deal(
        acct,
        DealPlan(
            name="Brightwater Foods - Cold Chain Expansion",
            deal_type="Existing Business",
            owner=me,
            created=created,
            stage=stage,
            amount=210_000,
            closing_date=kit.in_days(b, 40),
            changes=moves,
            contact=champion,
            next_step="Send revised proposal for the two new sites",
            lead_source="Employee Referral",
        ),
    )
    kit.touch(
        b, acct, me, "meeting", 20, [sponsor, champion], what=deal, subject="Executive alignment"
    )
    kit.touch(b, acct, me, "call", 13, [tech], what=deal, subject="Integration questions")
    kit.touch(b, acct, me, "task", 9, [buyer], what=deal, subject="Send ROI summary")
    kit.touch(b, acct, me, "meeting", 5, [champion, tech, user], what=deal, subject="Site visit")
    kit.touch(b, acct, me, "call", 1, [champion], what=deal)
    kit.notes(
        b,
        acct,
        me,
        [
            (
                40,
                "QBR summary",
                "Adoption is up across every team; they asked us to quote two more sites.",
            ),
            (20, "Meeting recap", "Valentina Rossi confirmed the expansion is a board priority."),
            (5, "Site visit", "Great feedback from the operations team. Budget approved for Q1."),
        ],
    )
    return acct
