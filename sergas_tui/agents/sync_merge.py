"""The review sync's merge, pure: a scope's stored records and what a sync fetched, merged
into the records the Data Scout sees, with the next watermark.

The watermark is taken from the CRM's own stamps: the earlier of the sync's start and the
latest Modified_Time it read, minus :data:`WATERMARK_MARGIN` (so neither a clock that runs
ahead of Zoho's nor a record modified while the sync ran is missed; records read twice are
merged harmlessly), and it never moves back. Storing the merged records and the new watermark
is :meth:`~sergas_tui.agents.incremental.ReviewSync.commit`'s.

Per-record reads (stage history, timelines) stay cheap because the merge keeps what it knows
about each deal: :attr:`~sergas_tui.domain.records.Deal.stage_fields_since` (when the stage,
amount, probability and closing date last changed at the latest) survives edits of other
fields, as does a contact's ``role_fields_since`` while its role and title are unchanged, and so
do the deal's cached stage history and timeline and the contact's cached timeline (re-keyed to
the new Modified_Time, ``SyncMirror.rekey``). The scout reads afresh only records in
``SyncBatch.changed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sergas_tui.agents.scout import group_batch
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.records import with_what_module
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.common import ensure_aware
from sergas_tui.domain.records import ACTIVITY_MODULES, Activity, Contact, Deal, Note
from sergas_tui.storage.read_cache import CacheKind

WATERMARK_MARGIN = timedelta(minutes=15)
"""How far before the CRM's latest stamp (or our start) the next incremental sync asks from."""
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
    "WATERMARK_MARGIN",
    "Merged",
    "batch_of",
    "carry_deal",
    "changed_ids",
    "merge_changes",
    "merge_full",
    "next_watermark",
]
