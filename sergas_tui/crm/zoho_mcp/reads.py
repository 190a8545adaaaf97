"""The gateway's reads: accounts, deals, activities, notes, users, stage history and timelines.

Each read of the :class:`~sergas_tui.crm.gateway.CrmReader` protocol maps onto Zoho's record
tools (get/search records, the Deals/Notes/Tasks/Events/Calls related lists of an account, COQL
when offered, users, timelines). Where the catalog lacks something the review uses,
:class:`ZohoReads` falls back to the fewest calls that still answer (a module listing filtered
here instead of COQL or search), and what it learns only at run time (no ``Stage_History``
related list) it records in :attr:`ZohoReads.runtime_degraded` for the gateway's ``degraded``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import JsonValue, ValidationError

from sergas_tui.crm.fields import (
    ACCOUNT_FIELDS,
    ACTIVITY_FIELDS,
    DEAL_FIELDS,
    NOTE_FIELDS,
    STAGE_HISTORY_FIELDS,
    fields_param,
)
from sergas_tui.crm.gateway import CLOSED_STAGES
from sergas_tui.crm.queries import (
    CoqlQuery,
    eq,
    gt,
    looks_like_criteria,
    not_in,
    search_params,
)
from sergas_tui.crm.records import (
    accounts_from_rows,
    activities_from_rows,
    activity_time,
    deals_from_rows,
    notes_from_rows,
    users_from_rows,
    with_what_module,
)
from sergas_tui.crm.zoho_mcp.calls import PAGE_NUMBER_REACH, PAGE_SIZE, ToolCaller, gather
from sergas_tui.crm.zoho_mcp.owners import Owners
from sergas_tui.crm.zoho_mcp.results import EPOCH, rows_of
from sergas_tui.domain import (
    ACTIVITY_MODULES,
    Account,
    Activity,
    ActivityKind,
    Change,
    Deal,
    Note,
    Owner,
    StageChange,
    changes_from_timeline,
    ensure_aware,
    stage_change_from_zoho,
)
from sergas_tui.domain.metadata import ModuleFields, module_fields_from_zoho
from sergas_tui.domain.zoho import ZohoStageHistory, ZohoTimelineEntry
from sergas_tui.errors import CrmNotFoundError, CrmValidationError

_MODULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ZohoReads:
    """The :class:`~sergas_tui.crm.gateway.CrmReader` reads over Zoho's tools."""

    def __init__(self, caller: ToolCaller, owners: Owners) -> None:
        self._caller = caller
        self.catalog = caller.catalog
        self.target = caller.target
        self._owners = owners
        self._users = owners.directory
        self.runtime_degraded: list[str] = []
        """What turned out to be missing only when Sergas asked for it, one sentence each."""
        self._no_stage_history = False

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        """COQL over Accounts when offered; otherwise the Accounts listing, filtered here."""
        owner = await self._owners.owner(owner_email) if owner_email else None
        if self.catalog.has("coql"):
            conditions: list[str] = []
            if owner is not None:
                conditions.append(eq("Owner", owner.id))
            if modified_since is not None:
                conditions.append(gt("Modified_Time", modified_since))
            rows = await self._caller.coql(CoqlQuery("Accounts", ACCOUNT_FIELDS, tuple(conditions)))
            return self._users.complete_all(accounts_from_rows(rows))
        rows = await self._caller.list_module(
            "Accounts",
            ACCOUNT_FIELDS,
            newest_first=modified_since is not None,
            stop_before=modified_since,
        )
        accounts = accounts_from_rows(rows)
        if owner is not None:
            accounts = [a for a in accounts if a.owner is not None and a.owner.id == owner.id]
        if modified_since is not None:
            since = ensure_aware(modified_since)
            accounts = [a for a in accounts if a.modified_time and a.modified_time > since]
        return self._users.complete_all(accounts)

    async def get_account_details(self, account_id: str) -> Account | None:
        """``getRecord`` on Accounts; None when Zoho has nothing or calls the id invalid."""
        try:
            if self.catalog.has("get_record"):
                body = await self._caller.call(
                    "get_record", path={"module": "Accounts", "record_id": account_id}
                )
            else:
                body = await self._caller.call(
                    "get_records",
                    path={"module": "Accounts"},
                    query={"ids": account_id, "fields": fields_param(ACCOUNT_FIELDS)},
                )
        except CrmValidationError as err:
            if err.code == "INVALID_DATA":
                return None
            raise
        accounts = self._users.complete_all(accounts_from_rows(rows_of(body)))
        return next((a for a in accounts if a.id == account_id), None)

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        """``searchRecords`` (``word`` or ``criteria``, at most 2,000); without it, the
        Accounts listing filtered by name here."""
        if not query.strip() or limit <= 0:
            return []
        limit = min(limit, PAGE_NUMBER_REACH)
        if self.catalog.has("search_records"):
            params: dict[str, JsonValue] = {
                **search_params(query),
                "fields": fields_param(ACCOUNT_FIELDS),
            }
            rows = await self._caller.all_rows(
                "search_records",
                path={"module": "Accounts"},
                query=params,
                limit=limit,
                per_page=min(limit, PAGE_SIZE),
            )
            return self._users.complete_all(accounts_from_rows(rows))
        if looks_like_criteria(query):
            raise CrmValidationError(
                f"Zoho's MCP server at {self.target} offers no search tool, so Zoho criteria "
                "expressions cannot be searched; search for a name instead.",
                status_code=400,
                code="NO_SEARCH_TOOL",
            )
        wanted = query.strip().casefold()
        accounts = accounts_from_rows(await self._caller.list_module("Accounts", ACCOUNT_FIELDS))
        found = [a for a in accounts if wanted in (a.name or "").casefold()]
        return self._users.complete_all(found[:limit])

    async def get_deals(self, account_id: str) -> list[Deal]:
        """The account's ``Deals`` related list, open and closed."""
        rows = await self._caller.related("Accounts", account_id, "Deals", DEAL_FIELDS)
        return self._users.complete_all(deals_from_rows(rows))

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        """COQL ``Stage not in (closed)`` when offered; otherwise the Deals listing, filtered."""
        owner = await self._owners.owner(owner_email) if owner_email else None
        if self.catalog.has("coql"):
            conditions = [not_in("Stage", sorted(CLOSED_STAGES))]
            if owner is not None:
                conditions.append(eq("Owner", owner.id))
            rows = await self._caller.coql(CoqlQuery("Deals", DEAL_FIELDS, tuple(conditions)))
            return self._users.complete_all(deals_from_rows(rows))
        deals = [
            d
            for d in deals_from_rows(await self._caller.list_module("Deals", DEAL_FIELDS))
            if d.stage not in CLOSED_STAGES
        ]
        if owner is not None:
            deals = [d for d in deals if d.owner is not None and d.owner.id == owner.id]
        return self._users.complete_all(deals)

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        """The account's ``Tasks``/``Events``/``Calls`` related lists, oldest first; ``since``
        keeps those due/held (or created) since then."""
        wanted = list(dict.fromkeys(kinds))
        jobs = {
            kind: self._caller.related(
                "Accounts", account_id, ACTIVITY_MODULES[kind], ACTIVITY_FIELDS[kind]
            )
            for kind in wanted
        }
        rows = await gather(jobs)
        seen: set[str] = set()
        found: list[Activity] = []
        for kind in wanted:
            for activity in activities_from_rows(kind, rows[kind]):
                key = f"{kind}:{activity.id}"
                if key in seen:
                    continue
                seen.add(key)
                when = activity_time(activity)
                if since is not None and when is not None and when < since:
                    continue
                found.append(with_what_module(activity, {account_id}, set()))
        found.sort(key=lambda a: activity_time(a) or EPOCH)
        return self._users.complete_all(found)

    async def get_notes(self, account_id: str) -> list[Note]:
        """The account's ``Notes`` related list, newest first."""
        rows = await self._caller.related(
            "Accounts", account_id, "Notes", NOTE_FIELDS, newest_first=True
        )
        notes = notes_from_rows(rows)
        notes.sort(key=lambda n: n.created_time or n.modified_time or EPOCH, reverse=True)
        return self._users.complete_all(notes)

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        """``getUsers`` (``CurrentUser`` without an email); without the tool, an email is
        looked up among the accounts' owners and "who am I" has no answer (None)."""
        if not self.catalog.has("users"):
            if email is None:
                return None
            if self._users.by_email(email) is None:
                await self._owners.learn(email)
            return self._users.by_email(email)
        if email is None:
            body = await self._caller.call("users", query={"type": "CurrentUser"})
            users = users_from_rows(rows_of(body, "users"))
            for user in users:
                self._users.add(user)
            return users[0] if users else None
        if self._users.by_email(email) is None:
            await self._owners.load()
        return self._users.by_email(email)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        """The deal's ``Stage_History`` related list, oldest first ([] when the server does not
        offer that list; the gateway's ``degraded`` then says so)."""
        if self._no_stage_history:
            return []
        try:
            rows = await self._caller.related(
                "Deals", deal_id, "Stage_History", STAGE_HISTORY_FIELDS
            )
        except (CrmValidationError, CrmNotFoundError) as err:
            details = err.details if isinstance(err.details, Mapping) else {}
            if err.code in ("INVALID_URL_PATTERN", "INVALID_MODULE") or (
                err.code == "INVALID_DATA" and details.get("api_name") == "Stage_History"
            ):
                self._no_stage_history = True
                self.runtime_degraded.append(
                    "No stage history: Zoho's MCP server does not serve the Deals "
                    "'Stage_History' related list, so time in stage is judged from the deals' "
                    "modified times and earlier snapshots."
                )
                return []
            raise
        changes: list[StageChange] = []
        for row in rows:
            try:
                change = stage_change_from_zoho(ZohoStageHistory.model_validate(row))
            except ValidationError:
                continue
            if change is not None:
                changes.append(change)
        changes.sort(key=lambda c: c.changed_at or EPOCH)
        return changes

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        """Field changes from ``getTimelines``, oldest first ([] without the tool)."""
        if not _MODULE_NAME.match(module):
            raise ValueError(f"not a Zoho module name: {module!r}")
        if not self.catalog.has("timeline"):
            return []
        rows = await self._caller.all_rows(
            "timeline",
            path={"module": module, "record_id": record_id},
            query={"sort_by": "audited_time", "sort_order": "asc"},
            key="__timeline",
            token_only=True,
        )
        changes: list[Change] = []
        for row in rows:
            try:
                entry = ZohoTimelineEntry.model_validate(row)
            except ValidationError:
                continue
            for change in changes_from_timeline(entry):
                changes.append(
                    change.model_copy(
                        update={
                            "module": change.module or module,
                            "record_id": change.record_id or record_id,
                        }
                    )
                )
        changes.sort(key=lambda c: c.timestamp or EPOCH)
        return changes

    async def get_fields(self, module: str, now: datetime) -> ModuleFields:
        """A module's field metadata from ``getFields`` (query ``module``), read as the REST
        answer it forwards (also when wrapped in ``data``); unknown without the tool."""
        if not self.catalog.has("fields"):
            return ModuleFields.unknown_for(
                module, f"Zoho's MCP server at {self.target} offers no ZohoCRM_getFields tool"
            )
        body = await self._caller.call("fields", query={"module": module})
        if body is not None and "fields" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        return module_fields_from_zoho(module, body, fetched_at=now)


__all__ = ["ZohoReads"]
