"""``ZohoRestGateway``: the :class:`~sergas_tui.crm.gateway.CrmGateway` over Zoho CRM REST v8.

Facts from ``reference/zoho-crm.md``. Layers, top down:

- this module: the protocol's reads and writes, in domain models;
- :mod:`.sync`: the bulk sync plan (call-count formula in ``run_sync``);
- :mod:`.api`: token header, INVALID_TOKEN refresh, paging, COQL, single-record writes;
- :mod:`sergas_tui.crm.http` (limits, retries, counters), :mod:`sergas_tui.crm.oauth` (tokens),
  :mod:`sergas_tui.crm.errors_map` (typed errors), :mod:`sergas_tui.crm.queries` (COQL/search
  builders), :mod:`sergas_tui.crm.fields` (field lists).

Use it as an async context manager, or call :meth:`ZohoRestGateway.aclose`.

Why one module: :class:`ZohoRestGateway` is one class with a method per
:class:`~sergas_tui.crm.gateway.CrmGateway` operation; the sync plan, the API mechanics and the
writes are already :mod:`.sync`, :mod:`.api` and :mod:`.writes`.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
from pydantic import JsonValue, ValidationError

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.budget import rest_budget_file
from sergas_tui.crm.fields import (
    ACCOUNT_FIELDS,
    ACTIVITY_FIELDS,
    DEAL_FIELDS,
    NOTE_FIELDS,
    STAGE_HISTORY_FIELDS,
    fields_param,
)
from sergas_tui.crm.gateway import CLOSED_STAGES, SyncBatch
from sergas_tui.crm.http import CrmStats, Seconds, Sleep
from sergas_tui.crm.metadata_cache import FieldsCache, check_module
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.people import org_people
from sergas_tui.crm.queries import (
    CoqlQuery,
    eq,
    gt,
    not_in,
    search_params,
    zoho_datetime,
)
from sergas_tui.crm.records import (
    UserDirectory,
    accounts_from_rows,
    activities_from_rows,
    activity_time,
    deals_from_rows,
    notes_from_rows,
    users_from_rows,
    with_what_module,
)
from sergas_tui.crm.rest import writes as rest_writes
from sergas_tui.crm.rest.api import PAGE_NUMBER_REACH, PAGE_SIZE, Row, ZohoApi, rows_of
from sergas_tui.crm.rest.sync import fetch_users, gather_rows, run_sync
from sergas_tui.crm.rest.writes import segment
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteApproval, WriteResult
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
    stage_change_from_zoho,
)
from sergas_tui.domain.metadata import ModuleFields, module_fields_from_zoho
from sergas_tui.domain.people import Person
from sergas_tui.domain.zoho import ZohoStageHistory, ZohoTimelineEntry
from sergas_tui.errors import CrmValidationError
from sergas_tui.secrets import SecretStore

_MODULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EPOCH = datetime.min.replace(tzinfo=UTC)


def zoho_host(settings: ZohoSettings) -> str:
    """What names the Zoho org's servers in the settings (for the shared budget's key)."""
    return settings.api_domain or settings.accounts_url or settings.data_centre


class ZohoRestGateway:
    """Zoho CRM REST v8 behind the CrmGateway protocol (see the module docstring)."""

    def __init__(
        self,
        settings: ZohoSettings,
        credentials: ZohoCredentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Seconds = time.monotonic,
        budget_file: Path | None = None,
    ) -> None:
        """``clock`` dates things (token expiry, the sync window); ``monotonic`` paces the
        rate limiter and must advance with ``sleep`` (tests pass fakes of both).
        ``budget_file`` holds the org's call budget shared by the machine's processes
        (:mod:`sergas_tui.crm.budget`)."""
        self._clock = clock or SystemClock()
        self._extra_fields = {m: tuple(f) for m, f in settings.extra_fields.items()}
        self._api = ZohoApi(
            settings,
            credentials,
            transport=transport,
            clock=self._clock,
            sleep=sleep,
            rng=rng or random.Random(),
            monotonic=monotonic,
            budget_file=budget_file,
        )
        self._users = UserDirectory()
        self._fields_cache = FieldsCache()

    def use_fields_cache(self, cache: FieldsCache) -> None:
        """Keep field metadata in ``cache`` (services give it the workspace's, on disk)."""
        self._fields_cache = cache

    @classmethod
    def from_settings(
        cls,
        settings: ZohoSettings,
        secrets: SecretStore,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        data_dir: Path | None = None,
    ) -> ZohoRestGateway:
        """Credentials from the config and the keyring (SecretError when one is missing);
        ``data_dir`` holds the machine's shared call budgets, one file per org."""
        credentials = ZohoCredentials.from_settings(settings, secrets)
        budget_file = None
        if data_dir is not None:
            budget_file = rest_budget_file(data_dir, zoho_host(settings), credentials.client_id)
        return cls(settings, credentials, transport=transport, clock=clock, budget_file=budget_file)

    @property
    def stats(self) -> CrmStats:
        """Requests sent, retries, token refreshes and per-endpoint counts since creation."""
        return self._api.stats

    async def __aenter__(self) -> ZohoRestGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    # --- helpers ---------------------------------------------------------------------------

    async def _all_pages(
        self,
        path: str,
        endpoint: str,
        params: Mapping[str, str | int],
        *,
        key: str = "data",
        limit: int | None = None,
        per_page: int = PAGE_SIZE,
        token_only: bool = False,
    ) -> list[Row]:
        found: list[Row] = []
        pages = self._api.pages(
            path,
            endpoint=endpoint,
            params=params,
            key=key,
            per_page=per_page,
            token_only=token_only,
        )
        async with aclosing(pages) as iterator:
            async for rows in iterator:
                found.extend(rows)
                if limit is not None and len(found) >= limit:
                    return found[:limit]
        return found

    async def _owner(self, email: str) -> Owner:
        """The user with ``email``; loads the user list when the email is not known yet."""
        if self._users.by_email(email) is None:
            await fetch_users(self._api, self._users)
        return self._users.require(email)

    async def _accounts_query(self, conditions: Sequence[str]) -> list[Account]:
        rows = await self._api.coql(CoqlQuery("Accounts", ACCOUNT_FIELDS, tuple(conditions)))
        return self._users.complete_all(accounts_from_rows(rows))

    # --- reads -----------------------------------------------------------------------------

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        """COQL over Accounts (2,000 per call), by owner and/or ``Modified_Time > since``."""
        conditions: list[str] = []
        if owner_email:
            conditions.append(eq("Owner", (await self._owner(owner_email)).id))
        if modified_since is not None:
            conditions.append(gt("Modified_Time", modified_since))
        return await self._accounts_query(conditions)

    async def get_account_details(self, account_id: str) -> Account | None:
        """``GET /Accounts/{id}``; None on 204 or when Zoho calls the id invalid."""
        try:
            body = await self._api.get_json(
                "GET", f"/Accounts/{segment(account_id)}", endpoint="GET /Accounts/{id}"
            )
        except CrmValidationError as err:
            if err.code == "INVALID_DATA":
                return None
            raise
        accounts = self._users.complete_all(accounts_from_rows(rows_of(body)))
        return accounts[0] if accounts else None

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        """``GET /Accounts/search``: ``word`` for plain text, ``criteria`` for expressions.

        At most ``limit`` results, and never more than Zoho's 2,000 search cap.
        """
        if not query.strip() or limit <= 0:
            return []
        limit = min(limit, PAGE_NUMBER_REACH)
        params: dict[str, str | int] = {
            **search_params(query),
            "fields": fields_param(ACCOUNT_FIELDS),
        }
        rows = await self._all_pages(
            "/Accounts/search",
            "GET /Accounts/search",
            params,
            limit=limit,
            per_page=min(limit, PAGE_SIZE),
        )
        return self._users.complete_all(accounts_from_rows(rows))

    async def get_deals(self, account_id: str) -> list[Deal]:
        """The account's ``Deals`` related list, open and closed."""
        rows = await self._all_pages(
            f"/Accounts/{segment(account_id)}/Deals",
            "GET /Accounts/{id}/Deals",
            {"fields": fields_param(DEAL_FIELDS)},
        )
        return self._users.complete_all(deals_from_rows(rows))

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        """COQL over Deals: ``Stage not in (closed stages)``, by deal owner when given."""
        conditions = [not_in("Stage", sorted(CLOSED_STAGES))]
        if owner_email:
            conditions.append(eq("Owner", (await self._owner(owner_email)).id))
        rows = await self._api.coql(CoqlQuery("Deals", DEAL_FIELDS, tuple(conditions)))
        return self._users.complete_all(deals_from_rows(rows))

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        """The account's ``Tasks``/``Events``/``Calls`` related lists (one call per kind and
        200 rows), oldest first; ``since`` keeps those due/held (or created) since then."""
        wanted = list(dict.fromkeys(kinds))
        account_segment = segment(account_id)
        jobs = {
            kind: self._all_pages(
                f"/Accounts/{account_segment}/{ACTIVITY_MODULES[kind]}",
                f"GET /Accounts/{{id}}/{ACTIVITY_MODULES[kind]}",
                {"fields": fields_param(ACTIVITY_FIELDS[kind])},
            )
            for kind in wanted
        }
        rows = await gather_rows(jobs)
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
        found.sort(key=lambda a: activity_time(a) or _EPOCH)
        return self._users.complete_all(found)

    async def get_notes(self, account_id: str) -> list[Note]:
        """The account's ``Notes`` related list, newest first."""
        rows = await self._all_pages(
            f"/Accounts/{segment(account_id)}/Notes",
            "GET /Accounts/{id}/Notes",
            {
                "fields": fields_param(NOTE_FIELDS),
                "sort_by": "Modified_Time",
                "sort_order": "desc",
            },
        )
        notes = notes_from_rows(rows)
        notes.sort(key=lambda n: n.created_time or n.modified_time or _EPOCH, reverse=True)
        return self._users.complete_all(notes)

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        """``GET /users?type=CurrentUser`` without an email; else the user list, by email."""
        if email is None:
            body = await self._api.get_json(
                "GET", "/users", endpoint="GET /users", params={"type": "CurrentUser"}
            )
            users = users_from_rows(rows_of(body, "users"))
            for user in users:
                self._users.add(user)
            return users[0] if users else None
        if self._users.by_email(email) is None:
            await fetch_users(self._api, self._users)
        return self._users.by_email(email)

    async def org_people(self) -> list[Person]:
        """The org's active users with roles and managers (``crm/people.py``)."""
        return await org_people(self._api)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        """The deal's ``Stage_History`` related list, oldest first."""
        rows = await self._all_pages(
            f"/Deals/{segment(deal_id)}/Stage_History",
            "GET /Deals/{id}/Stage_History",
            {"fields": fields_param(STAGE_HISTORY_FIELDS)},
        )
        changes: list[StageChange] = []
        for row in rows:
            try:
                change = stage_change_from_zoho(ZohoStageHistory.model_validate(row))
            except ValidationError:
                continue
            if change is not None:
                changes.append(change)
        changes.sort(key=lambda c: c.changed_at or _EPOCH)
        return changes

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        """Field changes from ``GET /{module}/{id}/__timeline``, oldest first."""
        if not _MODULE_NAME.match(module):
            raise ValueError(f"not a Zoho module name: {module!r}")
        rows = await self._all_pages(
            f"/{module}/{segment(record_id)}/__timeline",
            f"GET /{module}/{{id}}/__timeline",
            {"sort_by": "audited_time", "sort_order": "asc"},
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
        changes.sort(key=lambda c: c.timestamp or _EPOCH)
        return changes

    async def get_fields(self, module: str) -> ModuleFields:
        """``GET /settings/fields?module=``, at most once a day (the metadata cache); a stale
        entry is read again with ``If-Modified-Since``, and a 304 keeps it for another day.
        Needs the scope ``ZohoCRM.settings.fields.READ`` (a CrmAuthError without it)."""
        check_module(module)

        async def fetch(stale: ModuleFields | None) -> ModuleFields | None:
            since = stale.fetched_at if stale is not None else None
            headers = {"If-Modified-Since": zoho_datetime(since)} if since is not None else None
            response = await self._api.request(
                "GET",
                "/settings/fields",
                endpoint="GET /settings/fields",
                params={"module": module},
                headers=headers,
            )
            if response.status_code == 304 and since is not None:
                return None
            body = self._api.decode(response)
            return module_fields_from_zoho(module, body, fetched_at=self._clock.now())

        return await self._fields_cache.read_through(module, self._clock.now(), fetch)

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        """Bulk fetch with the fewest calls; the plan and call counts are in
        :func:`sergas_tui.crm.rest.sync.run_sync`."""
        return await run_sync(
            self._api,
            self._users,
            owner_email=owner_email,
            modified_since=modified_since,
            history_days=history_days,
            now=self._clock.now(),
            extra_fields=self._extra_fields,
        )

    # --- writes (approved actions only): see rest_writes -------------------------------------

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        """``PUT /Accounts/{id}``; a 412 becomes a CrmConflictError with the current values.

        ``approval`` is not sent: over REST the executor is the approval gate, and tasks and
        notes carry the approval's marker in their text."""
        return await rest_writes.update_account(
            self._api, account_id, changes, if_unmodified_since=if_unmodified_since
        )

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        """``POST /Tasks`` on the account, or on one of its deals (``$se_module``)."""
        return await rest_writes.create_task(self._api, task)

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        """``POST /Notes`` on the account (or deal, contact)."""
        return await rest_writes.add_note(self._api, note)


__all__ = ["CrmStats", "ZohoCredentials", "ZohoRestGateway"]
