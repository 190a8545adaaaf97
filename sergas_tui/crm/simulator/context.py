"""What a request handler gets: the simulator's shared state and the current call.

Handlers are ``async def handler(ctx: Ctx) -> Response``; they raise
:class:`~sergas_tui.crm.simulator.errors.ZohoError` for Zoho's error answers, check scopes with
:meth:`Ctx.require`, pay with :meth:`Ctx.charge` once the request is known to be valid, and run
SQLite work off the event loop with :meth:`Ctx.run`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import anyio.lowlevel
import anyio.to_thread
from starlette.requests import Request

from sergas_tui.crm.simulator.auth import AccessToken, TokenStore, require_module, require_scope
from sergas_tui.crm.simulator.config import SimulatorConfig
from sergas_tui.crm.simulator.counters import Counters
from sergas_tui.crm.simulator.errors import JsonDict, ZohoError, invalid_data, too_many_requests
from sergas_tui.crm.simulator.limits import CREDITS_EXHAUSTED, Allowance, CreditLedger
from sergas_tui.crm.simulator.orgdb import OrgDb
from sergas_tui.crm.simulator.paging import PageTokens
from sergas_tui.crm.simulator.sqlexpr import parse_datetime, utc_text
from sergas_tui.offload import inline

T = TypeVar("T")


@dataclass
class Env:
    """State shared by every request of one simulator."""

    db: OrgDb
    config: SimulatorConfig
    tokens: TokenStore
    page_tokens: PageTokens
    counters: Counters
    ledger: CreditLedger
    active_users: int = field(init=False)
    """Active users of the org: the user licences of the credit formula unless
    ``config.licences`` says otherwise."""

    def __post_init__(self) -> None:
        self.active_users = len(self.db.users("ActiveUsers", 1_000_000, 0))

    def now(self) -> datetime:
        return self.config.clock.now().astimezone(UTC)

    def allowance(self) -> Allowance:
        """The org's API credits per rolling 24 hours (read from the config on every call)."""
        return self.config.allowance(self.active_users)


class Ctx:
    """One API call in progress."""

    def __init__(self, env: Env, request: Request, kind: str) -> None:
        self.env = env
        self.request = request
        self.kind = kind
        self._token: AccessToken | None = None
        self.charged = 0
        self.limit_hit: str | None = None
        """The limit that refused this call with a 429 (see ``Counters.limits_hit``)."""

    @property
    def db(self) -> OrgDb:
        return self.env.db

    @property
    def config(self) -> SimulatorConfig:
        return self.env.config

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.query_params

    @property
    def path(self) -> Mapping[str, str]:
        return self.request.path_params

    @property
    def token(self) -> AccessToken:
        if self._token is None:
            raise RuntimeError("the call was not authenticated")
        return self._token

    @token.setter
    def token(self, token: AccessToken) -> None:
        self._token = token

    def now(self) -> datetime:
        return self.env.now()

    def stamp(self) -> str:
        """Now as Zoho writes a record's times (UTC, to the second)."""
        return self.now().replace(microsecond=0).isoformat()

    def require(self, module: str, op: str = "READ") -> None:
        require_module(self.token, module, op)

    def require_scope(self, *accepted: str) -> None:
        require_scope(self.token, *accepted)

    def charge(self, credits: int) -> None:
        """Spend credits for this call, or answer 429 when the 24-hour allowance is used up.

        Handlers charge once the request is known to be valid; a refused call spends nothing.
        """
        env = self.env
        allowance = env.allowance().total
        if not env.ledger.try_spend(credits, allowance, self.now()):
            self.limit_hit = "credits"
            raise too_many_requests(
                f"{CREDITS_EXHAUSTED}: the org's {allowance:,} API credits for the past 24 "
                "hours are used up."
            )
        self.charged += credits
        env.counters.credits[self.kind] += credits

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run blocking (SQLite) work in a worker thread; on this thread when the caller runs
        in-process inside :func:`sergas_tui.offload.run_inline` (a review)."""
        if inline():
            await anyio.lowlevel.checkpoint()  # what else is ready runs first (a screen draws)
            return work(*args)
        return await anyio.to_thread.run_sync(functools.partial(work, *args))

    def header_time(self, name: str) -> str | None:
        """An ``If-Modified-Since``-style header as a UTC store string (ISO-8601 or HTTP-date)."""
        raw = self.request.headers.get(name)
        if raw is None or not raw.strip():
            return None
        moment = parse_datetime(raw.strip())
        if moment is None:
            try:
                moment = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                raise invalid_data(f"invalid {name} header", header_name=name) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return utc_text(moment)

    async def json_body(self) -> JsonDict:
        try:
            body = await self.request.json()
        except ValueError:
            raise invalid_data("body is not a valid JSON object") from None
        if not isinstance(body, dict):
            raise invalid_data("body is not a valid JSON object")
        return body

    def fields_param(self, *, required: bool = True) -> tuple[str, ...] | None:
        """The ``fields`` parameter: required on lists, at most 50 names."""
        raw = self.params.get("fields")
        if raw is None or not raw.strip():
            if required:
                raise ZohoError(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                )
            return None
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if len(names) > 50:
            raise ZohoError(
                400,
                "LIMIT_EXCEEDED",
                "more than 50 fields requested",
                {"param_name": "fields", "limit": 50},
            )
        return names


__all__ = ["Ctx", "Env"]
