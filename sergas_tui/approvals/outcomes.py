"""Outcome tracking: what an executed recommendation achieved, judged from later syncs.

Once the executor has carried out an approved recommendation, its ``recommendation_outcomes``
row has ``status="completed"`` and ``executed_at`` but no ``outcome`` yet. Every later review
calls :func:`update_outcomes` for each account (after the Data Scout has built its
:class:`~sergas_tui.domain.AccountFacts`), which asks :func:`assess` for a verdict on every such
row and stores the ones it gives. A verdict is final: an assessed row is never looked at again.

:func:`assess` is pure and deterministic: only the row, the recommendation type, the facts and
``now`` decide. It answers ``None`` ("too early to tell") whenever the facts predate the
execution (``facts.reviewed_at <= executed_at``) or no rule below applies yet.

Rule table (first matching row wins; *age* = ``now - executed_at``)
--------------------------------------------------------------------

create_task, follow_up_email, escalation (each written as a Zoho task, ``result_record_id``):

=================================================================  ============  =====
Evidence in the later sync                                         Outcome       Score
=================================================================  ============  =====
our task has status ``Completed``                                  successful    1.0
activity resumed **and** the triggering problem is gone            successful    0.8
activity resumed, problem still there                              partial       0.6
none of the above, age >= 14 days                                  unsuccessful  0.0
none of the above, age < 14 days                                   (wait)        —
=================================================================  ============  =====

add_note (a note is its own outcome, so always ``successful``; the score is informational):

=================================================================  ============  =====
no risk signal left on the account                                 successful    1.0
risk signals still present, age >= 14 days                         successful    0.5
risk signals still present, age < 14 days                          (wait)        —
=================================================================  ============  =====

update_account:

=================================================================  ============  =====
the account holds every written value                              successful    1.0
any written value differs (reverted or overwritten)                unsuccessful  0.0
=================================================================  ============  =====

Definitions:

- *Activity resumed*: a task, event or call with ``executed_at < when <= now`` that Sergas did
  not write (not ``result_record_id`` and no ``[sergas:...]`` marker in its description).
  Future-dated activities (e.g. a task due next week) do not count: they have not happened.
- *Triggering problem gone*: when the recommendation targets deals (``deal_ids``: its
  ``zoho:Deals:<id>`` data references), one of them moved stage after ``executed_at`` — a
  ``stage_history`` entry with ``changed_at`` after it, or a ``Stage`` change in
  ``facts.changes`` timestamped after it. Otherwise (an account-level recommendation): the
  account no longer carries any ``no_activity_*`` signal.
- *Written values* (update_account): the Zoho field → value map the executor wrote (the
  approval's ``field_changes``); ``Account_Name`` is compared with ``Account.name``, any other
  field with the lower-cased attribute (``Rating`` → ``rating``). A field the facts do not carry
  counts as differing. With no written values known the row is left unassessed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from pydantic import JsonValue

from sergas_tui.crm.writer import holds_changes
from sergas_tui.domain import AccountFacts, ApprovalStatus, Outcome, RecommendationOutcome
from sergas_tui.domain.outputs import UpdateAccountAction
from sergas_tui.domain.records import RecordRef
from sergas_tui.storage.repository import Repository

SETTLE_AFTER = timedelta(days=14)
"""How long after execution "nothing happened" becomes a verdict."""

TASK_TYPES = frozenset({"create_task", "follow_up_email", "escalation"})
COMPLETED = "completed"
SERGAS_MARKER = "[sergas:"

Verdict = tuple[Outcome, float]


def assess(
    outcome: RecommendationOutcome,
    recommendation_type: str,
    facts: AccountFacts,
    *,
    now: datetime,
    result_record_id: str | None,
    deal_ids: Collection[str] = (),
    written: Mapping[str, JsonValue] | None = None,
) -> Verdict | None:
    """The verdict on an executed recommendation, or None while it is too early to tell.

    See the module docstring for the rule table. ``deal_ids`` are the deals the recommendation
    targets; ``written`` the field values an ``update_account`` wrote.
    """
    executed_at = outcome.executed_at
    if outcome.status != "completed" or executed_at is None:
        return None
    if facts.reviewed_at <= executed_at:
        return None  # these facts were read before the write landed
    age = now - executed_at
    if recommendation_type in TASK_TYPES:
        return _assess_task(facts, executed_at, now, age, result_record_id, deal_ids)
    if recommendation_type == "add_note":
        if not facts.signals:
            return ("successful", 1.0)
        return ("successful", 0.5) if age >= SETTLE_AFTER else None
    if recommendation_type == "update_account":
        if not written:
            return None
        return ("successful", 1.0) if _holds(facts, written) else ("unsuccessful", 0.0)
    return None


def _assess_task(
    facts: AccountFacts,
    executed_at: datetime,
    now: datetime,
    age: timedelta,
    task_id: str | None,
    deal_ids: Collection[str],
) -> Verdict | None:
    ours = next((a for a in facts.activities if task_id and a.id == task_id), None)
    if ours is not None and (ours.status or "").strip().lower() == COMPLETED:
        return ("successful", 1.0)
    if activity_resumed(facts, executed_at, now, task_id):
        if problem_gone(facts, executed_at, deal_ids):
            return ("successful", 0.8)
        return ("partial", 0.6)
    return ("unsuccessful", 0.0) if age >= SETTLE_AFTER else None


def activity_resumed(
    facts: AccountFacts, executed_at: datetime, now: datetime, task_id: str | None
) -> bool:
    """True when someone other than Sergas logged a task/event/call after the execution."""
    for activity in facts.activities:
        if activity.id == task_id or SERGAS_MARKER in (activity.description or ""):
            continue
        if activity.when is not None and executed_at < activity.when <= now:
            return True
    return False


def problem_gone(facts: AccountFacts, executed_at: datetime, deal_ids: Collection[str]) -> bool:
    """True when the problem the recommendation addressed is no longer visible."""
    if deal_ids:
        wanted = set(deal_ids)
        for deal in facts.deals:
            if deal.id in wanted and any(
                s.changed_at is not None and s.changed_at > executed_at for s in deal.stage_history
            ):
                return True
        return any(
            c.field == "Stage"
            and c.record_id in wanted
            and c.timestamp is not None
            and c.timestamp > executed_at
            for c in facts.changes
        )
    return not any(s.key.startswith("no_activity") for s in facts.signals)


def _holds(facts: AccountFacts, written: Mapping[str, JsonValue]) -> bool:
    return not written or holds_changes(facts.account, written)


def _deal_ids(references: Collection[str]) -> frozenset[str]:
    ids: set[str] = set()
    for text in references:
        try:
            ref = RecordRef.parse(text)
        except ValueError:
            continue
        if ref.module == "Deals":
            ids.add(ref.id)
    return frozenset(ids)


def update_outcomes(
    repository: Repository, facts: AccountFacts, now: datetime
) -> list[RecommendationOutcome]:
    """Assess the account's executed, not yet assessed outcomes; store and return the verdicts.

    The task id and written values come from the recommendation's executed approval, the
    targeted deals from the stored recommendation's data references.
    """
    pending = [
        o
        for o in repository.outcomes_for(facts.account_id)
        if o.status == "completed" and o.outcome is None
    ]
    if not pending:
        return []
    approvals = {
        a.recommendation_id: a
        for a in repository.approvals_for(facts.account_id)
        if a.status == ApprovalStatus.EXECUTED
    }
    references = {r.id: r.data_references for r in repository.recommendations_for(facts.account_id)}
    updated: list[RecommendationOutcome] = []
    for row in pending:
        approval = approvals.get(row.recommendation_id)
        written: dict[str, JsonValue] | None = None
        if approval is not None and isinstance(approval.payload, UpdateAccountAction):
            written = {c.field: c.new for c in approval.payload.field_changes}
        verdict = assess(
            row,
            row.recommendation_type,
            facts,
            now=now,
            result_record_id=approval.result_record_id if approval else None,
            deal_ids=_deal_ids(references.get(row.recommendation_id, [])),
            written=written,
        )
        if verdict is None:
            continue
        result, score = verdict
        done = row.model_copy(update={"outcome": result, "effectiveness_score": score})
        repository.save_outcome(done)
        updated.append(done)
    return updated
