"""`sergas approvals ...` and `sergas audit ...`: decisions and the audit trail without a TUI.

The same services and rules as the app: an approval is decided by a named person (the OS user
unless `--as` says otherwise), every decision is audited, and approving executes the write
exactly once (unless `--no-execute`).
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sergas_tui.approvals.cli_support import (
    ROW_HEADERS,
    approval_row,
    describe_result,
    describe_write,
)
from sergas_tui.approvals.execution_records import ExecutionResult
from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.queue import approval_for, owner_of, resolve_queued
from sergas_tui.approvals.service import ApprovalService, require_may
from sergas_tui.audit.export import export_jsonl, export_to_file
from sergas_tui.audit.verify import verify_database
from sergas_tui.cli.common import warn
from sergas_tui.config import Settings
from sergas_tui.domain import Approval, Recommendation
from sergas_tui.domain.mutes import signal_label
from sergas_tui.domain.names import RecordNames
from sergas_tui.errors import ApprovalError, ConfigError, QueueError, UnknownApprovalError
from sergas_tui.locations import Locations
from sergas_tui.services import Services, open_services
from sergas_tui.user_files import output_file, read_json_file, writing_failed
from sergas_tui.viewmodels.approvals import QueueItem, join_queue, recommendations_of
from sergas_tui.viewmodels.names import add_memory, load_names


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name on some containers
        return "unknown"


def _service(services: Services) -> ApprovalService:
    """The approvals service; in team mode acting for the person this OS account maps to."""
    return services.approval_service(identity=services.identity())


def actor_for(services: Services, given: str | None) -> str:
    """Who a command decides as: the identified person in team mode (a different ``--as`` is
    refused by the service), else ``--as`` or the OS user name, as in a local workspace."""
    me = services.identity()
    if given is not None:
        return given
    return me.email if me is not None else default_actor()


async def _executor(services: Services) -> Executor:
    return await services.executor()


async def print_results(
    services: Services, console: Console, results: list[ExecutionResult]
) -> None:
    """Each execution result as a sentence: what was written, for which account, which record
    (or what failed and what to do)."""

    def read() -> tuple[list[Approval | None], RecordNames]:
        approvals = [services.store.get_approval(r.approval_id) for r in results]
        owners = sorted({a.owner_email for a in approvals if a is not None})
        return approvals, load_names(services, owners)

    approvals, names = await asyncio.to_thread(read)
    for result, approval in zip(results, approvals, strict=True):
        console.print(Text(describe_result(result, approval, names)))


def run_with_services(
    settings: Settings, locations: Locations, workspace: str | None, body: Any
) -> int:
    services = open_services(settings, locations, workspace=workspace)

    async def main() -> int:
        try:
            result: int = await body(services)
            return result
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    finally:
        services.close()


def list_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    owner: str | None,
    show_all_owners: bool,
) -> int:
    async def body(services: Services) -> int:
        me = services.identity()
        mine = me.email if me is not None else services.current_user_email()
        email = None if show_all_owners else (owner or mine)
        pending = await _service(services).pending(email)
        owners = sorted({a.owner_email for a in pending})

        def read() -> list[QueueItem]:
            names = load_names(services, owners)
            return join_queue(pending, recommendations_of(services, pending, owners), names)

        items = await asyncio.to_thread(read)
        if len(owners) > 1:  # whose is which: one table per owner, each under their name
            names = items[0].names if items else None
            console.print(Text(f"{len(pending)} approvals pending for {len(owners)} owners"))
            for who in owners:
                theirs = [i for i in items if i.approval.owner_email == who]
                label = names.user(who) if names is not None else who
                title = f"{label}: {len(theirs)} approvals pending"
                console.print(approvals_table(theirs, title=title, width=console.width))
        else:
            title = f"{len(pending)} approvals pending"
            console.print(approvals_table(items, title=title, width=console.width))
        if owner and not pending:
            await asyncio.to_thread(_say_unknown_owner, services, owner)
        more = await asyncio.to_thread(services.store.queued_recommendations, email)
        if more:
            console.print(
                Text(
                    f"{len(more)} more, lower priority, wait beyond today's budget: "
                    "`sergas approvals more` lists them.",
                    style="dim",
                )
            )
        return 0

    return run_with_services(settings, locations, workspace, body)


def _say_unknown_owner(services: Services, owner: str) -> None:
    """Warn when ``--owner`` names nobody whose accounts this workspace has reviewed (a typo,
    a name instead of an email): "0 approvals pending" alone would read as good news."""
    if services.store.owner_spelling(owner) is not None:
        return
    known = services.store.owner_emails()
    listed = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
    hint = "" if "@" in owner else " --owner takes the owner's email."
    where = f" Owners here: {listed}." if known else " Nothing has been reviewed here yet."
    warn(f"No account in this workspace is owned by {owner!r}.{hint}{where}")


COLUMN_GAP = 2
"""Spaces between two columns of the approvals table."""


def approvals_table(items: list[QueueItem], *, title: str, width: int = 80) -> Table:
    """``sergas approvals list``: priority, then value at stake; fits ``width`` columns (the
    account's name is cut with an ellipsis, nothing wraps)."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    rows = [approval_row(item.approval, item.names, item.priority) for item in items]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(ROW_HEADERS)]
    flexible = ROW_HEADERS.index("account")
    fixed = sum(w for i, w in enumerate(widths) if i != flexible)
    room = width - fixed - COLUMN_GAP * (len(widths) - 1)
    widths[flexible] = max(min(widths[flexible], room), 12)
    rows = [
        approval_row(item.approval, item.names, item.priority, account_width=widths[flexible])
        for item in items
    ]
    for header, column_width in zip(ROW_HEADERS, widths, strict=True):
        table.add_column(
            header,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if header == "at stake" else "left",
            width=column_width,
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def fold(line: str, console: Console) -> list[Text]:
    """``line`` folded at the console's width (by cells, at spaces where it can), each part
    keeping the line's indent (a list item's continuation goes under its text), so a wrapped
    body stays under its label."""
    text = line.lstrip(" ")
    indent = len(line) - len(text)
    if not text:
        return [Text("")]
    hanging = 2 if text.startswith("- ") else 0
    folded: list[Text] = []
    width = max(console.width - indent - hanging, 20)
    for index, part in enumerate(Text(text).wrap(console, width)):
        part.rstrip()
        folded.append(Text(" " * (indent + (hanging if index else 0))) + part)
    return folded


def show_command(
    settings: Settings, locations: Locations, console: Console, *, workspace: str | None, ident: str
) -> int:
    async def body(services: Services) -> int:
        waiting: Recommendation | None = None
        try:
            approval = await _service(services).get(ident)
        except UnknownApprovalError as err:
            # Not an approval: perhaps an item of "more, lower priority" (`approvals more`).
            waiting = await asyncio.to_thread(_queued_or_none, services, ident)
            if waiting is None:
                raise ApprovalError(
                    f'There is no approval {ident!r}, nor an item waiting in "more, lower '
                    'priority" with that id: `sergas approvals list` and `sergas approvals '
                    "more` show the ids.",
                    title=err.title,
                ) from err
            owner = await asyncio.to_thread(owner_of, services.store, waiting)
            approval = approval_for(waiting, owner, services.clock.now(), timedelta(0))
        owners = [approval.owner_email]

        def read() -> tuple[RecordNames, Recommendation | None]:
            found = recommendations_of(services, [approval], owners)
            return load_names(services, owners), found.get(approval.recommendation_id)

        names, recommendation = await asyncio.to_thread(read)
        await add_memory(services, names, [approval.account_id])
        lines = describe_write(approval, names, recommendation)
        if waiting is not None:
            short = waiting.id[:8]
            lines[0] = (
                f'Waiting in "more, lower priority" ({short}), not an approval yet: '
                f"`sergas approvals pull {short}` takes it into the queue to decide."
            )
            lines = [line for line in lines if not line.startswith("Expires:")]  # not yet
        for line in lines:
            for folded in fold(line, console):
                console.print(folded, soft_wrap=True)
        return 0

    return run_with_services(settings, locations, workspace, body)


def _queued_or_none(services: Services, ident: str) -> Recommendation | None:
    """The item of "more, lower priority" with this id or id prefix, if the person may see it."""
    try:
        found = resolve_queued(services.store, ident)
    except QueueError:
        return None
    me = services.identity()
    if me is not None:
        require_may(me, owner_of(services.store, found), "see")
    return found


def decide_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    ident: str,
    decision: str,
    given_actor: str | None,
    reason: str | None,
    payload_file: Path | None,
    execute: bool,
    not_useful: bool = False,
) -> int:
    payload: Any = None
    if decision == "adjust":
        if payload_file is None:
            raise ConfigError("adjust needs --payload FILE (JSON of the edited action).")
        payload = read_json_file(payload_file, "payload file")

    async def body(services: Services) -> int:
        service = _service(services)
        actor = actor_for(services, given_actor)
        if decision == "approve":
            approval = await service.approve(ident, actor=actor, rationale=reason)
        elif decision == "reject":
            approval = await service.reject(
                ident, actor=actor, reason=reason, not_useful=not_useful
            )
        elif decision == "undo":
            approval = await service.undo(ident, actor=actor)
        elif decision == "adjust":
            approval = await service.adjust(ident, payload, actor=actor, rationale=reason)
        else:  # pragma: no cover - typer restricts the choice
            raise ConfigError(f"Unknown decision {decision!r}.")
        console.print(Text(f"{approval.id}: {approval.status}"))
        if not_useful and decision == "reject":
            keys = (approval.details or {}).get("signals")
            labels = [signal_label(str(k)) for k in keys] if isinstance(keys, list) else []
            shown = ", ".join(labels) or "this kind of item"
            console.print(Text(f"Noted as not useful: later reviews show you less of {shown}."))
        if execute and decision in ("approve", "adjust"):
            result = await (await _executor(services)).execute(approval.id)
            await print_results(services, console, [result])
        return 0

    return run_with_services(settings, locations, workspace, body)


def execute_command(
    settings: Settings, locations: Locations, console: Console, *, workspace: str | None
) -> int:
    async def body(services: Services) -> int:
        executor = await _executor(services)
        results = [*await executor.reconcile(), *await executor.execute_pending()]
        await print_results(services, console, results)
        count = len(results)
        done = f"{count} approved write{'' if count == 1 else 's'} processed."
        console.print(Text(done if count else "No approved write was waiting to be written."))
        return 0

    return run_with_services(settings, locations, workspace, body)


def verify_command(
    settings: Settings, locations: Locations, console: Console, *, workspace: str | None
) -> int:
    services = open_services(settings, locations, workspace=workspace)
    try:
        result = verify_database(services.store)
    finally:
        services.close()
    if result.ok:
        console.print(Text(f"Audit chain intact: {result.checked} rows verified.", style="green"))
        if result.unchained:
            console.print(
                Text(
                    f"  {result.unchained} legacy rows at the start predate the chain (recorded "
                    "when it began); they are not protected."
                )
            )
        return 0
    console.print(Text(f"Audit chain BROKEN ({result.checked} rows checked):", style="bold red"))
    for problem in result.problems:
        where = f"row {problem.seq}" + (f" ({problem.id})" if problem.id else "")
        console.print(Text(f"  {where}: {problem.kind}: {problem.message}"))
    return 1


def export_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    since: datetime | None,
    out: Path | None,
) -> int:
    if out is not None:
        output_file(out, "--out", special_ok=True, example="audit.jsonl")
    services = open_services(settings, locations, workspace=workspace)
    try:
        if out is None:
            count = export_jsonl(services.store, sys.stdout, since)
        else:
            try:
                count = export_to_file(services.store, out, since)
            except OSError as err:
                raise writing_failed(out, err) from err
            Console(stderr=True).print(Text(f"Wrote {count} audit rows to {out}"))
    finally:
        services.close()
    return 0
