"""Landing recommendations in an owner's approval queue, within the daily budget.

A review stores every recommendation it makes. A critical one lands at once (its approval is
created); the others wait as ``queued`` until :func:`fill_queue`, at the end of the review,
lands the best of the owner's queued ones by expected value (:mod:`sergas_tui.domain.queue`)
while the owner's ``[review] daily_budget`` has room. :func:`pull_in` is the person's way to
take one more now, past the budget. Every landing is an ``approval_requested`` audit row, in the
same transaction as the approval.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from pydantic import JsonValue

from sergas_tui.domain import Approval, AuditAction, AuditEvent, Recommendation
from sergas_tui.domain.queue import open_slots, queue_order
from sergas_tui.errors import QueueError as QueueError
from sergas_tui.storage import Repository


def approval_id_for(recommendation_id: str) -> str:
    """The approval id of a recommendation: stable, so landing twice creates one approval."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sergas:approval:{recommendation_id}"))


def approval_for(rec: Recommendation, owner: str, now: datetime, ttl: timedelta) -> Approval:
    """The pending approval a recommendation becomes when it lands (its clock starts now)."""
    return Approval(
        id=approval_id_for(rec.id),
        recommendation_id=rec.id,
        account_id=rec.account_id or "",
        owner_email=owner,
        action_type=rec.type,
        payload=rec.suggested_action,
        also=list(rec.also),
        created_at=now,
        expires_at=now + ttl,
    )


def start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day on this machine's clock (the AE's day), as an aware time."""
    local = now.astimezone()
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


def land(
    repo: Repository,
    rec: Recommendation,
    owner: str,
    now: datetime,
    ttl: timedelta,
    *,
    session_id: str,
    agent: str = "orchestrator",
    actor: str | None = None,
    reason: str = "ranked",
) -> Approval:
    """Create the recommendation's pending approval (once) and audit it."""
    approval = approval_for(rec, owner, now, ttl)
    inputs: dict[str, JsonValue] = {
        "approval_id": approval.id,
        "recommendation_id": rec.id,
        "landed": reason,
        "value": rec.value,
    }
    if actor is not None:
        inputs["pulled_in_by"] = actor
    audit = AuditEvent(
        timestamp=now,
        session_id=session_id,
        agent_name=agent,
        action_type=AuditAction.APPROVAL_REQUESTED,
        account_id=rec.account_id,
        owner_email=owner,
        tool_inputs=inputs,
    )
    repo.land_recommendation(approval, audit)
    return approval


def fill_queue(
    repo: Repository,
    owner: str,
    now: datetime,
    *,
    budget: int,
    ttl: timedelta,
    session_id: str,
) -> list[tuple[Recommendation, Approval]]:
    """Land the owner's best queued recommendations while the daily budget has room."""
    slots = open_slots(
        budget,
        landed_today=repo.approvals_created_since(owner, start_of_day(now)),
        waiting=repo.pending_approval_count(owner),
    )
    if slots <= 0:
        return []
    chosen = queue_order(repo.queued_recommendations(owner))[:slots]
    return [(rec, land(repo, rec, owner, now, ttl, session_id=session_id)) for rec in chosen]


def pull_in(
    repo: Repository,
    recommendation_id: str,
    *,
    actor: str,
    now: datetime,
    ttl: timedelta,
) -> tuple[Recommendation, Approval]:
    """A person takes a queued recommendation into their queue now, past the budget."""
    who = actor.strip()
    if not who:
        raise QueueError("Say who is pulling it in (an actor is required).")
    rec = resolve_queued(repo, recommendation_id)
    owner = owner_of(repo, rec)
    approval = land(
        repo,
        rec,
        owner,
        now,
        ttl,
        session_id=f"pull-{uuid.uuid4()}",
        agent="user",
        actor=who,
        reason="pulled in",
    )
    return rec, approval


def resolve_queued(repo: Repository, ident: str) -> Recommendation:
    """A queued recommendation by id or unambiguous id prefix (at least 4 characters)."""
    key = ident.strip()
    found = repo.get_recommendation(key) if key else None
    if found is None and len(key) >= 4:
        matches = repo.recommendation_ids_with_prefix(key)
        if len(matches) > 1:
            raise QueueError(f"'{key}' matches more than one recommendation; give more of the id.")
        found = repo.get_recommendation(matches[0]) if matches else None
    if found is None:
        raise QueueError(f"No recommendation '{key}'. `sergas approvals more` lists what waits.")
    if found.status != "queued":
        raise QueueError(
            f"That recommendation is {found.status}, not waiting in 'more, lower priority'."
        )
    return found


def owner_of(repo: Repository, rec: Recommendation) -> str:
    with repo.reading("read a recommendation's owner") as conn:
        row = conn.execute(
            "SELECT owner_email FROM recommendations WHERE id = ?", (rec.id,)
        ).fetchone()
    owner = row[0] if row is not None else None
    return str(owner) if owner else "*"


def supersede_queued(repo: Repository, account_id: str, keep: Sequence[str]) -> int:
    """A review of the account replaces what it had queued (fresh text and figures, or gone
    when the problem is): the account's queued recommendations not in ``keep`` are
    superseded."""
    stale = [r.id for r in repo.queued_recommendations(account_id=account_id) if r.id not in keep]
    return repo.set_recommendation_status(stale, "superseded", only_from="queued")
