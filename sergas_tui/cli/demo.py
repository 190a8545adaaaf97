"""`sergas demo generate|reset|serve`: the generated demo workspace and its Zoho CRM
simulator."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated

import typer

from sergas_tui.cli.common import (
    DEFAULT_DEMO_ACCOUNTS,
    DEFAULT_DEMO_OWNERS,
    DEFAULT_DEMO_SEED,
    err_console,
    generate_demo,
    out,
    state_of,
)
from sergas_tui.errors import SergasError, WorkspaceError

demo_app = typer.Typer(help="The generated demo workspace.", no_args_is_help=True)


@demo_app.command("generate")
def demo_generate(
    ctx: typer.Context,
    accounts: Annotated[int, typer.Option(min=1, max=200_000, help="Accounts.")] = (
        DEFAULT_DEMO_ACCOUNTS
    ),
    owners: Annotated[int, typer.Option(min=1, max=2_000, help="Owners (users).")] = (
        DEFAULT_DEMO_OWNERS
    ),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = (
        DEFAULT_DEMO_SEED
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing demo CRM.")] = False,
) -> None:
    """Generate a deterministic Zoho-shaped demo CRM for the workspace."""
    state = state_of(ctx)
    settings = state.settings()
    name = state.workspace or "demo"
    if settings.zoho.resolved_mode() != "demo" and state.workspace is None:
        name = "demo"
    if owners > accounts:
        raise SergasError(
            f"--owners ({owners}) cannot exceed --accounts ({accounts}).", title="Bad arguments"
        )
    path = state.locations.demo_crm_file(name)
    if path.exists() and not force:
        raise WorkspaceError(
            f"The demo workspace {name!r} already has a demo CRM ({path}); it was left "
            "unchanged. Use `sergas demo reset` or `--force` to rebuild it."
        )
    generate_demo(state.locations, name, accounts, owners, seed)


@demo_app.command("reset")
def demo_reset(
    ctx: typer.Context,
    accounts: Annotated[int, typer.Option(min=1, max=200_000)] = DEFAULT_DEMO_ACCOUNTS,
    owners: Annotated[int, typer.Option(min=1, max=2_000)] = DEFAULT_DEMO_OWNERS,
    seed: Annotated[int, typer.Option()] = DEFAULT_DEMO_SEED,
) -> None:
    """Rebuild the demo CRM and start the workspace's local database afresh."""
    from sergas_tui.storage.workspace_lock import exclusive_use

    state = state_of(ctx)
    name = state.workspace or "demo"
    db = state.locations.database_file(name)
    with exclusive_use(db.parent, "reset the workspace"):
        pass  # refuse early, before anything moves, while another process uses it
    if db.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = db.with_name(f"{db.name}.reset-{stamp}")
        db.replace(backup)
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                side.replace(backup.with_name(backup.name + suffix))
        out.print(f"Moved the old workspace database to {backup}", markup=False)
    generate_demo(state.locations, name, accounts, owners, seed)


class DemoEdition(enum.StrEnum):
    """Zoho CRM editions, for the simulator's API limits."""

    free = "free"
    standard = "standard"
    professional = "professional"
    enterprise = "enterprise"
    ultimate = "ultimate"


@demo_app.command("serve")
def demo_serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    edition: Annotated[
        DemoEdition, typer.Option(help="Zoho edition whose API limits to apply.")
    ] = DemoEdition.enterprise,
    daily_credits: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API credits per rolling 24 hours, instead of the edition's allowance "
            "(a small number shows how clients meet Zoho's 429).",
        ),
    ] = None,
) -> None:
    """Serve the demo org over HTTP as a Zoho CRM v8 simulator (OAuth, metadata, records,
    COQL, writes), with a Zoho edition's API limits."""
    from sergas_tui.crm.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
    from sergas_tui.crm.simulator.config import SimulatorConfig
    from sergas_tui.crm.simulator.server import serve

    state = state_of(ctx)
    name = state.workspace or "demo"
    path = state.locations.demo_crm_file(name)
    if not path.exists():
        raise WorkspaceError(
            f"The workspace {name!r} has no demo CRM at {path}. Run `sergas demo generate` first."
        )

    config = SimulatorConfig(edition=edition.value, daily_credits=daily_credits)

    def announce(base_url: str) -> None:
        config.api_domain = base_url  # the token endpoint tells clients to call back here
        err_console.print(
            f"Zoho CRM simulator for workspace {name!r} on {base_url} "
            f"(accounts server and API domain). Demo OAuth client: client_id {DEMO_CLIENT_ID}, "
            f"client_secret {DEMO_CLIENT_SECRET}, refresh_token {DEMO_REFRESH_TOKEN}. "
            f"API limits of a Zoho {config.edition} org: "
            f"{'credits' if daily_credits is None else f'{daily_credits:,} credits'} per "
            f"rolling 24 hours, {config.concurrency()} calls in flight. Ctrl+C stops it.",
            markup=False,
            soft_wrap=True,
        )

    serve(path, host=host, port=port, config=config, on_ready=announce)
