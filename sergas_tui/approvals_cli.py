"""`sergas approvals ...` and `sergas audit ...`: decisions and the audit trail without a TUI.

The same services and rules as the app: an approval is decided by a named person (the OS user
unless `--as` says otherwise), every decision is audited, and approving executes the write
exactly once (unless `--no-execute`).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sergas_tui.approvals.cli_support import approval_row, describe_write
from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.audit.export import export_jsonl
from sergas_tui.audit.verify import verify_database
from sergas_tui.config import Settings
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations
from sergas_tui.services import Services, open_services

ROW_HEADERS = ("id", "account", "type", "priority", "status", "expires")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name on some containers
        return "unknown"


def _service(services: Services) -> ApprovalService:
    return ApprovalService(
        services.store,
        clock=services.clock,
        memory=services.memory(),
        grants=services.grant_publisher(),
    )


async def _executor(services: Services) -> Executor:
    return Executor(
        services.store,
        await services.crm_gateway(),
        clock=services.clock,
        memory=services.memory(),
        grants=services.grant_publisher(),
    )


def _run(settings: Settings, locations: Locations, workspace: str | None, body: Any) -> int:
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
        email = None if show_all_owners else (owner or services.current_user_email())
        pending = await _service(services).pending(email)
        table = Table(*ROW_HEADERS, title=f"{len(pending)} approvals pending")
        for column in table.columns[:3]:  # id, account and type must stay copyable
            column.no_wrap = True
        for approval in pending:
            table.add_row(*(Text(cell) for cell in approval_row(approval)))
        console.print(table)
        return 0

    return _run(settings, locations, workspace, body)


def show_command(
    settings: Settings, locations: Locations, console: Console, *, workspace: str | None, ident: str
) -> int:
    async def body(services: Services) -> int:
        approval = await _service(services).get(ident)
        for line in describe_write(approval):
            console.print(Text(line))
        return 0

    return _run(settings, locations, workspace, body)


def decide_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    ident: str,
    decision: str,
    actor: str,
    reason: str | None,
    payload_file: Path | None,
    execute: bool,
) -> int:
    payload: Any = None
    if decision == "adjust":
        if payload_file is None:
            raise ConfigError("adjust needs --payload FILE (JSON of the edited action).")
        try:
            payload = json.loads(payload_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"Cannot read the payload {payload_file}: {err}.") from err

    async def body(services: Services) -> int:
        service = _service(services)
        if decision == "approve":
            approval = await service.approve(ident, actor=actor, rationale=reason)
        elif decision == "reject":
            approval = await service.reject(ident, actor=actor, reason=reason)
        elif decision == "undo":
            approval = await service.undo(ident, actor=actor)
        elif decision == "adjust":
            approval = await service.adjust(ident, payload, actor=actor, rationale=reason)
        else:  # pragma: no cover - typer restricts the choice
            raise ConfigError(f"Unknown decision {decision!r}.")
        console.print(Text(f"{approval.id}: {approval.status}"))
        if execute and decision in ("approve", "adjust"):
            result = await (await _executor(services)).execute(approval.id)
            console.print(Text(f"executed: {result}"))
        return 0

    return _run(settings, locations, workspace, body)


def execute_command(
    settings: Settings, locations: Locations, console: Console, *, workspace: str | None
) -> int:
    async def body(services: Services) -> int:
        executor = await _executor(services)
        results = [*await executor.reconcile(), *await executor.execute_pending()]
        for result in results:
            console.print(Text(str(result)))
        console.print(Text(f"{len(results)} approved actions processed."))
        return 0

    return _run(settings, locations, workspace, body)


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
        return 0
    console.print(Text(f"Audit chain BROKEN ({result.checked} rows checked):", style="bold red"))
    for problem in result.problems:
        console.print(
            Text(f"  row {problem.seq} ({problem.id}): {problem.kind}: {problem.message}")
        )
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
    services = open_services(settings, locations, workspace=workspace)
    try:
        if out is None:
            count = export_jsonl(services.store, sys.stdout, since)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as handle:
                count = export_jsonl(services.store, handle, since)
            Console(stderr=True).print(Text(f"Wrote {count} audit rows to {out}"))
    finally:
        services.close()
    return 0
