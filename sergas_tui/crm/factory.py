"""Choosing and opening a CRM backend: ``open_crm`` and the demo org's ``open_simulator``.

- :func:`open_simulator` — the in-process Zoho simulator serving a workspace's demo org file.
- :func:`open_crm` — the backend ``[zoho]`` asks for: the demo org through the simulator
  (``mode = 'demo'``), Zoho REST (``'rest'``), or an MCP server (``'mcp'``: ours or Zoho's
  hosted one, over HTTP or a stdio command). The MCP client stack is imported only for MCP
  workspaces (about 0.4 s).

The caller owns what it gets: it closes the gateway (``aclose``) and the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretName, SecretStore

if TYPE_CHECKING:
    from sergas_tui.crm.simulator import Simulator
    from sergas_tui.crm.writer import CrmGateway

SIMULATOR_URL = "http://zoho-simulator.invalid"
"""The in-process simulator is reached through httpx's ASGI transport: this host name never
leaves the process (".invalid" is reserved and cannot resolve)."""


def open_simulator(locations: Locations, workspace: str, clock: Clock) -> Simulator:
    """The simulator serving ``workspace``'s demo org file, on the caller's ``clock`` (tokens,
    the credits window and write stamps tell the same time as the rest of the process).

    The demo org enforces Zoho's own limits for its edition (Enterprise: credits per rolling
    24 hours, 20 calls in flight, 10 heavy ones), not the client's politeness settings, which
    keep working on the client side as against Zoho.
    """
    from sergas_tui.crm.simulator import SimulatorConfig, create_simulator

    config = SimulatorConfig(api_domain=SIMULATOR_URL, clock=clock)
    return create_simulator(locations.demo_crm_file(workspace), config)


async def open_crm(
    settings: Settings,
    locations: Locations,
    secrets: SecretStore,
    clock: Clock,
    *,
    simulator: Simulator | None = None,
    demo_workspace: str | None = None,
    child_environment: Callable[[], dict[str, str]] = dict,
) -> CrmGateway:
    """The CRM backend ``settings.zoho`` asks for (see the module docstring).

    ``simulator`` and ``demo_workspace`` (whose demo org file it serves) are required in mode
    'demo'; ``child_environment`` is what a stdio MCP server started here must know.
    """
    mode = settings.zoho.resolved_mode()
    if mode == "demo":
        if simulator is None or demo_workspace is None:
            raise ValueError("mode 'demo' needs the demo org's simulator and workspace")
        return _open_demo(settings, locations, clock, simulator, demo_workspace)
    if mode == "rest":
        from sergas_tui.crm.rest.gateway import ZohoRestGateway

        return ZohoRestGateway.from_settings(
            settings.zoho, secrets, clock=clock, data_dir=locations.data_dir
        )
    return await _open_mcp(settings, secrets, clock, child_environment)


def _open_demo(
    settings: Settings,
    locations: Locations,
    clock: Clock,
    simulator: Simulator,
    demo_workspace: str,
) -> CrmGateway:
    import httpx
    from pydantic import SecretStr

    from sergas_tui.crm.budget import demo_budget_file
    from sergas_tui.crm.oauth import ZohoCredentials
    from sergas_tui.crm.rest.gateway import ZohoRestGateway
    from sergas_tui.crm.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN

    zoho = settings.zoho
    credentials = ZohoCredentials(
        client_id=DEMO_CLIENT_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
    )
    # The demo org records buying roles in a custom Contacts field, as many orgs do.
    extra = {"Contacts": ["Contact_Role"], **zoho.extra_fields}
    demo_zoho = zoho.model_copy(
        update={"accounts_url": SIMULATOR_URL, "api_domain": None, "extra_fields": extra}
    )
    transport = httpx.ASGITransport(app=simulator.app)
    # Every process reviewing this demo org shares one call budget, as with Zoho.
    return ZohoRestGateway(
        demo_zoho,
        credentials,
        transport=transport,
        clock=clock,
        budget_file=demo_budget_file(locations.data_dir, locations.demo_crm_file(demo_workspace)),
    )


async def _open_mcp(
    settings: Settings,
    secrets: SecretStore,
    clock: Clock,
    child_environment: Callable[[], dict[str, str]],
) -> CrmGateway:
    from sergas_tui.crm.mcp.client import McpGateway
    from sergas_tui.crm.zoho_mcp import (
        connect_mcp_http,
        connect_mcp_stdio,
        connect_zoho_mcp,
        redact_url,
    )

    zoho = settings.zoho
    # [zoho] mcp_flavour: 'sergas' is our catalog (zoho_*), 'zoho' Zoho's hosted server
    # (ZohoCRM_*, its URL holds a key), 'auto' tells them apart by the tools listed.
    flavour = zoho.mcp_flavour
    bearer = secrets.get(SecretName.ZOHO_MCP_TOKEN)
    extra = zoho.extra_fields
    if zoho.mcp_endpoint:
        if flavour == "zoho":
            return await connect_zoho_mcp(
                zoho.mcp_endpoint,
                bearer_token=bearer.get_secret_value() if bearer else None,
                clock=clock,
                extra_fields=extra,
            )
        token = secrets.require(
            SecretName.ZOHO_MCP_TOKEN,
            f"The Zoho MCP endpoint {redact_url(zoho.mcp_endpoint)}",
        )
        if flavour == "sergas":
            return await McpGateway.connect_http(zoho.mcp_endpoint, token.get_secret_value())
        return await connect_mcp_http(
            zoho.mcp_endpoint, token.get_secret_value(), clock=clock, extra_fields=extra
        )
    stored_url = secrets.get(SecretName.ZOHO_MCP_URL) if flavour == "zoho" else None
    if flavour == "zoho" and (stored_url is not None or not zoho.mcp_command):
        url = stored_url or secrets.require(
            SecretName.ZOHO_MCP_URL, "Zoho's hosted MCP server (mcp_flavour = 'zoho')"
        )
        return await connect_zoho_mcp(
            url.get_secret_value(),
            bearer_token=bearer.get_secret_value() if bearer else None,
            clock=clock,
            extra_fields=extra,
        )
    assert zoho.mcp_command, "mode 'mcp' resolves only with an endpoint, command or flavour"
    if flavour == "sergas":
        return await McpGateway.connect_stdio(zoho.mcp_command, child_environment())
    return await connect_mcp_stdio(
        zoho.mcp_command,
        child_environment(),
        flavour=flavour,
        clock=clock,
        extra_fields=extra,
    )


def served_settings(
    settings: Settings, locations: Locations, name: str
) -> tuple[Settings, str | None]:
    """The settings a CRM-serving process runs with, and the workspace whose demo CRM it serves.

    A server never reaches Zoho through MCP itself (with ``mcp_command = ["sergas", "mcp",
    "zoho"]`` that would start itself over and over): in mode 'mcp' it serves Zoho REST when a
    client_id is configured, otherwise the demo CRM of the workspace (or of the default demo
    workspace); with neither it stops with a ConfigError.
    """
    zoho = settings.zoho
    if zoho.resolved_mode() != "mcp":
        return settings, None
    if zoho.client_id:
        served = "rest"
        demo_from = None
    else:
        candidates = [name, "demo"]
        found = [c for c in candidates if locations.demo_crm_file(c).exists()]
        if not found:
            raise ConfigError(
                f"Workspace {name!r} reaches Zoho through MCP ([zoho] mode = 'mcp'), so `sergas "
                "mcp zoho` has no CRM of its own to serve and would only start itself again. "
                "Give the server a CRM: set [zoho] client_id for your Zoho org (REST), or create "
                "the demo org with `sergas demo generate`, then start the server again."
            )
        served, demo_from = "demo", found[0]
    update = {"mode": served, "mcp_endpoint": None, "mcp_command": None}
    return settings.model_copy(update={"zoho": zoho.model_copy(update=update)}), demo_from
