"""``open_memory`` picks the backend ``[memory]`` asks for (nothing is opened remotely)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations
from sergas_tui.memory import LocalMemory
from sergas_tui.memory.cognee.setup import cognee_available
from sergas_tui.memory.factory import cognee_dir, open_memory
from sergas_tui.memory.remote import RemoteMemory
from sergas_tui.secrets import SecretStore

NOW_CLOCK = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))


@pytest.fixture
def locations(tmp_path: Path) -> Locations:
    return Locations(config_dir=tmp_path / "c", data_dir=tmp_path / "d", log_dir=tmp_path / "l")


def test_local_by_default(locations: Locations) -> None:
    store = open_memory(load_settings(locations), locations, "demo", NOW_CLOCK)
    assert isinstance(store, LocalMemory)
    assert store.path.name == "memory.db"
    store.close_now()


def test_an_endpoint_wins_and_takes_the_server_token(locations: Locations) -> None:
    settings = load_settings(
        locations, overrides={"memory": {"endpoint": "http://127.0.0.1:9/mcp", "backend": "cognee"}}
    )
    secrets = SecretStore(environ={"SERGAS_MCP_SERVER_TOKEN": "tok-123"})
    store = open_memory(settings, locations, "demo", NOW_CLOCK, secrets)
    assert isinstance(store, RemoteMemory)
    assert store.url == "http://127.0.0.1:9/mcp"
    assert store._headers == {"Authorization": "Bearer tok-123"}


@pytest.mark.skipif(cognee_available(), reason="checks the message shown without sergas[cognee]")
def test_cognee_without_the_extra_says_how_to_install(locations: Locations) -> None:
    settings = load_settings(locations, overrides={"memory": {"backend": "cognee"}})
    with pytest.raises(ConfigError, match=r"sergas\[cognee\]"):
        open_memory(settings, locations, "demo", NOW_CLOCK)


@pytest.mark.skipif(not cognee_available(), reason="cognee is not installed")
def test_cognee_lives_in_the_workspace(locations: Locations) -> None:
    from sergas_tui.memory.cognee.backend import CogneeMemory

    settings = load_settings(locations, overrides={"memory": {"backend": "cognee"}})
    store = open_memory(settings, locations, "demo", NOW_CLOCK)
    assert isinstance(store, CogneeMemory)
    assert store.root == cognee_dir(locations, "demo")
    assert (store.root / "embedder.json").exists()
