"""The bulk sync: the REST sync's plan (``rest.sync.run_sync``) through Zoho's MCP tools.

The Data Scout's :meth:`~sergas_tui.crm.gateway.CrmReader.sync` wants every account, contact,
deal, activity and note of an owner changed in a window with the fewest calls. With COQL,
:class:`ZohoSync` runs one query per module; without it, it lists each module (newest modified
first where that lets it stop early) and filters here. Notes come from the Notes module, or per
account when listing that module is refused. Calls are counted into ``SyncBatch.calls``. Kept
apart from the single-record reads because it is a plan of its own over the same calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from sergas_tui.clock import Clock
from sergas_tui.crm.fields import (
    ACCOUNT_FIELDS,
    ACTIVITY_FIELDS,
    CONTACT_FIELDS,
    DEAL_FIELDS,
    NOTE_FIELDS,
)
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.queries import CoqlQuery, eq, ge, gt
from sergas_tui.crm.records import (
    accounts_from_rows,
    activities_from_rows,
    contacts_from_rows,
    deals_from_rows,
    notes_from_rows,
    with_what_module,
)
from sergas_tui.crm.zoho_mcp.calls import COUNTERS, CallCounter, ToolCaller, gather
from sergas_tui.crm.zoho_mcp.owners import Owners
from sergas_tui.crm.zoho_mcp.results import EPOCH, Row, modified_of
from sergas_tui.domain import ACTIVITY_MODULES, Activity, Owner, ensure_aware
from sergas_tui.errors import CrmPermissionError

log = structlog.get_logger("sergas.zoho_mcp")

_REFUSED: list[Row] = []
"""Marker (by identity) for "listing the Notes module was refused"."""


class ZohoSync:
    """:meth:`~sergas_tui.crm.gateway.CrmReader.sync` over Zoho's tools."""

    def __init__(
        self,
        caller: ToolCaller,
        owners: Owners,
        *,
        clock: Clock,
        extra_fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._caller = caller
        self.catalog = caller.catalog
        self._owners = owners
        self._users = owners.directory
        self._clock = clock
        self._extra_fields = {m: tuple(f) for m, f in (extra_fields or {}).items()}

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        """The REST sync's plan (``rest.sync.run_sync``) through Zoho's tools.

        With COQL: users, six COQL queries (Accounts, Contacts, Deals by owner; Tasks, Events,
        Calls by owner and modified in the window), and the Notes module newest first until
        the window ends (per account when listing Notes is refused). Without COQL: the same
        modules listed through ``getRecords`` (newest modified first where the window allows
        stopping early) and filtered here; slower, and the gateway's ``degraded`` says so.
        """
        now = self._clock.now()
        full = modified_since is None
        cutoff = ensure_aware(
            now - timedelta(days=history_days) if modified_since is None else modified_since
        )
        batch = SyncBatch(
            owner_email=owner_email, modified_since=modified_since, fetched_at=now, full=full
        )
        counter = CallCounter()
        reset = COUNTERS.set((*COUNTERS.get(), counter))
        try:
            unknown = owner_email is not None and self._users.by_email(owner_email) is None
            if (full or unknown) and self.catalog.has("users"):
                batch.users = await self._owners.load()
            owner = await self._owners.owner(owner_email) if owner_email else None
            if self.catalog.has("coql"):
                rows = await self._sync_by_coql(owner, full=full, cutoff=cutoff)
            else:
                rows = await self._sync_by_listing(owner, full=full, cutoff=cutoff)
            if not full and not batch.users and self.catalog.has("users"):
                owners = [
                    row.get("Owner")
                    for group in rows.values()
                    for row in group
                    if isinstance(row.get("Owner"), Mapping)
                ]
                if any(
                    isinstance(o, Mapping) and not self._users.knows(str(o.get("id")))
                    for o in owners
                ):
                    batch.users = await self._owners.load()
        finally:
            COUNTERS.reset(reset)
        self._fill(batch, rows, full=full)
        batch.calls = counter.calls
        return batch

    def _fields(self, module: str, base: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*base, *self._extra_fields.get(module, ()))))

    async def _sync_by_coql(
        self, owner: Owner | None, *, full: bool, cutoff: datetime
    ) -> dict[str, list[Row]]:
        def scoped(column: str) -> list[str]:
            return [eq(column, owner.id)] if owner is not None else []

        window = ge("Modified_Time", cutoff) if full else gt("Modified_Time", cutoff)
        changed = [] if full else [window]
        queries = {
            "Accounts": CoqlQuery(
                "Accounts",
                self._fields("Accounts", ACCOUNT_FIELDS),
                (*scoped("Owner"), *changed),
            ),
            "Contacts": CoqlQuery(
                "Contacts",
                self._fields("Contacts", CONTACT_FIELDS),
                (*scoped("Account_Name.Owner"), *changed),
            ),
            "Deals": CoqlQuery(
                "Deals",
                self._fields("Deals", DEAL_FIELDS),
                (*scoped("Account_Name.Owner"), *changed),
            ),
        }
        for kind, module in ACTIVITY_MODULES.items():
            queries[module] = CoqlQuery(module, ACTIVITY_FIELDS[kind], (*scoped("Owner"), window))
        jobs: dict[str, Awaitable[list[Row]]] = {
            m: self._caller.coql(q) for m, q in queries.items()
        }
        jobs["Notes"] = self._recent_notes(None, cutoff, strictly_after=not full)
        rows = await gather(jobs)
        if rows["Notes"] is _REFUSED:
            account_ids = [str(r["id"]) for r in rows["Accounts"] if r.get("id") is not None]
            rows["Notes"] = await self._notes_per_account(account_ids, cutoff, not full)
        return rows

    async def _sync_by_listing(
        self, owner: Owner | None, *, full: bool, cutoff: datetime
    ) -> dict[str, list[Row]]:
        """No COQL: list each module (activities and changes newest first, stopping at the
        window) and keep what belongs to the owner's accounts."""

        def mine(row: Mapping[str, Any]) -> bool:
            ref = row.get("Owner")
            return owner is None or (isinstance(ref, Mapping) and str(ref.get("id")) == owner.id)

        def after(row: Mapping[str, Any]) -> bool:
            stamp = modified_of(row)
            return stamp is not None and (stamp >= cutoff if full else stamp > cutoff)

        def account_of(row: Mapping[str, Any]) -> str | None:
            ref = row.get("Account_Name")
            return str(ref.get("id")) if isinstance(ref, Mapping) else None

        jobs: dict[str, Awaitable[list[Row]]] = {
            "Accounts": self._caller.list_module(
                "Accounts", self._fields("Accounts", ACCOUNT_FIELDS)
            ),
            "Contacts": self._caller.list_module(
                "Contacts",
                self._fields("Contacts", CONTACT_FIELDS),
                newest_first=not full,
                stop_before=None if full else cutoff,
            ),
            "Deals": self._caller.list_module(
                "Deals",
                self._fields("Deals", DEAL_FIELDS),
                newest_first=not full,
                stop_before=None if full else cutoff,
            ),
        }
        for kind, module in ACTIVITY_MODULES.items():
            jobs[module] = self._caller.list_module(
                module, ACTIVITY_FIELDS[kind], newest_first=True, stop_before=cutoff
            )
        jobs["Notes"] = self._recent_notes(None, cutoff, strictly_after=not full)
        rows = await gather(jobs)
        owned = [r for r in rows["Accounts"] if mine(r)]
        owned_ids = {str(r.get("id")) for r in owned}
        rows["Accounts"] = owned if full else [r for r in owned if after(r)]
        for module in ("Contacts", "Deals"):
            rows[module] = [
                r
                for r in rows[module]
                if (owner is None or account_of(r) in owned_ids) and (full or after(r))
            ]
        for module in ACTIVITY_MODULES.values():
            rows[module] = [r for r in rows[module] if mine(r) and after(r)]
        if rows["Notes"] is _REFUSED:
            rows["Notes"] = await self._notes_per_account(sorted(owned_ids), cutoff, not full)
        return rows

    async def _recent_notes(
        self, account_id: str | None, cutoff: datetime, strictly_after: bool
    ) -> list[Row]:
        """Notes modified since ``cutoff`` (the whole Notes module, or one account's), newest
        first; :data:`_REFUSED` when listing the Notes module is not allowed."""

        def keep(row: Mapping[str, Any]) -> bool:
            stamp = modified_of(row)
            return stamp is None or stamp > cutoff or (stamp == cutoff and not strictly_after)

        try:
            if account_id is None:
                rows = await self._caller.list_module(
                    "Notes", NOTE_FIELDS, newest_first=True, stop_before=cutoff
                )
            else:
                rows = await self._caller.related(
                    "Accounts",
                    account_id,
                    "Notes",
                    NOTE_FIELDS,
                    newest_first=True,
                    stop_before=cutoff,
                )
        except CrmPermissionError as err:
            if account_id is not None:
                raise
            log.info("zoho_mcp.notes_module_refused", code=err.code)
            return _REFUSED
        return [row for row in rows if keep(row)]

    async def _notes_per_account(
        self, account_ids: Sequence[str], cutoff: datetime, strictly_after: bool
    ) -> list[Row]:
        jobs: dict[str, Awaitable[list[Row]]] = {
            account_id: self._recent_notes(account_id, cutoff, strictly_after)
            for account_id in account_ids
        }
        found = await gather(jobs)
        return [row for rows in found.values() for row in rows]

    def _fill(self, batch: SyncBatch, rows: Mapping[str, list[Row]], *, full: bool) -> None:
        """Rows → the batch's domain records, filtered and completed as the REST sync does."""
        accounts = accounts_from_rows(rows["Accounts"])
        contacts = contacts_from_rows(rows["Contacts"])
        deals = deals_from_rows(rows["Deals"])
        activities: list[Activity] = []
        for kind, module in ACTIVITY_MODULES.items():
            activities.extend(activities_from_rows(kind, rows[module]))
        notes = notes_from_rows(rows["Notes"])
        account_ids = {a.id for a in accounts}
        deal_ids = {d.id for d in deals}
        if full:
            contact_ids = {c.id for c in contacts}
            parents = account_ids | deal_ids
            activities = [
                a
                for a in activities
                if (a.what is not None and a.what.id in parents)
                or (a.what is None and a.who is not None and a.who.id in contact_ids)
            ]
            notes = [n for n in notes if n.parent is not None and n.parent.id in parents]
        activities = [with_what_module(a, account_ids, deal_ids) for a in activities]
        floor = EPOCH
        notes.sort(key=lambda n: n.modified_time or n.created_time or floor, reverse=True)
        batch.accounts = self._users.complete_all(accounts)
        batch.contacts = self._users.complete_all(contacts)
        batch.deals = self._users.complete_all(deals)
        batch.activities = self._users.complete_all(activities)
        batch.notes = self._users.complete_all(notes)


__all__ = ["ZohoSync"]
