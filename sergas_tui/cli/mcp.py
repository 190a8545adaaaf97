"""`sergas mcp zoho|memory`: Sergas's MCP servers, over stdio or streamable HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from sergas_tui.cli.common import err_console, metrics_served, state_of

mcp_app = typer.Typer(help="Run Sergas's MCP servers.", no_args_is_help=True)


HttpPort = Annotated[
    int | None,
    typer.Option(
        "--http",
        min=1,
        max=65_535,
        help="Serve streamable HTTP on this port (bearer token: mcp_server_token).",
    ),
]


HttpHost = Annotated[str, typer.Option(help="Address for --http.")]


@mcp_app.command("zoho")
def mcp_zoho(
    ctx: typer.Context,
    http: HttpPort = None,
    host: HttpHost = "127.0.0.1",
) -> None:
    """Serve the Zoho tool catalog over MCP (stdio by default) for this workspace's CRM.

    The server serves the workspace's own CRM (the demo org, or Zoho REST), never another MCP
    server. Write tools need a recorded approval: in the central database when [central]
    dsn is set (shared by a team's servers), otherwise registered by the app with this
    server.
    """
    import asyncio

    from sergas_tui.crm.approval_gate import ApprovalGate, GrantStore
    from sergas_tui.crm.mcp.server import build_zoho_server, run_http, run_stdio
    from sergas_tui.secrets import SecretName, SecretStore
    from sergas_tui.services import open_services
    from sergas_tui.storage.grants import LocalGrantStore

    state = state_of(ctx)
    settings = state.settings()
    token = None
    if http is not None:
        token = SecretStore().require(
            SecretName.MCP_SERVER_TOKEN, "Serving the Zoho MCP server over HTTP"
        )
    services = open_services(settings, state.locations, workspace=state.workspace, serving=True)
    store: GrantStore
    if services.central_audit_configured:
        from sergas_tui.audit.central.conn import target_from_settings
        from sergas_tui.audit.central.grants import CentralGrantStore

        store = CentralGrantStore(target_from_settings(services.settings.central, services.secrets))
    else:
        store = LocalGrantStore(services.store)
    gate = ApprovalGate(
        store,
        clock=services.clock,
        audit=services.store.append_audit,
        accepts_registration=not services.central_audit_configured,
    )

    async def serve() -> None:
        try:
            server = build_zoho_server(await services.crm_gateway(), gate)
            if token is None:
                await run_stdio(server)
            else:

                def ready(url: str) -> None:
                    err_console.print(f"Zoho MCP server on {url}", markup=False, soft_wrap=True)

                await run_http(
                    server, host, http or 0, bearer_token=token.get_secret_value(), ready=ready
                )
        finally:
            await services.aclose()

    try:
        with metrics_served(services.settings):
            asyncio.run(serve())
    finally:
        services.close()


@mcp_app.command("memory")
def mcp_memory(
    ctx: typer.Context,
    http: HttpPort = None,
    host: HttpHost = "127.0.0.1",
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Offer only the four read tools (the Memory Analyst's)."),
    ] = False,
) -> None:
    """Serve the cognee_* memory tools over MCP (stdio by default) for this workspace's memory."""
    import asyncio

    from sergas_tui.memory.mcp_server import run_memory_server
    from sergas_tui.secrets import SecretName, SecretStore
    from sergas_tui.services import open_services

    state = state_of(ctx)
    token = None
    if http is not None:
        secret = SecretStore().require(
            SecretName.MCP_SERVER_TOKEN, "Serving the memory MCP server over HTTP"
        )
        token = secret.get_secret_value()
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    def ready(url: str) -> None:
        err_console.print(f"Memory MCP server on {url}", markup=False, soft_wrap=True)

    try:
        with metrics_served(services.settings):
            asyncio.run(
                run_memory_server(
                    services.memory(),
                    http_port=http,
                    token=token,
                    read_only=read_only,
                    host=host,
                    clock=services.clock,
                    ready=ready,
                )
            )
    finally:
        services.close()
