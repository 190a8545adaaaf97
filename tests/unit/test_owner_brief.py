"""The owner's current brief, pure parts: compile (ranking, expiry, counts), the Markdown
(names, money, escaping of CRM text) and loading briefs stored before the current picture."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sergas_tui.briefs.compile import as_current, compile_current_brief
from sergas_tui.briefs.markdown import render_brief
from sergas_tui.briefs.sections import brief_sections
from sergas_tui.briefs.wording import signal_text
from sergas_tui.domain import (
    AccountChanges,
    Approval,
    ApprovalStatus,
    BriefAccount,
    Change,
    OwnerBrief,
    Recommendation,
    RecordRef,
    RiskSignal,
    Snapshot,
)
from sergas_tui.domain.brief import CurrentBrief
from sergas_tui.domain.names import CrmUser, RecordNames

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
OWNER = "jordan@example.test"
ACME = "5725767000001000001"
EVIL = "5725767000001000002"
QUIET = "5725767000001000003"
DEAL = "5725767000001000010"
EVIL_DEAL = "5725767000001000020"
LONG_ID = re.compile(r"\d{15,}")
EVIL_NAME = "Evil [click](https://evil.example) *Corp* <b>|x|</b> \x1b[31m`rm`"


def snapshots() -> list[Snapshot]:
    def one(account_id: str, data: dict[str, Any]) -> Snapshot:
        return Snapshot(
            account_id=account_id, owner_email=OWNER, taken_at=NOW, content_hash="h", data=data
        )

    return [
        one(
            ACME,
            {
                "Account_Name": "Acme Rockets",
                "Currency": "EUR",
                "Deals": {
                    DEAL: {"Deal_Name": "Acme - Renewal", "Stage": "Proposal", "Amount": 5e5}
                },
            },
        ),
        one(
            EVIL,
            {
                "Account_Name": EVIL_NAME,
                "Deals": {
                    EVIL_DEAL: {"Deal_Name": "# Heading ![img](x)", "Stage": "Qualification"}
                },
            },
        ),
        one(QUIET, {"Account_Name": "Quiet Quarry"}),
    ]


def names() -> RecordNames:
    built = RecordNames.from_snapshots(snapshots())
    built.add_users([CrmUser("u1", OWNER, "Jordan Avery"), CrmUser("u2", "dana@x.test", "Dana W")])
    return built


def signal(key: str, message: str, deal: str | None = None, **data: Any) -> RiskSignal:
    evidence = [RecordRef(module="Deals", id=deal)] if deal else []
    return RiskSignal(key=key, severity="high", message=message, evidence=evidence, data=data)


CUT = signal(
    "amount_decreased",
    "Deal 'Acme - Renewal' amount fell from 800,000 to 500,000 (38% lower)",
    DEAL,
    old_amount=800_000.0,
    new_amount=500_000.0,
)
SHADY = signal("no_next_step", "Deal '# Heading ![img](x)' has <no> next step | **now**", EVIL_DEAL)
QUIETLY = RiskSignal(key="no_activity_warning", severity="warning", message="No touch in 40 days")


def accounts() -> list[BriefAccount]:
    return [
        BriefAccount(
            account_id=ACME, account_name="Acme Rockets", risk_level="high", signals=[CUT]
        ),
        BriefAccount(account_id=EVIL, account_name=EVIL_NAME, risk_level="high", signals=[SHADY]),
        BriefAccount(
            account_id=QUIET, account_name="Quiet Quarry", risk_level="medium", signals=[QUIETLY]
        ),
    ]


def rec(account_id: str, priority: str, value: float, **kw: Any) -> Recommendation:
    payload = kw.pop("action", {"subject": f"Call {account_id[-2:]}", "due_date": "2026-11-05"})
    return Recommendation.model_validate(
        {
            "type": kw.pop("type", "create_task"),
            "priority": priority,
            "confidence": "high",
            "rationale": "Boilerplate paragraph. It goes on and on. And on.",
            "suggested_action": payload,
            "account_id": account_id,
            "value": value,
            "created_at": NOW,
            **kw,
        }
    )


def approval(r: Recommendation, *, status: str = "pending", **kw: Any) -> Approval:
    return Approval(
        id=f"ap-{r.id}",
        recommendation_id=r.id,
        account_id=r.account_id or "",
        owner_email=OWNER,
        action_type=r.type,
        payload=r.suggested_action,
        status=ApprovalStatus(status),
        created_at=kw.pop("created_at", NOW - timedelta(hours=1)),
        **kw,
    )


def compile_state(**overrides: Any) -> CurrentBrief:
    low = rec(ACME, "medium", 50.0, signals=["amount_decreased"])
    high_small = rec(ACME, "high", 1.0, data_references=[f"zoho:Deals:{DEAL}#Amount"])
    high_big = rec(EVIL, "high", 10.0, signals=["no_next_step"])
    queued = rec(EVIL, "low", 3.0, status="queued", signals=["no_next_step"])
    done = rec(QUIET, "high", 9.0)
    state: dict[str, Any] = {
        "generated_at": NOW,
        "accounts": accounts(),
        "changes": [
            AccountChanges(
                account_id=ACME,
                account_name="Acme Rockets",
                changes=[
                    Change(field="Amount", old=8e5, new=5e5, module="Deals", record_id=DEAL),
                    Change(
                        field="Stage",
                        old="Qualification",
                        new="Proposal",
                        module="Deals",
                        record_id=DEAL,
                    ),
                ],
            )
        ],
        "pending": [(approval(r), r) for r in (low, high_small, high_big)],
        "queued": [queued],
        "decided": [
            approval(done, status="approved", decided_by=OWNER, decided_at=NOW - timedelta(hours=2))
        ],
        "last_review_at": NOW - timedelta(hours=1),
    }
    state.update(overrides)
    return compile_current_brief(OWNER, **state)


def test_the_queue_ranks_priority_then_expected_value() -> None:
    brief = compile_state()
    ranked = [(r.priority, r.value) for r in brief.recommendations]
    assert ranked == [("high", 10.0), ("high", 1.0), ("medium", 50.0), ("low", 3.0)]
    assert [i.recommendation_id for i in brief.queue] == [r.id for r in brief.recommendations[:3]]
    assert brief.recommendations[-1].status == "queued"


def test_counts_are_one_definition() -> None:
    counts = compile_state().counts
    assert counts.accounts == 3
    assert counts.with_signals == 3
    assert counts.need_attention == 2  # Acme and Evil have open items; Quiet's is decided
    assert counts.signals_need_attention + counts.other_signals == counts.with_signals
    assert counts.other_signals == 1
    assert (counts.in_queue, counts.queue_accounts) == (3, 2)
    assert (counts.queued_more, counts.more_accounts) == (1, 1)
    assert counts.decided == 1
    assert counts.changed_accounts == 1


def test_an_expired_approval_is_decided_not_pending() -> None:
    r = rec(ACME, "critical", 99.0)
    late = approval(r, created_at=NOW - timedelta(days=4))  # 72 h have passed
    brief = compile_state(pending=[(late, r)], decided=[])
    assert brief.queue == []
    assert [(i.approval_id, i.status) for i in brief.decided] == [(late.id, "expired")]
    assert brief.counts.in_queue == 0
    assert brief.counts.decided == 1
    assert r.id not in {x.id for x in brief.recommendations}


def test_old_decisions_fall_out_of_the_window() -> None:
    r = rec(QUIET, "high", 1.0)
    old = approval(r, status="rejected", decided_by=OWNER, decided_at=NOW - timedelta(days=8))
    assert compile_state(decided=[old]).decided == []


def test_the_markdown_names_records_and_shows_money_with_currency() -> None:
    text = render_brief(compile_state(), names=names())
    assert text.startswith("# Account brief — Jordan Avery \\<jordan@example.test\\>")
    assert "**Acme Rockets**" in text
    assert "EUR 500,000 in open deals" in text
    assert "amount fell from EUR 800,000 to EUR 500,000" in text
    changed = "Deal 'Acme - Renewal': Amount EUR 800,000 → EUR 500,000, Stage Qualification →"
    assert changed in text
    assert "approved by you 2026-11-02 07:30" in text
    queue = text.split("## Your queue")[1].split("## More")[0]
    assert "Why: Boilerplate paragraph. It goes on and on.\n" in queue  # no signal: 2 sentences
    assert "And on." not in queue
    assert not LONG_ID.search(text)


def test_crm_text_cannot_inject_markdown() -> None:
    text = render_brief(compile_state(), names=names())
    assert "[click](https://evil.example)" not in text
    assert "\\[click\\](https://evil.example)" in text
    assert "\\*Corp\\* \\<b\\>\\|x\\|\\</b\\>" in text
    assert "\\`rm\\`" in text
    assert "\x1b" not in text
    assert "<b>" not in text
    assert "<no>" not in text
    assert "\\<no\\> next step \\| \\*\\*now\\*\\*" in text
    assert "!\\[img\\](x)" in text
    # Nothing from the CRM starts a line: headings and list items are ours alone.
    assert not [line for line in text.splitlines() if line.startswith("# Heading")]


def test_every_section_states_what_it_left_out() -> None:
    many = [rec(ACME, "low", float(i), status="queued") for i in range(45)]
    brief = compile_state(queued=many)
    sections = brief_sections(brief, names())
    assert len(sections.more) + sections.more_left == brief.counts.queued_more == 45
    assert sections.more_left == 15
    assert "- …and 15 more." in render_brief(brief, names=names())


def test_signal_amounts_take_the_deal_currency() -> None:
    assert signal_text(CUT, names(), ACME) == (
        "Deal 'Acme - Renewal' amount fell from EUR 800,000 to EUR 500,000 (38% lower)"
    )


def test_a_run_brief_renders_as_a_current_picture() -> None:
    r = rec(ACME, "high", 2.0)
    run = OwnerBrief(
        owner_email=OWNER,
        generated_at=NOW,
        accounts_reviewed=1,
        high_priority_accounts=1,
        recommendations=[r],
        accounts=[BriefAccount(account_id=ACME, account_name="Acme Rockets")],
    )
    current = as_current(run)
    assert [i.recommendation_id for i in current.queue] == [r.id]
    assert current.queue[0].expires_at is None
    text = render_brief(run, names=names())
    assert "1. **Acme Rockets** — high" in text
    assert "approval `" not in text


def test_briefs_stored_before_load_and_the_current_one_loads_as_a_brief() -> None:
    old = (
        '{"owner_email": "a@b.test", "generated_at": "2026-11-02T09:30:00Z", '
        '"accounts_reviewed": 1, "high_priority_accounts": 0, "recommendations": [], '
        '"summary": {"accounts_with_changes": 0, "accounts_at_risk": 0, '
        '"recommendations_by_priority": {}, "recommendations_by_type": {}, '
        '"pending_approvals": 0}, "changes": [], "accounts": []}'
    )
    assert OwnerBrief.model_validate_json(old).accounts_reviewed == 1
    assert CurrentBrief.model_validate_json(old).queue == []
    current = compile_state()
    again = OwnerBrief.model_validate_json(current.model_dump_json())
    assert len(again.recommendations) == 4
    assert CurrentBrief.model_validate_json(current.model_dump_json()) == current
    assert "token" not in current.model_dump_json()


def test_a_failed_write_says_why_and_who_decided() -> None:
    r = rec(QUIET, "high", 1.0)
    failed = approval(
        r,
        status="failed",
        decided_by="dana@x.test",
        decided_at=NOW - timedelta(hours=3),
        error_message="Zoho said *no* [twice]",
    )
    text = render_brief(compile_state(decided=[failed]), names=names())
    line = next(x for x in text.splitlines() if x.startswith("- **Quiet Quarry**"))
    assert "failed by Dana W \\<dana@x.test\\> 2026-11-02 06:30" in line
    assert line.endswith(f"— Zoho said \\*no\\* \\[twice\\] · `{failed.id[:8]}`")
