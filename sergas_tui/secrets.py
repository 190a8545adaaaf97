"""Secrets: the OS keyring first, environment variables as the fallback for headless use.

Values are handed around as ``SecretStr`` and never logged, audited or printed; status reports
say only whether a secret is set and where it came from.

The bearer token of our MCP servers (``mcp_server_token``) is the one secret Sergas makes
itself (:func:`new_server_token`, ``sergas auth generate``) and the one it judges: a server
refuses to start with a token that :func:`server_token_problem` finds guessable (shorter than
:data:`MIN_SERVER_TOKEN_CHARS`, outside RFC 6750's token characters, or of low variety).
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

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
    SMTP_PASSWORD = "smtp_password"
    NOTIFY_WEBHOOK_URL = "notify_webhook_url"


@dataclass(frozen=True)
class SecretSpec:
    name: SecretName
    description: str
    env_vars: tuple[str, ...]
    noun: str = ""
    """What an error calls it after "needs the" (default: the description)."""


SECRET_SPECS: dict[SecretName, SecretSpec] = {
    spec.name: spec
    for spec in (
        SecretSpec(
            SecretName.ZOHO_REFRESH_TOKEN,
            "Zoho OAuth refresh token (from a Self Client grant)",
            ("SERGAS_ZOHO_REFRESH_TOKEN",),
            noun="Zoho OAuth refresh token",
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
            noun="Anthropic API key",
        ),
        SecretSpec(
            SecretName.POSTGRES_PASSWORD,
            "Password of the central audit PostgreSQL role",
            ("SERGAS_POSTGRES_PASSWORD", "PGPASSWORD"),
            noun="password of the central audit PostgreSQL role",
        ),
        SecretSpec(
            SecretName.ZOHO_MCP_TOKEN,
            "Bearer token for the Zoho MCP endpoint (mcp_endpoint, or Zoho's hosted server)",
            ("SERGAS_ZOHO_MCP_TOKEN",),
            noun="bearer token for the Zoho MCP endpoint",
        ),
        SecretSpec(
            SecretName.MCP_SERVER_TOKEN,
            "Bearer token clients must present to `sergas mcp zoho --http`",
            ("SERGAS_MCP_SERVER_TOKEN",),
            noun="bearer token clients must present to `sergas mcp zoho --http`",
        ),
        SecretSpec(
            SecretName.ZOHO_MCP_URL,
            "URL of Zoho's hosted MCP server, with its secret key ([zoho] mcp_flavour = 'zoho')",
            ("SERGAS_ZOHO_MCP_URL",),
            noun="URL of Zoho's hosted MCP server, with its secret key",
        ),
        SecretSpec(
            SecretName.SMTP_PASSWORD,
            "Password of the SMTP login that sends digests ([notifications] smtp_username)",
            ("SERGAS_SMTP_PASSWORD",),
            noun="password of the SMTP login that sends digests",
        ),
        SecretSpec(
            SecretName.NOTIFY_WEBHOOK_URL,
            "Slack-compatible incoming webhook URL for digests ([notifications] webhook)",
            ("SERGAS_NOTIFY_WEBHOOK_URL",),
            noun="incoming webhook URL for digests",
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

    def source_text(self) -> str:
        """Where the value came from, in words (empty when it is missing)."""
        if self.source == "keyring":
            return "from the OS keyring"
        return f"from {self.detail}" if self.source == "env" else ""


MIN_SERVER_TOKEN_CHARS = 32
"""The shortest bearer token an MCP server of ours starts with."""

MIN_SERVER_TOKEN_BITS = 80
"""The least variety a server token must show: its length times the Shannon entropy of its
characters (a random 32-character hex token scores about 115, ``"ab" * 20`` scores 40)."""

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's ``b64token``: what an ``Authorization: Bearer`` header carries unchanged."""

_REPEAT = 8
"""A run of this many characters that occurs twice makes a token a pattern, not random."""

GENERATE_COMMAND = "sergas auth generate mcp_server_token"


def _is_plain_text(value: str) -> bool:
    """UTF-8 text without control characters: what a credential pasted into a prompt is."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


def new_server_token() -> str:
    """A fresh random bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def _variety_bits(token: str) -> float:
    counts = Counter(token)
    n = len(token)
    return -sum(c * math.log2(c / n) for c in counts.values())


def _repeats(token: str) -> bool:
    seen: set[str] = set()
    for start in range(len(token) - _REPEAT + 1):
        chunk = token[start : start + _REPEAT]
        if chunk in seen:
            return True
        seen.add(chunk)
    return False


def server_token_problem(token: str) -> str | None:
    """Why ``token`` is not good enough as an MCP server's bearer token (None when it is)."""
    if len(token) < MIN_SERVER_TOKEN_CHARS:
        count = len(token)
        return f"is only {count} character{'' if count == 1 else 's'} long"
    if not _TOKEN_CHARS.fullmatch(token):
        return "contains characters other than letters, digits and - . _ ~ + / ="
    if _variety_bits(token) < MIN_SERVER_TOKEN_BITS or _repeats(token):
        return "is not random enough (too few different characters, or a repeated run)"
    return None


def server_token_message(problem: str, source: str = "") -> str:
    """The one paragraph that refuses a weak server token and says how to make a good one."""
    origin = f" ({source})" if source else ""
    return (
        f"The MCP server bearer token mcp_server_token{origin} {problem}; a server token must be "
        f"at least {MIN_SERVER_TOKEN_CHARS} random characters (letters, digits, - . _ ~ + /). "
        f"Run `{GENERATE_COMMAND}` to store a new random one in the OS keyring (add `--show` "
        "to print it for your clients; on a machine without a keyring, `--no-store` prints "
        "one to put in SERGAS_MCP_SERVER_TOKEN)."
    )


def check_server_token(token: str, source: str = "") -> None:
    """Raise :class:`SecretError` (exit code 2) when ``token`` is too weak to guard a server."""
    problem = server_token_problem(token)
    if problem is not None:
        raise SecretError(server_token_message(problem, source), title="Weak MCP server token")


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
        import keyring  # loaded on first use: ~0.1 s to import, more to find a backend

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
        import keyring
        import keyring.errors

        try:
            return keyring.get_password(self._service, name.value), None
        except keyring.errors.KeyringError as err:
            return None, f"keyring error: {err}"
        except Exception as err:  # dbus and platform errors surface as anything
            return None, f"keyring error: {type(err).__name__}"

    def in_environment(self, name: SecretName) -> bool:
        """Whether an environment variable holds ``name`` (no keyring is asked)."""
        return any(self.environ.get(var) for var in SECRET_SPECS[name].env_vars)

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
        """The secret, or :class:`SecretError` saying how to provide it. The server token is
        also judged (:func:`check_server_token`): a server never starts with a weak one."""
        value = self.get(name)
        if value is None:
            spec = SECRET_SPECS[name]
            how = f"`sergas auth set {name.value}`"
            if name == SecretName.MCP_SERVER_TOKEN:
                how = f"`{GENERATE_COMMAND}`"
            raise SecretError(
                f"{purpose} needs the {spec.noun or spec.description}, and none is stored. Run "
                f"{how} to put it in the OS keyring, or set "
                f"{' or '.join(spec.env_vars)} for headless use."
            )
        if name == SecretName.MCP_SERVER_TOKEN:
            check_server_token(value.get_secret_value(), self.status(name).source_text())
        return value

    def set(self, name: SecretName, value: str) -> None:
        if not value.strip():
            raise SecretError(f"Refusing to store an empty {name.value}.")
        if not _is_plain_text(value.strip()):
            raise SecretError(
                f"Refusing to store {name.value}: the value contains control characters or "
                "bytes that are not UTF-8 text (a paste gone wrong?); nothing was stored."
            )
        if name == SecretName.MCP_SERVER_TOKEN:
            check_server_token(value.strip(), "the value given")
        if (problem := self.keyring_problem()) is not None:
            raise SecretError(_no_keyring_message(problem), title="No keyring")
        import keyring

        try:
            keyring.set_password(self._service, name.value, value.strip())
        except Exception as err:
            raise SecretError(
                _no_keyring_message(f"writing failed: {type(err).__name__}"), title="No keyring"
            ) from err

    def has_in_keyring(self, name: SecretName) -> bool:
        """Whether the keyring (not the environment) holds a value for ``name``."""
        value, _ = self._from_keyring(name)
        return bool(value)

    def clear(self, name: SecretName) -> bool:
        """Remove from the keyring; False when it was not there."""
        if (problem := self.keyring_problem()) is not None:
            raise SecretError(_no_keyring_message(problem), title="No keyring")
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self._service, name.value)
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as err:
            raise SecretError(
                _no_keyring_message(f"deleting failed: {type(err).__name__}"), title="No keyring"
            ) from err
        return True
