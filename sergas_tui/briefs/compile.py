"""Compile owner briefs. Pure: no I/O.

:func:`compile_brief` makes a run's brief (the seed's OwnerBrief) from its account reviews:
high-risk accounts first, then accounts with changes; recommendations follow their account's
order and, within it, priority. The orchestrator stores one per owner per run; they keep each
account's latest signals and changes.

:func:`compile_current_brief` makes what an owner reads, the :class:`CurrentBrief`: every open
item with its status at export time, from the state :mod:`sergas_tui.briefs.current` reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sergas_tui.domain import (
    AccountChanges,
    AccountReview,
    Approval,
    ApprovalStatus,
    BriefAccount,
    BriefSummary,
    OwnerBrief,
    Recommendation,
)
from sergas_tui.domain.brief import BriefCounts, BriefItem, CurrentBrief
from sergas_tui.domain.queue import queue_order
from sergas_tui.domain.signals import risk_level, risk_score

PRIORITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def review_order(review: AccountReview) -> tuple[int, int, str]:
    """Sort key: riskiest first, then changed accounts, then by name."""
    facts = review.facts
    return (-risk_score(facts.signals), 0 if facts.changes else 1, facts.account.name.casefold())


def recommendation_order(rec: Recommendation) -> tuple[int, str]:
    return (PRIORITY_RANK.get(rec.priority, 9), rec.type)


def compile_brief(
    owner_email: str,
    reviews: Sequence[AccountReview],
    *,
    generated_at: datetime,
    pending_approvals: int = 0,
    accounts_reviewed: int | None = None,
) -> OwnerBrief:
    ordered = sorted(reviews, key=review_order)
    recommendations: list[Recommendation] = []
    accounts: list[BriefAccount] = []
    changes: list[AccountChanges] = []
    for review in ordered:
        facts = review.facts
        recs = sorted(review.recommendations, key=recommendation_order)
        recommendations += recs
        accounts.append(
            BriefAccount(
                account_id=facts.account_id,
                account_name=facts.account.name,
                risk_level=risk_level(facts.signals),
                signals=list(facts.signals),
                sentiment_trend=review.context.historical_context.sentiment_trend,
                memory_stale=review.context.memory_stale,
                recommendation_ids=[r.id for r in recs],
            )
        )
        if facts.changes:
            changes.append(
                AccountChanges(
                    account_id=facts.account_id,
                    account_name=facts.account.name,
                    changes=list(facts.changes),
                )
            )
    high_priority = sum(
        1
        for review, account in zip(ordered, accounts, strict=True)
        if account.risk_level in ("high", "critical")
        or any(r.priority in ("high", "critical") for r in review.recommendations)
    )
    summary = BriefSummary(
        accounts_with_changes=len(changes),
        accounts_at_risk=sum(1 for review in ordered if review.facts.signals),
        recommendations_by_priority=dict(Counter(r.priority for r in recommendations)),
        recommendations_by_type=dict(Counter(r.type for r in recommendations)),
        pending_approvals=pending_approvals,
    )
    return OwnerBrief(
        owner_email=owner_email,
        generated_at=generated_at,
        accounts_reviewed=len(ordered) if accounts_reviewed is None else accounts_reviewed,
        high_priority_accounts=high_priority,
        recommendations=recommendations,
        summary=summary,
        changes=changes,
        accounts=accounts,
    )


# -- the owner's current picture -------------------------------------------------------------

DECIDED_WINDOW = timedelta(days=7)
"""How far back the brief lists decisions ("recently decided")."""


def queue_rank(approval: Approval, rec: Recommendation | None) -> tuple[int, float, datetime, str]:
    """The queue's order: priority (critical first), then expected value (highest first), then
    the oldest, then by id."""
    priority = PRIORITY_RANK.get(rec.priority, 9) if rec else 9
    value = (rec.value or 0.0) if rec else 0.0
    return (priority, -value, approval.created_at, approval.id)


def decided_time(approval: Approval) -> datetime:
    """When an approval was decided (an expired one: when its time ran out)."""
    if approval.status == ApprovalStatus.EXPIRED or approval.status == ApprovalStatus.PENDING:
        return approval.decided_at or approval.expiry
    return approval.decided_at or approval.executed_at or approval.created_at


def account_order(account: BriefAccount) -> tuple[int, str]:
    """Riskiest first, then by name."""
    return (-risk_score(account.signals), account.account_name.casefold())


def compile_current_brief(
    owner_email: str,
    *,
    generated_at: datetime,
    accounts: Sequence[BriefAccount],
    changes: Sequence[AccountChanges],
    pending: Sequence[tuple[Approval, Recommendation | None]],
    queued: Sequence[Recommendation],
    decided: Sequence[Approval],
    last_review_at: datetime | None = None,
    decided_window: timedelta = DECIDED_WINDOW,
) -> CurrentBrief:
    """The owner's current picture from the workspace's state at ``generated_at`` (pure).

    ``accounts`` are the owner's accounts with their latest signals, ``changes`` what their
    latest review found, ``pending`` the pending approvals with their recommendations,
    ``queued`` the queued recommendations and ``decided`` the approvals that left ``pending``.
    A pending approval past its expiry counts as expired (it is no longer decidable). Every
    count in :class:`BriefCounts` is computed here, from the same lists the sections show.
    """
    since = generated_at - decided_window
    live = [(a, r) for a, r in pending if not a.is_expired(generated_at)]
    lapsed = [a for a, _ in pending if a.is_expired(generated_at)]
    live.sort(key=lambda pair: queue_rank(*pair))
    queue = [BriefItem.of(a) for a, _ in live]
    ended = [a for a in decided if a.status != ApprovalStatus.PENDING] + lapsed
    recent = [
        BriefItem.of(a, str(ApprovalStatus.EXPIRED) if a.status == ApprovalStatus.PENDING else None)
        for a in sorted(
            (a for a in ended if decided_time(a) >= since),
            key=lambda a: (decided_time(a), a.id),
            reverse=True,
        )
    ]
    more = queue_order([r for r in queued if r.status == "queued"])
    in_queue = [r.model_copy(update={"status": "pending"}) for _, r in live if r is not None]
    open_recs = [*in_queue, *more]

    by_account: dict[str, list[str]] = {}
    for rec in open_recs:
        by_account.setdefault(rec.account_id or "", []).append(rec.id)
    queue_accounts = {item.account_id for item in queue}
    more_accounts = {r.account_id or "" for r in more}
    attention = queue_accounts | more_accounts
    known = {a.account_id: a for a in accounts}
    for account_id in sorted(attention - known.keys()):  # open items of unknown accounts count
        known[account_id] = BriefAccount(account_id=account_id, account_name="")
    listed = sorted(
        (
            a.model_copy(update={"recommendation_ids": by_account.get(a.account_id, [])})
            for a in known.values()
        ),
        key=account_order,
    )
    with_signals = {a.account_id for a in listed if a.signals}
    position = {a.account_id: i for i, a in enumerate(listed)}
    changed = sorted(
        (c for c in changes if c.changes and c.account_id in position),
        key=lambda c: position[c.account_id],
    )
    counts = BriefCounts(
        accounts=len(listed),
        with_signals=len(with_signals),
        need_attention=len(attention),
        signals_need_attention=len(with_signals & attention),
        other_signals=len(with_signals - attention),
        nothing_to_report=len(position.keys() - attention - with_signals),
        in_queue=len(queue),
        queue_accounts=len(queue_accounts),
        queued_more=len(more),
        more_accounts=len(more_accounts),
        decided=len(recent),
        changed_accounts=len(changed),
    )
    summary = BriefSummary(
        accounts_with_changes=counts.changed_accounts,
        accounts_at_risk=counts.with_signals,
        recommendations_by_priority=dict(Counter(r.priority for r in open_recs)),
        recommendations_by_type=dict(Counter(r.type for r in open_recs)),
        pending_approvals=counts.in_queue,
    )
    return CurrentBrief(
        owner_email=owner_email,
        generated_at=generated_at,
        accounts_reviewed=counts.accounts,
        high_priority_accounts=counts.need_attention,
        recommendations=open_recs,
        summary=summary,
        changes=changed,
        accounts=listed,
        last_review_at=last_review_at,
        decided_since=since,
        queue=queue,
        decided=recent,
        counts=counts,
    )


def as_current(brief: OwnerBrief) -> CurrentBrief:
    """A brief as a current picture: a :class:`CurrentBrief` as it is; a run's brief with its
    pending recommendations as the queue (no approval ids or expiry: a run's brief does not
    know them) and its queued ones as "more"."""
    if isinstance(brief, CurrentBrief):
        return brief
    proposed = [
        (
            Approval(
                id="",
                recommendation_id=rec.id,
                account_id=rec.account_id or "",
                owner_email=brief.owner_email,
                action_type=rec.type,
                payload=rec.suggested_action,
                also=list(rec.also),
                created_at=brief.generated_at,
            ),
            rec,
        )
        for rec in brief.recommendations
        if rec.status == "pending"
    ]
    current = compile_current_brief(
        brief.owner_email,
        generated_at=brief.generated_at,
        accounts=brief.accounts or [],
        changes=brief.changes or [],
        pending=proposed,
        queued=[r for r in brief.recommendations if r.status == "queued"],
        decided=[],
        last_review_at=brief.generated_at,
    )
    queue = [item.model_copy(update={"expires_at": None}) for item in current.queue]
    return current.model_copy(update={"queue": queue})
