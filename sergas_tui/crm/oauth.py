"""Zoho OAuth for the REST client: credentials, and an in-memory access token (reference §1).

The refresh token and client secret come from the keyring (``SecretStore``) as ``SecretStr``;
the access token lives only in this process's memory and is never logged or shown (its
``repr`` hides it). A token is refreshed 5 minutes before it expires, and once more when Zoho
says INVALID_TOKEN; concurrent callers share one refresh through a lock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from sergas_tui.clock import Clock
from sergas_tui.config import ZOHO_API_DOMAINS, ZohoSettings
from sergas_tui.crm.errors_map import decode_json, error_from_token_response
from sergas_tui.crm.http import Sender
from sergas_tui.errors import ConfigError
from sergas_tui.secrets import SecretName, SecretStore

TOKEN_PATH = "/oauth/v2/token"
REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_EXPIRES_IN_SECONDS = 3600
TOKEN_ENDPOINT = "POST /oauth/v2/token"


@dataclass(frozen=True)
class ZohoCredentials:
    """What the refresh grant needs; the two secrets stay ``SecretStr`` until sent."""

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr

    @classmethod
    def from_settings(cls, settings: ZohoSettings, secrets: SecretStore) -> ZohoCredentials:
        """Client id from the config, secrets from the keyring (SecretError when missing)."""
        if not settings.client_id:
            raise ConfigError(
                "Zoho REST access needs zoho.client_id: the client id of your Zoho Self Client "
                "(Zoho API console). Set it in the config file or SERGAS_ZOHO__CLIENT_ID."
            )
        purpose = f"Zoho REST access (client_id {settings.client_id!r})"
        return cls(
            client_id=settings.client_id,
            client_secret=secrets.require(SecretName.ZOHO_CLIENT_SECRET, purpose),
            refresh_token=secrets.require(SecretName.ZOHO_REFRESH_TOKEN, purpose),
        )


@dataclass(frozen=True)
class AccessToken:
    """A live access token and the API domain it is valid for."""

    value: str = field(repr=False)
    api_domain: str
    expires_at: datetime
    refresh_at: datetime
    scope: str | None = None

    def usable_at(self, now: datetime) -> bool:
        """True until ``refresh_at``: 5 minutes before expiry (half-way for short tokens)."""
        return now < self.refresh_at

    @property
    def header(self) -> str:
        return f"Zoho-oauthtoken {self.value}"


class TokenManager:
    """Hands out a usable access token, refreshing it when needed (one refresh at a time)."""

    def __init__(
        self,
        credentials: ZohoCredentials,
        settings: ZohoSettings,
        *,
        sender: Sender,
        clock: Clock,
    ) -> None:
        self._credentials = credentials
        self._accounts_server = settings.accounts_server().rstrip("/")
        self._api_domain_override = settings.api_domain.rstrip("/") if settings.api_domain else None
        self._default_api_domain = ZOHO_API_DOMAINS[settings.data_centre]
        self._sender = sender
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    @property
    def accounts_server(self) -> str:
        return self._accounts_server

    async def current(self) -> AccessToken:
        """A token usable for at least 5 more minutes."""
        token = self._token
        if token is not None and token.usable_at(self._clock.now()):
            return token
        async with self._lock:
            token = self._token
            if token is not None and token.usable_at(self._clock.now()):
                return token
            return await self._refresh()

    async def replace(self, rejected_header: str) -> AccessToken:
        """A new token after Zoho rejected ``rejected_header``; shared by concurrent callers."""
        async with self._lock:
            token = self._token
            if token is not None and token.header != rejected_header:
                return token  # another caller already refreshed
            return await self._refresh()

    def forget(self) -> None:
        """Drop the access token (it is never written anywhere)."""
        self._token = None

    async def _refresh(self) -> AccessToken:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret.get_secret_value(),
            "refresh_token": self._credentials.refresh_token.get_secret_value(),
        }
        url = f"{self._accounts_server}{TOKEN_PATH}"

        async def build() -> httpx.Request:
            return self._sender.client.build_request("POST", url, data=form)

        response = await self._sender.send(build, endpoint=TOKEN_ENDPOINT, kind="token")
        self._sender.stats.refreshes += 1
        body = decode_json(response)
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or "error" in body
            or not isinstance(body.get("access_token"), str)
        ):
            raise error_from_token_response(
                response,
                accounts_server=self._accounts_server,
                client_id=self._credentials.client_id,
            )
        self._token = self._parse(body)
        return self._token

    def _parse(self, body: dict[str, Any]) -> AccessToken:
        try:
            expires_in = int(body.get("expires_in") or DEFAULT_EXPIRES_IN_SECONDS)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN_SECONDS
        api_domain = body.get("api_domain")
        domain = self._api_domain_override or (
            api_domain.rstrip("/") if isinstance(api_domain, str) and api_domain else None
        )
        scope = body.get("scope")
        now = self._clock.now()
        lifetime = timedelta(seconds=max(expires_in, 1))
        return AccessToken(
            value=body["access_token"],
            api_domain=domain or self._default_api_domain,
            expires_at=now + lifetime,
            refresh_at=now + max(lifetime - REFRESH_MARGIN, lifetime / 2),
            scope=scope if isinstance(scope, str) else None,
        )
