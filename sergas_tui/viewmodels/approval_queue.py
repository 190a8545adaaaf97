"""The approvals queue's state and the rules that change it, without Textual.

The screen (``screens/approvals.py``) owns the widgets, the keys, the workers and the timer; an
:class:`ApprovalQueue` owns what they show and the rules behind it: which rows are shown (sorted,
filtered) and where the selection goes when they change, the marks, the decisions of this
session (kept visible after they leave the pending queue), decisions and writes that land while a
load is running (fresher than what it read), the team view, the undo window before an approved
write (:class:`Countdowns`), what may be done to the selected row, and the status line.

The selection is the table's cursor row (Textual moves it as keys are pressed); the queue says
which item a row holds and to which row the selected item moved when the rows are rebuilt.
Every method is plain Python on the UI thread, so the rules are unit-tested without an app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.domain.approval import Verb
from sergas_tui.domain.people import Identity, Person
from sergas_tui.viewmodels.approvals import (
    QueueItem,
    bulk_summary,
    filter_queue,
    ids_of,
    queue_status,
    refusal,
    sort_queue,
    status_text,
    with_approval,
)

# -- the undo window ------------------------------------------------------------------------


@dataclass
class Countdowns:
    """When each approved write is due (monotonic seconds): the undo window before writing."""

    deadlines: dict[str, float] = field(default_factory=dict)

    def start(self, approval_id: str, now: float, delay: float) -> None:
        self.deadlines[approval_id] = now + delay

    def cancel(self, approval_id: str) -> bool:
        """Stop the countdown; False when there was none (the write may have started)."""
        return self.deadlines.pop(approval_id, None) is not None

    def seconds_left(self, approval_id: str, now: float) -> int | None:
        deadline = self.deadlines.get(approval_id)
        if deadline is None:
            return None
        return max(int(-(-(deadline - now) // 1)), 0)

    def pop_due(self, now: float) -> list[str]:
        """The ids whose time has come, removed from the countdown."""
        due = [ident for ident, deadline in self.deadlines.items() if deadline <= now]
        for ident in due:
            del self.deadlines[ident]
        return due

    def __bool__(self) -> bool:
        return bool(self.deadlines)


# -- what the queue answers -----------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The rows the table is to show after the queue changed."""

    items: list[QueueItem]
    unchanged: bool
    """The table was last built from exactly these rows and marks: it may stay as it is."""
    cursor: int | None
    """The row the selected item is on now (None: it is no longer shown; leave the cursor)."""


@dataclass(frozen=True)
class Refused:
    """Why a key does nothing to the selected row, as the screen's notification says it."""

    title: str
    message: str
    severity: Literal["information", "warning"] = "information"


@dataclass(frozen=True)
class FirstLoad:
    """What the first load of the queue found left over from an earlier session."""

    reconcile: bool
    """A write was left 'executing' (a crash between the write-ahead and the CRM's answer)."""
    unwritten: list[str]
    """Approved writes not in the CRM yet and not counting down: to write after the delay."""


@dataclass(frozen=True)
class Tick:
    """One beat of the undo window's timer."""

    due: list[str]
    """Approved ids whose undo window ended: to write now."""
    statuses: list[tuple[str, str]]
    """(id, status cell text) of the shown rows whose countdown text changed."""
    running: bool
    """Some countdown is still running (the timer keeps beating)."""


EMPTY = Refused("Approvals", "The queue is empty.")
"""What a key that acts on the selected row says when there is no row."""


def write_failure(item: QueueItem) -> str | None:
    """The notification of a write that failed or met a conflict (None for any other status)."""
    approval = item.approval
    if approval.status not in (ApprovalStatus.FAILED, ApprovalStatus.CONFLICT):
        return None
    what = f"{item.account_label or item.account_name} — {item.summary}"
    return f"{what}: {approval.error_message or 'The CRM refused the write.'}"


# -- the queue ------------------------------------------------------------------------------


class ApprovalQueue:
    """The state of one approvals screen (see the module docstring)."""

    def __init__(self) -> None:
        self.items: dict[str, QueueItem] = {}
        """Every item of the last load (and the decisions and writes since), by approval id."""
        self.shown: list[QueueItem] = []
        """The items the table shows, in order: sorted, then filtered."""
        self.marked: set[str] = set()
        """Ids marked for a bulk approval (space)."""
        self.session_ids: set[str] = set()
        """Ids decided in this session: reloads keep them, so their outcome stays visible."""
        self.countdowns = Countdowns()
        self.filter_text = ""
        self.first_load = True
        """No load has landed yet (the first one also finishes what an earlier session left)."""
        self.more = 0
        """Queued recommendations beyond today's budget ("more, lower priority")."""
        self.team_view = False
        """A manager's view of their team's queues (team mode; ``t``)."""
        self.people: dict[str, str] = {}
        """The team's people by e-mail (lower case), read when the team view first opens."""
        self._touched: dict[str, Approval] = {}
        """Approvals changed since the running load started (fresher than what it read)."""
        self._drawn: list[tuple[QueueItem, bool]] | None = None
        """The rows (and their marks) the table was last built from."""
        self._status_shown: dict[str, str] = {}
        """The countdown text last put in each row's status cell."""

    # -- the selection ------------------------------------------------------------------------

    def item_at(self, row: int) -> QueueItem | None:
        """The item on table row ``row`` (None when the queue shows nothing there)."""
        if not self.shown or row < 0 or row >= len(self.shown):
            return None
        return self.shown[row]

    def target(self, row: int, verb: Verb) -> QueueItem | Refused:
        """The item on ``row`` when ``verb`` may apply to it; otherwise why not."""
        item = self.item_at(row)
        if item is None:
            return EMPTY
        problem = refusal(item, verb)
        if problem is not None:
            return Refused(f"Cannot {verb}", problem, "warning")
        return item

    # -- the rows -----------------------------------------------------------------------------

    def arrange(self, cursor_row: int) -> Rows:
        """Sort and filter the items again; the selection (the item on ``cursor_row`` before)
        stays on the same item wherever it moved."""
        keep = self.item_at(cursor_row)
        shown = filter_queue(sort_queue(self.items.values()), self.filter_text)
        drawn = [(item, item.id in self.marked) for item in shown]
        unchanged = drawn == self._drawn
        self.shown = shown
        self._drawn = drawn
        ids = ids_of(shown)
        cursor = ids.index(keep.id) if keep is not None and keep.id in ids else None
        return Rows(shown, unchanged, cursor)

    def set_filter(self, text: str) -> None:
        self.filter_text = text

    def shows(self, approval_id: str) -> bool:
        """A row shows this approval (so a change to it is drawn there)."""
        return approval_id in ids_of(self.shown)

    def _redrawn(self, item: QueueItem) -> None:
        """``item`` changed on its row (if shown), drawn there in place: the table no longer
        shows what it was built from."""
        if self.shows(item.id):
            self.shown = [item if shown.id == item.id else shown for shown in self.shown]
            self._drawn = None

    def toggle_mark(self, approval_id: str) -> None:
        self.marked ^= {approval_id}
        if (item := self.items.get(approval_id)) is not None:
            self._redrawn(item)

    def marked_ready(self) -> list[str]:
        """The marked ids that can still be approved, in the queue's order (hidden ones too)."""
        marked = [i for i in ids_of(sort_queue(self.items.values())) if i in self.marked]
        return [i for i in marked if self.items[i].decidable]

    def bulk_question(self, ready: Iterable[str]) -> str:
        return bulk_summary(ready, ids_of(self.shown))

    def status_line(self, team_size: int | None) -> str:
        """The line above the table; ``team_size`` is the manager's team (None: no identity)."""
        whose = f"your team of {team_size}" if self.team_view and team_size is not None else "you"
        line = queue_status(
            list(self.items.values()), self.shown, self.marked, self.filter_text, whose
        )
        if self.more:
            line += f" · {self.more} more, lower priority (m)"
        return line

    # -- loading ------------------------------------------------------------------------------

    def toggle_team_view(self) -> None:
        self.team_view = not self.team_view

    def begin_load(self) -> None:
        """A load starts: what changes from now on is fresher than what it reads."""
        self._touched = {}

    def owners_to_read(self, me: Identity | None) -> list[str] | None:
        """The team's owners in the team view (None: one person's own queue)."""
        return sorted(me.owners()) if me is not None and self.team_view else None

    def needs_people(self, owners: list[str] | None) -> bool:
        """The team view needs the team's names, not read yet."""
        return owners is not None and not self.people

    def set_people(self, found: Iterable[Person]) -> None:
        self.people = {p.email.lower(): p.label() for p in found}

    def with_owners(self, items: Iterable[QueueItem]) -> list[QueueItem]:
        """``items`` with whose each is, by name where the team's people are known."""
        people = self.people
        return [
            replace(
                item,
                owner_label=people.get(
                    item.approval.owner_email.lower(), item.approval.owner_email
                ),
            )
            for item in items
        ]

    def loaded(self, items: Sequence[QueueItem], more: int) -> FirstLoad | None:
        """A load landed: its items, except what changed while it ran; marks of items gone
        are dropped. The first load also says what an earlier session left unfinished."""
        self.items = {item.id: item for item in items}
        self.more = more
        for ident, approval in self._touched.items():
            if ident in self.items:
                self.items[ident] = with_approval(self.items[ident], approval)
        self.marked &= set(self.items)
        if not self.first_load:
            return None
        self.first_load = False
        return FirstLoad(
            reconcile=any(i.approval.status == ApprovalStatus.EXECUTING for i in items),
            unwritten=[
                i.id
                for i in items
                if i.status.is_approved and i.id not in self.countdowns.deadlines
            ],
        )

    # -- decisions and writes -----------------------------------------------------------------

    def decided(self, approvals: Iterable[Approval]) -> tuple[list[str], list[QueueItem]]:
        """Decisions were stored: they stay in this session's queue and lose their marks.
        Returns the approved ids (to write after the undo window) and the items changed."""
        approved: list[str] = []
        changed: list[QueueItem] = []
        for approval in approvals:
            self.session_ids.add(approval.id)
            self.marked.discard(approval.id)
            if approval.status.is_approved:
                approved.append(approval.id)
            if (item := self.changed(approval)) is not None:
                changed.append(item)
        return approved, changed

    def changed(self, approval: Approval) -> QueueItem | None:
        """``approval`` as stored now (decided, being written, written): its item updated, and
        remembered over a load that is running. None when the queue does not hold it."""
        self._touched[approval.id] = approval
        item = self.items.get(approval.id)
        if item is None:
            return None
        self.items[approval.id] = updated = with_approval(item, approval)
        self._redrawn(updated)
        return updated

    def writing(self, approval_id: str) -> Approval | None:
        """The approval as it is while its write runs (None when the queue does not hold it)."""
        item = self.items.get(approval_id)
        if item is None:
            return None
        return item.approval.model_copy(update={"status": ApprovalStatus.EXECUTING})

    # -- the undo window ----------------------------------------------------------------------

    def schedule(self, approval_ids: Sequence[str], delay: float, now: float) -> list[str]:
        """Start the undo window of approved writes; returns those to write at once (no
        window: ``delay`` is 0)."""
        if not approval_ids:
            return []
        if delay <= 0:
            return list(approval_ids)
        for ident in approval_ids:
            self.countdowns.start(ident, now, delay)
        return []

    def cancel_countdown(self, approval_id: str) -> None:
        """Undo or write now: the write no longer waits for its window."""
        self.countdowns.cancel(approval_id)

    def seconds_left(self, approval_id: str, now: float) -> int | None:
        return self.countdowns.seconds_left(approval_id, now)

    def counting_down(self, approval_id: str) -> bool:
        return approval_id in self.countdowns.deadlines

    def tick(self, now: float) -> Tick:
        """The writes whose window ended (removed from the countdown) and the status cells of
        the shown rows that still count down, where their text changed."""
        due = self.countdowns.pop_due(now)
        shown = set(ids_of(self.shown))
        statuses: list[tuple[str, str]] = []
        for ident in self.countdowns.deadlines:
            item = self.items.get(ident)
            if item is None or ident not in shown:
                continue
            text = status_text(item.approval, self.countdowns.seconds_left(ident, now))
            if self._status_shown.get(ident) != text:
                self._status_shown[ident] = text
                statuses.append((ident, text))
        return Tick(due, statuses, bool(self.countdowns))
