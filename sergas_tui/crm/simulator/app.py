"""The simulator's ASGI app and the pipeline every API call goes through.

Order per API call: count the arrival -> the edition's concurrency gate (429 when full) -> the
sub-concurrency gate of heavy calls (429) -> the opt-in per-minute test knob (off by default;
Zoho has no per-minute limit) -> injected faults (expire tokens, delay, 429, 500) ->
authentication (401) -> the handler (scopes 401, validation 4xx, credits 429, then the work).
Every answer is counted and carries ``X-API-CREDITS-REMAINING`` once half the day's credits
(add-ons left out) are used; no ``Retry-After`` or ``X-RateLimit-*`` (Zoho documents none).
The OAuth endpoint (``/oauth/v2/token``) sits outside that pipeline: it is counted as ``token``
and faulted only when the fault plan asks.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import anyio
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sergas_tui.crm.errors_map import LOCAL_FILE_ERROR
from sergas_tui.crm.simulator import metadata, records, related, writes
from sergas_tui.crm.simulator.auth import TokenStore, authenticate, grant, oauth_params, revoke
from sergas_tui.crm.simulator.config import SimulatorConfig
from sergas_tui.crm.simulator.context import Ctx, Env
from sergas_tui.crm.simulator.counters import Counters
from sergas_tui.crm.simulator.errors import (
    ZohoError,
    invalid_method,
    invalid_url,
    too_many_requests,
)
from sergas_tui.crm.simulator.faults import FaultInjector, FaultKind, FaultPlan
from sergas_tui.crm.simulator.limits import (
    BULK_WRITE_TEMPLATES,
    CONCURRENCY_EXCEEDED,
    CREDITS_HEADER,
    EITHER_LIMIT,
    SUB_CONCURRENCY_EXCEEDED,
    ConcurrencyGate,
    CreditLedger,
    RateWindow,
    is_heavy_call,
)
from sergas_tui.crm.simulator.orgdb import OrgDb
from sergas_tui.crm.simulator.paging import PageTokens
from sergas_tui.crm.simulator.schema import COQL_MODULES, canonical_module

log = structlog.get_logger("sergas.simulator")

Handler = Callable[[Ctx], Awaitable[Response]]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
HEALTH_PATH = "/__simulator/health"


async def _not_found(ctx: Ctx) -> Response:
    raise invalid_url()


class Simulator:
    """One simulated Zoho org served from a demo org file; use :func:`create_simulator`."""

    def __init__(self, path: Path, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.db = OrgDb(Path(path))
        self.counters = Counters()
        self.tokens = TokenStore()
        self._ledger = CreditLedger()
        self._gate = ConcurrencyGate()
        self._heavy_gate = ConcurrencyGate()
        self._rate = RateWindow()
        self._injector = FaultInjector(self.config.faults)
        secret = self.config.secret or secrets.token_bytes(32)
        self.env = Env(
            self.db, self.config, self.tokens, PageTokens(secret), self.counters, self._ledger
        )
        self.app = Starlette(routes=self._routes())

    # -- state tests and benchmarks touch -------------------------------------------------------

    @property
    def faults(self) -> FaultPlan:
        """The fault plan in force; assigning a new plan restarts its call count and RNG."""
        return self._injector.plan

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self._injector = FaultInjector(plan)

    @property
    def fault_log(self) -> list[tuple[int, FaultKind]]:
        """(call number, kind) of every fault the current plan injected."""
        return list(self._injector.log)

    @property
    def credits_used(self) -> int:
        """Credits spent in the rolling 24 hours."""
        return self._ledger.used(self.env.now())

    def reset_counters(self) -> None:
        """Zero every counter (the same :class:`Counters` object keeps being updated)."""
        self.counters.__dict__.update(Counters().__dict__)

    def reset_credits(self) -> None:
        self._ledger.reset()

    def expire_tokens(self) -> None:
        """Expire every access token issued so far."""
        self.tokens.expire_all(self.env.now())

    def close(self) -> None:
        self.db.close()

    # -- routing -----------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        def api(
            handlers: Mapping[str, tuple[Handler, str]],
        ) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                handler, kind = handlers.get(request.method, (None, "{method} {path}"))
                return await self._call(request, handler, kind)

            return endpoint

        module_routes = {
            "GET": (records.list_records, "GET {module}"),
            "POST": (writes.insert_records, "POST {module}"),
            "PUT": (writes.update_records, "PUT {module}"),
            "DELETE": (writes.delete_records, "DELETE {module}"),
        }
        record_routes = {
            "GET": (records.get_record, "GET {module}/{id}"),
            "PUT": (writes.update_records, "PUT {module}/{id}"),
            "DELETE": (writes.delete_records, "DELETE {module}/{id}"),
        }
        related_routes = {
            "GET": (related.related_records, "GET {module}/{id}/{related}"),
            "POST": (writes.insert_nested_note, "POST {module}/{id}/{related}"),
        }
        table: list[tuple[str, Mapping[str, tuple[Handler, str]]]] = [
            ("/crm/v8/coql", {"POST": (records.coql_query, "COQL")}),
            ("/crm/v8/org", {"GET": (metadata.get_org, "GET org")}),
            *metadata.ROUTES,
            ("/crm/v8/users", {"GET": (related.list_users, "GET users")}),
            ("/crm/v8/users/{user_id}", {"GET": (related.get_user, "GET users/{id}")}),
            ("/crm/v8/{module}", module_routes),
            ("/crm/v8/{module}/search", {"GET": (records.search_records, "SEARCH {module}")}),
            ("/crm/v8/{module}/upsert", {"POST": (writes.upsert_records, "UPSERT {module}")}),
            ("/crm/v8/{module}/{record_id}", record_routes),
            (
                "/crm/v8/{module}/{record_id}/__timeline",
                {"GET": (related.timeline, "GET {module}/{id}/__timeline")},
            ),
            ("/crm/v8/{module}/{record_id}/{related}", related_routes),
        ]
        routes = [
            Route("/oauth/v2/token", self._token, methods=["POST"]),
            Route("/oauth/v2/token/revoke", self._token, methods=["POST"]),
            Route(HEALTH_PATH, self._health, methods=["GET"]),
        ]
        routes += [Route(path, api(handlers), methods=METHODS) for path, handlers in table]
        not_found = dict.fromkeys(METHODS, (_not_found, "UNKNOWN"))
        routes.append(Route("/{path:path}", api(not_found), methods=METHODS))
        return routes

    async def _health(self, request: Request) -> Response:
        """Alive, with what the simulator saw so far (for tests and benchmarks in another
        process; no record data)."""
        return JSONResponse({"status": "ok", "counters": self.counters.snapshot()})

    # -- the pipeline ------------------------------------------------------------------------

    @staticmethod
    def _kind(request: Request, template: str) -> str:
        params = request.path_params
        raw = str(params.get("module", ""))
        module = canonical_module(raw, COQL_MODULES) or raw
        return template.format(
            module=module,
            id="{id}",
            related=params.get("related", ""),
            method=request.method,
            path=request.url.path,
        )

    async def _call(self, request: Request, handler: Handler | None, template: str) -> Response:
        ctx = Ctx(self.env, request, self._kind(request, template))
        self.counters.arrived(self.config.monotonic())
        response = await self._gated(ctx, handler, template)
        counters = self.counters
        counters.calls[ctx.kind] += 1
        counters.status[response.status_code] += 1
        if response.status_code == 429:
            counters.too_many_requests += 1
            counters.limits_hit[ctx.limit_hit or "other"] += 1
        remaining = self._ledger.header(self.env.allowance(), self.env.now())
        if remaining is not None:
            response.headers[CREDITS_HEADER] = remaining
        return response

    async def _gated(self, ctx: Ctx, handler: Handler | None, template: str = "") -> Response:
        limit = self.config.concurrency()
        if not self._gate.enter(limit):
            ctx.limit_hit = "concurrency"
            return too_many_requests(
                f"{CONCURRENCY_EXCEEDED} ({limit} API calls at once)"
            ).response()
        try:
            self.counters.peak_concurrency = max(
                self.counters.peak_concurrency, self._gate.in_flight
            )
            heavy = await self._heavy(ctx.request, template)
            if heavy:
                sub_limit = self.config.sub_concurrency
                if not self._heavy_gate.enter(sub_limit):
                    ctx.limit_hit = "sub_concurrency"
                    return too_many_requests(
                        f"{SUB_CONCURRENCY_EXCEEDED} ({sub_limit} heavy API calls at once: "
                        "COQL, search, lists with sort_by or cvid, writes of more than 10 "
                        "records)"
                    ).response()
            try:
                return await self._limited(ctx, handler)
            finally:
                if heavy:
                    self._heavy_gate.leave()
        finally:
            self._gate.leave()

    @staticmethod
    async def _heavy(request: Request, template: str) -> bool:
        """Whether the call counts against the sub-concurrency limit (reads a write's body,
        which Starlette keeps for the handler)."""
        records = 0
        if template in BULK_WRITE_TEMPLATES:
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                body = None
            data = body.get("data") if isinstance(body, dict) else None
            records = len(data) if isinstance(data, list) else 0
        return is_heavy_call(template, request.query_params, records)

    async def _limited(self, ctx: Ctx, handler: Handler | None) -> Response:
        if not self._rate.try_acquire(self.config.per_minute, self.config.monotonic()):
            # The opt-in test knob, not a Zoho limit.
            ctx.limit_hit = "per_minute"
            return too_many_requests(
                f"API calls per minute limit exceeded ({self.config.per_minute} a minute)"
            ).response()
        fault = await self._inject()
        if fault is not None:
            ctx.limit_hit = "injected"
            return fault
        try:
            if handler is not _not_found:
                ctx.token = authenticate(ctx.request, self.tokens, self.env.now())
            if handler is None:
                raise invalid_method()
            return await handler(ctx)
        except ZohoError as err:
            return err.response()
        except sqlite3.Error as err:
            # The org file on this machine failed, not "Zoho": say so (the client maps this
            # code to a local-problem message).
            log.exception("simulator_storage_failed", kind=ctx.kind)
            what = f"the demo CRM file {self.db.path} failed: {err}"
            return ZohoError(500, LOCAL_FILE_ERROR, what).response()
        except Exception:
            log.exception("simulator_handler_failed", kind=ctx.kind)
            return ZohoError(500, "INTERNAL_ERROR", "Internal Server Error").response()

    async def _inject(self) -> Response | None:
        kinds = self._injector.draw()
        for kind in kinds:
            self.counters.faults[kind] += 1
        if "expire_tokens" in kinds:
            self.tokens.expire_all(self.env.now())
        if "slow" in kinds:
            await anyio.sleep(self._injector.plan.delay)
        if "rate_limit" in kinds:
            # Zoho's status-codes sentence, which names both causes: a client cannot tell
            # which limit it hit from this body alone.
            return too_many_requests(EITHER_LIMIT).response()
        if "server_error" in kinds:
            return ZohoError(500, "INTERNAL_ERROR", "Internal Server Error").response()
        return None

    async def _token(self, request: Request) -> Response:
        self.counters.token_calls += 1
        self.counters.calls["token"] += 1
        params = await oauth_params(request)
        if self._injector.plan.include_token_endpoint:
            fault = await self._inject()
            if fault is not None:
                return fault
        if request.url.path.endswith("/revoke"):
            return revoke(params, self.tokens)
        return grant(params, request, self.config, self.tokens, self.db.info.current_user_id)


def create_simulator(path: Path, config: SimulatorConfig | None = None) -> Simulator:
    """A simulator serving the demo org file at ``path`` (see :class:`SimulatorConfig`)."""
    return Simulator(path, config)


__all__ = ["HEALTH_PATH", "Simulator", "create_simulator"]
