"""Read an owner's current picture from the workspace: the brief as it stands now.

The orchestrator stores one brief per owner per run: what that run found (the signals and
changes of the accounts it reviewed, whatever it proposed). An owner's brief is read at export
time instead: every account of the owner with its latest signals (the newest stored brief that
reviewed it), every pending approval and queued recommendation with its status *now*, and the
decisions of the last days. :func:`read_current_brief` does the (blocking) reads and
:func:`~sergas_tui.briefs.compile.compile_current_brief` the rest.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sergas_tui.briefs.compile import DECIDED_WINDOW, compile_current_brief, decided_time
from sergas_tui.domain import AccountChanges, ApprovalStatus, BriefAccount, OwnerBrief
from sergas_tui.domain.brief import CurrentBrief
from sergas_tui.storage import Repository

BRIEFS_SEARCHED = 20
"""Stored run briefs searched, newest first, for accounts the latest run did not review."""

DECIDED_STATUSES = tuple(s for s in ApprovalStatus if s != ApprovalStatus.PENDING)


@dataclass
class LatestEntries:
    """Each account's entry (and changes) from the newest stored brief that reviewed it."""

    accounts: dict[str, BriefAccount] = field(default_factory=dict)
    changes: dict[str, AccountChanges] = field(default_factory=dict)
    last_review_at: datetime | None = None


def latest_entries(
    repo: Repository, owner_email: str, wanted: Collection[str], *, limit: int = BRIEFS_SEARCHED
) -> LatestEntries:
    """Entries of the owner's newest brief, then older ones for the ``wanted`` accounts the
    newer ones did not review (a review of a few accounts), at most ``limit`` briefs."""
    found = LatestEntries()
    missing = set(wanted)
    with repo.reading("read briefs") as conn:
        rows = conn.execute(
            "SELECT data FROM briefs WHERE owner_email = ? ORDER BY id DESC LIMIT ?",
            (owner_email, limit),
        )
        for index, row in enumerate(rows):
            brief = OwnerBrief.model_validate_json(row["data"])
            if index == 0:
                found.last_review_at = brief.generated_at
            changed = {c.account_id: c for c in brief.changes or []}
            for entry in brief.accounts or []:
                if entry.account_id in found.accounts or (
                    index and entry.account_id not in missing
                ):
                    continue
                found.accounts[entry.account_id] = entry
                if entry.account_id in changed:
                    found.changes[entry.account_id] = changed[entry.account_id]
                missing.discard(entry.account_id)
            if not missing:
                break
    return found


def read_current_brief(repo: Repository, owner_email: str, now: datetime) -> CurrentBrief | None:
    """The owner's current picture at ``now``; None when the workspace has nothing of theirs
    yet (no review, no approval, nothing queued). Blocking: call from a thread or a command."""
    snapshots = repo.latest_snapshots(owner_email)
    entries = latest_entries(repo, owner_email, snapshots.keys())
    pending = repo.pending_approvals(owner_email)
    queued = repo.queued_recommendations(owner_email)
    if entries.last_review_at is None and not snapshots and not pending and not queued:
        return None
    since = now - DECIDED_WINDOW
    decided = [
        a
        for a in repo.approvals_with_status(DECIDED_STATUSES, owner_email)
        if decided_time(a) >= since
    ]
    accounts: list[BriefAccount] = []
    for account_id, snapshot in snapshots.items():
        entry = entries.accounts.get(account_id)
        if entry is None:
            name = snapshot.data.get("Account_Name")
            entry = BriefAccount(account_id=account_id, account_name=str(name or ""))
        accounts.append(entry)
    for account_id, entry in entries.accounts.items():  # reviewed, never snapshotted
        if account_id not in snapshots and repo.latest_snapshot(account_id) is None:
            accounts.append(entry)
    listed = {a.account_id for a in accounts}
    return compile_current_brief(
        owner_email,
        generated_at=now,
        accounts=accounts,
        changes=[c for account_id, c in entries.changes.items() if account_id in listed],
        pending=[(a, repo.get_recommendation(a.recommendation_id)) for a in pending],
        queued=queued,
        decided=decided,
        last_review_at=entries.last_review_at,
    )
