"""`sergas audit verify|sync|purge|export`: the tamper-evident audit log, here and in the
central PostgreSQL ([central] dsn)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from sergas_tui.cli.audit_upkeep import open_central, purged_text, run_sync, sync_quietly
from sergas_tui.cli.common import State, body_arguments, confirmed, out, state_of

if TYPE_CHECKING:
    from sergas_tui.config import Settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote", help="Also compare the local chain with the central audit (PostgreSQL)."
        ),
    ] = False,
) -> None:
    """Check the hash chain; names any edited, deleted or reordered row (exit 1)."""
    from sergas_tui.cli.approvals_run import verify_command

    state = state_of(ctx)
    code = verify_command(**body_arguments(state))
    if remote:
        code = max(code, _verify_remote(state))
    raise typer.Exit(code)


@audit_app.command("sync")
def audit_sync(
    ctx: typer.Context,
    migrate_only: Annotated[
        bool,
        typer.Option(
            "--migrate-only",
            help="Only create or upgrade the central schema (needs the owner role).",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Rows per batch (default: [auditing])."),
    ] = None,
) -> None:
    """Send the local audit outbox to the central PostgreSQL ([central] dsn)."""
    from sergas_tui.audit.central.schema import CENTRAL_SCHEMA_VERSION
    from sergas_tui.audit.central.sync import outbox_status
    from sergas_tui.storage import Repository

    state = state_of(ctx)
    settings = state.settings()
    report = run_sync(
        state, settings, migrate="only" if migrate_only else "auto", batch_size=batch_size
    )
    if migrate_only:
        schema = report.schema
        before = "none" if schema is None or not schema.from_version else schema.from_version
        out.print(
            f"Central audit schema at v{CENTRAL_SCHEMA_VERSION} (was {before}).", markup=False
        )
        return
    out.print(f"Central audit: {report.summary()}.", markup=False)
    with Repository.open(state.locations.database_file(state.workspace_name(settings))) as repo:
        status = outbox_status(repo)
    if status.pending_rows:
        out.print(f"{status.pending_rows:,} rows still pending.", markup=False)


def _verify_remote(state: State) -> int:
    from sergas_tui.audit.central.verify import verify_remote

    settings = state.settings()
    repository, target, _ = open_central(state, settings)
    try:
        result = verify_remote(repository, target, retention_days=settings.auditing.retention_days)
    finally:
        repository.close()
    counts = (
        f"{result.local_rows:,} local rows, {result.central_rows:,} central rows, "
        f"{result.pending:,} not yet synced, {result.expired:,} past retention"
    )
    if result.ok:
        out.print(Text(f"Central audit matches the local chain ({counts}).", style="green"))
        return 0
    out.print(
        Text(
            f"Central audit DIFFERS from the local chain ({counts}); "
            f"{len(result.differences)} differences:",
            style="bold red",
        )
    )
    for difference in result.differences:
        out.print(Text(f"  {difference.kind}: {difference.message}"))
    return 1


@audit_app.command("purge")
def audit_purge(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Purge the local audit log instead (rows older than retention_days; with a "
            "central audit, only rows already synced).",
        ),
    ] = False,
) -> None:
    """Delete central audit rows older than [auditing] retention_days (owner role) and finish
    pending account erasures there; --local: the local log. Audited."""
    from sergas_tui.audit.central.sync import purge_central
    from sergas_tui.audit.erasure import apply_central_erasures, pending_erasures

    state = state_of(ctx)
    settings = state.settings()
    days = settings.auditing.retention_days
    if local:
        _purge_local(state, settings, yes=yes)
        return
    repository, target, _ = open_central(state, settings)
    try:
        if not yes and not confirmed(
            f"Delete central audit rows older than {days} days from {target.describe()}?",
            what="Purging the central audit",
        ):
            out.print("Nothing was deleted.", markup=False)
            raise typer.Exit(1)
        if pending_erasures(repository):
            erased = apply_central_erasures(repository, target)
            out.print(
                f"Finished {erased.erasures} account erasures in the central audit: "
                f"{erased.audit_rows_erased} rows erased, {erased.outcome_versions_deleted} "
                f"outcome versions and {erased.team_records_deleted} team records deleted.",
                markup=False,
            )
        report = purge_central(repository, target, retention_days=days)
    finally:
        repository.close()
    out.print(
        f"Purged {report.audit_rows_deleted:,} audit rows and "
        f"{report.outcome_versions_deleted:,} outcome versions older than "
        f"{report.cutoff:%Y-%m-%d %H:%M} UTC; recorded as audit event {report.audit_event.id}.",
        markup=False,
    )
    sync_quietly(state)


def _purge_local(state: State, settings: Settings, *, yes: bool) -> None:
    from sergas_tui.audit.retention import purge_local
    from sergas_tui.domain import utc_now
    from sergas_tui.storage import Repository

    days = settings.auditing.retention_days
    database = state.locations.database_file(state.workspace_name(settings))
    if not yes and not confirmed(
        f"Delete local audit rows older than {days} days from {database}?",
        what="Purging the local audit log",
    ):
        out.print("Nothing was deleted.", markup=False)
        raise typer.Exit(1)
    with Repository.open(database) as repository:
        report = purge_local(
            repository,
            retention_days=days,
            keep_unsynced=bool(settings.central.dsn),
            now=utc_now(),
        )
    if not report.rows_deleted:
        out.print(
            f"No local audit rows older than {report.cutoff:%Y-%m-%d %H:%M} UTC to purge.",
            markup=False,
        )
        return
    out.print(purged_text(report), markup=False)
    sync_quietly(state)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only rows at or after this date or time (UTC unless it says): YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS][±HH:MM]."
        ),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
) -> None:
    """Export the audit log as JSON lines."""
    from sergas_tui.cli.approvals_run import export_command

    state = state_of(ctx)
    when = None if since is None else since_of(since)
    raise typer.Exit(
        export_command(
            **body_arguments(state),
            since=when,
            out=out_file,
        )
    )


def since_of(text: str) -> datetime:
    """``--since`` as an aware datetime: an ISO 8601 date (midnight UTC) or date and time (UTC
    unless it carries an offset), or a UserInputError naming the formats."""
    from pydantic import TypeAdapter, ValidationError

    from sergas_tui.errors import UserInputError

    try:
        when = TypeAdapter(datetime).validate_python(text.strip())
    except ValidationError:
        raise UserInputError(
            f"--since {text!r} is not a date or time. Give a date, YYYY-MM-DD (from midnight "
            "UTC), or a date and time, YYYY-MM-DDTHH:MM[:SS] (UTC, or with an offset such as "
            "+02:00); e.g. --since 2025-06-30 or --since 2025-06-30T14:00. Nothing was "
            "exported.",
            title="Bad --since",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
