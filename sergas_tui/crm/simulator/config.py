"""Settings of one simulator: registered OAuth clients, data centres, limits, clock.

Everything a test or benchmark may want to vary lives in :class:`SimulatorConfig`. The config
is read on every request, so changing a field of ``simulator.config`` takes effect at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.crm.simulator.faults import FaultPlan
from sergas_tui.crm.simulator.limits import (
    SUB_CONCURRENCY,
    Allowance,
    Edition,
    credit_allowance,
    edition_limits,
)

# -- the demo OAuth client (a Self Client with every scope the app needs) ----------------------
DEMO_CLIENT_ID = "1000.SERGASDEMO"
DEMO_CLIENT_SECRET = "5e2ga5d3m0c1ie27s3cre7000000000000000000ab"
DEMO_REFRESH_TOKEN = "1000.5e2ga5d3m0aa0000000000000000refresh.000000000000000000000000demo"

FULL_SCOPES: tuple[str, ...] = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.coql.READ",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoCRM.settings.ALL",
    "ZohoSearch.securesearch.READ",
)

# -- data centres (zoho-crm.md section 1.2) ---------------------------------------------------
ACCOUNTS_HOSTS: Mapping[str, str] = {
    "accounts.zoho.com": "US",
    "accounts.zoho.eu": "EU",
    "accounts.zoho.in": "IN",
    "accounts.zoho.com.au": "AU",
    "accounts.zoho.jp": "JP",
    "accounts.zoho.com.cn": "CN",
    "accounts.zohocloud.ca": "CA",
    "accounts.zoho.sa": "SA",
}
API_DOMAINS: Mapping[str, str] = {
    "US": "https://www.zohoapis.com",
    "EU": "https://www.zohoapis.eu",
    "IN": "https://www.zohoapis.in",
    "AU": "https://www.zohoapis.com.au",
    "JP": "https://www.zohoapis.jp",
    "CN": "https://www.zohoapis.com.cn",
    "CA": "https://www.zohoapis.ca",
    "SA": "https://www.zohoapis.sa",
}
API_HOSTS: Mapping[str, str] = {
    url.removeprefix("https://"): dc for dc, url in API_DOMAINS.items()
} | {url.removeprefix("https://www."): dc for dc, url in API_DOMAINS.items()}


@dataclass(frozen=True)
class OAuthClient:
    """A client registered in the API console, with the refresh tokens issued to it."""

    client_id: str
    client_secret: str
    refresh_tokens: Mapping[str, tuple[str, ...]]
    """Refresh token -> the scopes it was granted."""
    user_id: str | None = None
    """The CRM user the tokens act as; None means the demo org's current user."""
    data_centres: frozenset[str] | None = None
    """DCs the client is enabled on (multi-DC); None means every DC."""


DEMO_CLIENT = OAuthClient(
    client_id=DEMO_CLIENT_ID,
    client_secret=DEMO_CLIENT_SECRET,
    refresh_tokens={DEMO_REFRESH_TOKEN: FULL_SCOPES},
)


@dataclass
class SimulatorConfig:
    """Knobs of one simulator; defaults mimic a small Enterprise org."""

    clients: tuple[OAuthClient, ...] = (DEMO_CLIENT,)
    """Registered OAuth clients."""
    api_domain: str | None = None
    """``api_domain`` returned by the token endpoint; None picks it from the accounts host
    (``accounts.zoho.eu`` -> ``https://www.zohoapis.eu``) or, on any other host, the base URL
    the token request was sent to (so a loopback simulator points clients at itself)."""
    default_dc: str = "US"
    """DC of tokens minted on a host that is not a Zoho accounts host."""
    clock: Clock = field(default_factory=SystemClock)
    """Wall clock: token expiry, credits window, write stamps (the project's ``Clock``)."""
    monotonic: Callable[[], float] = time.monotonic
    """Seconds clock for the opt-in per-minute test knob (``per_minute``)."""
    token_lifetime: timedelta = timedelta(hours=1)
    """Access-token lifetime (``expires_in``)."""
    tokens_per_refresh_window: int | None = None
    """Zoho blocks a refresh token after 10 access tokens in 10 minutes; None disables it."""
    edition: Edition = "enterprise"
    """Zoho CRM edition whose API limits apply: ``free``, ``standard``, ``professional``,
    ``enterprise`` (Zoho One) or ``ultimate`` (CRM Plus). It sets the credits per rolling
    24 hours (50,000 + per-licence credits x ``licences`` + ``add_on_credits``, capped at the
    edition's maximum, none for Ultimate; Free 5,000 flat) and the calls allowed in flight
    (5/10/15/20/25)."""
    licences: int | None = None
    """User licences the credit formula counts; None counts the org's active users."""
    add_on_credits: int = 0
    """Credits bought on top of the edition's allowance (raise the total, not the header
    threshold)."""
    daily_credits: int | None = None
    """Explicit credits per rolling 24 hours, overriding the edition formula."""
    max_concurrency: int | None = None
    """Explicit API calls allowed in flight at once, overriding the edition's limit; more get
    429 at once."""
    sub_concurrency: int | None = SUB_CONCURRENCY
    """Heavy calls (COQL, search, lists with ``sort_by``/``cvid``, writes of more than 10
    records) allowed in flight at once; Zoho's is 10 in every edition. None disables it."""
    per_minute: int | None = None
    """Not a Zoho limit (Zoho documents none): an opt-in test knob that answers 429 beyond this
    many API calls per rolling 60 seconds. None, the default, disables it."""
    page_cap: int = 2_000
    """Records reachable with ``page`` (and through search) before page tokens are needed."""
    page_token_cap: int = 100_000
    """Records reachable through page tokens (``PAGINATION_LIMIT_EXCEEDED`` beyond)."""
    page_token_ttl: timedelta = timedelta(hours=24)
    """How long a ``next_page_token`` stays valid."""
    faults: FaultPlan = field(default_factory=FaultPlan)
    """The fault plan the simulator starts with (replace it at runtime with
    ``simulator.faults = FaultPlan(...)``)."""
    secret: bytes | None = None
    """Key that signs page tokens; None draws a random one per simulator."""

    def __post_init__(self) -> None:
        edition_limits(self.edition)  # a ValueError naming the editions, now not per request

    def allowance(self, users: int) -> Allowance:
        """Credits per rolling 24 hours; ``users`` stands in for ``licences`` when unset."""
        if self.daily_credits is not None:
            return Allowance(self.daily_credits, self.daily_credits)
        licences = users if self.licences is None else self.licences
        return Allowance(
            credit_allowance(self.edition, licences, self.add_on_credits),
            credit_allowance(self.edition, licences),
        )

    def concurrency(self) -> int:
        """API calls allowed in flight at once (the override, else the edition's limit)."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return edition_limits(self.edition).concurrency


__all__ = [
    "ACCOUNTS_HOSTS",
    "API_DOMAINS",
    "API_HOSTS",
    "DEMO_CLIENT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REFRESH_TOKEN",
    "FULL_SCOPES",
    "OAuthClient",
    "SimulatorConfig",
]
