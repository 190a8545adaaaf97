"""The rules Recommendation Author: the rule table, evidence, past outcomes, ids, confidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from sergas_tui.agents.author.prior import PriorRec, target_of
from sergas_tui.agents.author.rules import RULES, AuthorPolicy
from sergas_tui.domain import (
    AccountFacts,
    Approval,
    ApprovalStatus,
    Change,
    Contact,
    CreateTaskAction,
    FollowUpEmailAction,
    Note,
    Recommendation,
    RecordRef,
    UpdateAccountAction,
)
from tests.unit.author_kit import (
    ACCOUNT,
    CHAMPION,
    DEAL,
    NOTE,
    NOW,
    SPONSOR,
    author,
    context,
    field,
    in_days,
    make_deal,
    make_facts,
    signal,
)

# One row per signal key: (key, severity, evidence) -> {(type, priority)}. The deal is worth
# 50,000 and no renewal is near, so priority follows severity (notes one step lower).
ROWS = [
    ("no_activity_warning", "warning", [field(ACCOUNT, "Last_Activity_Time")],
     {("follow_up_email", "medium")}),
    # Critical only for a concrete near-term loss (the default deal closes in 60 days): high.
    ("no_activity_critical", "critical", [field(ACCOUNT, "Last_Activity_Time")],
     {("follow_up_email", "high"), ("create_task", "high")}),
    ("stalled_in_stage", "warning", [field(DEAL, "Stage")],
     {("create_task", "medium"), ("follow_up_email", "medium")}),
    ("close_date_pushed", "high", [field(DEAL, "Closing_Date")],
     {("create_task", "high"), ("add_note", "medium")}),
    ("close_date_overdue", "high", [field(DEAL, "Closing_Date")], {("create_task", "high")}),
    ("amount_decreased", "warning", [field(DEAL, "Amount")],
     {("create_task", "medium"), ("add_note", "low")}),
    ("stage_regression", "high", [field(DEAL, "Stage")],
     {("follow_up_email", "high"), ("add_note", "medium")}),
    ("single_threaded", "warning", [ACCOUNT, CHAMPION],
     {("create_task", "medium"), ("follow_up_email", "medium")}),
    ("no_next_step", "info", [field(DEAL, "Next_Step")], {("create_task", "low")}),
    ("renewal_declining_sentiment", "high", [ACCOUNT, NOTE],
     {("follow_up_email", "high"), ("create_task", "high"), ("add_note", "medium")}),
    ("executive_sponsor_change", "high", [field(SPONSOR, "Contact_Role"), ACCOUNT],
     {("follow_up_email", "high"), ("create_task", "high"), ("add_note", "medium")}),
    ("unknown_future_signal", "critical", [ACCOUNT], set()),
]  # fmt: skip


def _notes() -> list[Note]:
    return [Note(id="N1", title="Renewal check-in", content="They are unhappy with support.")]


def _review(facts: AccountFacts, prior: Sequence[PriorRec | Approval] = ()) -> list[Recommendation]:
    return author().proposals(facts, context(), prior=prior)


def _assert_refs_resolve(facts: AccountFacts, recs: list[Recommendation]) -> None:
    known = facts.known_refs()
    for rec in recs:
        assert "#" not in rec.data_references[0]  # the target record comes first
        assert rec.data_references[0] == target_of(rec)
        assert str(ACCOUNT) in rec.data_references
        for ref in rec.data_references:
            parsed = RecordRef.parse(ref)
            assert parsed.system != "zoho" or str(parsed.record()) in known, ref


@pytest.mark.parametrize(("key", "severity", "evidence", "expected"), ROWS)
def test_rule_table(
    key: str, severity: str, evidence: list[RecordRef], expected: set[tuple[str, str]]
) -> None:
    sig = signal(key, severity, evidence)  # type: ignore[arg-type]
    facts = make_facts([sig], notes=_notes())
    recs = _review(facts)
    assert {(r.type, r.priority) for r in recs} == expected
    assert len(recs) == len(expected)  # one per (type, target)
    _assert_refs_resolve(facts, recs)
    evidence_refs = {str(e) for e in evidence}
    for rec in recs:
        assert evidence_refs & set(rec.data_references), "cites the signal's own evidence"
        assert rec.account_id == "A1"
        assert sig.message in rec.rationale


def test_every_documented_key_has_a_row() -> None:
    assert set(RULES) <= {row[0] for row in ROWS}


def test_healthy_account_gets_nothing() -> None:
    assert _review(make_facts([])) == []


@pytest.mark.parametrize(
    "evidence",
    [[], [RecordRef(module="Deals", id="999")], [RecordRef(module="Accounts", id="OTHER")]],
)
def test_no_evidence_no_recommendation(evidence: list[RecordRef]) -> None:
    assert _review(make_facts([signal("close_date_pushed", "critical", evidence)])) == []


def test_unresolvable_refs_are_dropped_and_memory_refs_cited_only_when_used() -> None:
    other = RecordRef(module="Deals", id="elsewhere")
    sigs = [
        signal("renewal_declining_sentiment", "high", [ACCOUNT, other]),
        signal("no_next_step", "info", [field(DEAL, "Next_Step")]),
    ]
    facts = make_facts(sigs)
    memory = [RecordRef(system="memory", module="notes", id="m1"), other]
    recs = author().author(facts, context(sentiment_trend="declining"), memory_refs=memory)
    _assert_refs_resolve(facts, recs)
    for rec in recs:
        assert str(other) not in rec.data_references
        uses_memory = "renewal_declining_sentiment" in rec.rationale or rec.type == "add_note"
        assert ("memory:notes:m1" in rec.data_references) == ("History:" in rec.rationale)
        if "History:" in rec.rationale:
            assert uses_memory
            assert "sentiment declining" in rec.rationale
    deal_task = next(r for r in recs if r.data_references[0] == str(DEAL))
    assert "memory:notes:m1" not in deal_task.data_references


def test_email_goes_to_the_best_contact_and_names_the_evidence() -> None:
    facts = make_facts([signal("no_activity_critical", "critical", [ACCOUNT], "No activity 35d")])
    email = next(r for r in _review(facts) if r.type == "follow_up_email")
    action = email.suggested_action
    assert isinstance(action, FollowUpEmailAction)
    assert action.recipient == "elaine@acme.test"  # Executive Sponsor before Champion
    assert action.draft_body.startswith("Hi Elaine,")
    assert action.next_steps
    assert "Acme - Platform Licence" in email.rationale
    # Last_Activity_Time (20 days ago in make_facts) is no measure of customer contact.
    assert "20 days" not in email.rationale


def test_texts_state_the_quiet_signals_days_not_last_activity_time() -> None:
    quiet = signal("no_activity_critical", "critical", [ACCOUNT], "No customer touch for 35 days")
    quiet.data.update({"days_quiet": 35, "limit_days": 30})
    recs = _review(make_facts([quiet]))  # Last_Activity_Time: 20 days ago
    texts = [r.rationale for r in recs]
    for rec in recs:
        action = rec.suggested_action
        if isinstance(action, CreateTaskAction):
            texts += [action.subject, action.description or ""]
        elif isinstance(action, FollowUpEmailAction):
            texts += [action.subject, action.draft_body]
    assert any("the last customer touch was 35 days ago" in t for t in texts), texts
    assert not any("20 days" in t for t in texts), texts


def test_new_sponsor_email_and_no_reachable_contact() -> None:
    new = Contact(
        id="C9",
        name="Priya Raman",
        first_name="Priya",
        email="priya@acme.test",
        role="Executive Sponsor",
        last_activity_time=NOW,
    )
    old = Contact(id="C1", name="Dana W", email="dana@acme.test", role="Influencer")
    sig = signal("executive_sponsor_change", "high", [RecordRef(module="Contacts", id="C9")])
    recs = _review(make_facts([sig], contacts=[old, new]))
    email = next(r for r in recs if r.type == "follow_up_email").suggested_action
    assert isinstance(email, FollowUpEmailAction)
    assert email.recipient == "priya@acme.test"

    # Without a Contact_Role field (role falls back to the title): the sponsor who moved on
    # is the evidence and is skipped; the executive title wins.
    dana = Contact(
        id="C1", name="Dana W", email="dana@acme.test", role="Board Advisor", title="Board Advisor"
    )
    luis = Contact(
        id="C2",
        name="Luis M",
        email="luis@acme.test",
        role="Head of IT",
        title="Head of IT",
        last_activity_time=NOW,
    )
    priya = Contact(
        id="C9",
        name="Priya R",
        email="priya@acme.test",
        role="Chief Financial Officer",
        title="Chief Financial Officer",
    )
    sig = signal("executive_sponsor_change", "high", [field(SPONSOR, "Contact_Role")])
    recs = _review(make_facts([sig], contacts=[dana, luis, priya]))
    email = next(r for r in recs if r.type == "follow_up_email").suggested_action
    assert isinstance(email, FollowUpEmailAction)
    assert email.recipient == "priya@acme.test"

    nobody = [Contact(id="C1", name="No Mail", role="Champion")]
    recs = _review(make_facts([signal("no_activity_warning")], contacts=nobody))
    assert [r.type for r in recs] == ["create_task"]
    task = recs[0].suggested_action
    assert isinstance(task, CreateTaskAction)
    assert "reachable contact" in task.subject


def test_task_due_dates_and_zoho_priorities() -> None:
    closing = [make_deal(closing_date=in_days(10))]
    quiet = signal("no_activity_critical", "critical", [ACCOUNT])
    recs = _review(make_facts([quiet], deals=closing))
    (task,) = [r.suggested_action for r in recs if r.type == "create_task"]
    assert isinstance(task, CreateTaskAction)
    assert task.priority == "Highest"
    assert task.due_date == date(2026, 11, 4)  # Monday + 2 business days
    recs = _review(make_facts([signal("close_date_overdue", "high", [DEAL])]))
    (task,) = [r.suggested_action for r in recs if r.type == "create_task"]
    assert isinstance(task, CreateTaskAction)
    assert (task.priority, task.due_date) == ("High", date(2026, 11, 9))


def test_amount_at_stake_and_renewal_raise_priority() -> None:
    big = make_facts([signal("no_next_step", "warning", [DEAL])], deals=[make_deal(amount=400_000)])
    assert [r.priority for r in _review(big)] == ["high"]
    renewal = make_deal(type="Renewal", closing_date=in_days(20))
    soon = make_facts([signal("no_next_step", "warning", [DEAL])], deals=[renewal])
    (rec,) = _review(soon)
    assert rec.priority == "high"
    assert "renewal closes in 20 days" in rec.rationale


def test_escalation_for_large_deal_stalled_in_negotiation() -> None:
    deal = make_deal(stage="Negotiation/Review", amount=185_000)
    recs = _review(make_facts([signal("stalled_in_stage", "warning", [DEAL])], deals=[deal]))
    esc = next(r for r in recs if r.type == "escalation")
    assert esc.priority in ("high", "critical")
    assert esc.suggested_action.escalate_to == "sales_manager"  # type: ignore[union-attr]
    assert "185,000" in esc.rationale
    assert recs[0].type == "escalation"  # most urgent first
    small = make_deal(stage="Negotiation/Review", amount=20_000)
    recs = _review(make_facts([signal("stalled_in_stage", "warning", [DEAL])], deals=[small]))
    assert "escalation" not in {r.type for r in recs}


def test_escalation_for_sponsor_change_with_renewal_risk() -> None:
    sigs = [
        signal("executive_sponsor_change", "high", [SPONSOR]),
        signal("renewal_declining_sentiment", "high", [ACCOUNT]),
    ]
    recs = _review(make_facts(sigs))
    assert "escalation" in {r.type for r in recs}
    assert "update_account" not in {r.type for r in recs}  # no at-risk Rating configured
    policy = AuthorPolicy(at_risk_rating="At Risk")
    recs = author(policy).proposals(make_facts(sigs), context())
    (update,) = [r for r in recs if r.type == "update_account"]
    # Folded into one decision: the escalation carries the rating update as a further write.
    folded = author(policy).author(make_facts(sigs), context())
    escalation = next(r for r in folded if r.type == "escalation")
    # The account's own recommendation (the task, with its note) rides with the escalation,
    # then the Rating change: one decision for the account's problem.
    assert [w.type for w in escalation.also] == ["create_task", "add_note", "update_account"]
    assert [r.type for r in folded] == ["escalation"]
    assert isinstance(update.suggested_action, UpdateAccountAction)
    change = update.suggested_action.field_changes[0]
    assert (change.field, change.old, change.new) == ("Rating", "Active", "At Risk")
    assert "zoho:Accounts:A1#Rating" in update.data_references
    acquired = make_facts(sigs, rating="Acquired")  # never overwrite a meaningful rating
    assert "update_account" not in {r.type for r in author(policy).proposals(acquired, context())}


def _prior(kind: str, status: str, days_ago: int, **kw: object) -> PriorRec:
    return PriorRec(type=kind, created_at=NOW - timedelta(days=days_ago), status=status, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("priors", "expected"),
    [
        ([], "high"),
        ([_prior("create_task", "rejected", 5)], "high"),
        ([_prior("create_task", "rejected", 5), _prior("create_task", "rejected", 40)], "medium"),
        ([_prior("create_task", "rejected", 5), _prior("create_task", "rejected", 120)], "high"),
        ([_prior("add_note", "rejected", 5), _prior("add_note", "rejected", 6)], "high"),
    ],
)
def test_rejected_twice_lowers_priority(priors: list[PriorRec], expected: str) -> None:
    facts = make_facts([signal("close_date_overdue", "high", [DEAL])])
    (rec,) = _review(facts, prior=priors)
    assert rec.priority == expected
    assert ("rejected 2" in rec.rationale) == (expected == "medium")


@pytest.mark.parametrize(
    ("prior", "proposed"),
    [
        (_prior("create_task", "pending", 1), False),
        (_prior("create_task", "approved", 3), False),
        (_prior("create_task", "executed", 20, executed_at=NOW - timedelta(days=3)), False),
        (_prior("create_task", "executed", 20, executed_at=NOW - timedelta(days=15)), True),
        (_prior("create_task", "failed", 1), True),
        (_prior("create_task", "expired", 1), True),
        (_prior("create_task", "executed", 2, target="zoho:Deals:OTHER"), True),
        (_prior("create_task", "executed", 2, target=str(DEAL)), False),
        (_prior("follow_up_email", "pending", 1), True),
    ],
)
def test_recent_or_pending_actions_are_not_proposed_again(prior: PriorRec, proposed: bool) -> None:
    facts = make_facts([signal("close_date_overdue", "high", [DEAL])])
    assert bool(_review(facts, prior=[prior])) == proposed


def test_second_review_proposes_nothing_new() -> None:
    sigs = [signal("stalled_in_stage", "high", [DEAL]), signal("single_threaded", "high")]
    facts = make_facts(sigs)
    first = _review(facts)
    assert first
    assert _review(facts, prior=[PriorRec.from_recommendation(r) for r in first]) == []
    approvals = [
        Approval(
            recommendation_id=r.id,
            account_id="A1",
            owner_email="j@x.test",
            action_type=r.type,
            payload=r.suggested_action,
            created_at=NOW,
        )
        for r in first
    ]
    assert _review(facts, prior=approvals) == []
    # Decided the same day (here: rejected) -> same ids, still not proposed twice.
    rejected = [a.model_copy(update={"status": ApprovalStatus.REJECTED}) for a in approvals]
    assert _review(facts, prior=rejected) == []
    # Expired approvals no longer block (the owner never answered).
    late = author(now=NOW + timedelta(days=4)).proposals(facts, context(), prior=approvals)
    assert {r.type for r in late} == {r.type for r in first}


def test_ids_are_deterministic_per_account_type_target_and_day() -> None:
    facts = make_facts([signal("stalled_in_stage", "high", [DEAL])])
    a, b = _review(facts), _review(facts)
    assert [r.id for r in a] == [r.id for r in b]
    assert [r.model_dump() for r in a] == [r.model_dump() for r in b]
    assert len({r.id for r in a}) == len(a)
    tomorrow = author(now=NOW + timedelta(days=1)).proposals(facts, context())
    assert not {r.id for r in a} & {r.id for r in tomorrow}
    other = make_facts([signal("stalled_in_stage", "high", [DEAL])], account_id="A2")
    other_recs = _review(other)
    assert {r.type for r in other_recs} == {r.type for r in a}
    assert not {r.id for r in a} & {r.id for r in other_recs}


def _pushed(days_ago: int) -> AccountFacts:
    change = Change(
        field="Closing_Date",
        old="2026-10-01",
        new="2026-12-01",
        timestamp=NOW - timedelta(days=days_ago),
        module="Deals",
        record_id="D1",
    )
    deal = make_deal(modified_time=NOW - timedelta(days=days_ago))
    sig = signal("close_date_pushed", "warning", [field(DEAL, "Closing_Date")])
    return make_facts([sig], changes=[change], deals=[deal])


@pytest.mark.parametrize(
    ("facts", "stale", "expected"),
    [
        (_pushed(3), False, "high"),
        (_pushed(120), False, "medium"),
        (_pushed(3), True, "medium"),
        (_pushed(120).model_copy(update={"reviewed_at": NOW - timedelta(days=10)}), True, "low"),
    ],
)
def test_confidence_from_recency_and_stale_memory(
    facts: AccountFacts, stale: bool, expected: str
) -> None:
    recs = author().author(facts, context(memory_stale=stale))
    task = next(r for r in recs if r.type == "create_task")
    assert task.confidence == expected
    if stale:
        assert "Memory is stale" in task.rationale


def test_no_activity_confidence_is_high_when_the_sync_is_fresh() -> None:
    recs = _review(make_facts([signal("no_activity_critical", "critical")]))
    assert {r.confidence for r in recs} == {"high"}


def test_folded_recommendations_are_not_proposed_again() -> None:
    sigs = [signal("stalled_in_stage", "high", [DEAL]), signal("single_threaded", "high")]
    facts = make_facts(sigs)
    first = author().author(facts, context())
    assert first
    assert len(first) < len(_review(facts))  # folded: one decision per problem
    priors = [PriorRec.from_recommendation(r) for r in first]
    assert author().author(facts, context(), prior=priors) == []


def test_critical_means_a_concrete_near_term_loss() -> None:
    quiet = signal("no_activity_critical", "critical", [ACCOUNT])
    soon = make_facts([quiet], deals=[make_deal(closing_date=in_days(12), amount=80_000)])
    (task,) = [r for r in _review(soon) if r.type == "create_task"]
    assert task.priority == "critical"
    assert "'Acme - Platform Licence' (USD 80,000) closes in 12 days" in task.rationale
    later = make_facts([quiet], deals=[make_deal(closing_date=in_days(45))])
    assert {r.priority for r in _review(later)} == {"high"}
    closed = make_facts([quiet], deals=[make_deal(closing_date=in_days(12), stage="Closed Won")])
    assert "critical" not in {r.priority for r in _review(closed)}
    # A quiet spell (the warning) is critical only within half the window.
    warning = signal("no_activity_warning", "warning", [ACCOUNT])
    near = make_facts([warning], deals=[make_deal(closing_date=in_days(10))])
    assert "critical" in {r.priority for r in _review(near)}
    far = make_facts([warning], deals=[make_deal(closing_date=in_days(20))])
    assert "critical" not in {r.priority for r in _review(far)}
    # A stalled deal closing soon is urgent, but not a loss in itself: high at most.
    stalled = signal("stalled_in_stage", "high", [DEAL])
    deal = make_facts([stalled], deals=[make_deal(closing_date=in_days(5))])
    assert {r.priority for r in _review(deal)} <= {"high", "medium"}


def test_at_risk_rating_rides_with_the_top_recommendation_and_comes_back() -> None:
    policy = AuthorPolicy(at_risk_rating="At Risk")
    pushed = signal("close_date_pushed", "high", [field(DEAL, "Closing_Date")])
    top, *rest = author(policy).author(make_facts([pushed]), context())
    assert top.type == "create_task"
    assert not any(w.type == "update_account" for r in rest for w in r.also)
    update = next(w for w in top.also if w.type == "update_account")
    assert isinstance(update.action, UpdateAccountAction)
    change = update.action.field_changes[0]
    assert (change.field, change.old, change.new) == ("Rating", "Active", "At Risk")
    # Nothing left at risk: the Rating goes back, as its own small decision.
    calm = make_facts([], rating="At Risk")
    (back,) = author(policy).author(calm, context())
    assert back.type == "update_account"
    assert back.priority == "low"
    assert isinstance(back.suggested_action, UpdateAccountAction)
    restore = back.suggested_action.field_changes[0]
    assert (restore.old, restore.new) == ("At Risk", "Active")
    assert "zoho:Accounts:A1#Rating" in back.data_references
    # Without a configured at-risk value nothing is proposed either way.
    assert author().author(calm, context()) == []
    # A warning-level problem does not make an account "at risk".
    mild = signal("no_next_step", "warning", [DEAL])
    (only,) = author(policy).author(make_facts([mild]), context())
    assert not only.also
