""" "More, lower priority": what a review found worth doing beyond the owner's daily budget.

Those recommendations wait as ``queued`` (no approval yet); the approvals screen, the account
screen and ``sergas approvals more`` list them, best expected value first, and a person may
pull one into the queue now (``approvals/queue.py`` :func:`pull_in`, audited with who did it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sergas_tui.approvals.queue import owner_of, pull_in, resolve_queued
from sergas_tui.approvals.service import NotAllowedError, require_may
from sergas_tui.domain import Approval, EscalationAction, Recommendation
from sergas_tui.domain.names import RecordNames
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.services import Services
from sergas_tui.viewmodels.approvals import PRIORITY_LABEL, TYPE_LABEL
from sergas_tui.viewmodels.names import load_names
from sergas_tui.viewmodels.review import action_headline

log = get_logger("sergas.more")


@dataclass(frozen=True)
class MoreItem:
    """One queued recommendation as a person reads it: names, not ids."""

    recommendation: Recommendation
    account_name: str
    account_label: str
    headline: str
    value_text: str
    names: RecordNames = field(default_factory=RecordNames, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.recommendation.id

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABEL.get(self.recommendation.priority, "—")

    @property
    def type_label(self) -> str:
        return TYPE_LABEL.get(self.recommendation.type, self.recommendation.type)

    @property
    def why(self) -> str:
        """The first sentence of the rationale: what the problem is."""
        text = " ".join(self.recommendation.rationale.split())
        head, dot, _ = text.partition(". ")
        return head + ("." if dot else "")


def more_items(
    recs: list[Recommendation], names: RecordNames, *, account_id: str | None = None
) -> list[MoreItem]:
    """Queued recommendations (of one account, when given) as rows, best value first."""
    chosen = [r for r in recs if account_id is None or r.account_id == account_id]
    return [
        MoreItem(
            recommendation=rec,
            account_name=names.account_name(rec.account_id or ""),
            account_label=names.account(rec.account_id or ""),
            headline=_headline(rec, names),
            value_text=names.value_at_stake(rec.account_id or ""),
            names=names,
        )
        for rec in chosen
    ]


def _headline(rec: Recommendation, names: RecordNames) -> str:
    """The gist of the write, people named (an escalation's role is the person it means)."""
    action = rec.suggested_action
    if isinstance(action, EscalationAction):
        owner = names.owner_of(rec.account_id or "")
        return f"to {names.person(action.escalate_to, owner)}: {action.reason}"
    return action_headline(rec)


def read_more(
    services: Services, owner: str | None = None, *, account_id: str | None = None
) -> list[MoreItem]:
    """The owner's (default: the current user's) queued recommendations, or one account's
    (blocking reads: call from a thread)."""
    store = services.store
    if account_id is not None:
        recs = store.queued_recommendations(account_id=account_id)
        return more_items(recs, load_names(services), account_id=account_id)
    email = owner or services.current_user_email()
    recs = store.queued_recommendations(email)
    return more_items(recs, load_names(services, [email]))


async def load_more(
    services: Services, owner: str | None = None, *, account_id: str | None = None
) -> list[MoreItem]:
    return await asyncio.to_thread(read_more, services, owner, account_id=account_id)


def pull(
    services: Services, recommendation_id: str, actor: str, *, named: bool = False
) -> Approval:
    """Pull a queued recommendation into its owner's queue now (blocking). In team mode only
    for an owner the person may act for, recorded under that person (an ``actor`` the command
    line ``named`` must be them), and the new approval is published to the team."""
    ttl = timedelta(hours=services.settings.orchestrator.approval_timeout_hours)
    me = services.identity()
    if me is not None:
        rec = resolve_queued(services.store, recommendation_id)
        require_may(me, owner_of(services.store, rec), "take items into")
        if named and actor.strip().lower() != me.email.lower():
            raise NotAllowedError(
                f"Items are taken in under the person Sergas identified, {me.label()}, not "
                f"{actor!r}; nothing changed."
            )
        actor = me.email
    _, approval = pull_in(
        services.store, recommendation_id, actor=actor, now=services.clock.now(), ttl=ttl
    )
    team = services.team_records()
    if team is not None:
        try:
            team.publish(approval.owner_email)
        except SergasError as err:  # the next review publishes it
            log.warning("pulled_item_not_published", approval_id=approval.id, error=err.message)
    return approval


async def pull_more(services: Services, recommendation_id: str, actor: str) -> Approval:
    return await asyncio.to_thread(pull, services, recommendation_id, actor)
