"""`sergas notify digest|notices` and `sergas serve`: team mode's notifications and the pages
behind their approval links.

:mod:`sergas_tui.cli.main` adds the `notify` group and the top-level `serve` command to the
root app; they live together because `serve` answers the links the digests send. Like the
other CLI modules this one imports only Typer and Rich at module level; the notifiers, the web
server and psycopg load when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from sergas_tui.cli.common import err_console, metrics_served, out, state_of
from sergas_tui.errors import ConfigError

if TYPE_CHECKING:
    from sergas_tui.services import Services

notify_app = typer.Typer(
    help="Team mode: digests of each owner's queue with approval links, escalations and expiry "
    "notices (e-mail and/or webhook).",
    no_args_is_help=True,
)


def _check(ctx: typer.Context, *, links: bool) -> None:
    """The notification set-up, checked before the workspace is opened."""
    from sergas_tui.notify.channels import channels_from
    from sergas_tui.secrets import SecretStore

    channels_from(state_of(ctx).settings(), SecretStore(), links=links)


def _run(ctx: typer.Context, body: object) -> int:
    """Open the workspace's services, run ``body(services)`` (async), close them."""
    import asyncio
    from collections.abc import Awaitable, Callable
    from typing import cast

    from sergas_tui.services import open_services

    state = state_of(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)
    run = cast("Callable[[Services], Awaitable[int]]", body)

    async def main() -> int:
        try:
            return await run(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    finally:
        services.close()


@notify_app.command("digest")
def digest(
    ctx: typer.Context,
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="The owner (e-mail) whose queue to send; default: you."),
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Every owner with approvals waiting, one digest each.")
    ] = False,
) -> None:
    """Send one digest of the owner's pending approvals, best first, with an Approve / Reject /
    Adjust link per item (single use, expiring with the approval)."""
    if owner and everyone:
        raise ConfigError("Give either --owner EMAIL or --all, not both.")
    _check(ctx, links=True)

    async def body(services: Services) -> int:
        from sergas_tui.notify.digest import send_all_digests, send_digest

        if everyone:
            reports = await send_all_digests(services)
        else:
            who = owner or services.current_user_email()
            if not who:
                raise ConfigError(
                    "Sergas does not know whose digest to send: pass --owner EMAIL (or --all), "
                    "or set [zoho] user_email."
                )
            reports = [await send_digest(services, who)]
        for report in reports:
            out.print(Text(report.text()), soft_wrap=True)
        if not reports:
            out.print(Text("Nobody has approvals waiting; no digest sent."))
        failed = [r for r in reports if not r.ok]
        if failed:
            err_console.print(
                Text(
                    f"{len(failed)} digest(s) not delivered on every channel. Their links stay "
                    "valid; run the command again to send a fresh digest."
                ),
                soft_wrap=True,
            )
        return 1 if failed else 0

    raise typer.Exit(_run(ctx, body))


@notify_app.command("notices")
def notices(ctx: typer.Context) -> None:
    """Send due escalations (undecided after [approvals] escalate_after_hours: to the owner's
    manager) and expiry notices (to the owner), each once. Run it hourly from cron."""
    _check(ctx, links=False)

    async def body(services: Services) -> int:
        from sergas_tui.notify.notices import send_notices

        report = await send_notices(services)
        for line in report.lines():
            out.print(Text(line), soft_wrap=True)
        return 0 if report.ok else 1

    raise typer.Exit(_run(ctx, body))


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Listen on this address (default: [notifications] serve_host)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65_535, help="Listen on this port (default: [notifications] serve_port)."
        ),
    ] = None,
) -> None:
    """Serve the approval pages behind the digests' links (team mode). Put it behind a TLS
    reverse proxy at [notifications] public_url; it listens on loopback by default."""
    import asyncio

    from sergas_tui.notify.digest import link_store
    from sergas_tui.services import open_services
    from sergas_tui.web.app import build_app
    from sergas_tui.web.app import serve as serve_app
    from sergas_tui.web.desk import LinkDesk

    state = state_of(ctx)
    settings = state.settings()
    if not settings.central.dsn:
        raise ConfigError(
            "`sergas serve` belongs to team mode: the links it answers are kept in the team's "
            "central database. Set [central] dsn first (docs/operations.md)."
        )
    config = settings.notifications
    where_host = host or config.serve_host
    where_port = port or config.serve_port
    services = open_services(settings, state.locations, workspace=state.workspace)

    def ready(url: str) -> None:
        public = config.public_url or "(unset: [notifications] public_url)"
        out.print(
            Text(f"Approval links served on {url}; digests link to {public}."), soft_wrap=True
        )
        if where_host not in ("127.0.0.1", "::1", "localhost"):
            err_console.print(
                Text(
                    f"Listening on {where_host}, beyond this machine, without TLS: put a TLS "
                    "reverse proxy in front and keep this port closed to others."
                ),
                soft_wrap=True,
            )

    async def main() -> None:
        try:
            links = link_store(services)
            await asyncio.to_thread(links.check)  # fail now, not at the first click
            app = build_app(LinkDesk(services, links))
            await serve_app(app, where_host, where_port, ready=ready)
        finally:
            await services.aclose()

    try:
        with metrics_served(settings):
            asyncio.run(main())
    finally:
        services.close()
