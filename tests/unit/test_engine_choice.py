"""Which engine runs a review, and what of it is known before the OS keyring is asked."""

from __future__ import annotations

import pytest

import sergas_tui.engine_choice as engine_choice_module
from sergas_tui.config import Settings, load_settings
from sergas_tui.engine_choice import known_engine, resolve_engine
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretName, SecretStore
from tests.fakes.keyring_backend import MemoryKeyring


def settings(engine: str) -> Settings:
    return load_settings(Locations.from_env(), overrides={"anthropic": {"engine": engine}})


@pytest.fixture
def cli_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_choice_module, "_claude_cli_available", lambda: True)


@pytest.mark.parametrize("engine", ["rules", "claude"])
def test_a_configured_engine_is_known_without_the_keyring(
    engine: str, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(environ={})
    assert known_engine(settings(engine), store) == engine
    assert resolve_engine(settings(engine), store)[0] == engine


def test_auto_with_a_key_in_the_environment_is_known_without_the_keyring(
    cli_present: None, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(environ={"ANTHROPIC_API_KEY": "sk-ant-test"})
    assert known_engine(settings("auto"), store) == "claude"
    assert resolve_engine(settings("auto"), store)[0] == "claude"


def test_auto_without_a_key_in_the_environment_needs_the_keyring(
    cli_present: None, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(environ={})
    assert known_engine(settings("auto"), store) is None
    assert resolve_engine(settings("auto"), store)[0] == "rules"
    store.set(SecretName.ANTHROPIC_API_KEY, "sk-ant-stored")
    assert known_engine(settings("auto"), store) is None  # still only the keyring knows
    assert resolve_engine(settings("auto"), store)[0] == "claude"
