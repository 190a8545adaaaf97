"""The audit log's upkeep around a headless review and `sergas audit`: the local retention
purge and the send of the local outbox to the central audit ([central] dsn)."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from rich.text import Text

from sergas_tui.cli.common import State, err_console
from sergas_tui.errors import SergasError

if TYPE_CHECKING:
    from sergas_tui.audit.central.conn import CentralTarget
    from sergas_tui.audit.central.sync import MigratePolicy, SyncReport
    from sergas_tui.audit.retention import LocalPurgeReport
    from sergas_tui.config import Settings
    from sergas_tui.storage import Repository


def retention_quietly(state: State) -> None:
    """Before a headless review: purge local audit rows past [auditing] retention_days, at most
    once a UTC day (audit/retention.py). A failure only warns: the review still runs."""
    from sergas_tui.audit.retention import purge_local_if_due
    from sergas_tui.domain import utc_now
    from sergas_tui.storage import Repository

    settings = state.settings()
    database = state.locations.database_file(state.workspace_name(settings))
    if not database.exists():
        return
    try:
        with Repository.open(database) as repository:
            report = purge_local_if_due(
                repository,
                retention_days=settings.auditing.retention_days,
                keep_unsynced=bool(settings.central.dsn),
                now=utc_now(),
            )
    except SergasError as err:
        err_console.print(
            Text(f"Warning: the local audit retention did not run ({err.title}): {err.message}"),
            soft_wrap=True,
        )
        return
    if report is not None and report.rows_deleted:
        err_console.print(Text(purged_text(report)), soft_wrap=True)


def purged_text(report: LocalPurgeReport) -> str:
    """What a local purge did, in one paragraph."""
    start = report.start
    event = report.event
    recorded = (
        f"the purge of {event.timestamp.astimezone(UTC):%Y-%m-%d %H:%M} UTC (seq {event.seq})"
        if event is not None
        else "-"
    )
    text = (
        f"Purged {report.rows_deleted:,} local audit rows older than "
        f"{report.cutoff:%Y-%m-%d %H:%M} UTC; the chain now starts at seq "
        f"{start.seq if start else 1}; recorded as {recorded}."
    )
    if not report.compacted:
        text += (
            " The database could not be compacted now (another process was reading it): the "
            "purged rows' text leaves the file at the next compaction."
        )
    return text


def sync_quietly(state: State) -> None:
    """After a headless review (or a purge): send the outbox to the central audit when one is
    configured. A failure only warns: the rows stay in the local outbox for the next sync."""
    settings = state.settings()
    if not settings.central.dsn:
        return
    try:
        report = run_sync(state, settings)
    except SergasError as err:
        err_console.print(
            Text(
                f"Warning: the central audit sync failed ({err.title}): {err.message} The review "
                "is complete; its audit rows stay in the local outbox until `sergas audit sync`.",
                style="yellow",
            ),
            soft_wrap=True,
        )
        return
    err_console.print(Text(f"Central audit: {report.summary()}."), soft_wrap=True)


def open_central(state: State, settings: Settings) -> tuple[Repository, CentralTarget, str]:
    """The workspace database, the configured central target and the workspace name."""
    from sergas_tui.audit.central.conn import target_from_settings
    from sergas_tui.secrets import SecretStore
    from sergas_tui.storage import Repository

    target = target_from_settings(settings.central, SecretStore())
    name = state.workspace_name(settings)
    return Repository.open(state.locations.database_file(name)), target, name


def run_sync(
    state: State,
    settings: Settings,
    *,
    migrate: MigratePolicy = "auto",
    batch_size: int | None = None,
) -> SyncReport:
    """Send the local outbox to the central audit once (``migrate``: whether the central schema
    may be created or upgraded first, or only that)."""
    from sergas_tui.audit.central.sync import sync_once

    repository, target, name = open_central(state, settings)
    try:
        return sync_once(
            repository,
            target,
            workspace=name,
            batch_size=batch_size or settings.auditing.sync_batch_size,
            migrate=migrate,
        )
    finally:
        repository.close()
