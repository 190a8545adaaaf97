"""One recommendation per problem: the rules author's proposals folded into a short queue.

The rule table (:mod:`.author_rules`) proposes, per signal, a task, an email and a note for the
same deal or account. A person wants one decision per problem, so the proposals aimed at one
target (a deal, or the account) become one recommendation: the best action (a task, else the
email, else the note) with the email's draft riding in the task's description and the note as a
further write of the same decision (:class:`~sergas_tui.domain.AlsoWrite`). An escalation stays
its own problem and carries the account update that goes with it. An account then keeps at
most :data:`MAX_PER_ACCOUNT` recommendations, one more when one of them is critical.
"""

from __future__ import annotations

from collections.abc import Sequence

from sergas_tui.domain import (
    AddNoteAction,
    AlsoWrite,
    CreateTaskAction,
    FollowUpEmailAction,
    Recommendation,
)
from sergas_tui.domain.common import Priority

MAX_PER_ACCOUNT = 2
"""Recommendations an account may hold from one review (one more if one is critical)."""

_PRIORITY_RANK: dict[Priority, int] = {"critical": 3, "high": 2, "medium": 1, "low": 0}
_MAIN_ORDER = ("escalation", "create_task", "follow_up_email", "update_account", "add_note")
_CONFIDENCE_RANK = {"high": 2, "medium": 1, "low": 0}


def problem_of(rec: Recommendation) -> str:
    """The record a recommendation is about (its first data reference, without field)."""
    first = rec.data_references[0] if rec.data_references else f"account:{rec.account_id}"
    return first.split("#", 1)[0]


def fold_problems(recs: Sequence[Recommendation], *, already_open: int = 0) -> list[Recommendation]:
    """Fold the recommendations of one account into one per problem, best first, capped
    (``already_open`` pending items of the account count against the cap)."""
    escalations = [r for r in recs if r.type == "escalation"]
    updates = [r for r in recs if r.type == "update_account"]
    by_problem: dict[str, list[Recommendation]] = {}
    for rec in recs:
        if rec.type in ("escalation", "update_account"):
            continue
        by_problem.setdefault(problem_of(rec), []).append(rec)
    folded = [_fold(group) for group in by_problem.values()]
    for escalation in escalations:
        also = [AlsoWrite(type="update_account", action=u.suggested_action) for u in updates]
        folded.append(_with(escalation, also=[*escalation.also, *also], refs=updates))
    if updates and not escalations:
        folded += updates
    folded.sort(key=_rank)
    limit = MAX_PER_ACCOUNT + (1 if any(r.priority == "critical" for r in folded) else 0)
    return folded[: max(0, limit - already_open)]


def _rank(rec: Recommendation) -> tuple[int, int, int, str]:
    return (
        -_PRIORITY_RANK[rec.priority],
        _MAIN_ORDER.index(rec.type),
        -_CONFIDENCE_RANK[rec.confidence],
        rec.id,
    )


def _fold(group: list[Recommendation]) -> Recommendation:
    """One recommendation for one problem: the best action, the others attached."""
    group = sorted(group, key=lambda r: _MAIN_ORDER.index(r.type))
    main, rest = group[0], group[1:]
    emails = [r for r in rest if isinstance(r.suggested_action, FollowUpEmailAction)]
    notes = [r for r in rest if isinstance(r.suggested_action, AddNoteAction)]
    action = main.suggested_action
    if isinstance(action, CreateTaskAction) and emails:
        drafts = [_email_text(e.suggested_action) for e in emails]  # type: ignore[arg-type]
        description = "\n\n".join([action.description or "", *drafts]).strip()
        action = action.model_copy(update={"description": description})
    also = [*main.also]
    if main.type != "add_note":
        also += [AlsoWrite(type="add_note", action=n.suggested_action) for n in notes]
    return _with(main, action=action, also=also, refs=rest)


def _with(
    main: Recommendation,
    *,
    action: object | None = None,
    also: list[AlsoWrite],
    refs: Sequence[Recommendation],
) -> Recommendation:
    priority = max([main, *refs], key=lambda r: _PRIORITY_RANK[r.priority]).priority
    references = list(
        dict.fromkeys([*main.data_references, *(x for r in refs for x in r.data_references)])
    )
    update: dict[str, object] = {"also": also, "priority": priority, "data_references": references}
    if action is not None:
        update["suggested_action"] = action
    return main.model_copy(update=update)


def _email_text(email: FollowUpEmailAction) -> str:
    to = email.recipient or "a contact to confirm"
    lines = [f"Suggested email (to {to}):", f"Subject: {email.subject}", "", email.draft_body]
    if email.next_steps:
        lines += ["", "Next steps:", *(f"- {step}" for step in email.next_steps)]
    return "\n".join(lines)
