"""OAuth: the accounts server's token endpoint, access tokens, and API authentication.

- ``POST /oauth/v2/token`` (query string or form body) grants access tokens for
  ``grant_type=refresh_token``; errors come back as HTTP 200 ``{"error": "..."}`` as Zoho's do.
- A token belongs to the data centre of the accounts host it was minted on
  (``accounts.zoho.eu`` -> EU; any other host -> ``SimulatorConfig.default_dc``) and is refused
  on another DC's Zoho API host; loopback and other hosts accept every DC.
- API calls carry ``Authorization: Zoho-oauthtoken <token>``: none (or another scheme) ->
  401 AUTHENTICATION_FAILURE, unknown or expired -> 401 INVALID_TOKEN, missing scope ->
  401 OAUTH_SCOPE_MISMATCH.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from sergas_tui.crm.simulator.config import (
    ACCOUNTS_HOSTS,
    API_DOMAINS,
    API_HOSTS,
    OAuthClient,
    SimulatorConfig,
)
from sergas_tui.crm.simulator.errors import ZohoError

REFRESH_WINDOW = timedelta(minutes=10)
SCHEME = "zoho-oauthtoken"


@dataclass
class AccessToken:
    value: str
    client_id: str
    refresh_token: str
    scopes: frozenset[str]
    dc: str
    user_id: str
    expires_at: datetime


class TokenStore:
    """Access tokens issued by this simulator, and revoked refresh tokens."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._revoked: set[str] = set()
        self._minted: dict[str, deque[datetime]] = {}

    def mint(
        self, client: OAuthClient, refresh: str, dc: str, user_id: str, expires_at: datetime
    ) -> AccessToken:
        value = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        scopes = frozenset(s.lower() for s in client.refresh_tokens[refresh])
        token = AccessToken(value, client.client_id, refresh, scopes, dc, user_id, expires_at)
        self._tokens[value] = token
        return token

    def throttled(self, refresh: str, limit: int | None, now: datetime) -> bool:
        """Record a mint for ``refresh``; True when it is over ``limit`` per 10 minutes."""
        minted = self._minted.setdefault(refresh, deque())
        while minted and minted[0] <= now - REFRESH_WINDOW:
            minted.popleft()
        if limit is not None and len(minted) >= limit:
            return True
        minted.append(now)
        return False

    def get(self, value: str) -> AccessToken | None:
        return self._tokens.get(value)

    def expire_all(self, now: datetime) -> None:
        """Every access token issued so far expires now."""
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)

    def revoke(self, refresh: str) -> None:
        self._revoked.add(refresh)
        self._tokens = {k: t for k, t in self._tokens.items() if t.refresh_token != refresh}

    def is_revoked(self, refresh: str) -> bool:
        return refresh in self._revoked


def request_host(request: Request) -> str:
    return request.headers.get("host", "").rsplit(":", 1)[0].strip("[]").lower()


async def oauth_params(request: Request) -> dict[str, str]:
    """Parameters from the query string and a form body (the body wins)."""
    params = dict(request.query_params)
    body = await request.body()
    if body and "json" not in request.headers.get("content-type", ""):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _oauth_error(error: str, status: int = 200, **extra: str) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status)


def grant(
    params: Mapping[str, str],
    request: Request,
    config: SimulatorConfig,
    store: TokenStore,
    default_user: str,
) -> JSONResponse:
    """Answer one token request."""
    host = request_host(request)
    dc = ACCOUNTS_HOSTS.get(host, config.default_dc)
    grant_type = params.get("grant_type", "")
    if grant_type == "authorization_code":
        return _oauth_error("invalid_code")
    if grant_type != "refresh_token":
        return _oauth_error("unsupported_grant_type")
    client = next((c for c in config.clients if c.client_id == params.get("client_id")), None)
    if (
        client is None
        or not secrets.compare_digest(client.client_secret, params.get("client_secret", ""))
        or (client.data_centres is not None and dc not in client.data_centres)
    ):
        return _oauth_error("invalid_client")
    refresh = params.get("refresh_token", "")
    if refresh not in client.refresh_tokens or store.is_revoked(refresh):
        return _oauth_error("invalid_code")
    now = config.clock.now()
    if store.throttled(refresh, config.tokens_per_refresh_window, now):
        return _oauth_error(
            "Access Denied",
            400,
            error_description="You have made too many requests continuously. "
            "Please try again after some time.",
        )
    token = store.mint(
        client, refresh, dc, client.user_id or default_user, now + config.token_lifetime
    )
    if config.api_domain:
        api_domain = config.api_domain
    elif host in ACCOUNTS_HOSTS:
        api_domain = API_DOMAINS[dc]
    else:
        api_domain = f"{request.url.scheme}://{request.url.netloc}"
    return JSONResponse(
        {
            "access_token": token.value,
            "scope": " ".join(client.refresh_tokens[refresh]),
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": int(config.token_lifetime.total_seconds()),
        }
    )


def revoke(params: Mapping[str, str], store: TokenStore) -> JSONResponse:
    store.revoke(params.get("token", ""))
    return JSONResponse({"status": "success"})


def authenticate(request: Request, store: TokenStore, now: datetime) -> AccessToken:
    """The token of an API call, or the 401 Zoho would answer."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != SCHEME or not value.strip():
        raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
    token = store.get(value.strip())
    invalid = ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
    if token is None or token.expires_at <= now:
        raise invalid
    api_dc = API_HOSTS.get(request_host(request))
    if api_dc is not None and api_dc != token.dc:
        raise invalid
    return token


_OP_SCOPES: Mapping[str, tuple[str, ...]] = {
    "READ": ("read", "all"),
    "CREATE": ("create", "write", "all"),
    "UPDATE": ("update", "write", "all"),
    "DELETE": ("delete", "write", "all"),
}


def module_scope_ok(token: AccessToken, module: str, op: str) -> bool:
    if "zohocrm.modules.all" in token.scopes:
        return True
    name = module.lower()
    return any(f"zohocrm.modules.{name}.{o}" in token.scopes for o in _OP_SCOPES[op])


def require_module(token: AccessToken, module: str, op: str) -> None:
    if not module_scope_ok(token, module, op):
        raise scope_mismatch(f"ZohoCRM.modules.{module.lower()}.{op}")


def require_scope(token: AccessToken, *accepted: str) -> None:
    """Require one of ``accepted`` scopes (e.g. ``ZohoCRM.coql.READ``)."""
    if not any(scope.lower() in token.scopes for scope in accepted):
        raise scope_mismatch(accepted[0])


def scope_mismatch(scope: str) -> ZohoError:
    return ZohoError(
        401,
        "OAUTH_SCOPE_MISMATCH",
        "invalid oauth scope to access this URL",
        {"required_scope": scope},
    )


__all__ = [
    "AccessToken",
    "TokenStore",
    "authenticate",
    "grant",
    "oauth_params",
    "request_host",
    "require_module",
    "require_scope",
    "revoke",
]
