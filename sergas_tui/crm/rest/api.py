"""The authenticated Zoho REST v8 transport under ``ZohoRestGateway``.

One ``httpx.AsyncClient`` per gateway. :meth:`ZohoApi.request` adds the current access token
(``Authorization: Zoho-oauthtoken …``), sends through the retrying, rate-limited
:class:`~sergas_tui.crm.http.Sender`, and on a 401 INVALID_TOKEN refreshes the token exactly
once and sends again. On top: JSON decoding with typed errors, paging (``page`` up to 2,000
records, then ``page_token``), COQL with an id cursor, and single-record writes.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import JsonValue

from sergas_tui.clock import Clock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.budget import open_budget
from sergas_tui.crm.errors_map import (
    decode_json,
    error_code,
    error_from_item,
    error_from_response,
    request_label,
)
from sergas_tui.crm.http import (
    API_VERSION,
    USER_AGENT,
    CallBudget,
    CrmStats,
    Limiter,
    RetryPolicy,
    Seconds,
    Sender,
    Sleep,
    timeout_for,
)
from sergas_tui.crm.oauth import TokenManager, ZohoCredentials
from sergas_tui.crm.queries import CoqlQuery
from sergas_tui.errors import CrmServerError

API_PREFIX = f"/crm/{API_VERSION}"
PAGE_SIZE = 200
"""Most records one list call returns (``per_page`` maximum)."""
PAGE_NUMBER_REACH = 2_000
"""Records reachable with ``page``; beyond them only ``page_token`` works."""

Row = dict[str, Any]
Params = Mapping[str, str | int]

log = structlog.get_logger("sergas.zoho")


def rows_of(body: Mapping[str, Any] | None, key: str = "data") -> list[Row]:
    """The record list under ``key``, ignoring anything that is not an object."""
    if body is None:
        return []
    items = body.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _info(body: Mapping[str, Any]) -> Mapping[str, Any]:
    info = body.get("info")
    return info if isinstance(info, dict) else {}


class ZohoApi:
    """Authenticated, limited, retrying calls to ``{api_domain}/crm/v8``."""

    def __init__(
        self,
        settings: ZohoSettings,
        credentials: ZohoCredentials,
        *,
        clock: Clock,
        sleep: Sleep,
        rng: random.Random,
        monotonic: Seconds = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        budget_file: Path | None = None,
    ) -> None:
        """``budget_file``: the org's call budget shared with the machine's other processes
        (:mod:`sergas_tui.crm.budget`); without it the limits are this process's own."""
        self.stats = CrmStats()
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_for(settings.timeout_seconds),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        # Paced by ``monotonic``, not ``clock``: a frozen demo clock must not stall the limiter.
        shared = open_budget(
            budget_file,
            settings.requests_per_minute,
            settings.concurrent_requests,
            lease_seconds=settings.timeout_seconds,
            now=monotonic,
            sleep=sleep,
        )
        self._budget = shared
        self.limiter: CallBudget = shared or Limiter(
            settings.requests_per_minute,
            settings.concurrent_requests,
            now=monotonic,
            sleep=sleep,
        )
        policy = RetryPolicy(
            max_retries=settings.retry_max_attempts,
            initial_delay=settings.retry_initial_delay_ms / 1000.0,
        )
        self.sender = Sender(
            self._client,
            limiter=self.limiter,
            policy=policy,
            stats=self.stats,
            sleep=sleep,
            rng=rng,
        )
        self.tokens = TokenManager(credentials, settings, sender=self.sender, clock=clock)

    async def aclose(self) -> None:
        self.tokens.forget()
        await self._client.aclose()
        if self._budget is not None:
            self._budget.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Params | None = None,
        json: JsonValue = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> httpx.Response:
        """Send one API call (with retries); refresh the token once on INVALID_TOKEN."""
        sent_with: list[str] = []

        async def build() -> httpx.Request:
            token = await self.tokens.current()
            sent_with[:] = [token.header]
            return self._client.build_request(
                method,
                f"{token.api_domain}{API_PREFIX}{path}",
                params=dict(params) if params else None,
                json=json,
                headers={**(headers or {}), "Authorization": token.header},
            )

        response = await self.sender.send(build, endpoint=endpoint, max_retries=max_retries)
        if response.status_code == 401 and error_code(response) == "INVALID_TOKEN":
            log.info("zoho.token_rejected", endpoint=endpoint)
            await self.tokens.replace(sent_with[0])
            response = await self.sender.send(build, endpoint=endpoint, max_retries=max_retries)
        return response

    @staticmethod
    def decode(response: httpx.Response) -> dict[str, Any] | None:
        """The JSON object of a successful answer; None for 204/304/empty; else a typed error."""
        status = response.status_code
        if status in (204, 304):
            return None
        if status >= 300:
            raise error_from_response(response)
        body = decode_json(response)
        if body is None and not response.content:
            return None
        if not isinstance(body, dict):
            raise CrmServerError(
                f"Zoho answered {request_label(response.request)} with HTTP {status} but the "
                "body is not a JSON object (a proxy or captive portal in between?). Check "
                "zoho.api_domain and the network, then try again.",
                status_code=status,
            )
        return body

    async def get_json(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Params | None = None,
        json: JsonValue = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        response = await self.request(
            method, path, endpoint=endpoint, params=params, json=json, headers=headers
        )
        return self.decode(response)

    async def pages(
        self,
        path: str,
        *,
        endpoint: str,
        params: Params,
        key: str = "data",
        headers: Mapping[str, str] | None = None,
        per_page: int = PAGE_SIZE,
        token_only: bool = False,
    ) -> AsyncGenerator[list[Row]]:
        """Yield the pages of a list: ``page`` through 2,000 records, then ``page_token``.

        ``token_only`` is for lists (the timeline) that take ``per_page`` on the first call only
        and page with ``page_token`` from the start. Stops at 204, 304, an empty page or
        ``more_records: false``.
        """
        page = 1
        page_token: str | None = None
        while True:
            query: dict[str, str | int] = dict(params)
            if page_token is not None:
                query["page_token"] = page_token
                if not token_only:
                    query["per_page"] = per_page
            else:
                query["per_page"] = per_page
                if not token_only:
                    query["page"] = page
            body = await self.get_json(
                "GET", path, endpoint=endpoint, params=query, headers=headers
            )
            if body is None:
                return
            rows = rows_of(body, key)
            yield rows
            info = _info(body)
            if not rows or not info.get("more_records"):
                return
            if token_only or page_token is not None or page * per_page >= PAGE_NUMBER_REACH:
                next_token = info.get("next_page_token")
                if not isinstance(next_token, str) or not next_token:
                    log.warning("zoho.paging_stopped", endpoint=endpoint, page=page)
                    return
                page_token = next_token
            page += 1

    async def coql(self, query: CoqlQuery) -> list[Row]:
        """All rows of a COQL query, 2,000 per call, paged by ``id > 'last id'``."""
        found: list[Row] = []
        cursor: str | None = None
        while True:
            body = await self.get_json(
                "POST",
                "/coql",
                endpoint=f"POST /coql {query.module}",
                json={"select_query": query.render(cursor)},
            )
            rows = rows_of(body)
            found.extend(rows)
            if body is None or not rows or not _info(body).get("more_records"):
                return found
            last = rows[-1].get("id")
            if last is None or str(last) == cursor:
                log.warning("zoho.coql_cursor_stuck", module=query.module, cursor=cursor)
                return found
            cursor = str(last)

    async def write(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        record: Mapping[str, JsonValue],
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Write one record; the ``details`` of its success item, or a typed error.

        Never retried here: a write whose answer was lost may still have reached Zoho, and a
        blind resend would write it twice. The approvals executor retries instead, after
        looking in the CRM for the marker it embeds in what it writes. (A 401 INVALID_TOKEN is
        still answered by one refresh and resend: Zoho rejected the first attempt.)
        """
        response = await self.request(
            method,
            path,
            endpoint=endpoint,
            json={"data": [dict(record)]},
            headers=headers,
            max_retries=0,
        )
        if response.status_code >= 300 and response.status_code != 207:
            raise error_from_response(response)
        body = decode_json(response)
        items = rows_of(body if isinstance(body, dict) else None)
        if not items:
            raise CrmServerError(
                f"Zoho answered {request_label(response.request)} with HTTP "
                f"{response.status_code} but no result for the record. Check in Zoho whether "
                "the change was made before trying again.",
                status_code=response.status_code,
            )
        item = items[0]
        if item.get("status") != "success" and item.get("code") != "SUCCESS":
            raise error_from_item(item, response)
        details = item.get("details")
        return details if isinstance(details, dict) else {}
