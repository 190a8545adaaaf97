"""Bulk sync over Zoho REST v8 with the fewest calls the API allows (see :func:`run_sync`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from sergas_tui.crm.fields import (
    ACCOUNT_FIELDS,
    ACTIVITY_FIELDS,
    CONTACT_FIELDS,
    DEAL_FIELDS,
    NOTE_FIELDS,
    fields_param,
)
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.http import count_calls
from sergas_tui.crm.queries import CoqlQuery, eq, ge, gt, zoho_datetime
from sergas_tui.crm.records import (
    UserDirectory,
    accounts_from_rows,
    activities_from_rows,
    contacts_from_rows,
    deals_from_rows,
    log,
    notes_from_rows,
    users_from_rows,
    with_what_module,
)
from sergas_tui.crm.rest.api import Row, ZohoApi
from sergas_tui.domain import ACTIVITY_MODULES, Activity, Note, Owner, ensure_aware
from sergas_tui.errors import CrmPermissionError

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
K = TypeVar("K", bound=Hashable)
USERS_PAGE_SIZE = 200


async def fetch_users(api: ZohoApi, directory: UserDirectory) -> list[Owner]:
    """Every user of the org (``GET /users?type=AllUsers``, 200 per call) into ``directory``."""
    users: list[Owner] = []
    params = {"type": "AllUsers"}
    async with aclosing(
        api.pages("/users", endpoint="GET /users", params=params, key="users")
    ) as pages:
        async for rows in pages:
            users.extend(users_from_rows(rows))
    directory.replace(users)
    return users


async def gather_rows(jobs: Mapping[K, Awaitable[list[Row]]]) -> dict[K, list[Row]]:
    """Run the jobs concurrently; on a failure cancel the rest and raise the first error."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = {name: group.create_task(_as_coroutine(job)) for name, job in jobs.items()}
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from first.__cause__
    return {name: task.result() for name, task in tasks.items()}


async def _as_coroutine(job: Awaitable[list[Row]]) -> list[Row]:
    return await job


def _modified(row: Mapping[str, object]) -> datetime | None:
    try:
        return ensure_aware(_DATETIME.validate_python(row.get("Modified_Time")))
    except ValidationError:
        return None


async def recent_notes(
    api: ZohoApi, path: str, endpoint: str, *, cutoff: datetime, strictly_after: bool
) -> list[Row]:
    """Notes modified since ``cutoff``, newest first, paging until a page ends before it.

    Incremental calls send ``If-Modified-Since`` so an unchanged org answers 304 (no body).
    """
    params = {
        "fields": fields_param(NOTE_FIELDS),
        "sort_by": "Modified_Time",
        "sort_order": "desc",
    }
    headers = {"If-Modified-Since": zoho_datetime(cutoff)} if strictly_after else None
    kept: list[Row] = []
    async with aclosing(
        api.pages(path, endpoint=endpoint, params=params, headers=headers)
    ) as pages:
        async for rows in pages:
            oldest: datetime | None = None
            for row in rows:
                modified = _modified(row)
                if (
                    modified is None
                    or modified > cutoff
                    or (modified == cutoff and not strictly_after)
                ):
                    kept.append(row)
                if modified is not None and (oldest is None or modified < oldest):
                    oldest = modified
            if oldest is not None and oldest < cutoff:
                break
    return kept


async def run_sync(
    api: ZohoApi,
    directory: UserDirectory,
    *,
    owner_email: str | None,
    modified_since: datetime | None,
    history_days: int,
    now: datetime,
    extra_fields: Mapping[str, Sequence[str]] | None = None,
) -> SyncBatch:
    """Fetch users, accounts, contacts, deals, activities and notes with the fewest calls.

    ``extra_fields`` adds an org's custom fields to the Accounts, Contacts and Deals queries.

    **Full sync** (``modified_since`` is None):

    1. Users: ``GET /users?type=AllUsers`` (200 per call), to resolve ``owner_email`` to an id
       and to complete the ``{id}`` owners that COQL returns.
    2. Accounts (``Owner = id``), Contacts and Deals (``Account_Name.Owner = id``) by COQL,
       2,000 rows per call, paged by ``id > 'last' order by id asc`` (OFFSET stops at 100k).
    3. Tasks, Events, Calls by COQL ``Modified_Time >= now − history_days`` (and activity
       ``Owner = id``), kept when ``What_Id`` is a fetched account or deal (or, with no
       ``What_Id``, ``Who_Id`` a fetched contact); an activity on a deal belongs to its account.
    4. Notes by ``GET /Notes?sort_by=Modified_Time&sort_order=desc`` (200 per call, ``page``
       then ``page_token`` past 2,000) until a page ends before the cutoff; kept when the
       parent is a fetched account or deal. If listing the Notes module is refused (403: only
       admins may), each fetched account's ``/Accounts/{id}/Notes`` is read instead.

    Calls (token calls not included; they are counted separately in ``stats``)::

        full = ⌈U/200⌉ + Σ_{m ∈ Accounts, Contacts, Deals, Tasks, Events, Calls} max(1, ⌈n_m/2000⌉)
               + max(1, ⌈N/200⌉)

    where U is the number of users, n_m the rows of module m matching the query (activities:
    modified in the window, before the client-side filter) and N the notes modified in the
    window (one more page when the last page ends exactly at the cutoff). One AE with <2,000
    of everything and <200 recent notes: 1 + 6 + 1 = **8 calls**.

    **Incremental sync** (``modified_since`` given): the same six COQL queries with
    ``Modified_Time > since`` (one call each while <2,000 rows changed), Notes with
    ``If-Modified-Since`` (a 304 costs one call and returns nothing), and users only when an
    owner id shows up that the directory does not know (or to resolve ``owner_email`` the
    first time)::

        incremental = Σ_m max(1, ⌈c_m/2000⌉) + max(1, ⌈c_notes/200⌉) [+ ⌈U/200⌉]

    — **7 calls** when little changed. Incremental activities and notes are not filtered by
    account (the batch does not hold every account); join them to the stored snapshot.
    Every HTTP call is counted into ``SyncBatch.calls``, retries included.
    """
    full = modified_since is None
    cutoff = now - timedelta(days=history_days) if modified_since is None else modified_since
    cutoff = ensure_aware(cutoff)
    batch = SyncBatch(
        owner_email=owner_email, modified_since=modified_since, fetched_at=now, full=full
    )
    with count_calls() as counter:
        if full or (owner_email and directory.by_email(owner_email) is None):
            batch.users = await fetch_users(api, directory)
        owner_id = directory.require(owner_email).id if owner_email else None

        def scoped(field: str) -> list[str]:
            return [eq(field, owner_id)] if owner_id else []

        # Activities: the history window (full) or what changed; records: all, or what changed.
        window = ge("Modified_Time", cutoff) if full else gt("Modified_Time", cutoff)
        changed = [] if full else [window]
        extra = extra_fields or {}

        def fields(module: str, base: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys((*base, *extra.get(module, ()))))

        queries = {
            "Accounts": CoqlQuery(
                "Accounts", fields("Accounts", ACCOUNT_FIELDS), (*scoped("Owner"), *changed)
            ),
            "Contacts": CoqlQuery(
                "Contacts",
                fields("Contacts", CONTACT_FIELDS),
                (*scoped("Account_Name.Owner"), *changed),
            ),
            "Deals": CoqlQuery(
                "Deals", fields("Deals", DEAL_FIELDS), (*scoped("Account_Name.Owner"), *changed)
            ),
        }
        for kind, module in ACTIVITY_MODULES.items():
            queries[module] = CoqlQuery(module, ACTIVITY_FIELDS[kind], (*scoped("Owner"), window))
        notes_refused = False

        async def notes() -> list[Row]:
            nonlocal notes_refused
            try:
                return await recent_notes(
                    api, "/Notes", "GET /Notes", cutoff=cutoff, strictly_after=not full
                )
            except CrmPermissionError as err:
                log.info("zoho.notes_module_refused", code=err.code)
                notes_refused = True
                return []

        jobs: dict[str, Awaitable[list[Row]]] = {m: api.coql(q) for m, q in queries.items()}
        jobs["Notes"] = notes()
        rows = await gather_rows(jobs)

        batch.accounts = accounts_from_rows(rows["Accounts"])
        if notes_refused:
            rows["Notes"] = await _notes_per_account(api, batch, cutoff, strictly_after=not full)
        batch.contacts = contacts_from_rows(rows["Contacts"])
        batch.deals = deals_from_rows(rows["Deals"])
        activities: list[Activity] = []
        for kind, module in ACTIVITY_MODULES.items():
            activities.extend(activities_from_rows(kind, rows[module]))
        notes_found = notes_from_rows(rows["Notes"])

        if not full and not batch.users:
            owners = [
                r.owner
                for group in (batch.accounts, batch.contacts, batch.deals, activities, notes_found)
                for r in group
                if r.owner is not None
            ]
            if any(not directory.knows(o.id) for o in owners):
                batch.users = await fetch_users(api, directory)

    account_ids = {a.id for a in batch.accounts}
    deal_ids = {d.id for d in batch.deals}
    if full:
        contact_ids = {c.id for c in batch.contacts}
        parents = account_ids | deal_ids
        activities = [
            a
            for a in activities
            if (a.what is not None and a.what.id in parents)
            or (a.what is None and a.who is not None and a.who.id in contact_ids)
        ]
        notes_found = [n for n in notes_found if n.parent is not None and n.parent.id in parents]
    activities = [with_what_module(a, account_ids, deal_ids) for a in activities]
    batch.accounts = directory.complete_all(batch.accounts)
    batch.contacts = directory.complete_all(batch.contacts)
    batch.deals = directory.complete_all(batch.deals)
    batch.activities = directory.complete_all(activities)
    batch.notes = directory.complete_all(_newest_first(notes_found))
    batch.calls = counter.api
    return batch


def _newest_first(notes: list[Note]) -> list[Note]:
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(notes, key=lambda n: n.modified_time or n.created_time or floor, reverse=True)


async def _notes_per_account(
    api: ZohoApi, batch: SyncBatch, cutoff: datetime, *, strictly_after: bool
) -> list[Row]:
    jobs: dict[str, Awaitable[list[Row]]] = {
        account.id: recent_notes(
            api,
            f"/Accounts/{quote(account.id, safe='')}/Notes",
            "GET /Accounts/{id}/Notes",
            cutoff=cutoff,
            strictly_after=strictly_after,
        )
        for account in batch.accounts
    }
    found = await gather_rows(jobs)
    return [row for rows in found.values() for row in rows]
