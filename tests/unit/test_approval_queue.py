"""The approvals queue's state machine (ApprovalQueue), without Textual: what the table shows,
where the selection goes, marks, decisions, loads that land after a decision, the team view, the
undo window, and the status line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sergas_tui.domain import Approval, ApprovalStatus, Recommendation
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.people import Identity, Person
from sergas_tui.viewmodels.approval_queue import (
    EMPTY,
    ApprovalQueue,
    FirstLoad,
    Refused,
    write_failure,
)
from sergas_tui.viewmodels.approvals import QueueItem, make_item

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
S = ApprovalStatus


def approval(
    ident: str, subject: str, status: ApprovalStatus = S.PENDING, **overrides: Any
) -> Approval:
    data: dict[str, Any] = {
        "id": ident,
        "recommendation_id": f"rec-{ident}",
        "account_id": f"acct-{ident}",
        "owner_email": "ae@x",
        "action_type": "create_task",
        "payload": {"subject": subject, "due_date": "2026-11-09", "priority": "High"},
        "created_at": NOW,
        "status": status,
    }
    return Approval.model_validate(data | overrides)


def entry(
    ident: str,
    priority: str,
    subject: str = "Call",
    status: ApprovalStatus = S.PENDING,
    **overrides: Any,
) -> QueueItem:
    """A queue item for account ``Acct <ident>`` whose recommendation has ``priority``."""
    stored = approval(ident, subject, status, **overrides)
    names = RecordNames()
    names.add_snapshot(stored.account_id, {"Account_Name": f"Acct {ident}"})
    recommendation = Recommendation.model_validate(
        {
            "id": stored.recommendation_id,
            "type": "create_task",
            "priority": priority,
            "confidence": "medium",
            "rationale": "Quiet for 40 days.",
            "suggested_action": stored.payload.model_dump(mode="json"),
            "data_references": [],
            "account_id": stored.account_id,
        }
    )
    return make_item(stored, recommendation, names)


def decided(item: QueueItem, status: ApprovalStatus, **update: Any) -> Approval:
    """``item``'s approval as the service stores it after a decision (or a write)."""
    return item.approval.model_copy(update={"status": status, **update})


A = entry("a", "high", "Call about the renewal")
B = entry("b", "critical", "Escalate the outage")
C = entry("c", "low", "Send the renewal quote")


def loaded_queue(*items: QueueItem, more: int = 0) -> ApprovalQueue:
    """A queue whose first load landed with ``items`` and whose table was drawn once."""
    queue = ApprovalQueue()
    queue.loaded(list(items), more)
    queue.arrange(0)
    return queue


def ids(items: list[QueueItem]) -> list[str]:
    return [item.id for item in items]


# -- rows and selection -----------------------------------------------------------------------


def test_a_load_is_shown_by_priority_and_counted() -> None:
    queue = ApprovalQueue()
    assert queue.loaded([A, B, C], more=2) == FirstLoad(reconcile=False, unwritten=[])
    rows = queue.arrange(0)
    assert ids(rows.items) == ["b", "a", "c"]
    assert not rows.unchanged, "the first rows are drawn"
    assert queue.status_line(None) == "3 waiting for you · 2 more, lower priority (m)"


def test_the_same_rows_again_leave_the_table_as_it_is() -> None:
    queue = loaded_queue(A, B, C)
    assert queue.arrange(0).unchanged
    queue.toggle_mark("a")
    assert not queue.arrange(0).unchanged, "a mark is drawn on its row"
    assert queue.arrange(0).unchanged
    queue.toggle_mark("a")
    assert not queue.arrange(0).unchanged, "the row was redrawn in place since the table was built"
    assert queue.arrange(0).unchanged
    queue.decided([decided(C, S.REJECTED)])
    assert not queue.arrange(0).unchanged, "a decided row is redrawn in place"
    queue.toggle_mark("b")
    queue.toggle_mark("b")
    assert not queue.arrange(0).unchanged, (
        "marked and unmarked in place: the same rows as before, but not as the table was built"
    )


def test_a_row_holds_its_item_and_nothing_lies_outside_the_rows() -> None:
    queue = loaded_queue(A, B, C)
    assert [queue.item_at(row) for row in range(3)] == [B, A, C]
    assert queue.item_at(-1) is None
    assert queue.item_at(3) is None
    assert ApprovalQueue().item_at(0) is None


def test_keys_on_an_empty_queue_say_so() -> None:
    queue = loaded_queue()
    assert queue.target(0, "approve") == EMPTY
    assert queue.status_line(None) == "nothing waiting for you"
    assert queue.marked_ready() == []
    assert queue.arrange(0).cursor is None


def test_a_verb_that_does_not_apply_is_refused_with_the_reason() -> None:
    approved = entry("d", "medium", status=S.APPROVED)
    queue = loaded_queue(A, approved)
    assert queue.target(0, "approve") == A
    refused = queue.target(0, "undo")
    assert isinstance(refused, Refused)
    assert refused.title == "Cannot undo"
    assert refused.severity == "warning"
    assert refused.message == "This write is pending: nothing has been decided on it yet."
    again = queue.target(1, "approve")
    assert isinstance(again, Refused)
    assert "press u to undo that first" in again.message


def test_the_filter_keeps_the_selection_on_its_item() -> None:
    queue = loaded_queue(A, B, C)
    assert queue.item_at(2) == C  # the cursor is on C, the last row
    queue.set_filter("renewal")
    rows = queue.arrange(2)
    assert ids(rows.items) == ["a", "c"]
    assert rows.cursor == 1, "C moved up a row and the cursor follows it"
    assert queue.status_line(None) == "3 waiting for you · filter 'renewal': 2 of 3 shown"
    queue.set_filter("outage")
    rows = queue.arrange(1)
    assert ids(rows.items) == ["b"]
    assert rows.cursor is None, "C is hidden: the cursor is left where the table puts it"
    queue.set_filter("")
    assert ids(queue.arrange(0).items) == ["b", "a", "c"]


# -- marks ------------------------------------------------------------------------------------


def test_marks_toggle_and_bulk_approval_takes_the_decidable_ones_in_order() -> None:
    approved = entry("d", "critical", status=S.APPROVED)
    queue = loaded_queue(A, B, C, approved)
    for ident in ("c", "d", "a", "b"):
        queue.toggle_mark(ident)
    queue.toggle_mark("b")  # unmarked again
    assert queue.marked == {"a", "c", "d"}
    assert queue.marked_ready() == ["a", "c"], "the approved one is not approved again"
    queue.set_filter("quote")
    queue.arrange(0)
    assert queue.status_line(None) == (
        "3 waiting for you · 3 marked · filter 'quote': 1 of 4 shown"
    )
    assert queue.bulk_question(queue.marked_ready()) == (
        "Approve 2 marked writes (1 of them hidden by the filter)?"
    )


# -- decisions and writes ---------------------------------------------------------------------


def test_a_decision_updates_its_row_drops_its_mark_and_is_kept_for_the_session() -> None:
    queue = loaded_queue(A, B, C)
    queue.toggle_mark("a")
    queue.toggle_mark("c")
    outsider = approval("z", "Not in this queue")
    approved, changed = queue.decided([decided(A, S.APPROVED), decided(C, S.REJECTED), outsider])
    assert approved == ["a"], "only approvals are written (after the undo window)"
    assert [(item.id, item.status) for item in changed] == [
        ("a", S.APPROVED),
        ("c", S.REJECTED),
    ]
    assert queue.items["a"].status == S.APPROVED
    assert queue.marked == set()
    assert queue.session_ids == {"a", "c", "z"}
    assert queue.status_line(None) == "1 waiting for you"


def test_a_changed_row_is_redrawn_only_when_shown() -> None:
    queue = loaded_queue(A, B, C)
    queue.set_filter("outage")
    assert queue.arrange(0).unchanged is False
    [hidden] = queue.decided([decided(A, S.REJECTED)])[1]
    assert not queue.shows(hidden.id), "A is hidden by the filter: nothing to draw"
    assert queue.arrange(0).unchanged, "the table still shows what it was built from"
    [changed] = queue.decided([decided(B, S.REJECTED)])[1]
    assert queue.shows(changed.id)
    assert queue.shown == [changed]
    assert queue.item_at(0) == changed, "the selected row holds the decided item"


def test_a_write_in_progress_then_its_outcome() -> None:
    queue = loaded_queue(A, B)
    writing = queue.writing("a")
    assert writing is not None
    assert writing.status == S.EXECUTING
    assert queue.items["a"].status == S.PENDING, "the row changes when the message lands"
    assert queue.writing("nope") is None
    item = queue.changed(writing)
    assert item is not None
    assert item.status == S.EXECUTING
    failed = queue.changed(decided(A, S.FAILED, error_message="Zoho refused the task."))
    assert failed is not None
    assert write_failure(failed) == (
        "Acct a (acct-a) — Call about the renewal: Zoho refused the task."
    )
    written = queue.changed(decided(A, S.EXECUTED, result_record_id="t-1"))
    assert written is not None
    assert write_failure(written) is None
    assert queue.changed(approval("z", "Elsewhere", S.EXECUTED)) is None


def test_undo_stops_the_countdown_and_puts_the_write_back_to_pending() -> None:
    queue = loaded_queue(A, B)
    approved, _changed = queue.decided([decided(A, S.APPROVED)])
    assert queue.schedule(approved, delay=10, now=100.0) == []
    assert queue.counting_down("a")
    assert queue.seconds_left("a", 100.0) == 10
    assert queue.target(1, "undo") == queue.items["a"]
    queue.cancel_countdown("a")
    assert not queue.counting_down("a")
    assert not queue.countdowns
    approved, [item] = queue.decided([decided(A, S.PENDING)])
    assert approved == []
    assert item.status == S.PENDING
    assert queue.status_line(None) == "2 waiting for you"


def test_without_an_undo_window_approved_writes_go_at_once() -> None:
    queue = loaded_queue(A)
    assert queue.schedule(["a"], delay=0, now=100.0) == ["a"]
    assert not queue.countdowns
    assert queue.schedule([], delay=10, now=100.0) == []


def test_the_timer_writes_what_is_due_and_redraws_only_changed_countdowns() -> None:
    queue = loaded_queue(A, B, C)
    queue.decided([decided(A, S.APPROVED), decided(C, S.APPROVED)])
    queue.set_filter("call")  # C is hidden
    queue.arrange(0)
    queue.schedule(["a"], delay=3, now=100.0)
    queue.schedule(["c"], delay=2, now=100.0)
    first = queue.tick(100.2)
    assert first.due == []
    assert first.statuses == [("a", "in 3 s · u undoes")], "hidden rows are not drawn"
    assert first.running
    assert queue.tick(100.5).statuses == [], "the same text is not drawn again"
    assert queue.tick(101.1).statuses == [("a", "in 2 s · u undoes")]
    second = queue.tick(102.0)
    assert second.due == ["c"]
    assert second.running
    last = queue.tick(103.0)
    assert last.due == ["a"]
    assert last.statuses == []
    assert not last.running


# -- loads ------------------------------------------------------------------------------------


def test_a_load_that_lands_after_a_decision_keeps_the_decision_and_the_selection() -> None:
    queue = loaded_queue(A, B, C)
    assert queue.item_at(1) == A
    queue.toggle_mark("c")
    queue.begin_load()
    queue.decided([decided(A, S.APPROVED)])  # while the load reads the database
    new = entry("n", "critical", "Brand new")
    assert queue.loaded([new, B, A], more=0) is None, "only the first load finishes old work"
    assert queue.items["a"].status == S.APPROVED, "the stale read does not undo the decision"
    assert queue.marked == set(), "C is gone, and so is its mark"
    rows = queue.arrange(1)
    assert ids(rows.items) == ["b", "n", "a"]
    assert rows.cursor == 2, "the selection stays on A"


def test_a_load_started_after_a_decision_is_trusted() -> None:
    queue = loaded_queue(A, B)
    queue.decided([decided(A, S.APPROVED)])
    queue.begin_load()
    executed = entry("a", "high", "Call about the renewal", status=S.EXECUTED)
    queue.loaded([executed, B], more=0)
    assert queue.items["a"].status == S.EXECUTED


def test_the_first_load_finishes_what_an_earlier_session_left() -> None:
    half_done = entry("h", "high", status=S.EXECUTING)
    approved = entry("p", "high", status=S.APPROVED)
    counting = entry("q", "high", status=S.ADJUSTED)
    queue = ApprovalQueue()
    assert queue.first_load
    queue.schedule(["q"], delay=5, now=0.0)
    first = queue.loaded([A, half_done, approved, counting], more=0)
    assert first == FirstLoad(reconcile=True, unwritten=["p"])
    assert not queue.first_load
    assert queue.loaded([A, half_done, approved], more=0) is None


# -- the team view ----------------------------------------------------------------------------


def test_the_team_view_reads_the_team_and_names_whose_each_item_is() -> None:
    manager = Identity(email="Boss@x", role="manager", team=frozenset({"ae@x", "bo@x"}))
    queue = ApprovalQueue()
    assert queue.owners_to_read(manager) is None, "one's own queue until t is pressed"
    queue.toggle_team_view()
    owners = queue.owners_to_read(manager)
    assert owners == ["ae@x", "bo@x", "boss@x"]
    assert queue.owners_to_read(None) is None
    assert queue.needs_people(owners)
    assert not queue.needs_people(None)
    queue.set_people([Person("AE@x", "Ann Ek"), Person("bo@x")])
    assert not queue.needs_people(owners), "the team's names are read once"
    theirs = entry("t", "high", owner_email="bo@x")
    unknown = entry("u", "high", owner_email="new@x")
    labelled = queue.with_owners([A, theirs, unknown])
    assert [item.owner_label for item in labelled] == ["Ann Ek <AE@x>", "bo@x", "new@x"]
    queue.loaded(labelled, more=0)
    queue.arrange(0)
    assert queue.status_line(2) == "3 waiting for your team of 2"
    queue.toggle_team_view()
    assert queue.status_line(2) == "3 waiting for you"
    assert queue.owners_to_read(manager) is None


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (S.PENDING, "nothing has been decided on it yet"),
        (S.CONFLICT, "waits for a new decision: approve, adjust or reject it"),
        (S.EXPIRED, "expired before anyone decided it"),
        (S.EXECUTING, "being written to the CRM now, so its approval stands"),
        (S.EXECUTED, "it is in the CRM, so its approval stands"),
        (S.FAILED, "tried and failed, so its approval stands; press R to retry it"),
    ],
)
def test_undo_refused_says_why_without_repeating_its_title(
    status: ApprovalStatus, reason: str
) -> None:
    refused = loaded_queue(entry("a", "high", status=status)).target(0, "undo")
    assert isinstance(refused, Refused)
    assert refused.title == "Cannot undo"
    assert reason in refused.message
    assert "undo" not in refused.message.casefold()
