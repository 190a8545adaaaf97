"""The steps of a review around the engine's work on each account.

At the start and end of a run in team mode: pull the team's approvals and publish the run's (a
failure is a note in the run, never its end). Per account: judge the outcomes of earlier
executed recommendations, value the new recommendations and match them with those the account
already has queued, and store the account's results as one unit. At the end of the run: fill
each owner's queue within the daily budget and store each owner's brief. The orchestrator calls
these around its account loop; they read and write through the repository and the queue rules
of ``approvals/queue.py`` and ``domain/queue.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sergas_tui.agents.author.problems import problem_of
from sergas_tui.approvals.outcomes import update_outcomes
from sergas_tui.approvals.queue import fill_queue, land, supersede_queued
from sergas_tui.briefs.compile import compile_brief
from sergas_tui.clock import Clock
from sergas_tui.domain import (
    Account,
    AccountFacts,
    AccountReview,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    OwnerBrief,
    Recommendation,
)
from sergas_tui.domain.changes import snapshot_of
from sergas_tui.domain.queue import (
    HISTORY_DAYS,
    OwnerHistory,
    expected_value,
    is_recent,
    money_at_stake,
)
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage import Repository
from sergas_tui.storage.mutes import not_useful_counts

log = get_logger("sergas.orchestrator")


async def team_step(
    step: Callable[[str | None], object], owner_email: str | None, verb: str
) -> str | None:
    """Pull from or publish to the team's records; a failure is a note, never the end of the
    review (the local queue is complete; the next run or refresh catches up)."""
    try:
        await asyncio.to_thread(step, owner_email)
    except SergasError as err:
        log.warning("team_step_failed", step=verb, error=err.message)
        if verb == "read":
            return (
                f"The team's records could not be read ({err.message}); this review works "
                "from this device's approvals."
            )
        return (
            f"This review's approvals could not be published to the team's records "
            f"({err.message}); the next review publishes them."
        )
    return None


def owner_email(facts: AccountFacts) -> str:
    owner = facts.account.owner
    return owner.email if owner and owner.email else "*"


def owner_histories(
    repository: Repository, facts: Sequence[AccountFacts], now: datetime
) -> dict[str, OwnerHistory]:
    """Each reviewed owner's recent decisions, for ranking (see ``domain/queue.py``)."""
    owners = {owner_email(f) for f in facts}
    statuses = [s for s in ApprovalStatus if s != ApprovalStatus.PENDING]
    histories = {}
    since = now - timedelta(days=HISTORY_DAYS)
    for owner in owners:
        decided = repository.approvals_with_status(statuses, owner)
        marks = not_useful_counts(repository, owner, since)
        histories[owner] = OwnerHistory.from_approvals(decided, now, not_useful=marks)
    return histories


async def assess_outcomes(
    repository: Repository, memory: MemoryStore | None, facts: AccountFacts, now: datetime
) -> None:
    """Judge earlier executed recommendations from this sync (see ``approvals.outcomes``) and
    remember each verdict in ``memory``, when there is one."""
    assessed = await asyncio.to_thread(update_outcomes, repository, facts, now)
    if memory is None:
        return
    for row in assessed:
        if row.outcome is None or row.executed_at is None:
            continue
        try:
            await memory.record_outcome(
                row.account_id,
                row.recommendation_id,
                row.outcome,
                row.effectiveness_score,
                row.executed_at,
            )
        except SergasError as err:  # the row is stored; memory is a convenience copy
            log.warning("outcome_not_remembered", account_id=row.account_id, error=repr(err))


def valued(
    rec: Recommendation, facts: AccountFacts, history: OwnerHistory, now: datetime
) -> Recommendation:
    """The recommendation with its account, expected value and where it goes: a critical one
    lands now, the others wait for the end-of-run ranking."""
    value = expected_value(
        rec,
        at_stake=money_at_stake(rec, facts.deals, now.date()),
        recent=is_recent(rec, facts.changes, facts.account_id),
        history=history,
    )
    status = "pending" if rec.priority == "critical" else "queued"
    return rec.model_copy(
        update={
            "account_id": rec.account_id or facts.account_id,
            "value": value,
            "status": status,
        }
    )


def refresh_queued(
    recs: Sequence[Recommendation], waiting: Sequence[Recommendation]
) -> tuple[list[Recommendation], set[str]]:
    """Match a review's recommendations with those the account already has queued: one about
    the same problem (type and record) keeps its id and age but takes the fresh text and
    figures; it is not new. Returns the recommendations to store and the ids of the new ones."""
    old = {(r.type, problem_of(r)): r for r in waiting}
    out: list[Recommendation] = []
    new: set[str] = set()
    for rec in recs:
        match = old.get((rec.type, problem_of(rec)))
        if match is None or rec.status != "queued":
            out.append(rec)
            new.add(rec.id)
            continue
        out.append(rec.model_copy(update={"id": match.id, "created_at": match.created_at}))
    return out, new


def persist_account(
    repository: Repository,
    clock: Clock,
    ttl: timedelta,
    run_id: str,
    facts: AccountFacts,
    owner: str,
    recommendations: list[Recommendation],
    now: datetime,
) -> dict[str, str]:
    """One account's results; the snapshot goes last so a failure re-detects changes.
    Returns the approval id of each recommendation that landed at once (critical)."""
    repo = repository
    if recommendations:
        repo.save_recommendations(recommendations, run_id=run_id, owner_email=owner)
    supersede_queued(repo, facts.account_id, [r.id for r in recommendations])
    landed: dict[str, str] = {}
    for rec in recommendations:
        repo.append_audit(
            AuditEvent(
                timestamp=clock.now(),
                session_id=run_id,
                agent_name="recommendation_author",
                action_type=AuditAction.RECOMMENDATION_GENERATED,
                account_id=facts.account_id,
                owner_email=owner,
                tool_outputs=rec.model_dump(mode="json"),
            )
        )
        if rec.status == "pending":
            approval = land(repo, rec, owner, now, ttl, session_id=run_id, reason="critical")
            landed[rec.id] = approval.id
    snapshot = snapshot_of(facts.account, facts.deals, facts.contacts)
    repo.save_snapshot(facts.account_id, owner, snapshot, run_id=run_id)
    return landed


def fill_queues(
    repository: Repository,
    clock: Clock,
    run_id: str,
    reviews: Sequence[AccountReview],
    *,
    budget: int,
    ttl: timedelta,
) -> int:
    """Land each reviewed owner's best queued recommendations within the daily budget."""
    owners = sorted({owner_email(r.facts) for r in reviews})
    landed = 0
    for owner in owners:
        with repository.writing("land an owner's queue"):  # one transaction each
            landed += len(
                fill_queue(
                    repository, owner, clock.now(), budget=budget, ttl=ttl, session_id=run_id
                )
            )
    return landed


def queued_count(repository: Repository, reviews: Sequence[AccountReview]) -> int:
    owners = {owner_email(r.facts) for r in reviews}
    return sum(repository.queued_recommendation_count(o) for o in owners)


def briefs_by_owner(
    owner_email: str | None, reviews: Sequence[AccountReview]
) -> list[tuple[str, list[AccountReview]]]:
    """The run's reviews by owner, for one brief per owner (an empty one for a requested owner
    with no accounts)."""
    by_owner: dict[str, list[AccountReview]] = {}
    if owner_email:
        by_owner[owner_email] = []
    for review in reviews:
        owner = review.facts.account.owner
        email = owner.email if owner and owner.email else (owner_email or "*")
        by_owner.setdefault(email, []).append(review)
    return sorted(by_owner.items())


def save_briefs(
    repository: Repository,
    clock: Clock,
    run_id: str,
    owners: Sequence[tuple[str, list[AccountReview]]],
) -> tuple[OwnerBrief, ...]:
    """Compile and store every owner's brief in one transaction."""
    briefs = []
    with repository.writing("save the run's briefs"):
        for email, owned in owners:
            pending = repository.pending_approval_count(email)
            brief = compile_brief(email, owned, generated_at=clock.now(), pending_approvals=pending)
            repository.save_brief(brief, run_id=run_id)
            briefs.append(brief)
    return tuple(briefs)


def crm_spelling(owner_email: str, accounts: Iterable[Account]) -> str:
    """``owner_email`` as the CRM spells it on the owner's accounts (emails compare without
    case), or as given when no account names it."""
    wanted = owner_email.strip().casefold()
    for account in accounts:
        email = account.owner.email if account.owner else None
        if email and email.casefold() == wanted:
            return email
    return owner_email
