"""Secrets: keyring first, env fallback, clear errors, values never shown."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from sergas_tui.errors import SecretError
from sergas_tui.secrets import SecretName, SecretStore, parse_secret_name
from tests.fakes.keyring_backend import MemoryKeyring


def test_set_get_clear_roundtrip(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore(environ={})
    store.set(SecretName.ZOHO_REFRESH_TOKEN, "  1000.refresh  ")
    value = store.get(SecretName.ZOHO_REFRESH_TOKEN)
    assert value is not None
    assert value.get_secret_value() == "1000.refresh"
    assert "1000.refresh" not in repr(value)
    assert store.status(SecretName.ZOHO_REFRESH_TOKEN).source == "keyring"
    assert store.clear(SecretName.ZOHO_REFRESH_TOKEN) is True
    assert store.clear(SecretName.ZOHO_REFRESH_TOKEN) is False
    assert store.get(SecretName.ZOHO_REFRESH_TOKEN) is None


@pytest.mark.parametrize(
    ("name", "var"),
    [
        (SecretName.ANTHROPIC_API_KEY, "ANTHROPIC_API_KEY"),
        (SecretName.ANTHROPIC_API_KEY, "SERGAS_ANTHROPIC_API_KEY"),
        (SecretName.ZOHO_REFRESH_TOKEN, "SERGAS_ZOHO_REFRESH_TOKEN"),
        (SecretName.ZOHO_CLIENT_SECRET, "SERGAS_ZOHO_CLIENT_SECRET"),
        (SecretName.POSTGRES_PASSWORD, "SERGAS_POSTGRES_PASSWORD"),
    ],
)
def test_environment_fallback(name: SecretName, var: str) -> None:
    store = SecretStore(environ={var: "from-env"})
    value = store.get(name)
    assert value is not None
    assert value.get_secret_value() == "from-env"
    status = store.status(name)
    assert (status.source, status.detail) == ("env", var)


def test_keyring_wins_over_environment() -> None:
    store = SecretStore(environ={"ANTHROPIC_API_KEY": "env"})
    store.set(SecretName.ANTHROPIC_API_KEY, "ring")
    value = store.get(SecretName.ANTHROPIC_API_KEY)
    assert value is not None
    assert value.get_secret_value() == "ring"


def test_missing_secret_message_is_actionable() -> None:
    store = SecretStore(environ={})
    with pytest.raises(SecretError) as info:
        store.require(SecretName.ZOHO_REFRESH_TOKEN, "Zoho REST access")
    message = info.value.message
    assert "sergas auth set zoho_refresh_token" in message
    assert "SERGAS_ZOHO_REFRESH_TOKEN" in message
    assert info.value.exit_code == 2


def test_no_keyring_backend_explains_env_fallback() -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    store = SecretStore(environ={"SERGAS_POSTGRES_PASSWORD": "pw"})
    assert store.keyring_problem() is not None
    with pytest.raises(SecretError) as info:
        store.set(SecretName.ANTHROPIC_API_KEY, "x")
    assert "ANTHROPIC_API_KEY" in info.value.message
    assert "environment variables" in info.value.message
    # Reading still works from the environment.
    value = store.get(SecretName.POSTGRES_PASSWORD)
    assert value is not None
    assert value.get_secret_value() == "pw"
    status = store.status(SecretName.ANTHROPIC_API_KEY)
    assert status.source == "missing"
    assert "keyring unavailable" in status.detail


def test_empty_value_refused() -> None:
    with pytest.raises(SecretError, match="empty"):
        SecretStore(environ={}).set(SecretName.ANTHROPIC_API_KEY, "   ")


@pytest.mark.parametrize("text", ["anthropic_api_key", "ANTHROPIC-API-KEY", " postgres_password "])
def test_parse_secret_name_accepts_variants(text: str) -> None:
    assert parse_secret_name(text) in set(SecretName)


def test_parse_secret_name_lists_known_names() -> None:
    with pytest.raises(SecretError) as info:
        parse_secret_name("zoho_password")
    assert "zoho_refresh_token" in info.value.message
