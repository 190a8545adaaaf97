"""Team mode: one approval queue per AE across devices and workers.

With ``[central] dsn`` set, the workspace's approvals are mirrored in the central records
(``audit/central/records.py``):

- a review publishes the approvals it leaves open (:meth:`TeamRecords.publish`), and pulls
  what other devices changed before it starts (:meth:`TeamRecords.pull`), as does the app when
  it shows the queue;
- a person's decision (approve, adjust, reject, undo) is a compare-and-set on the central row
  *before* it is stored here (:meth:`TeamRecords.decide`): when another device decided first,
  nothing is recorded here except that device's decision, and the person is told who decided,
  where and when;
- the executor claims an approved row centrally before it writes (:meth:`TeamRecords.claim`),
  so two devices holding the same approved item never both write it, and hands the outcome back
  (:meth:`TeamRecords.report`); an outcome or expiry the central database could not take waits
  in the local ``team_outbox`` and is sent with the next exchange.

Local-only mode never builds this class. Its methods block (SQLite and PostgreSQL); async callers
run them in a thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sergas_tui.audit.central.conn import CentralAuditError
from sergas_tui.audit.central.records import CentralRecordStore, Publication, TeamApproval
from sergas_tui.clock import Clock
from sergas_tui.domain import Approval, ApprovalStatus, AuditAction, AuditEvent
from sergas_tui.domain.approval import EXECUTABLE
from sergas_tui.errors import DecidedElsewhereError as DecidedElsewhereError
from sergas_tui.errors import TeamUnavailableError as TeamUnavailableError
from sergas_tui.logs import get_logger
from sergas_tui.storage import Repository
from sergas_tui.storage import rows as row_codec

log = get_logger("sergas.team")

_S = ApprovalStatus
TEAM_AGENT = "team"
"""``agent_name`` of audit rows for states taken from the central records."""
PULL_KEY = "team_pulled_until"
"""Meta key (``:owner`` appended) of the central ``updated_at`` a pull has reached."""
PAGE = 2000
"""Central rows read per request of a pull."""
_REPORTED_FROM = (_S.EXECUTING, _S.APPROVED, _S.ADJUSTED, _S.FAILED)
"""Central statuses an execution's outcome reported from here may replace (the row may lag
behind the claim)."""
PULL_OVERLAP = timedelta(minutes=5)
"""How far before its mark a pull reads again (transactions in flight at the last pull)."""


@dataclass(frozen=True)
class PullReport:
    """What a pull did: approvals new here, and states taken from other devices."""

    new: int = 0
    moved: int = 0
    sent: int = 0
    """Outbox entries delivered on the way."""


def _short(approval: Approval) -> str:
    return approval.id[:8]


class TeamRecords:
    """The workspace's approvals mirrored in the team's central records."""

    def __init__(self, repository: Repository, store: CentralRecordStore, *, clock: Clock) -> None:
        self._repo = repository
        self._store = store
        self._clock = clock

    @property
    def device(self) -> str:
        return self._store.device

    def describe(self) -> str:
        return self._store.describe()

    # -- publishing and pulling ----------------------------------------------------------------

    def publish(self, owner_email: str | None) -> int:
        """Publish every open approval of the owner (everyone: None) not yet central; returns
        how many were new there. Rows already central keep their state."""
        open_statuses = [s for s in _S if not s.is_terminal]
        approvals = self._repo.approvals_with_status(open_statuses, owner_email)
        items = [self._publication(a) for a in approvals]
        return self._store.publish(items)

    def pull(self, owner_email: str | None) -> PullReport:
        """Take what changed centrally since the last pull for this owner (everyone: None):
        approvals published elsewhere become local, states moved elsewhere are taken. Sends
        the outbox first."""
        sent = self.flush()
        key = f"{PULL_KEY}:{owner_email or '*'}"
        mark = self._repo.meta_value(key)
        # A row's updated_at is taken before its transaction commits, so a publish still in
        # flight may commit rows older than the newest one seen: each pull reads again from a
        # while before its mark (taking a row twice changes nothing).
        seen = row_codec.parse_ts(mark) if mark else None
        since = seen - PULL_OVERLAP if seen is not None else None
        after: tuple[datetime, str] | None = None
        new = moved = 0
        while True:
            page = self._store.changed_since(owner_email, since, after=after, limit=PAGE)
            for item in page:
                added, took = self._take(item)
                new += added
                moved += took
            if not page:
                break
            last = page[-1]
            self._repo.set_meta(key, row_codec.ts(last.updated_at))
            if len(page) < PAGE:
                break
            after = (last.updated_at, last.approval.id)
        return PullReport(new=new, moved=moved, sent=sent)

    def _take(self, item: TeamApproval, *, own: bool = False) -> tuple[int, int]:
        """One central row here: (1, 0) when new, (0, 1) when its state was taken.

        A move this device made itself is not taken back from the central records (its local
        step follows it, or is in flight in another of its processes) unless ``own``: the
        refusal of a later move shows that the local row is behind."""
        repo = self._repo
        central = item.approval
        local = repo.get_approval(central.id)
        if local is None:
            with repo.writing("take an approval from the team"):
                if repo.get_approval(central.id) is not None:  # another process took it first
                    return 0, 0
                if item.recommendation is not None and (
                    repo.get_recommendation(item.recommendation.id) is None
                ):
                    repo.save_recommendations(
                        [item.recommendation], owner_email=central.owner_email
                    )
                if item.snapshot is not None and repo.latest_snapshot(central.account_id) is None:
                    repo.save_snapshot(central.account_id, central.owner_email, item.snapshot)
                # A fresh local token (tokens never travel); the recommendation, if it waited
                # here as "more, lower priority", has landed: this device's own queue filling
                # must not land it a second time.
                repo.land_recommendation(central)
            return 1, 0
        if local.status == central.status or self._queued(central.id):
            return 0, 0  # the same, or this device's newer state waits to be sent
        if item.updated_by == self.device and not own:
            return 0, 0
        # A row moved back to pending gets a fresh single-use token, as an undo here does.
        token = secrets.token_urlsafe(24) if central.status == _S.PENDING else local.token
        taken = central.model_copy(update={"token": token})
        event = AuditEvent(
            timestamp=self._clock.now(),
            session_id=f"team-{self.device}",
            agent_name=TEAM_AGENT,
            action_type=str(AuditAction.APPROVAL_MIRRORED),
            account_id=central.account_id,
            owner_email=central.owner_email,
            tool_inputs={
                "approval_id": central.id,
                "from_status": str(local.status),
                "to_status": str(central.status),
                "by": central.decided_by,
                "device": item.updated_by,
            },
        )
        return 0, int(repo.mirror_approval(taken, expected_status=local.status, audit=event))

    # -- decisions -----------------------------------------------------------------------------

    def decide(self, before: Approval, after: Approval) -> None:
        """Record a person's move of ``before`` to ``after`` centrally, first.

        Raises :class:`DecidedElsewhereError` (after taking the central state here) when
        another device moved it first, :class:`TeamUnavailableError` when the central records
        cannot be reached. Nothing is stored locally by this method on success: the caller
        stores the decision next.
        """
        decided = after.status != _S.PENDING
        try:
            try:
                refused = self._store.move(after, expected=[before.status], decided=decided)
            except LookupError:  # never published (a review that could not reach it)
                self._store.publish([self._publication(before)])
                refused = self._store.move(after, expected=[before.status], decided=decided)
        except CentralAuditError as err:
            raise TeamUnavailableError(
                f"The team's central records ({self._store.describe()}) could not be reached, "
                "so this decision could not be checked against your other devices; nothing "
                f"was recorded. Try again when they are back. ({err.message})"
            ) from err
        if refused is None:
            return
        self._take(refused, own=True)
        name = refused.account_name or self._publication(before).account_name or before.account_id
        raise DecidedElsewhereError(
            f"Approval {_short(before)} ({before.action_type} on {name}) was already "
            f"{refused.decided_text()}; nothing was recorded here. The queue now shows "
            "that decision."
        )

    def withdraw(self, before: Approval, after: Approval) -> None:
        """Put back a central move of ``before`` to ``after`` whose local step failed (the
        decision was not recorded here, so it must not stand for the team). Best effort: a
        failure is logged, and the refusal the person sees still holds locally."""
        try:
            self._store.move(before, expected=[after.status], decided_here=True)
        except (CentralAuditError, LookupError) as err:
            log.warning("team_withdraw_failed", approval_id=before.id, error=str(err))

    def _publication(self, approval: Approval) -> Publication:
        """The approval with what another device needs to show it by name."""
        snap = self._repo.latest_snapshot(approval.account_id)
        data = None if snap is None else dict(snap.data)
        name = None if data is None else data.get("Account_Name")
        return Publication(
            approval=approval,
            recommendation=self._repo.get_recommendation(approval.recommendation_id),
            account_name=name if isinstance(name, str) else None,
            snapshot=data,
        )

    # -- execution -----------------------------------------------------------------------------

    def claim(self, approval: Approval, executing: Approval) -> str | None:
        """Claim an approved (or failed) row centrally before writing it: None when this
        device may write, otherwise why not (another device has it, decided otherwise, or
        decided it: the deciding device writes, since the single-use token of a decision
        never leaves it; or the central records are unreachable)."""
        try:
            try:
                refused = self._store.move(executing, expected=EXECUTABLE, decided_here=True)
            except LookupError:
                self._store.publish([self._publication(approval)])
                refused = self._store.move(executing, expected=EXECUTABLE, decided_here=True)
        except CentralAuditError as err:
            return f"the team's central records are unreachable ({err.message}); not written yet"
        if refused is None:
            return None
        self._take(refused)
        if refused.status in EXECUTABLE and refused.decided_on not in (None, self.device):
            return f"it was {refused.decided_text()}; that device writes it"
        return f"it is {refused.status} on {refused.updated_by}"

    def claimed_here(self, approval_id: str) -> bool:
        """True when the central row is a write this device claimed (reconciling a write left
        half-done is this device's business only); True too when the records are unreachable
        or the row is not central (local truth, as before team mode)."""
        try:
            row = self._store.get(approval_id)
        except CentralAuditError:
            return True
        return row is None or (row.status == _S.EXECUTING and row.updated_by == self.device)

    def report(self, approval: Approval) -> None:
        """Hand an outcome (or an expiry) stored here to the central records; kept in the
        outbox when they cannot take it now."""
        try:
            self._send(approval)
        except CentralAuditError as err:
            self._queue(approval.id, err.message)
            log.warning("team_report_queued", approval_id=approval.id, error=err.message)

    def _send(self, approval: Approval) -> None:
        expiry = approval.status == _S.EXPIRED
        expected: Iterable[ApprovalStatus] = [_S.PENDING] if expiry else _REPORTED_FROM
        try:
            # An execution's outcome only from the device that claimed the write.
            refused = self._store.move(approval, expected=expected, claimed_here=not expiry)
        except LookupError:
            self._store.publish([self._publication(approval)])
            return
        if refused is not None and refused.status != approval.status:
            log.warning(
                "team_report_refused",
                approval_id=approval.id,
                here=str(approval.status),
                central=str(refused.status),
            )
            self._take(refused, own=True)  # the team's state wins: this device was behind

    def flush(self) -> int:
        """Send what waits in the outbox; returns how many were delivered."""
        with self._repo.reading("read the team outbox") as conn:
            ids = [r[0] for r in conn.execute("SELECT approval_id FROM team_outbox")]
        sent = 0
        for ident in ids:
            approval = self._repo.get_approval(ident)
            try:
                if approval is not None:
                    self._send(approval)
            except CentralAuditError as err:
                self._queue(ident, err.message)
                break  # unreachable: the rest waits too
            with self._repo.writing("clear a team outbox entry") as conn:
                conn.execute("DELETE FROM team_outbox WHERE approval_id = ?", (ident,))
            sent += 1
        return sent

    def _queued(self, approval_id: str) -> bool:
        with self._repo.reading("read the team outbox") as conn:
            row = conn.execute(
                "SELECT 1 FROM team_outbox WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return row is not None

    def _queue(self, approval_id: str, error: str) -> None:
        now: datetime = self._clock.now()
        with self._repo.writing("queue a team outbox entry") as conn:
            conn.execute(
                "INSERT INTO team_outbox (approval_id, queued_at, error) VALUES (?, ?, ?) "
                "ON CONFLICT (approval_id) DO UPDATE SET error = excluded.error",
                (approval_id, row_codec.ts(now), error),
            )
