"""What Services hands out: a reader for everyone, a writer for the executor and the MCP server;
and what a CRM-serving process serves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sergas_tui.config import load_settings
from sergas_tui.crm.factory import served_settings
from sergas_tui.crm.gateway import ReadOnlyCrm
from sergas_tui.crm.writer import CrmGateway, CrmWriter
from sergas_tui.demo import generate
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def locations(isolated_env: Path) -> Locations:
    return Locations.from_env()


def make_demo(locations: Locations, workspace: str = "demo") -> None:
    path = locations.demo_crm_file(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(path, accounts=20, owners=2, seed=3, now=NOW)


def write_config(locations: Locations, text: str) -> None:
    locations.config_dir.mkdir(parents=True, exist_ok=True)
    locations.config_file.write_text(text, encoding="utf-8")


async def test_the_app_reads_through_a_reader_and_only_the_executor_gets_a_writer(
    locations: Locations,
) -> None:
    make_demo(locations)
    services = open_services(load_settings(locations), locations, secrets=SecretStore())
    try:
        reader = await services.crm()
        assert isinstance(reader, ReadOnlyCrm)
        assert not isinstance(reader, CrmWriter)
        assert await reader.get_user_info() is not None
        assert isinstance(await services.crm_gateway(), CrmGateway)
    finally:
        await services.aclose()
        services.close()


def test_a_server_never_serves_mcp_and_says_what_to_do_when_it_has_nothing(
    locations: Locations,
) -> None:
    write_config(locations, '[zoho]\nmode = "mcp"\nmcp_command = ["sergas", "mcp", "zoho"]\n')
    settings = load_settings(locations)
    with pytest.raises(ConfigError, match="would only start itself again"):
        served_settings(settings, locations, "default")
    make_demo(locations)
    served, demo_from = served_settings(settings, locations, "default")
    assert served.zoho.resolved_mode() == "demo"
    assert demo_from == "demo"
    write_config(
        locations, '[zoho]\nmode = "mcp"\nclient_id = "1000.X"\nmcp_endpoint = "http://x"\n'
    )
    served, demo_from = served_settings(load_settings(locations), locations, "default")
    assert (served.zoho.resolved_mode(), demo_from) == ("rest", None)


def test_a_stdio_child_gets_this_apps_locations_and_workspace(
    locations: Locations, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_demo(locations, "team")
    monkeypatch.setenv("SERGAS_ZOHO__TIMEOUT_SECONDS", "12")
    write_config(locations, '[zoho]\nmode = "mcp"\nmcp_command = ["sergas", "mcp", "zoho"]\n')
    services = open_services(load_settings(locations), locations, workspace="team")
    try:
        env = services.child_environment()
    finally:
        services.close()
    assert env["SERGAS_CONFIG_DIR"] == str(locations.config_dir)
    assert env["SERGAS_DATA_DIR"] == str(locations.data_dir)
    assert env["SERGAS_LOG_DIR"] == str(locations.log_dir)
    assert env["SERGAS_WORKSPACE"] == "team"
    assert env["SERGAS_ZOHO__TIMEOUT_SECONDS"] == "12"
