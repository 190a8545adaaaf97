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

Per-record reads (stage history, timelines) stay cheap because the merge keeps what it knows
about each deal: :attr:`~sergas_tui.domain.records.Deal.stage_fields_since` (when the stage,
amount, probability and closing date last changed at the latest) survives edits of other
fields, as does a contact's ``role_fields_since`` while its role and title are unchanged, and so
do the deal's cached stage history and timeline and the contact's cached timeline (re-keyed to
the new Modified_Time, ``SyncMirror.rekey``). The scout reads afresh only records in
``SyncBatch.changed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from sergas_tui.agents.scout import group_batch
from sergas_tui.clock import Clock
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.crm.records import with_what_module
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.common import ensure_aware
from sergas_tui.domain.records import ACTIVITY_MODULES, Activity, Contact, Deal, Note
from sergas_tui.domain.touches import ACTIVITY_HISTORY_DAYS
from sergas_tui.errors import SergasError
from sergas_tui.storage.read_cache import CacheKind
from sergas_tui.storage.repository import Repository
from sergas_tui.storage.sync_mirror import StoredSync, SyncMirror, SyncState, scope_of

log = structlog.get_logger("sergas.sync")

WATERMARK_MARGIN = timedelta(minutes=15)
"""How far before the CRM's latest stamp (or our start) the next incremental sync asks from."""
DEFAULT_FULL_SYNC_DAYS = 7

DEAL_HISTORY_FIELDS = ("stage", "amount", "probability", "closing_date")
"""A deal's fields that its stage history (and its close-date timeline) are about."""
CONTACT_ROLE_FIELDS = ("role", "title")
"""A contact's fields that its timeline read is for (a change of Executive Sponsor)."""

Move = tuple[CacheKind, str, datetime, datetime]


@dataclass
class Merged:
    """A scope's records after a sync, and what changes in the stored copy."""

    bundles: dict[str, Bundle]
    touched: set[str] = field(default_factory=set)
    """Accounts whose stored records change (all of them after a full sync)."""
    moves: list[Move] = field(default_factory=list)
    """Cached per-record reads still valid for a record's new version (``SyncMirror.rekey``)."""


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


# --- the merge (pure) --------------------------------------------------------------------------


def merge_full(stored: Mapping[str, Bundle], batch: SyncBatch) -> Merged:
    """A full sync's records, grouped by account, with what the stored copy knew carried over
    (:func:`carry_deal`) and the cached reads that stay valid."""
    bundles = group_batch(batch)
    old_deals = {d.id: d for b in stored.values() for d in b.deals}
    old_contacts = {c.id: c for b in stored.values() for c in b.contacts}
    moves: list[Move] = []
    for bundle in bundles.values():
        bundle.deals = [_carry(old_deals.get(d.id), d, moves) for d in bundle.deals]
        bundle.contacts = [
            _carry_contact(old_contacts.get(c.id), c, moves) for c in bundle.contacts
        ]
        _normalise(bundle)
    return Merged(bundles=dict(sorted(bundles.items(), key=_id_order)), touched=set(bundles))


def merge_changes(
    stored: Mapping[str, Bundle], batch: SyncBatch, *, history_days: int
) -> Merged | str:
    """The stored records with an incremental batch applied; a reason for a full sync instead
    when the changes show an account the stored records lack that is not new (it moved to
    this owner, or was restored)."""
    since = batch.modified_since
    bundles = {aid: b.copy(changes=False) for aid, b in stored.items()}
    touched: set[str] = set()
    moves: list[Move] = []
    home: dict[str, str] = {}  # contact, deal, activity or note id → its account
    for aid, stored_bundle in bundles.items():
        groups: tuple[list[Contact], list[Deal], list[Activity], list[Note]] = (
            stored_bundle.contacts,
            stored_bundle.deals,
            stored_bundle.activities,
            stored_bundle.notes,
        )
        for group in groups:
            for record in group:
                home[record.id] = aid
    for account in batch.accounts:
        found = bundles.get(account.id)
        if found is None:
            created = account.created_time
            if since is not None and (created is None or ensure_aware(created) <= since):
                return "full sync (an account the last sync did not have: moved to this owner)"
            bundles[account.id] = Bundle(account=account)
        else:
            found.account = account
        touched.add(account.id)

    def take_out(record_id: str, kind: str) -> object | None:
        """Remove a record from where it was; return its stored version."""
        aid = home.pop(record_id, None)
        if aid is None or aid not in bundles:
            return None
        bundle = bundles[aid]
        records: list[object] = getattr(bundle, kind)
        for index, record in enumerate(records):
            if getattr(record, "id", None) == record_id:
                touched.add(aid)
                return records.pop(index)
        return None

    def put(aid: str | None, record_id: str, kind: str, record: object) -> None:
        if aid is None or aid not in bundles:
            return  # belongs to no account of the scope: a full sync drops it too
        getattr(bundles[aid], kind).append(record)
        home[record_id] = aid
        touched.add(aid)

    for contact in batch.contacts:
        old = take_out(contact.id, "contacts")
        carried_contact = _carry_contact(old if isinstance(old, Contact) else None, contact, moves)
        put(contact.account_id, contact.id, "contacts", carried_contact)
    for deal in batch.deals:
        old = take_out(deal.id, "deals")
        carried = _carry(old if isinstance(old, Deal) else None, deal, moves)
        put(deal.account_id, deal.id, "deals", carried)

    account_ids = set(bundles)
    deal_ids = {d.id for b in bundles.values() for d in b.deals}
    contact_ids = {c.id for b in bundles.values() for c in b.contacts}

    def parent_of(record_id: str | None, *, contacts: bool) -> str | None:
        if record_id is None:
            return None
        if record_id in account_ids:
            return record_id
        if record_id in deal_ids or (contacts and record_id in contact_ids):
            return home.get(record_id)
        return None

    for activity in batch.activities:
        take_out(activity.id, "activities")
        if activity.what is not None:
            where = parent_of(activity.what.id, contacts=False)
        else:
            where = parent_of(activity.who.id if activity.who else None, contacts=True)
        put(where, activity.id, "activities", with_what_module(activity, account_ids, deal_ids))
        if where is not None and where in bundles:
            _bump_last_activity(bundles[where], activity)
    for note in batch.notes:
        take_out(note.id, "notes")
        parent = parent_of(note.parent.id if note.parent else None, contacts=False)
        put(parent, note.id, "notes", note)

    cutoff = batch.fetched_at - timedelta(days=history_days)
    for aid, bundle in bundles.items():
        kept = [n for n in bundle.notes if n.modified_time is None or n.modified_time >= cutoff]
        if len(kept) != len(bundle.notes):
            bundle.notes = kept
            touched.add(aid)
    for aid in touched:
        _normalise(bundles[aid])
    return Merged(
        bundles=dict(sorted(bundles.items(), key=_id_order)), touched=touched, moves=moves
    )


def _bump_last_activity(bundle: Bundle, activity: Activity) -> None:
    """Zoho stamps Last_Activity_Time on an activity's account (and its deal) when the activity
    is created, without touching their Modified_Time: a merge sees only the new activity, so it
    moves the stamp forward to the activity's creation (in place)."""
    created = activity.created_time
    if created is None:
        return
    account = bundle.account
    if account.last_activity_time is None or account.last_activity_time < created:
        bundle.account = account.model_copy(update={"last_activity_time": created})
    what = activity.what.id if activity.what is not None else None
    for index, deal in enumerate(bundle.deals):
        if deal.id == what and (
            deal.last_activity_time is None or deal.last_activity_time < created
        ):
            bundle.deals[index] = deal.model_copy(update={"last_activity_time": created})


def carry_deal(old: Deal | None, new: Deal) -> Deal:
    """``new`` with :attr:`Deal.stage_fields_since` from the stored version ``old`` when its
    stage, amount, probability and closing date did not change since."""
    if old is None or not _same(old, new, DEAL_HISTORY_FIELDS):
        return new
    since = old.stage_fields_since or old.modified_time
    if since is None or new.modified_time is None or since >= new.modified_time:
        return new
    return new.model_copy(update={"stage_fields_since": since})


def _carry(old: Deal | None, new: Deal, moves: list[Move]) -> Deal:
    if old is not None and _same(old, new, DEAL_HISTORY_FIELDS):
        before, after = old.modified_time, new.modified_time
        if before is not None and after is not None and before != after:
            moves.append(("stage_history", new.id, before, after))
            moves.append(("timeline:Deals", new.id, before, after))
    return carry_deal(old, new)


def _carry_contact(old: Contact | None, new: Contact, moves: list[Move]) -> Contact:
    """``new`` with ``role_fields_since`` from its stored version when its role and title did
    not change since (and its cached timeline moved along)."""
    if old is None or not _same(old, new, CONTACT_ROLE_FIELDS):
        return new
    before, after = old.modified_time, new.modified_time
    if before is None or after is None or before == after:
        return new
    moves.append(("timeline:Contacts", new.id, before, after))
    since = old.role_fields_since or before
    return new.model_copy(update={"role_fields_since": since}) if since < after else new


def _same(old: object, new: object, names: Iterable[str]) -> bool:
    return all(getattr(old, name) == getattr(new, name) for name in names)


def changed_ids(batch: SyncBatch) -> frozenset[str]:
    """The ids of every record an (incremental) sync fetched."""
    groups: tuple[Iterable[object], ...] = (
        batch.accounts,
        batch.contacts,
        batch.deals,
        batch.activities,
        batch.notes,
    )
    return frozenset(str(getattr(r, "id")) for group in groups for r in group)  # noqa: B009


def batch_of(
    bundles: Mapping[str, Bundle], fetched: SyncBatch, *, changed: frozenset[str] | None
) -> SyncBatch:
    """One batch of every record of ``bundles``, described by the sync that ``fetched``."""
    return SyncBatch(
        owner_email=fetched.owner_email,
        modified_since=fetched.modified_since,
        fetched_at=fetched.fetched_at,
        full=fetched.full,
        users=list(fetched.users),
        accounts=[b.account for b in bundles.values()],
        contacts=[c for b in bundles.values() for c in b.contacts],
        deals=[d for b in bundles.values() for d in b.deals],
        activities=[a for b in bundles.values() for a in b.activities],
        notes=[n for b in bundles.values() for n in b.notes],
        calls=fetched.calls,
        changed=changed,
    )


def next_watermark(
    fetched: SyncBatch, previous: datetime | None, *, margin: timedelta = WATERMARK_MARGIN
) -> datetime:
    """Where the next incremental sync asks from (see the module docstring); never earlier
    than ``previous``."""
    stamps = [
        ensure_aware(r.modified_time)
        for group in (fetched.accounts, fetched.contacts, fetched.deals, fetched.notes)
        for r in group
        if r.modified_time is not None
    ]
    if not stamps:
        return previous if previous is not None else fetched.fetched_at - margin
    mark = min(ensure_aware(fetched.fetched_at), max(stamps)) - margin
    return mark if previous is None else max(previous, mark)


_KIND_ORDER = {kind: index for index, kind in enumerate(ACTIVITY_MODULES)}


def _id_order(item: tuple[str, object]) -> tuple[int, str]:
    return len(item[0]), item[0]


def _by_id(record_id: str) -> tuple[int, str]:
    return len(record_id), record_id


def _normalise(bundle: Bundle) -> None:
    """The order a full sync gives: records by id (Zoho's COQL order), activities by kind
    then id, notes newest first."""
    bundle.contacts.sort(key=lambda c: _by_id(c.id))
    bundle.deals.sort(key=lambda d: _by_id(d.id))
    bundle.activities.sort(key=_activity_order)
    bundle.notes.sort(key=_note_order, reverse=True)


def _activity_order(activity: Activity) -> tuple[int, int, str]:
    return _KIND_ORDER.get(activity.kind, 9), len(activity.id), activity.id


def _note_order(note: Note) -> tuple[float, int, str]:
    stamp = note.modified_time or note.created_time
    return (stamp.timestamp() if stamp else 0.0), len(note.id), note.id


__all__ = [
    "DEFAULT_FULL_SYNC_DAYS",
    "WATERMARK_MARGIN",
    "Merged",
    "ReviewSync",
    "SyncedView",
    "batch_of",
    "carry_deal",
    "changed_ids",
    "merge_changes",
    "merge_full",
    "next_watermark",
]
