"""One recommendation per problem: the rules author's proposals folded into a short queue.

The rule table (:mod:`.rules`) proposes, per signal, a task, an email and a note for the
same deal or account. A person wants one decision per problem, so the proposals aimed at one
target (a deal, or the account) become one recommendation: the best action (a task, else the
email, else the note) with the email's draft riding in the task's description and the note as a
further write of the same decision (:class:`~sergas_tui.domain.AlsoWrite`). An escalation is the
account's problem: the account-level recommendation (the call, the email) and the account update
ride with it as one decision; without an escalation, the account update (the at-risk Rating)
rides with the account's top recommendation, and stands alone only when nothing else is proposed
(a Rating set back once the risk is gone). An account then keeps at most :data:`MAX_PER_ACCOUNT`
recommendations, one more when one of them is critical.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

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
_CRITICAL_WHY = re.compile(r"Critical: .*? closes in \d+ days and this puts it at risk\.")


def problem_of(rec: Recommendation) -> str:
    """The record a recommendation is about (its first data reference, without field)."""
    first = rec.data_references[0] if rec.data_references else f"account:{rec.account_id}"
    return first.split("#", 1)[0]


def fold_problems(
    recs: Sequence[Recommendation],
    *,
    already_open: int = 0,
    held: Collection[str] = (),
) -> list[Recommendation]:
    """Fold the recommendations of one account into one per problem, best first, capped
    (``already_open`` pending items of the account count against the cap). A problem whose
    record is in ``held`` (an open or recently carried out recommendation is about it) is left
    out after folding, so what rode with it then does not come back on its own."""
    escalations = [r for r in recs if r.type == "escalation"]
    updates = [r for r in recs if r.type == "update_account"]
    escalations_folded: list[Recommendation] = []
    by_problem: dict[str, list[Recommendation]] = {}
    for rec in recs:
        if rec.type in ("escalation", "update_account"):
            continue
        by_problem.setdefault(problem_of(rec), []).append(rec)
    for escalation in escalations:
        # The escalation is about the account: the account's own recommendation (the call, the
        # email) and the Rating change ride with it, one decision for the account's problem.
        account_group = by_problem.pop(problem_of(escalation), [])
        account_rec = _fold(account_group) if account_group else None
        also = [*escalation.also]
        if account_rec is not None:
            also += [AlsoWrite(type=account_rec.type, action=account_rec.suggested_action)]
            also += account_rec.also
        also += [AlsoWrite(type="update_account", action=u.suggested_action) for u in updates]
        refs = [*([account_rec] if account_rec is not None else []), *updates]
        escalations_folded.append(_with(escalation, also=also, refs=refs))
    folded = [_fold(group) for group in by_problem.values()] + escalations_folded
    folded.sort(key=_rank)
    folded = _absorb_covered(folded)
    if updates and not escalations:
        if folded:  # the Rating change records the top problem's risk: the same decision
            top = folded[0]
            also = [
                *top.also,
                *(AlsoWrite(type="update_account", action=u.suggested_action) for u in updates),
            ]
            merged = _with(top, also=also, refs=updates)
            folded[0] = merged.model_copy(update={"priority": top.priority})
        else:
            folded = list(updates)
    # The cap counts the account's whole picture (a held critical problem still allows the
    # extra one), so a review that finds the same keeps the same.
    limit = MAX_PER_ACCOUNT + (1 if any(r.priority == "critical" for r in folded) else 0)
    folded = [r for r in folded if problem_of(r) not in held]
    return folded[: max(0, limit - already_open)]


def _absorb_covered(folded: list[Recommendation]) -> list[Recommendation]:
    """One decision per problem, where a problem is a cluster of signals: a recommendation
    whose signals a better one already answers — about the same record, the account as a whole
    or a deal the better one escalates — rides with that one (the note on a pushed deal with
    the deal's task, the close-plan task with the escalation about that deal). ``folded`` is
    best first."""
    kept: list[Recommendation] = []
    for rec in folded:
        index = next((i for i, k in enumerate(kept) if _covers(k, rec)), None)
        if index is None:
            kept.append(rec)
        else:
            kept[index] = _attach(kept[index], rec)
    return kept


def _covers(keeper: Recommendation, rec: Recommendation) -> bool:
    """Whether ``keeper`` answers ``rec``'s problem: its signals are all among the keeper's,
    and it is about the account as a whole, or about the keeper's own record, or about a deal
    the keeper escalates. (A deal's own problem is not folded into another deal's or into an
    account-level task that merely mentions the deal.)"""
    if not rec.signals or not set(rec.signals) <= set(keeper.signals):
        return False
    about = problem_of(rec)
    if about == f"zoho:Accounts:{rec.account_id}" or about == problem_of(keeper):
        return True
    cited = {ref.split("#", 1)[0] for ref in keeper.data_references}
    return keeper.type == "escalation" and about in cited


def _attach(keeper: Recommendation, rec: Recommendation) -> Recommendation:
    action = keeper.suggested_action
    also = [*keeper.also]
    if isinstance(action, CreateTaskAction) and isinstance(
        rec.suggested_action, FollowUpEmailAction
    ):
        description = "\n\n".join(
            [action.description or "", _email_text(rec.suggested_action)]
        ).strip()
        action = action.model_copy(update={"description": description})
    else:
        also.append(AlsoWrite(type=rec.type, action=rec.suggested_action))
    also += rec.also
    return _with(keeper, action=action, also=also, refs=[rec])


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
    strongest = max([main, *refs], key=lambda r: _PRIORITY_RANK[r.priority])
    priority = strongest.priority
    references = list(
        dict.fromkeys([*main.data_references, *(x for r in refs for x in r.data_references)])
    )
    signals = list(dict.fromkeys([*main.signals, *(k for r in refs for k in r.signals)]))
    update: dict[str, object] = {
        "also": also,
        "priority": priority,
        "data_references": references,
        "signals": signals,
    }
    if action is not None:
        update["suggested_action"] = action
    if strongest is not main and priority != main.priority:
        # Say why it is more urgent than its main action alone (the part that made it so).
        why = _CRITICAL_WHY.findall(strongest.rationale)
        if why and not all(w in main.rationale for w in why):
            update["rationale"] = f"{main.rationale} {' '.join(why)}".strip()
    return main.model_copy(update=update)


def _email_text(email: FollowUpEmailAction) -> str:
    to = email.recipient or "a contact to confirm"
    lines = [f"Suggested email (to {to}):", f"Subject: {email.subject}", "", email.draft_body]
    if email.next_steps:
        lines += ["", "Next steps:", *(f"- {step}" for step in email.next_steps)]
    return "\n".join(lines)
