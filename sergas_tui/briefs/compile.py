"""Compile an owner brief (the seed's OwnerBrief) from a run's account reviews.

High-risk accounts come first, then accounts with changes; recommendations follow their
account's order and, within it, priority. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sergas_tui.domain import (
    AccountChanges,
    AccountReview,
    BriefAccount,
    BriefSummary,
    OwnerBrief,
    Recommendation,
)
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
