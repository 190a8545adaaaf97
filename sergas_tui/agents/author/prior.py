"""Past outcomes for the rules author: what became of earlier recommendations for an account.

A type the owner rejected often is proposed at a lower priority; a (type, target) that is still
pending, or was executed or approved recently, is not proposed again; and the same (type,
target) is proposed at most once a day, since its id (:func:`.rules.recommendation_id`)
depends only on the account, type, target and day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sergas_tui.agents.author.rules import AuthorPolicy
from sergas_tui.domain import Approval, ApprovalStatus, Recommendation
from sergas_tui.domain.common import RecommendationType
from sergas_tui.domain.outputs import RecommendationStatus


def target_of(rec: Recommendation) -> str | None:
    """The record a recommendation from this author is about: its first data reference."""
    if not rec.data_references:
        return None
    return rec.data_references[0].split("#", 1)[0]


_APPROVAL_STATUS: Mapping[ApprovalStatus, RecommendationStatus] = MappingProxyType(
    {
        ApprovalStatus.PENDING: "pending",
        ApprovalStatus.APPROVED: "approved",
        ApprovalStatus.ADJUSTED: "adjusted",
        ApprovalStatus.REJECTED: "rejected",
        ApprovalStatus.EXPIRED: "expired",
        ApprovalStatus.EXECUTING: "approved",
        ApprovalStatus.EXECUTED: "executed",
        ApprovalStatus.FAILED: "failed",
    }
)


@dataclass(frozen=True)
class PriorRec:
    """An earlier recommendation for the account and what became of it.

    ``target`` is the record it was about (``zoho:Deals:1``); ``None`` means unknown, which
    matches every target of the same type (the safe side: no duplicate proposals).
    """

    type: RecommendationType
    created_at: datetime
    status: RecommendationStatus
    executed_at: datetime | None = None
    outcome: str | None = None
    target: str | None = None
    recommendation_id: str | None = None

    @classmethod
    def from_recommendation(
        cls,
        rec: Recommendation,
        *,
        executed_at: datetime | None = None,
        outcome: str | None = None,
    ) -> PriorRec:
        return cls(
            type=rec.type,
            created_at=rec.created_at,
            status=rec.status,
            executed_at=executed_at,
            outcome=outcome,
            target=target_of(rec),
            recommendation_id=rec.id,
        )

    @classmethod
    def from_approval(
        cls, approval: Approval, now: datetime, *, target: str | None = None
    ) -> PriorRec:
        """An approval as a prior; an executing one counts as approved, a pending one whose
        time is up as expired."""
        status = "expired" if approval.is_expired(now) else _APPROVAL_STATUS[approval.status]
        return cls(
            type=approval.action_type,
            created_at=approval.created_at,
            status=status,
            executed_at=approval.executed_at,
            outcome=approval.error_message or approval.decision_rationale,
            target=target,
            recommendation_id=approval.recommendation_id,
        )

    def matches(self, kind: str, target: str) -> bool:
        return self.type == kind and (self.target is None or self.target == target)

    def blocks(self, now: datetime, policy: AuthorPolicy) -> bool:
        """Whether this prior stops the same proposal now: still pending, or executed /
        approved within the repeat window."""
        if self.status == "pending":
            return True
        if self.status in ("approved", "adjusted", "executed"):
            when = self.executed_at or self.created_at
            return now - when <= timedelta(days=policy.repeat_window_days)
        return False

    def recently_rejected(self, now: datetime, policy: AuthorPolicy) -> bool:
        return self.status == "rejected" and now - self.created_at <= timedelta(
            days=policy.rejection_window_days
        )
