"""Secrets: the OS keyring first, environment variables as the fallback for headless use.

Values are handed around as ``SecretStr`` and never logged, audited or printed; status reports
say only whether a secret is set and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import keyring
import keyring.errors
from pydantic import SecretStr

from sergas_tui.errors import SecretError

KEYRING_SERVICE = "sergas"


class SecretName(StrEnum):
    ZOHO_REFRESH_TOKEN = "zoho_refresh_token"
    ZOHO_CLIENT_SECRET = "zoho_client_secret"
    ANTHROPIC_API_KEY = "anthropic_api_key"
    POSTGRES_PASSWORD = "postgres_password"
    ZOHO_MCP_TOKEN = "zoho_mcp_token"
    MCP_SERVER_TOKEN = "mcp_server_token"
    ZOHO_MCP_URL = "zoho_mcp_url"


@dataclass(frozen=True)
class SecretSpec:
    name: SecretName
    description: str
    env_vars: tuple[str, ...]


SECRET_SPECS: dict[SecretName, SecretSpec] = {
    spec.name: spec
    for spec in (
        SecretSpec(
            SecretName.ZOHO_REFRESH_TOKEN,
            "Zoho OAuth refresh token (from a Self Client grant)",
            ("SERGAS_ZOHO_REFRESH_TOKEN",),
        ),
        SecretSpec(
            SecretName.ZOHO_CLIENT_SECRET,
            "Zoho OAuth client secret",
            ("SERGAS_ZOHO_CLIENT_SECRET",),
        ),
        SecretSpec(
            SecretName.ANTHROPIC_API_KEY,
            "Anthropic API key for the Claude engine",
            ("SERGAS_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        ),
        SecretSpec(
            SecretName.POSTGRES_PASSWORD,
            "Password of the central audit PostgreSQL role",
            ("SERGAS_POSTGRES_PASSWORD", "PGPASSWORD"),
        ),
        SecretSpec(
            SecretName.ZOHO_MCP_TOKEN,
            "Bearer token for the Zoho MCP endpoint (mcp_endpoint, or Zoho's hosted server)",
            ("SERGAS_ZOHO_MCP_TOKEN",),
        ),
        SecretSpec(
            SecretName.MCP_SERVER_TOKEN,
            "Bearer token clients must present to `sergas mcp zoho --http`",
            ("SERGAS_MCP_SERVER_TOKEN",),
        ),
        SecretSpec(
            SecretName.ZOHO_MCP_URL,
            "URL of Zoho's hosted MCP server, with its secret key ([zoho] mcp_flavour = 'zoho')",
            ("SERGAS_ZOHO_MCP_URL",),
        ),
    )
}

Source = Literal["keyring", "env", "missing"]


@dataclass(frozen=True)
class SecretStatus:
    """What `sergas doctor` shows: never the value."""

    name: SecretName
    description: str
    source: Source
    detail: str  # e.g. the env var name, or why the keyring could not be read


def parse_secret_name(text: str) -> SecretName:
    try:
        return SecretName(text.strip().lower().replace("-", "_"))
    except ValueError:
        names = ", ".join(n.value for n in SecretName)
        raise SecretError(
            f"Unknown secret {text!r}. Known secrets: {names}.", title="Unknown secret"
        ) from None


def _no_keyring_message(reason: str) -> str:
    env_lines = "; ".join(
        f"{spec.name.value}: {' or '.join(spec.env_vars)}" for spec in SECRET_SPECS.values()
    )
    return (
        f"No usable OS keyring ({reason}). On a desktop, unlock or install a keyring service "
        "(GNOME Keyring, KWallet, macOS Keychain, Windows Credential Manager). On a server or in "
        f"CI, set the environment variables instead — {env_lines}."
    )


class SecretStore:
    """Reads and writes secrets; ``environ`` is injectable for tests."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, service: str = KEYRING_SERVICE
    ) -> None:
        self._environ = environ
        self._service = service

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def keyring_problem(self) -> str | None:
        """None when a real keyring backend is available, else why not."""
        backend = keyring.get_keyring()
        module = type(backend).__module__
        if module.startswith("keyring.backends.fail") or module.startswith("keyring.backends.null"):
            return "no keyring backend is installed or running"
        if module.startswith("keyring.backends.chainer") and not getattr(backend, "backends", None):
            return "no keyring backend is installed or running"
        return None

    def _from_keyring(self, name: SecretName) -> tuple[str | None, str | None]:
        if (problem := self.keyring_problem()) is not None:
            return None, problem
        try:
            return keyring.get_password(self._service, name.value), None
        except keyring.errors.KeyringError as err:
            return None, f"keyring error: {err}"
        except Exception as err:  # dbus and platform errors surface as anything
            return None, f"keyring error: {type(err).__name__}"

    def get(self, name: SecretName) -> SecretStr | None:
        value, _ = self._from_keyring(name)
        if value:
            return SecretStr(value)
        for var in SECRET_SPECS[name].env_vars:
            if env_value := self.environ.get(var):
                return SecretStr(env_value)
        return None

    def status(self, name: SecretName) -> SecretStatus:
        spec = SECRET_SPECS[name]
        value, problem = self._from_keyring(name)
        if value:
            return SecretStatus(name, spec.description, "keyring", f"service '{self._service}'")
        for var in spec.env_vars:
            if self.environ.get(var):
                return SecretStatus(name, spec.description, "env", var)
        detail = f"set it with `sergas auth set {name.value}` or {' / '.join(spec.env_vars)}"
        if problem:
            detail = f"{detail} (keyring unavailable: {problem})"
        return SecretStatus(name, spec.description, "missing", detail)

    def statuses(self) -> list[SecretStatus]:
        return [self.status(name) for name in SecretName]

    def require(self, name: SecretName, purpose: str) -> SecretStr:
        value = self.get(name)
        if value is None:
            spec = SECRET_SPECS[name]
            raise SecretError(
                f"{purpose} needs the {spec.description.lower()}, and none is stored. Run "
                f"`sergas auth set {name.value}` to put it in the OS keyring, or set "
                f"{' or '.join(spec.env_vars)} for headless use."
            )
        return value

    def set(self, name: SecretName, value: str) -> None:
        if not value.strip():
            raise SecretError(f"Refusing to store an empty {name.value}.")
        if (problem := self.keyring_problem()) is not None:
            raise SecretError(_no_keyring_message(problem), title="No keyring")
        try:
            keyring.set_password(self._service, name.value, value.strip())
        except Exception as err:
            raise SecretError(
                _no_keyring_message(f"writing failed: {type(err).__name__}"), title="No keyring"
            ) from err

    def clear(self, name: SecretName) -> bool:
        """Remove from the keyring; False when it was not there."""
        if (problem := self.keyring_problem()) is not None:
            raise SecretError(_no_keyring_message(problem), title="No keyring")
        try:
            keyring.delete_password(self._service, name.value)
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as err:
            raise SecretError(
                _no_keyring_message(f"deleting failed: {type(err).__name__}"), title="No keyring"
            ) from err
        return True
