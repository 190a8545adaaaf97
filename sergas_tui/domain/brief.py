"""The owner's current picture: the brief as it stands when it is exported.

A review stores a per-run :class:`~sergas_tui.domain.outputs.OwnerBrief` (what that run found:
signals and changes of the accounts it reviewed). What an owner reads is different: every open
item, with the status each has *now*. :class:`CurrentBrief` is that picture, compiled at export
time from the workspace (:mod:`sergas_tui.briefs.current`). It is an ``OwnerBrief`` (the seed's
fields keep their meaning: ``recommendations`` are the open ones, ``accounts`` every account of
the owner with its latest signals) plus the approvals behind the queue, the recent decisions and
one set of :class:`BriefCounts` that every section agrees with.

"Needs attention" has one meaning everywhere: the account has something waiting for the owner's
decision, a pending approval in the queue or a queued recommendation ("more, lower priority").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from sergas_tui.domain.approval import Approval
from sergas_tui.domain.common import RecommendationType, Timestamp
from sergas_tui.domain.outputs import (
    AlsoWrite,
    OwnerBrief,
    SuggestedAction,
    check_action_type,
    resolve_typed_action,
)


class BriefItem(BaseModel):
    """An approval as the brief shows it: the write, its status at export time and when.

    No token: a brief is a file people pass around.
    """

    approval_id: str
    recommendation_id: str
    account_id: str
    status: str
    action_type: RecommendationType
    payload: SuggestedAction
    also: list[AlsoWrite] = Field(default_factory=list)
    created_at: Timestamp
    expires_at: Timestamp | None = None
    decided_at: Timestamp | None = None
    decided_by: str | None = None
    executed_at: Timestamp | None = None
    error_message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        return resolve_typed_action(data, "action_type", "payload")

    @model_validator(mode="after")
    def _payload_matches_type(self) -> BriefItem:
        check_action_type(self.action_type, self.payload)
        return self

    @classmethod
    def of(cls, approval: Approval, status: str | None = None) -> BriefItem:
        """The approval without its token; ``status`` overrides the stored one (a pending
        approval past its expiry is ``expired`` at export time)."""
        return cls(
            approval_id=approval.id,
            recommendation_id=approval.recommendation_id,
            account_id=approval.account_id,
            status=status or str(approval.status),
            action_type=approval.action_type,
            payload=approval.payload,
            also=list(approval.also),
            created_at=approval.created_at,
            expires_at=approval.expires_at,
            decided_at=approval.decided_at,
            decided_by=approval.decided_by,
            executed_at=approval.executed_at,
            error_message=approval.error_message,
        )


class BriefCounts(BaseModel):
    """The header's numbers; each is the size of a section (or a union of them)."""

    accounts: int = 0
    """The owner's accounts in the workspace."""
    with_signals: int = 0
    """Accounts with at least one risk signal at their latest review."""
    need_attention: int = 0
    """Accounts with an open item: a pending approval or a queued recommendation."""
    signals_need_attention: int = 0
    """Accounts with signals that also need attention; the others are listed one line each."""
    other_signals: int = 0
    """Accounts with signals and nothing to decide (``with_signals - signals_need_attention``)."""
    nothing_to_report: int = 0
    """Accounts without signals or open items: ``accounts = need_attention + other_signals +
    nothing_to_report``."""
    in_queue: int = 0
    """Pending approvals (not yet expired)."""
    queue_accounts: int = 0
    queued_more: int = 0
    """Queued recommendations: "more, lower priority"."""
    more_accounts: int = 0
    decided: int = 0
    """Approvals decided (or expired) within the brief's window."""
    changed_accounts: int = 0
    """Accounts whose latest review found changes."""


class CurrentBrief(OwnerBrief):
    """One owner's current picture (see the module text); loads as an ``OwnerBrief`` too."""

    last_review_at: Timestamp | None = None
    """When the owner's latest review finished (its per-run brief)."""
    decided_since: Timestamp | None = None
    """The start of the "recently decided" window."""
    queue: list[BriefItem] = Field(default_factory=list)
    """Pending approvals, ranked: priority, then expected value."""
    decided: list[BriefItem] = Field(default_factory=list)
    """Decided since ``decided_since``, newest first, with the status at export time."""
    counts: BriefCounts = Field(default_factory=BriefCounts)
