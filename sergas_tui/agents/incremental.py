"""The review's sync step: only what changed since the last review, whenever that is safe.

A review syncs a *scope* — one owner's accounts, or every owner's (``storage/sync_mirror.py``).
For each scope the workspace keeps the records of its last sync and a watermark.
:meth:`ReviewSync.fetch` then

1. asks the CRM only for what was modified after the watermark (``CrmReader.sync`` with
   ``modified_since``: COQL on ``Modified_Time``, Notes with ``If-Modified-Since``), and merges
   that into the stored records, so the Data Scout still sees every account of the scope
   (``SyncBatch.changed`` names the records just fetched);
2. or runs a full sync: the first review of a scope, when the last full sync is
   ``[orchestrator] full_sync_days`` old (7 by default; 0 makes every review full), when the
   stored records cannot be read back, or when the changes show an account that moved *to* the
   owner (an older account the stored records lack: its deals and contacts were not modified,
   so only a full sync brings them).

What an incremental sync cannot see — and the periodic full sync puts right: a record deleted
in the CRM (Zoho's COQL returns no deleted rows) stays until then, and so does an account that
moved *from* the owner to someone else (a query on ``Owner = id`` no longer returns it), as do
its deals and contacts; a deal or contact moved to an account of another owner likewise. An
all-owners review sees reassignments at once (the account is modified, its new owner shown),
only deletions wait. Activities stay in the stored records until the next full sync even once
they are older than the history window (they carry no Modified_Time); notes older than the
window are dropped at each merge.

The watermark is taken from the CRM's own stamps: the earlier of the sync's start and the
latest Modified_Time it read, minus :data:`WATERMARK_MARGIN` (so neither a clock that runs
ahead of Zoho's nor a record modified while the sync ran is missed; records read twice are
merged harmlessly), and it never moves back. :meth:`ReviewSync.commit` stores the merged
records and the new watermark in one transaction, and the orchestrator calls it only once the
review went through: a failed or cancelled review leaves the old watermark, and the next review
asks again from there.

How the fetched records are merged into the stored ones, and the watermark computed, is
:mod:`.sync_merge`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from sergas_tui.agents.sync_merge import (
    WATERMARK_MARGIN,
    Merged,
    Move,
    batch_of,
    changed_ids,
    merge_changes,
    merge_full,
    next_watermark,
)
from sergas_tui.clock import Clock
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.domain.touches import ACTIVITY_HISTORY_DAYS
from sergas_tui.errors import SergasError
from sergas_tui.storage.repository import Repository
from sergas_tui.storage.sync_mirror import StoredSync, SyncMirror, SyncState, scope_of

log = structlog.get_logger("sergas.sync")

DEFAULT_FULL_SYNC_DAYS = 7


@dataclass
class SyncedView:
    """What a review's sync produced: the complete batch for the scout, and what to store."""

    batch: SyncBatch
    """Every record of the scope; ``full``, ``calls`` and ``changed`` describe the sync."""
    state: SyncState
    """What to store once the review went through (:meth:`ReviewSync.commit`)."""
    merged: Merged
    stored: StoredSync
    reason: str
    """Why the sync was full, or since when an incremental one asked."""

    @property
    def full(self) -> bool:
        return self.batch.full

    @property
    def calls(self) -> int:
        return self.batch.calls


class ReviewSync:
    """The sync step of :meth:`Orchestrator.review` (see the module docstring)."""

    def __init__(
        self,
        gateway: CrmReader,
        repository: Repository | object,
        clock: Clock,
        *,
        full_sync_days: int = DEFAULT_FULL_SYNC_DAYS,
        margin: timedelta = WATERMARK_MARGIN,
    ) -> None:
        self._gateway = gateway
        self._mirror = SyncMirror(repository) if isinstance(repository, Repository) else None
        self._clock = clock
        self._full_sync_days = full_sync_days
        self._history_days = ACTIVITY_HISTORY_DAYS
        """The gateways' default activity and note window (``CrmReader.sync``)."""
        self._margin = margin

    async def fetch(self, owner_email: str | None) -> SyncedView:
        """Sync ``owner_email``'s accounts (None: everyone's): incrementally when the stored
        records allow it, else in full."""
        scope = scope_of(owner_email)
        now = self._clock.now()
        stored = (
            await asyncio.to_thread(self._mirror.load, scope)
            if self._mirror is not None
            else StoredSync(scope=scope)
        )
        reason = self._full_reason(stored, now)
        calls = 0
        if reason is None and stored.state is not None:
            since = stored.state.since
            fetched = await self._gateway.sync(owner_email, since)
            calls = fetched.calls
            merged = merge_changes(stored.bundles, fetched, history_days=self._history_days)
            if isinstance(merged, Merged):
                batch = batch_of(merged.bundles, fetched, changed=changed_ids(fetched))
                batch.calls = calls
                await self._rekey(merged.moves)
                state = self._next_state(stored, fetched, merged, full=False, now=now)
                text = f"changes since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
                log.info("sync.incremental", scope=scope, since=since.isoformat(), calls=calls)
                return SyncedView(batch, state, merged, stored, text)
            reason = merged
        fetched = await self._gateway.sync(owner_email)
        merged_full = merge_full(stored.bundles, fetched)
        batch = batch_of(merged_full.bundles, fetched, changed=None)
        batch.calls = calls + fetched.calls
        await self._rekey(merged_full.moves)
        state = self._next_state(stored, fetched, merged_full, full=True, now=now)
        log.info("sync.full", scope=scope, reason=reason, calls=batch.calls)
        return SyncedView(batch, state, merged_full, stored, reason or "full sync")

    async def commit(self, view: SyncedView) -> None:
        """Store the view's records and watermark for the next review (call it only once the
        review went through). A failure is logged: the next review then syncs from the old
        watermark, which is only slower."""
        if self._mirror is None:
            return
        bundles = view.merged.bundles
        chosen = bundles if view.full else {a: bundles[a] for a in view.merged.touched}
        try:
            await asyncio.to_thread(
                self._mirror.save,
                view.state,
                chosen,
                stored=view.stored.payloads,
                complete=view.full,
                fetched_at=view.batch.fetched_at,
            )
        except SergasError as err:
            log.warning("sync.not_stored", scope=view.state.scope, error=err.message)

    def _full_reason(self, stored: StoredSync, now: datetime) -> str | None:
        """Why this review must sync in full (None: an incremental sync will do)."""
        state = stored.state
        if self._mirror is None:
            return "full sync (no workspace to keep it in)"
        if state is None:
            return "full sync (the first review of these accounts)"
        if state.full_due:
            return f"full sync ({state.full_due})"
        if self._full_sync_days <= 0:
            return "full sync ([orchestrator] full_sync_days = 0)"
        if state.history_days != self._history_days:
            return "full sync (the history window changed)"
        if stored.unreadable or (state.accounts and not stored.bundles):
            return "full sync (the stored records could not be read)"
        age = now - state.full_at
        if age < timedelta(0) or age >= timedelta(days=self._full_sync_days):
            days = max(0, age.days)
            return f"full sync (the last one was {days} days ago: deletions and reassignments)"
        return None

    def _next_state(
        self, stored: StoredSync, fetched: SyncBatch, merged: Merged, *, full: bool, now: datetime
    ) -> SyncState:
        previous = stored.state
        since = next_watermark(
            fetched,
            None if full or previous is None else previous.since,
            margin=self._margin,
        )
        return SyncState(
            scope=stored.scope,
            since=since,
            full_at=now if full or previous is None else previous.full_at,
            synced_at=now,
            history_days=self._history_days,
            accounts=len(merged.bundles),
        )

    async def _rekey(self, moves: list[Move]) -> None:
        if self._mirror is None or not moves:
            return
        try:
            moved = await asyncio.to_thread(self._mirror.rekey, moves)
        except SergasError as err:  # only costs reads
            log.warning("sync.cache_not_rekeyed", error=err.message)
            return
        log.debug("sync.cache_rekeyed", reads=moved)


__all__ = ["DEFAULT_FULL_SYNC_DAYS", "ReviewSync", "SyncedView"]
