"""What the central audit sync did and where it stands, without touching PostgreSQL.

:func:`outbox_status` reads only the local database (two counts on a partial index and two
``meta`` values), cheaply enough for the TUI header and ``sergas doctor``; this module does not
import psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sergas_tui.audit.central.schema import CentralMigrationResult
    from sergas_tui.storage import Repository

META_LAST_SYNC = "central_audit_last_sync_at"
META_LAST_ERROR = "central_audit_last_error"


@dataclass
class SyncReport:
    """What one :func:`sync_once` did."""

    audit_sent: int = 0
    audit_inserted: int = 0
    outcomes_sent: int = 0
    outcomes_inserted: int = 0
    batches: int = 0
    retries: int = 0
    conflicted_batches: int = 0
    seconds: float = 0.0
    schema: CentralMigrationResult | None = None
    stopped: bool = False
    anchor_problem: str | None = None
    """The local audit log's end no longer matches its recorded head or checkpoint (what
    ``sergas audit verify`` would report): compared after each sync."""

    @property
    def audit_already_present(self) -> int:
        """Rows sent again after an interrupted sync; the central copy already had them."""
        return self.audit_sent - self.audit_inserted

    @property
    def outcomes_already_present(self) -> int:
        return self.outcomes_sent - self.outcomes_inserted

    @property
    def rows_sent(self) -> int:
        return self.audit_sent + self.outcomes_sent

    @property
    def rows_per_second(self) -> float:
        return self.rows_sent / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        text = (
            f"{self.audit_sent:,} audit rows sent ({self.audit_inserted:,} new, "
            f"{self.audit_already_present:,} already central), {self.outcomes_sent:,} outcome "
            f"states ({self.outcomes_inserted:,} new) in {self.batches} batches, "
            f"{self.seconds:.2f} s"
        )
        if self.retries:
            text += f", {self.retries} retries"
        if self.schema is not None and self.schema.changed:
            text += f"; central schema v{self.schema.from_version} → v{self.schema.to_version}"
        text += "; stopped early" if self.stopped else ""
        if self.anchor_problem:
            text += f"; LOCAL AUDIT CHECK FAILED: {self.anchor_problem} (`sergas audit verify`)"
        return text


@dataclass(frozen=True)
class SyncProgress:
    """Reported after each batch is committed centrally and marked locally."""

    table: Literal["audit_logs", "recommendation_outcomes"]
    batch: int
    sent: int
    inserted: int


@dataclass(frozen=True)
class OutboxStatus:
    """The local view of the central sync, for the TUI header and ``sergas doctor``."""

    pending_audit: int
    pending_outcomes: int
    last_synced_at: datetime | None
    last_error: str | None

    @property
    def pending_rows(self) -> int:
        return self.pending_audit + self.pending_outcomes


def outbox_status(repository: Repository) -> OutboxStatus:
    """Pending rows, the last successful sync and the last failure (local reads only)."""
    audit, outcomes = repository.outbox_counts()
    last = repository.meta_value(META_LAST_SYNC)
    return OutboxStatus(
        pending_audit=audit,
        pending_outcomes=outcomes,
        last_synced_at=None if last is None else datetime.fromisoformat(last),
        last_error=repository.meta_value(META_LAST_ERROR),
    )
