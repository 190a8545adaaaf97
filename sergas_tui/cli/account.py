"""`sergas account ...`: one account's data.

    sergas account export ACCOUNT --out FILE.json    everything the workspace holds about it
    sergas account forget ACCOUNT [--yes]            remove everything the workspace holds
                                                     about it (memory, records, files, logs;
                                                     its audit rows erased, hashes kept)

ACCOUNT is the account's id or enough of its name to name one account (as `sergas signals`
takes it). The document's layout is described in :mod:`sergas_tui.account_export`.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from sergas_tui.cli.common import State, can_confirm, state_of
from sergas_tui.errors import ConfigError, WorkspaceError
from sergas_tui.errors import UnknownAccountError as UnknownAccountError

if TYPE_CHECKING:
    from sergas_tui.services import Services

account_app = typer.Typer(help="One account's data: export or forget it.", no_args_is_help=True)

_ACCOUNT_HELP = "The account: its id, or enough of its name to name one account."


def export_command(state: State, console: Console, *, account: str, out: Path) -> int:
    import asyncio

    from sergas_tui.account_export import export_account
    from sergas_tui.approvals.service import require_may
    from sergas_tui.domain.mutes import MuteError
    from sergas_tui.services import open_services
    from sergas_tui.user_files import output_file
    from sergas_tui.viewmodels.mutes import find_account

    output_file(out, "--out", special_ok=True, example="account.json")
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> dict[str, int]:
        try:
            try:
                account_id, name, owner = find_account(services, account)
            except MuteError as err:
                raise UnknownAccountError(err.message) from err
            # Team mode: only the owner and their managers may take an account's data away.
            require_may(services.identity(), owner, "export the data and")
            return await export_account(services, account_id, name, out)
        finally:
            await services.aclose()

    try:
        counts = asyncio.run(run())
    finally:
        services.close()
    listed = ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in counts.items())
    console.print(Text(f"Wrote {out}: {listed}."), soft_wrap=True)
    return 0


@account_app.command("export")
def account_export(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    out: Annotated[
        Path, typer.Option("--out", help="The JSON file to write (its directory must exist).")
    ],
) -> None:
    """Export everything this workspace holds about one account as one JSON document."""
    raise typer.Exit(export_command(state_of(ctx), Console(stderr=True), account=account, out=out))


def _plan(services: Services, account_id: str, name: str) -> str:
    """What forgetting the account removes, in words (for the confirmation); what matches
    only by its name is spelled out, so a name shared with other text shows before erasing."""
    from sergas_tui.account_forget import account_mentions, workspace_files
    from sergas_tui.storage.erasure import audit_rows_about
    from sergas_tui.storage.mutes import list_mutes

    store = services.store
    mentions = account_mentions(services, account_id, name)
    audit = audit_rows_about(store, mentions)
    files = workspace_files(services, mentions)
    counts = {
        "snapshots": len(store.snapshots_for(account_id)),
        "recommendations": len(store.recommendations_for(account_id)),
        "approvals": len(store.approvals_for(account_id)),
        "outcomes": len(store.outcomes_for(account_id)),
        "signal mutes": len(
            list_mutes(store, now=services.clock.now(), active_only=False, account_id=account_id)
        ),
        "audit rows to erase": len(audit.seqs),
        "cache files to delete": len(files.delete),
    }
    text = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    named = " or ".join(repr(n) for n in mentions.names)
    if audit.by_name:
        seqs = ", ".join(str(s) for s in audit.by_name[:10])
        more = f" and {len(audit.by_name) - 10} more" if len(audit.by_name) > 10 else ""
        text += (
            f". Of the audit rows, {len(audit.by_name)} are erased only because they name "
            f"{named} (they record no account): seq {seqs}{more}"
        )
    if mentions.shadows:
        text += (
            f". Mentions inside {', '.join(repr(s) for s in mentions.shadows)} are another "
            "account's and stay"
        )
    if files.rewrite:
        text += (
            f". Exported briefs that name {named}, rewritten without it: "
            f"{', '.join(p.name for p in files.rewrite)}"
        )
    if files.keep:
        text += (
            f". Database backups that name {named}, kept (they hold every account; delete them "
            f"yourself if they must go): {', '.join(str(p) for p in files.keep)}"
        )
    return text


def forget_command(state: State, console: Console, *, account: str, yes: bool) -> int:
    import asyncio

    from sergas_tui.account_forget import ForgetReport, PendingForget, forget_account
    from sergas_tui.approvals.service import require_may
    from sergas_tui.domain.mutes import MuteError
    from sergas_tui.services import open_services
    from sergas_tui.viewmodels.mutes import find_account

    services = open_services(state.settings(), state.locations, workspace=state.workspace)
    try:
        pending = PendingForget.read(services)
        if pending is not None and pending.matches(account):
            # An earlier run began and stopped; the database may no longer name the account.
            account_id, name, owner = pending.account_id, pending.name, pending.owner
        else:
            unfinished = (
                ""
                if pending is None
                else f" An earlier `sergas account forget` of {pending.name} "
                f"({pending.account_id}) did not finish: run `sergas account forget "
                f"{pending.account_id}` to finish it."
            )
            try:
                account_id, name, owner = find_account(services, account)
            except MuteError as err:
                raise UnknownAccountError(err.message + unfinished) from err
            if pending is not None and pending.account_id != account_id:
                raise WorkspaceError(
                    f"An earlier `sergas account forget` of {pending.name} "
                    f"({pending.account_id}) did not finish. Run `sergas account forget "
                    f"{pending.account_id}` to finish it first; nothing was changed for {name}."
                )
            pending = None if pending is None or pending.account_id != account_id else pending
        # Team mode: only the owner and their managers may erase an account's data.
        require_may(services.identity(), owner, "forget the data and")
        if pending is not None:
            console.print(
                Text(
                    f"Finishing the forgetting of {name} ({account_id}) that an earlier "
                    "`sergas account forget` began and did not finish."
                ),
                soft_wrap=True,
            )
        elif not yes:
            if not can_confirm():
                raise ConfigError(
                    f"Forgetting {name} asks for a confirmation, and there is no terminal to ask "
                    "it on; pass --yes to forget without a confirmation. Nothing was changed.",
                    title="No confirmation",
                )
            console.print(
                Text(
                    f"Forget {name} ({account_id}) in workspace {services.workspace}: its "
                    f"memory, {_plan(services, account_id, name)}, and its mentions in the "
                    "logs. Audit rows keep their hashes; their content is replaced by an "
                    "erasure marker. This cannot be undone (export it first with `sergas "
                    "account export`)."
                ),
                soft_wrap=True,
            )
            if not typer.confirm(f"Forget {name}?", default=False, err=True):
                console.print(Text(f"Nothing was forgotten: {name} is kept."))
                return 1

        async def run() -> ForgetReport:
            try:
                return await forget_account(services, account_id, name, owner=owner)
            finally:
                await services.aclose()

        report = asyncio.run(run())
    finally:
        services.close()
    database = report.database
    removed = {**database.deleted}
    removed = {kind: n for kind, n in removed.items() if n}
    listed = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in removed.items()) or "none"
    event = database.event
    recorded = (
        f"the erasure of {event.timestamp.astimezone(UTC):%Y-%m-%d %H:%M} UTC (seq {event.seq})"
        if event is not None
        else "-"
    )
    records = (
        "records, briefs and audit rows erased by the earlier run"
        if report.resumed and event is None
        else f"records {listed}; briefs rewritten {database.briefs_rewritten}; audit rows erased "
        f"{database.audit_rows_erased} (recorded as {recorded})"
    )
    console.print(
        Text(
            f"Forgot {name} ({account_id}): memory items {report.memory_items}; {records}; "
            f"files deleted {len(report.files_deleted)}; exported briefs rewritten "
            f"{len(report.files_rewritten)}; log files scrubbed {len(report.logs_scrubbed)}."
        ),
        soft_wrap=True,
    )
    if report.files_kept:
        console.print(
            Text(
                f"Database backups still hold {name} (they hold every account, so they were "
                f"kept): {', '.join(str(p) for p in report.files_kept)}. Delete them if they "
                "must go."
            ),
            soft_wrap=True,
        )
    for note in report.notes:
        console.print(Text(note), soft_wrap=True)
    code = 0
    if report.central is not None:
        central = report.central
        console.print(
            Text(
                f"Central audit: {central.audit_rows_erased} rows erased, "
                f"{central.outcome_versions_deleted} outcome versions and "
                f"{central.team_records_deleted} team records deleted."
            ),
            soft_wrap=True,
        )
        if central.elsewhere:
            console.print(
                Text(
                    f"Other workspaces still hold {name} in the central audit: "
                    f"{'; '.join(central.elsewhere)}. Run `sergas account forget` there too."
                ),
                soft_wrap=True,
            )
    if report.central_error is not None:
        console.print(
            Text(
                f"{name} is forgotten here, but not yet in the central audit "
                f"({report.central_error.title}): {report.central_error.message}"
            ),
            soft_wrap=True,
        )
        code = 1
    console.print(
        Text(
            f"{name} stays in the CRM: the next review reads it again unless it is deleted there."
        ),
        soft_wrap=True,
    )
    return code


@account_app.command("forget")
def account_forget(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove everything this workspace holds about one account (its audit rows erased)."""
    raise typer.Exit(forget_command(state_of(ctx), Console(stderr=True), account=account, yes=yes))
