"""What each run leaves behind: its sync run record and the owner briefs it wrote."""

from __future__ import annotations

from datetime import datetime

from sergas_tui.domain import OwnerBrief, SyncRun, SyncStatus
from sergas_tui.storage import rows
from sergas_tui.storage.transactions import Transactions


class RunRecords(Transactions):
    """The ``sync_runs`` and ``briefs`` tables (a part of
    :class:`~sergas_tui.storage.repository.Repository`)."""

    # -- sync runs --------------------------------------------------------------------------

    def start_sync_run(
        self, owner_email: str = "*", modified_since: datetime | None = None
    ) -> SyncRun:
        """Record that a fetch for ``owner_email`` (``"*"``: everyone) has started."""
        run = SyncRun(
            owner_email=owner_email, started_at=self._clock.now(), modified_since=modified_since
        )
        with self._write("start a sync run") as conn:
            conn.execute(
                "INSERT INTO sync_runs (id, owner_email, started_at, modified_since, calls, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    owner_email,
                    rows.ts(run.started_at),
                    rows.ts(modified_since),
                    0,
                    "running",
                ),
            )
        return run

    def finish_sync_run(self, run_id: str, *, status: SyncStatus = "ok", calls: int = 0) -> SyncRun:
        """Record the end of a sync run with its outcome and the number of CRM calls it made."""
        with self._write("finish a sync run") as conn:
            conn.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, calls = ? WHERE id = ?",
                (rows.ts(self._clock.now()), status, calls, run_id),
            )
            updated = conn.execute("SELECT * FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
        if updated is None:
            raise ValueError(f"no sync run with id {run_id!r}")
        return rows.sync_run(updated)

    def last_sync(self, owner_email: str = "*") -> SyncRun | None:
        """The latest successful run covering ``owner_email`` (its own or an all-owners run)."""
        with self._read("read sync runs") as conn:
            row = conn.execute(
                "SELECT * FROM sync_runs WHERE status = 'ok' AND owner_email IN (?, '*') "
                "ORDER BY started_at DESC, rowid DESC LIMIT 1",
                (owner_email,),
            ).fetchone()
        return None if row is None else rows.sync_run(row)

    # -- briefs -----------------------------------------------------------------------------

    def save_brief(self, brief: OwnerBrief, *, run_id: str | None = None) -> None:
        """Keep an owner brief (the latest one per owner is what `sergas export` writes)."""
        with self._write("save a brief") as conn:
            conn.execute(
                "INSERT INTO briefs (owner_email, run_id, generated_at, data) VALUES (?,?,?,?)",
                (brief.owner_email, run_id, rows.ts(brief.generated_at), brief.model_dump_json()),
            )

    def latest_brief(self, owner_email: str) -> OwnerBrief | None:
        with self._read("read a brief") as conn:
            row = conn.execute(
                "SELECT data FROM briefs WHERE owner_email = ? ORDER BY id DESC LIMIT 1",
                (owner_email,),
            ).fetchone()
        return None if row is None else OwnerBrief.model_validate_json(row["data"])

    def brief_covering(
        self, owner_email: str, account_id: str, *, searched: int = 50
    ) -> OwnerBrief | None:
        """The owner's newest brief whose review covered ``account_id`` (a review of a few
        accounts stores a brief of those only); the newest brief when none of the last
        ``searched`` did."""
        with self._read("read briefs") as conn:
            found = conn.execute(
                "SELECT data FROM briefs WHERE owner_email = ? ORDER BY id DESC LIMIT ?",
                (owner_email, searched),
            ).fetchall()
        briefs = [OwnerBrief.model_validate_json(row["data"]) for row in found]
        for brief in briefs:
            if any(a.account_id == account_id for a in brief.accounts or []):
                return brief
        return briefs[0] if briefs else None
