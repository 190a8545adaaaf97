"""A scriptable Zoho on ``httpx.MockTransport`` for REST-client tests, and fake time.

``FakeZoho`` answers the token endpoint itself (tokens ``tok-1``, ``tok-2``...), checks the
``Zoho-oauthtoken`` header (401 INVALID_TOKEN when it is not a live token), and hands every
other request to the first route whose method and path regex match. Routes are functions of
the request returning a ``Response`` (sync or async). ``FakeTime`` is a fixed clock whose
``sleep`` records the delay and moves the clock, so retries and rate limits run instantly.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

ACCOUNTS_SERVER = "https://accounts.zoho.com"
API_DOMAIN = "https://www.zohoapis.com"
CREDENTIALS = ZohoCredentials(
    client_id="1000.CLIENT",
    client_secret=SecretStr("client-secret-value"),
    refresh_token=SecretStr("refresh-token-value"),
)


@dataclass
class FakeTime:
    clock: FixedClock
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        """Seconds for the rate limiter: moves with the fake clock."""
        return self.clock.now().timestamp()

    def backoffs(self, minimum: float = 0.1) -> list[float]:
        """Sleeps long enough to be retry backoff rather than rate-limiter waits."""
        return [s for s in self.sleeps if s >= minimum]


def zoho_error(status: int, code: str, message: str, details: Any = None) -> httpx.Response:
    return httpx.Response(
        status,
        json={"code": code, "details": details or {}, "message": message, "status": "error"},
    )


def page(
    rows: list[dict[str, Any]],
    *,
    more: bool = False,
    next_token: str | None = None,
    key: str = "data",
) -> httpx.Response:
    info: dict[str, Any] = {"more_records": more, "count": len(rows), "per_page": 200}
    if next_token:
        info["next_page_token"] = next_token
    return httpx.Response(200, json={key: rows, "info": info})


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


class FakeZoho:
    def __init__(self, *, expires_in: int = 3600, api_domain: str = API_DOMAIN) -> None:
        self.expires_in = expires_in
        self.api_domain = api_domain
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []
        self.live_tokens: set[str] = set()
        self.issued = 0
        self.token_handler: Handler | None = None

    # --- set-up ----------------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Handler | httpx.Response) -> None:
        """``path`` is a regex over the path after ``/crm/v8`` (anchored both ends)."""
        if isinstance(handler, httpx.Response):
            fixed = handler

            def handler(_: httpx.Request) -> httpx.Response:
                return httpx.Response(
                    fixed.status_code, headers=fixed.headers, content=fixed.content
                )

        self.routes.append((method, re.compile(f"^{path}$"), handler))

    def sequence(self, method: str, path: str, responses: Iterable[httpx.Response]) -> None:
        """Answer with each response in turn (the last one repeats)."""
        queue = list(responses)

        def handler(_: httpx.Request) -> httpx.Response:
            response = queue.pop(0) if len(queue) > 1 else queue[0]
            return httpx.Response(
                response.status_code, headers=response.headers, content=response.content
            )

        self.route(method, path, handler)

    def revoke_tokens(self) -> None:
        self.live_tokens.clear()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- what happened -----------------------------------------------------------------------
    def api_requests(
        self, method: str | None = None, path: str | None = None
    ) -> list[httpx.Request]:
        found = []
        for request in self.requests:
            sub = request.url.path.removeprefix("/crm/v8")
            if method and request.method != method:
                continue
            if path and not re.fullmatch(path, sub):
                continue
            found.append(request)
        return found

    def coql_queries(self) -> list[str]:
        return [body_of(r)["select_query"] for r in self.api_requests("POST", "/coql")]

    # --- serving ---------------------------------------------------------------------------
    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/v2/token":
            self.token_requests.append(request)
            if self.token_handler is not None:
                result = self.token_handler(request)
                return result if isinstance(result, httpx.Response) else await result
            return self.issue_token()
        self.requests.append(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Zoho-oauthtoken "):
            return zoho_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        if auth.removeprefix("Zoho-oauthtoken ") not in self.live_tokens:
            return zoho_error(401, "INVALID_TOKEN", "invalid oauth token")
        sub = request.url.path.removeprefix("/crm/v8")
        for method, pattern, handler in self.routes:
            if method == request.method and pattern.match(sub):
                result = handler(request)
                return result if isinstance(result, httpx.Response) else await result
        return zoho_error(
            404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        )

    def issue_token(self) -> httpx.Response:
        self.issued += 1
        token = f"tok-{self.issued}"
        self.live_tokens.add(token)
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "api_domain": self.api_domain,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
            },
        )


def make_gateway(
    zoho: FakeZoho,
    time: FakeTime,
    *,
    seed: int = 7,
    **settings: Any,
) -> ZohoRestGateway:
    values: dict[str, Any] = {"client_id": CREDENTIALS.client_id, "requests_per_minute": 10_000}
    values.update(settings)
    return ZohoRestGateway(
        ZohoSettings(**values),
        CREDENTIALS,
        transport=zoho.transport(),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(seed),
        monotonic=time.monotonic,
    )


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
