"""What a review's sync keeps for the next one: per scope, the records and the watermark.

A *scope* is what a review syncs: one owner's accounts (the owner's email, casefolded) or every
owner's (``*``). For each scope the workspace database keeps

- the records of the last sync, merged with every incremental sync since: one row per account
  in ``crm_read_cache`` (kind ``sync:<scope>``, the account id, the account's Modified_Time, the
  account with its contacts, deals, activities and notes as JSON) — so an incremental review
  still shows the Data Scout every account;
- the sync state in ``meta`` (key ``sync_state:<scope>``, JSON :class:`SyncState`): the
  watermark the next incremental sync asks from, and when the last full sync ran.

Both are written in one transaction (:meth:`SyncMirror.save`), and only after a review that
went through, so a failed review leaves the previous state and the next one asks again from the
old watermark. Nothing here needs a schema change: both tables exist since version 5.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.common import Timestamp
from sergas_tui.domain.records import Account, Activity, Contact, Deal, Note
from sergas_tui.storage.read_cache import CacheKind
from sergas_tui.storage.repository import Repository

SCOPE_ALL = "*"
STATE_VERSION = 1
_KIND_PREFIX = "sync:"
_STATE_PREFIX = "sync_state:"
_CHUNK = 500


def scope_of(owner_email: str | None) -> str:
    """The scope of a review of ``owner_email`` (None: every owner)."""
    return SCOPE_ALL if not owner_email else owner_email.strip().casefold()


class SyncState(BaseModel):
    """Where a scope's syncs stand."""

    version: int = STATE_VERSION
    scope: str
    since: Timestamp
    """The watermark: the next incremental sync asks for what was modified after it."""
    full_at: Timestamp
    """When the last full sync ran (our clock): a full sync is due ``full_sync_days`` later."""
    synced_at: Timestamp
    """When the last sync (full or incremental) ran (our clock)."""
    history_days: int
    """The activity and note window of the stored records."""
    accounts: int = 0
    full_due: str | None = None
    """Why the next sync must be a full one, said by something other than the sync (an
    account forgotten here: the CRM's records of it are read again); cleared by that sync."""


def mark_full_sync_due(conn: sqlite3.Connection, reason: str) -> int:
    """Make the next review of every stored scope sync in full, saying ``reason`` (inside the
    caller's transaction). Returns how many scopes were marked."""
    marked = 0
    found = conn.execute(
        "SELECT key, value FROM meta WHERE key LIKE ?", (_STATE_PREFIX + "%",)
    ).fetchall()
    for key, value in found:
        try:
            state = SyncState.model_validate_json(str(value))
        except ValidationError:
            continue  # unreadable: the next review syncs in full anyway
        due = state.model_copy(update={"full_due": reason})
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (due.model_dump_json(), str(key)))
        marked += 1
    return marked


class StoredBundle(BaseModel):
    """One account's stored records (the JSON of a mirror row)."""

    account: Account
    contacts: list[Contact] = Field(default_factory=list)
    deals: list[Deal] = Field(default_factory=list)
    activities: list[Activity] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)

    @classmethod
    def of(cls, bundle: Bundle) -> StoredBundle:
        return cls(
            account=bundle.account,
            contacts=bundle.contacts,
            deals=bundle.deals,
            activities=bundle.activities,
            notes=bundle.notes,
        )

    def bundle(self) -> Bundle:
        return Bundle(
            account=self.account,
            contacts=self.contacts,
            deals=self.deals,
            activities=self.activities,
            notes=self.notes,
        )


def payload_of(bundle: Bundle) -> str:
    """A bundle as the JSON a mirror row stores (defaults left out)."""
    return StoredBundle.of(bundle).model_dump_json(exclude_defaults=True)


@dataclass
class StoredSync:
    """A scope's stored sync: its state (None before the first one) and its accounts."""

    scope: str
    state: SyncState | None = None
    bundles: dict[str, Bundle] = field(default_factory=dict)
    """Account id → its stored records, in account id order."""
    payloads: dict[str, str] = field(default_factory=dict)
    """Account id → the row's JSON as stored (to write only rows that changed)."""
    unreadable: int = 0
    """Rows that could not be read back (a newer or damaged payload): a full sync is due."""


class SyncMirror:
    """The stored syncs of one workspace database (a sibling store of the repository)."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    def load(self, scope: str) -> StoredSync:
        """The scope's state and stored accounts."""
        stored = StoredSync(scope=scope)
        with self._repo.reading("read the stored sync") as conn:
            row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (_STATE_PREFIX + scope,)
            ).fetchone()
            found = conn.execute(
                "SELECT record_id, payload FROM crm_read_cache WHERE kind = ? ORDER BY record_id",
                (_KIND_PREFIX + scope,),
            ).fetchall()
        if row is not None:
            try:
                state = SyncState.model_validate_json(str(row["value"]))
            except ValidationError:
                state = None
            if state is not None and state.version == STATE_VERSION:
                stored.state = state
        for record in found:
            payload = str(record["payload"])
            try:
                bundle = StoredBundle.model_validate_json(payload).bundle()
            except ValidationError:
                stored.unreadable += 1
                continue
            stored.bundles[str(record["record_id"])] = bundle
            stored.payloads[str(record["record_id"])] = payload
        return stored

    def save(
        self,
        state: SyncState,
        bundles: Mapping[str, Bundle],
        *,
        stored: Mapping[str, str],
        complete: bool,
        fetched_at: datetime,
    ) -> int:
        """Store ``bundles`` (those whose JSON differs from ``stored``) and the state, in one
        transaction. ``complete``: ``bundles`` are all of the scope's accounts (a full sync),
        so stored rows of other accounts (deleted, or moved to another owner) go.
        Returns how many rows were written or removed."""
        kind = _KIND_PREFIX + state.scope
        rows: list[tuple[str, str, str, str, str]] = []
        for account_id, bundle in bundles.items():
            payload = payload_of(bundle)
            if stored.get(account_id) == payload:
                continue
            modified = bundle.account.modified_time
            rows.append(
                (
                    kind,
                    account_id,
                    modified.isoformat() if modified else "",
                    payload,
                    fetched_at.isoformat(),
                )
            )
        gone = [a for a in stored if a not in bundles] if complete else []
        with self._repo.writing("store the sync for the next review") as conn:
            conn.executemany(
                "INSERT INTO crm_read_cache (kind, record_id, modified_time, payload, fetched_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, record_id) DO UPDATE SET "
                "modified_time = excluded.modified_time, payload = excluded.payload, "
                "fetched_at = excluded.fetched_at",
                rows,
            )
            for start in range(0, len(gone), _CHUNK):
                chunk = gone[start : start + _CHUNK]
                conn.execute(
                    "DELETE FROM crm_read_cache WHERE kind = ? AND record_id IN "
                    f"({', '.join('?' for _ in chunk)})",
                    (kind, *chunk),
                )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_STATE_PREFIX + state.scope, state.model_dump_json()),
            )
        return len(rows) + len(gone)

    def forget(self, scopes: Collection[str]) -> None:
        """Drop the stored sync of ``scopes`` (the next review of each is a full one)."""
        with self._repo.writing("forget a stored sync") as conn:
            for scope in scopes:
                conn.execute("DELETE FROM crm_read_cache WHERE kind = ?", (_KIND_PREFIX + scope,))
                conn.execute("DELETE FROM meta WHERE key = ?", (_STATE_PREFIX + scope,))

    def rekey(self, moves: Iterable[tuple[CacheKind, str, datetime, datetime]]) -> int:
        """Keep cached per-record reads valid for a newer version of their record:
        ``(kind, record id, old Modified_Time, new Modified_Time)`` each, for records whose
        edits since did not touch what the read answers (a deal's stage history after a change
        of its next step). Returns how many cached reads moved."""
        values = [
            (new.isoformat(), kind, record_id, old.isoformat())
            for kind, record_id, old, new in moves
            if old != new
        ]
        if not values:
            return 0
        with self._repo.writing("keep cached CRM reads") as conn:
            before = conn.total_changes
            conn.executemany(
                "UPDATE crm_read_cache SET modified_time = ? "
                "WHERE kind = ? AND record_id = ? AND modified_time = ?",
                values,
            )
            return conn.total_changes - before


__all__ = [
    "SCOPE_ALL",
    "StoredBundle",
    "StoredSync",
    "SyncMirror",
    "SyncState",
    "payload_of",
    "scope_of",
]
