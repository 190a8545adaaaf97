"""The review view model: events in, lane lines, counts and wording out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AccountRecalled,
    AccountScouted,
    AgentText,
    RecommendationProposed,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
)
from sergas_tui.domain import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FieldChange,
    FollowUpEmailAction,
    Recommendation,
    RiskSignal,
    UpdateAccountAction,
)
from sergas_tui.viewmodels.review import (
    LaneLine,
    ReviewProgress,
    Usage,
    action_headline,
    elapsed_text,
    idle_text,
    tokens_text,
    usage_of,
)

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
RUN = "run-1"


def task(subject: str = "Call the sponsor", priority: str = "high") -> Recommendation:
    return Recommendation.model_validate(
        {
            "type": "create_task",
            "priority": priority,
            "confidence": "medium",
            "rationale": "Stalled deal",
            "suggested_action": {"subject": subject},
        }
    )


def stalled() -> RiskSignal:
    return RiskSignal(key="stalled", severity="high", message="stalled 48 d in Negotiation")


def started(engine: str = "rules") -> ReviewProgress:
    progress = ReviewProgress()
    progress.begin("jordan@example.com", T0)
    progress.apply(RunStarted(RUN, "jordan@example.com", engine, T0), T0)
    return progress


def test_one_account_from_scout_to_author() -> None:
    p = started()
    assert p.apply(Synced(RUN, 48, 3, True), T0) == []
    assert "Synced 48 accounts" in p.note
    scout = p.apply(AccountScouted(RUN, "a1", "Acme Corp", (stalled(), stalled()), 2, 2), T0)
    assert scout == [
        LaneLine("scout", "Acme Corp — 2 signals: stalled 48 d in Negotiation…, 2 changes", "risk")
    ]
    analyst = p.apply(AccountRecalled(RUN, "a1", "declining", True), T0)
    assert analyst == [LaneLine("analyst", "Acme Corp — sentiment declining, memory stale", "risk")]
    author = p.apply(RecommendationProposed(RUN, "a1", task(), "ap-1"), T0)
    assert author == [LaneLine("author", "Acme Corp — create_task high: Call the sponsor", "risk")]
    assert p.apply(AccountAuthored(RUN, "a1", 1, 1, 2), T0) == []
    later = T0 + timedelta(seconds=7)
    assert p.status_text(later) == "1/2 accounts · 0:07 elapsed · 1 proposed write · 1 at risk"


def test_quiet_account_and_nothing_to_propose_are_muted() -> None:
    p = started()
    [scout] = p.apply(AccountScouted(RUN, "b", "Beta", (), 0, 1), T0)
    assert (scout.text, scout.tone) == ("Beta — no risk signals, 0 changes", "muted")
    [author] = p.apply(AccountAuthored(RUN, "b", 0, 1, 1), T0)
    assert (author.text, author.tone) == ("Beta — nothing to propose", "muted")


def test_failures_are_listed_and_counted_while_the_run_goes_on() -> None:
    p = started()
    p.apply(AccountScouted(RUN, "a1", "Acme", (), 0, 3), T0)
    [line] = p.apply(AccountFailed(RUN, "a1", "Acme", "CRM timed out", 1, 3), T0)
    assert line == LaneLine("author", "Acme — failed: CRM timed out", "error")
    p.apply(AccountAuthored(RUN, "a2", 2, 2, 3), T0)
    assert p.running
    assert [f.text for f in p.failures] == ["Acme — CRM timed out"]
    assert "2/3 accounts" in p.status_text(T0)
    assert "1 failed" in p.status_text(T0)


def test_finished_run_summary_and_next_step() -> None:
    p = started()
    p.apply(AccountAuthored(RUN, "a1", 2, 1, 1), T0)
    summary = RunSummary(accounts=1, at_risk=1, recommendations=2, seconds=0.3)
    end = T0 + timedelta(seconds=65)
    p.apply(RunFinished(RUN, summary, ()), end)
    assert p.state == "finished"
    assert p.summary_text(end + timedelta(hours=1)) == (
        "Reviewed 1 account in 1:05 · 1 at risk · 2 proposed writes"
    )
    assert p.next_step_text() == "Press 3 to decide on 2 proposed writes."


def test_finished_run_says_what_landed_and_what_waits() -> None:
    p = started()
    p.apply(AccountAuthored(RUN, "a1", 30, 1, 1), T0)
    summary = RunSummary(accounts=1, at_risk=1, recommendations=30, landed=18, queued=12)
    p.apply(RunFinished(RUN, summary, ()), T0)
    assert p.summary_text(T0).endswith(
        "30 proposed writes · 18 in your queue · 12 more, lower priority"
    )
    assert p.next_step_text() == (
        "Press 3 to decide on the 18 new items in your queue; 12 more wait beyond today's "
        "budget (m there)."
    )
    full = started()
    full.apply(RunFinished(RUN, RunSummary(accounts=1, recommendations=4, queued=4), ()), T0)
    assert "Your queue is full for today; 4 more wait" in full.next_step_text()


def test_cancel_keeps_partial_results_and_marks_every_lane() -> None:
    p = started()
    p.apply(AccountScouted(RUN, "a1", "Acme", (), 0, 4), T0)
    p.apply(AccountAuthored(RUN, "a1", 1, 1, 4), T0)
    lines = p.cancel(T0 + timedelta(seconds=3))
    assert {line.lane for line in lines} == {"scout", "analyst", "author"}
    assert all("cancelled" in line.text for line in lines)
    assert p.state == "cancelled"
    assert p.summary_text(T0) == "Cancelled after 1/4 accounts (0:03); 1 proposed write kept."
    assert p.cancel(T0) == []  # only once


def test_failed_run() -> None:
    p = started()
    lines = p.fail("The CRM is down.", T0)
    assert len(lines) == 3
    assert p.state == "failed"
    assert "The CRM is down." in p.summary_text(T0)
    assert p.next_step_text() == "Nothing to decide. Press r to review again."


def test_agent_text_goes_to_its_lane_and_orchestrator_text_to_the_note() -> None:
    p = started("claude")
    p.apply(AccountScouted(RUN, "a1", "Acme", (), 0, 1), T0)
    assert p.apply(
        AgentText(RUN, "analyst", "  Sentiment dips after the price rise.\n", "a1"), T0
    ) == [LaneLine("analyst", "Acme: Sentiment dips after the price rise.", "reasoning")]
    assert p.apply(AgentText(RUN, "orchestrator", "Planning 12 accounts"), T0) == []
    assert p.note == "Planning 12 accounts"
    assert p.apply(AgentText(RUN, "scout", "   "), T0) == []


def test_idle_and_running_status() -> None:
    assert ReviewProgress().status_text(T0) == "No review yet."
    p = ReviewProgress()
    p.begin("j@example.com", T0)
    assert p.status_text(T0 + timedelta(seconds=2)).startswith("… · 0:02 elapsed")
    assert p.next_step_text() == ""


def test_cost_for_the_rules_engine() -> None:
    assert started().cost_text() == "engine: rules · no token cost"
    assert started("claude").cost_text() == "engine: claude · tokens not reported"


@dataclass(frozen=True)
class _FutureUsage:
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


@dataclass(frozen=True)
class _BilledText(AgentText):
    usage: _FutureUsage | None = None


def test_usage_on_future_events_is_summed_and_the_run_total_wins() -> None:
    p = started("claude")
    p.apply(_BilledText(RUN, "scout", "x", None, _FutureUsage(1200, 300, 0.01)), T0)
    p.apply(_BilledText(RUN, "author", "y", None, _FutureUsage(800, 200, 0.02)), T0)
    assert p.usage == Usage(2000, 500, cast(float, pytest.approx(0.03)))
    assert p.cost_text() == "engine: claude · 2.0k in / 500 out tokens · $0.03"

    @dataclass(frozen=True)
    class _BilledFinish(RunFinished):
        usage: _FutureUsage | None = None

    p.apply(_BilledFinish(RUN, RunSummary(), (), _FutureUsage(5_000_000, 1, None)), T0)
    assert p.cost_text() == "engine: claude · 5.0M in / 1 out tokens"
    assert usage_of(RunFinished(RUN, RunSummary(), ())) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (7.9, "0:07"), (65, "1:05"), (3723, "1:02:03"), (-1, "0:00")]
)
def test_elapsed_text(seconds: float, text: str) -> None:
    assert elapsed_text(seconds) == text


@pytest.mark.parametrize(("count", "text"), [(950, "950"), (12_345, "12.3k"), (1_200_000, "1.2M")])
def test_tokens_text(count: int, text: str) -> None:
    assert tokens_text(count) == text


@pytest.mark.parametrize(
    ("rec_type", "action", "headline"),
    [
        ("create_task", CreateTaskAction(subject="Call"), "Call"),
        ("add_note", AddNoteAction(title="Risk", content="…"), "Risk"),
        (
            "follow_up_email",
            FollowUpEmailAction(subject="Hi", draft_body="b", recipient="a@b.example"),
            "email to a@b.example: Hi",
        ),
        (
            "update_account",
            UpdateAccountAction(field_changes=[FieldChange(field="Rating", old="A", new="B")]),
            "Rating → B",
        ),
        (
            "escalation",
            EscalationAction(escalate_to="manager", reason="Big deal"),
            "to manager: Big deal",
        ),
    ],
)
def test_action_headline(rec_type: str, action: object, headline: str) -> None:
    rec = Recommendation.model_validate(
        {
            "type": rec_type,
            "priority": "low",
            "confidence": "low",
            "rationale": "r",
            "suggested_action": action,
        }
    )
    assert action_headline(rec) == headline


def test_long_names_are_cut_and_markup_stays_literal() -> None:
    p = started()
    name = "Square [bold]Bracket[/bold] Media " + "x" * 100
    [line] = p.apply(AccountScouted(RUN, "a", name, (), 0, 1), T0)
    assert line.text.startswith("Square [bold]Bracket[/bold] Media xxx")
    assert "…" in line.text
    assert len(line.text) < 100


def test_idle_text() -> None:
    assert "your 48 accounts (j@example.com)" in idle_text(48, "j@example.com")
    assert "your 1 account " in idle_text(1, "j@example.com")
    assert "your accounts" in idle_text(None, "j@example.com")
    assert "user_email" in idle_text(None, None)
