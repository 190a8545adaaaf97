"""Queueing one review job per owner: by hand (`sergas schedule`) or by the periodic task.

Each owner's job carries a queueing lock and a lock keyed by the owner (:func:`review_lock`):
procrastinate keeps at most one of an owner's jobs waiting, and never runs two at once. An
owner whose review waits or runs already is skipped (and counted), so scheduling twice queues
nothing twice. Owners come in :func:`~sergas_tui.team.owners.review_order` (changed first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from procrastinate.exceptions import AlreadyEnqueued

from sergas_tui.errors import UnknownOwnerError as UnknownOwnerError
from sergas_tui.team import records
from sergas_tui.team.owners import (
    OwnerToReview,
    owner_key,
    owners_from_accounts,
    pick_owners,
    review_order,
)
from sergas_tui.team.records import REVIEW_TASK
from sergas_tui.team.review_job import WorkerRuntime, describe_error

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.connector import BaseConnector

    from sergas_tui.crm.gateway import CrmReader
    from sergas_tui.domain import Account

QUEUE = "sergas-reviews"
"""The queue of review jobs and scheduling ticks (`sergas worker` listens to it)."""
PRIORITY_CHANGED = 1
PRIORITY_UNCHANGED = 0


def review_lock(owner_email: str) -> str:
    """The queueing lock and lock of an owner's review job."""
    return f"sergas-review:{owner_key(owner_email)}"


@dataclass
class ScheduleReport:
    run_id: int
    owners: list[OwnerToReview] = field(default_factory=list)
    queued: list[OwnerToReview] = field(default_factory=list)
    skipped: list[tuple[OwnerToReview, str]] = field(default_factory=list)
    """Owners not queued again, with why ('already queued', 'being reviewed now')."""

    @property
    def changed(self) -> int:
        return sum(1 for o in self.owners if o.changed)

    def text(self) -> str:
        """'Queued 8 of 10 owners' reviews: 3 with changed accounts go first; 2 already
        queued.'"""
        waiting = sum(1 for _o, why in self.skipped if why == "already queued")
        running = len(self.skipped) - waiting
        parts = []
        if self.queued and self.changed:
            parts.append(f"{self.changed} with changed accounts (or never reviewed) go first")
        if waiting:
            parts.append(f"{waiting} already queued")
        if running:
            parts.append(f"{running} being reviewed now")
        head = f"Queued {len(self.queued)} of {len(self.owners)} owners' reviews"
        return head + (": " + "; ".join(parts) if parts else "") + "."


USER_LIST_PROBE = "owner-directory@sergas.invalid"
"""An address no CRM user has (``.invalid`` never resolves): asking for it makes a gateway that
keeps a user directory (Zoho REST, the demo CRM, our MCP server) read the org's user list."""


async def org_accounts(crm: CrmReader) -> list[Account]:
    """Every account of the org, its owner's e-mail filled in where the CRM can tell.

    Zoho's bulk query (COQL) answers owners as bare ids; the gateway completes them from its
    user directory, which it reads when asked for a user it does not know (one call per 200
    users). So ask for one no org has, then read the accounts.
    """
    await crm.get_user_info(USER_LIST_PROBE)
    return await crm.get_accounts(None)


async def org_owners(runtime: WorkerRuntime, db: BaseConnector) -> list[OwnerToReview]:
    """Every account owner of the org, with what changed since their last good review."""
    accounts, last = await asyncio.to_thread(_read_org_in_thread, runtime)
    for key, at in (await records.last_good_reviews(db)).items():
        if key not in last or at > last[key]:
            last[key] = at
    return owners_from_accounts(accounts, last)


def _read_org_in_thread(runtime: WorkerRuntime) -> tuple[list[Account], dict[str, datetime]]:
    """On a thread with its own loop, like the reviews (see ``review_job.review_owner``)."""
    return asyncio.run(_read_org(runtime))


async def _read_org(runtime: WorkerRuntime) -> tuple[list[Account], dict[str, datetime]]:
    """The org's accounts, and when the workspace last reviewed each of their owners."""
    from sergas_tui.services import open_services

    services = open_services(runtime.settings, runtime.locations, workspace=runtime.workspace)
    try:
        try:
            accounts = await org_accounts(await services.crm())
        finally:
            await services.aclose()
        emails = {a.owner.email for a in accounts if a.owner is not None and a.owner.email}
        last: dict[str, datetime] = {}
        for email in emails:
            run = services.store.last_sync(email)
            if run is not None:
                last[owner_key(email)] = run.started_at
    finally:
        services.close()
    return accounts, last


async def schedule_reviews(
    app: App, runtime: WorkerRuntime, *, run_id: int, wanted: Sequence[str] = ()
) -> ScheduleReport:
    """Queue the reviews of every owner (or of ``wanted``) for scheduling run ``run_id``."""
    db = app.connector
    report = ScheduleReport(run_id)
    try:
        known = await org_owners(runtime, db)
        if wanted:
            known, missing = pick_owners(known, wanted)
            if missing:
                raise UnknownOwnerError(
                    f"{', '.join(missing)} own{'s' if len(missing) == 1 else ''} no account in "
                    f"the CRM of workspace {runtime.workspace!r}, so there is nothing to review. "
                    "Check the address (`sergas schedule` without --owner queues every owner)."
                )
        report.owners = review_order(known)
        active = await records.active_owners(db)
        for owner in report.owners:
            state = active.get(owner_key(owner.email))
            if state is not None:
                why = "being reviewed now" if state == "doing" else "already queued"
                report.skipped.append((owner, why))
                continue
            lock = review_lock(owner.email)
            deferrer = app.configure_task(
                REVIEW_TASK,
                queue=QUEUE,
                lock=lock,
                queueing_lock=lock,
                priority=PRIORITY_CHANGED if owner.changed else PRIORITY_UNCHANGED,
            )
            try:
                await deferrer.defer_async(owner=owner.email, owner_name=owner.name, run=run_id)
            except AlreadyEnqueued:  # queued by someone else since we looked
                report.skipped.append((owner, "already queued"))
                continue
            report.queued.append(owner)
    except BaseException as err:
        await records.finish_run(
            db,
            run_id,
            owners=len(report.owners),
            changed=report.changed,
            deferred=len(report.queued),
            skipped=len(report.skipped),
            error=describe_error(err),
        )
        raise
    await records.finish_run(
        db,
        run_id,
        owners=len(report.owners),
        changed=report.changed,
        deferred=len(report.queued),
        skipped=len(report.skipped),
    )
    return report
