"""One account's records, grouped: what the signal detectors and the Data Scout work on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sergas_tui.domain.records import Account, Activity, Change, Contact, Deal, Note


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_HasId)


@dataclass
class Bundle:
    """An account with its contacts, deals, activities and notes, and known field changes.

    Activities and notes attached to one of the account's deals (or contacts) belong here too.
    ``changes`` holds what is known about how records changed: Zoho timeline entries, changes
    derived from stage history, and the diff against the previous snapshot.
    """

    account: Account
    contacts: list[Contact] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def account_id(self) -> str:
        return self.account.id

    def copy(self, *, changes: bool = True) -> Bundle:
        """A copy whose lists can change without touching this one (the records are shared;
        they are immutable by convention). ``changes=False`` leaves the known changes out."""
        return Bundle(
            account=self.account,
            contacts=list(self.contacts),
            deals=list(self.deals),
            activities=list(self.activities),
            notes=list(self.notes),
            changes=list(self.changes) if changes else [],
        )

    def deal(self, deal_id: str) -> Deal | None:
        return next((d for d in self.deals if d.id == deal_id), None)

    def contact(self, contact_id: str) -> Contact | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def changes_of(self, module: str, record_id: str, fields: Iterable[str]) -> list[Change]:
        """Changes of one record's ``fields`` (any spelling case), oldest first."""
        wanted = {f.casefold() for f in fields}
        found = [
            c
            for c in self.changes
            if c.module == module and c.record_id == record_id and c.field.casefold() in wanted
        ]
        return sorted(found, key=lambda c: (c.timestamp is None, c.timestamp))


def upsert(base: Sequence[R], updates: Iterable[R]) -> list[R]:
    """``base`` with records of ``updates`` replacing those with the same id (new ones last)."""
    merged = {record.id: record for record in base}
    for record in updates:
        merged[record.id] = record
    return list(merged.values())


def merge_bundle(stored: Bundle, update: Bundle) -> Bundle:
    """A complete bundle from a stored one and an incremental update of the same account."""
    return Bundle(
        account=update.account,
        contacts=upsert(stored.contacts, update.contacts),
        deals=upsert(stored.deals, update.deals),
        activities=upsert(stored.activities, update.activities),
        notes=upsert(stored.notes, update.notes),
        changes=[*stored.changes, *update.changes],
    )
