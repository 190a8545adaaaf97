"""ZohoRestGateway against scripted Zoho answers (httpx.MockTransport): auth, retries, paging."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.http import backoff
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.writer import CrmGateway
from sergas_tui.errors import (
    ConfigError,
    CrmAuthError,
    CrmConnectionError,
    CrmServerError,
    CrmTimeoutError,
    CrmValidationError,
    SecretError,
)
from sergas_tui.secrets import SecretStore
from tests.conftest import FIXED_NOW
from tests.fakes.zoho_http import FakeTime, FakeZoho, make_gateway, page, zoho_error


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(FixedClock(FIXED_NOW))


@pytest.fixture
def zoho() -> FakeZoho:
    return FakeZoho()


def account(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"{n:019d}", "Account_Name": f"Account {n}", **extra}


def _ok_account(zoho: FakeZoho) -> None:
    zoho.route("GET", r"/Accounts/\d+", page([account(1)]))


# --- construction and OAuth ------------------------------------------------------------------


async def test_gateway_satisfies_the_protocol(zoho: FakeZoho, time: FakeTime) -> None:
    async with make_gateway(zoho, time) as gateway:
        assert isinstance(gateway, CrmGateway)


def test_credentials_from_settings_and_keyring() -> None:
    settings = ZohoSettings(client_id="1000.ID")
    store = SecretStore(
        environ={"SERGAS_ZOHO_CLIENT_SECRET": "s3cret", "SERGAS_ZOHO_REFRESH_TOKEN": "r3fresh"}
    )
    credentials = ZohoCredentials.from_settings(settings, store)
    assert credentials.client_id == "1000.ID"
    assert credentials.refresh_token.get_secret_value() == "r3fresh"
    assert "r3fresh" not in repr(credentials)
    with pytest.raises(SecretError, match="zoho_refresh_token"):
        ZohoCredentials.from_settings(
            settings, SecretStore(environ={"SERGAS_ZOHO_CLIENT_SECRET": "s"})
        )
    with pytest.raises(ConfigError, match="client_id"):
        ZohoCredentials.from_settings(ZohoSettings(), store)


async def test_refresh_grant_uses_form_params_and_the_api_domain_it_returns(
    time: FakeTime,
) -> None:
    zoho = FakeZoho(api_domain="https://www.zohoapis.eu")
    _ok_account(zoho)
    async with make_gateway(zoho, time, data_centre="eu") as gateway:
        found = await gateway.get_account_details(f"{1:019d}")
        assert found is not None
        assert found.name == "Account 1"
        assert gateway.stats.refreshes == 1
        assert gateway.stats.token_requests == 1
    token_request = zoho.token_requests[0]
    assert str(token_request.url) == "https://accounts.zoho.eu/oauth/v2/token"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form == {
        "grant_type": "refresh_token",
        "client_id": "1000.CLIENT",
        "client_secret": "client-secret-value",
        "refresh_token": "refresh-token-value",
    }
    api_request = zoho.requests[0]
    assert str(api_request.url).startswith("https://www.zohoapis.eu/crm/v8/Accounts/")
    assert api_request.headers["authorization"] == "Zoho-oauthtoken tok-1"


async def test_configured_api_domain_overrides_the_token_response(
    zoho: FakeZoho, time: FakeTime
) -> None:
    _ok_account(zoho)
    async with make_gateway(zoho, time, api_domain="http://127.0.0.1:9999/") as gateway:
        await gateway.get_account_details("1")
    assert str(zoho.requests[0].url).startswith("http://127.0.0.1:9999/crm/v8/Accounts/1")


async def test_token_is_refreshed_five_minutes_before_expiry(
    zoho: FakeZoho, time: FakeTime
) -> None:
    _ok_account(zoho)
    async with make_gateway(zoho, time) as gateway:
        await gateway.get_account_details("1")
        time.clock.advance(timedelta(minutes=54, seconds=59))
        await gateway.get_account_details("1")
        assert gateway.stats.refreshes == 1
        time.clock.advance(timedelta(seconds=2))  # now 55:01 after the grant
        await gateway.get_account_details("1")
        assert gateway.stats.refreshes == 2
    assert [r.headers["authorization"] for r in zoho.requests] == [
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-2",
    ]


async def test_invalid_token_refreshes_exactly_once_then_retries(
    zoho: FakeZoho, time: FakeTime
) -> None:
    _ok_account(zoho)
    async with make_gateway(zoho, time) as gateway:
        await gateway.get_account_details("1")
        zoho.revoke_tokens()  # e.g. revoked in the Zoho console, or a clock skew
        assert await gateway.get_account_details("1") is not None
        assert gateway.stats.refreshes == 2
    assert [r.headers["authorization"] for r in zoho.requests] == [
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-2",
    ]


async def test_invalid_token_after_the_refresh_is_an_auth_error(
    zoho: FakeZoho, time: FakeTime
) -> None:
    _ok_account(zoho)

    def useless_token(_: httpx.Request) -> httpx.Response:
        zoho.issue_token()
        zoho.revoke_tokens()
        return httpx.Response(200, json={"access_token": "dead", "expires_in": 3600})

    zoho.token_handler = useless_token
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmAuthError, match="INVALID_TOKEN") as caught:
            await gateway.get_account_details("1")
    assert len(zoho.token_requests) == 2
    assert len(zoho.requests) == 2
    assert "dead" not in caught.value.message


async def test_concurrent_requests_share_one_refresh(zoho: FakeZoho, time: FakeTime) -> None:
    async def slow_account(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return page([account(1)])

    zoho.route("GET", r"/Accounts/\d+", slow_account)
    async with make_gateway(zoho, time) as gateway:
        await asyncio.gather(*(gateway.get_account_details(str(n)) for n in range(5)))
        assert len(zoho.token_requests) == 1
        zoho.revoke_tokens()
        await asyncio.gather(*(gateway.get_account_details(str(n)) for n in range(5)))
        assert len(zoho.token_requests) == 2
        assert gateway.stats.refreshes == 2


async def test_accounts_server_error_in_an_http_200(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.token_handler = lambda _: httpx.Response(200, json={"error": "invalid_client"})
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmAuthError, match=r"zoho\.data_centre"):
            await gateway.get_account_details("1")
    assert zoho.requests == []


# --- retries ------------------------------------------------------------------------------


async def test_retries_with_backoff_then_success(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.sequence(
        "GET",
        r"/Accounts/\d+",
        [
            zoho_error(503, "INTERNAL_ERROR", "busy"),
            zoho_error(429, "TOO_MANY_REQUESTS", "slow down"),
            page([account(1)]),
        ],
    )
    async with make_gateway(zoho, time, seed=11) as gateway:
        assert await gateway.get_account_details("1") is not None
        assert gateway.stats.retries == 2
        assert gateway.stats.requests == 3
    rng = random.Random(11)
    expected = [backoff(1, rng=rng), backoff(2, rng=rng)]
    assert time.backoffs() == pytest.approx(expected)
    assert 0.75 <= expected[0] <= 1.0
    assert 1.5 <= expected[1] <= 2.0


async def test_initial_delay_comes_from_settings(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.sequence("GET", r"/Accounts/\d+", [httpx.Response(502), page([account(1)])])
    async with make_gateway(zoho, time, retry_initial_delay_ms=4000) as gateway:
        await gateway.get_account_details("1")
    assert 3.0 <= time.backoffs()[0] <= 4.0


async def test_retries_exhausted_raise_a_typed_error(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("GET", r"/Accounts/\d+", zoho_error(500, "INTERNAL_ERROR", "boom"))
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmServerError, match="INTERNAL_ERROR") as caught:
            await gateway.get_account_details("1")
        assert gateway.stats.requests == 4  # 1 + retry_max_attempts (3)
    assert caught.value.status_code == 500
    delays = time.backoffs()
    assert len(delays) == 3
    assert [round(d / b, 2) <= 1.0 for d, b in zip(delays, [1, 2, 4], strict=True)] == [True] * 3
    assert delays[2] >= 3.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ReadTimeout("slow"), CrmTimeoutError),
        (httpx.ConnectError("connection refused"), CrmConnectionError),
    ],
)
async def test_transport_errors_are_retried_then_typed(
    zoho: FakeZoho, time: FakeTime, error: Exception, expected: type[Exception]
) -> None:
    def fail(_: httpx.Request) -> httpx.Response:
        raise error

    zoho.route("GET", r"/Accounts/\d+", fail)
    async with make_gateway(zoho, time, retry_max_attempts=2) as gateway:
        with pytest.raises(expected):
            await gateway.get_account_details("1")
    assert len(zoho.requests) == 3


async def test_no_retry_on_400(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route(
        "GET",
        r"/Accounts/\d+/Deals",
        zoho_error(400, "INVALID_DATA", "invalid data", {"api_name": "id"}),
    )
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmValidationError, match="INVALID_DATA"):
            await gateway.get_deals("1")
        assert gateway.stats.retries == 0
    assert len(zoho.requests) == 1
    assert time.backoffs() == []


async def test_each_retry_passes_through_the_rate_limiter(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.sequence("GET", r"/Accounts/\d+", [httpx.Response(503), page([account(1)])])
    async with make_gateway(zoho, time, requests_per_minute=1) as gateway:
        await gateway.get_account_details("1")
        assert gateway.stats.throttled_seconds > 55  # the retry waits for the minute to pass
    assert len(time.backoffs(minimum=55)) == 1


# --- paging, 204, 304 --------------------------------------------------------------------------


def _params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


async def test_paging_with_page_then_page_token(zoho: FakeZoho, time: FakeTime) -> None:
    deals = [{"id": str(n), "Deal_Name": f"D{n}"} for n in range(2_300)]

    def related(request: httpx.Request) -> httpx.Response:
        params = _params(request)
        if "page_token" in params:
            assert "page" not in params
            assert params["page_token"] == "token-10"
            return page(deals[2_000:2_200], more=True, next_token="token-11")
        if params.get("page") is None:
            return page(deals[2_200:], more=False)
        number = int(params["page"])
        start = (number - 1) * 200
        return page(deals[start : start + 200], more=True, next_token=f"token-{number}")

    def by_token(request: httpx.Request) -> httpx.Response:
        if _params(request).get("page_token") == "token-11":
            return page(deals[2_200:], more=False)
        return related(request)

    zoho.route("GET", r"/Accounts/7/Deals", by_token)
    async with make_gateway(zoho, time) as gateway:
        found = await gateway.get_deals("7")
    assert [d.id for d in found] == [d["id"] for d in deals]
    sent = [_params(r) for r in zoho.requests]
    assert [p.get("page") for p in sent[:10]] == [str(n) for n in range(1, 11)]
    assert all(p["per_page"] == "200" for p in sent)
    assert [p.get("page_token") for p in sent[10:]] == ["token-10", "token-11"]
    assert sent[0]["fields"].startswith("Deal_Name,Account_Name")


async def test_204_means_no_record(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("GET", r"/Accounts/\d+", httpx.Response(204))
    zoho.route("GET", r"/Accounts/\d+/(Deals|Notes|Tasks|Events|Calls)", httpx.Response(204))
    async with make_gateway(zoho, time) as gateway:
        assert await gateway.get_account_details("1") is None
        assert await gateway.get_deals("1") == []
        assert await gateway.get_notes("1") == []
        assert await gateway.get_activities("1") == []


async def test_timeline_pages_by_token_only_and_sorts_oldest_first(
    zoho: FakeZoho, time: FakeTime
) -> None:
    def entry(when: str, old: str, new: str) -> dict[str, object]:
        return {
            "audited_time": when,
            "action": "updated",
            "record": {"id": "5", "module": {"api_name": "Deals"}},
            "field_history": [{"api_name": "Stage", "_value": {"old": old, "new": new}}],
        }

    def timeline(request: httpx.Request) -> httpx.Response:
        params = _params(request)
        if "page_token" in params:
            assert "per_page" not in params
            return page(
                [entry("2026-01-01T10:00:00+00:00", "A", "B")], key="__timeline", more=False
            )
        assert "page" not in params
        return page(
            [entry("2026-03-01T10:00:00+00:00", "B", "C")],
            key="__timeline",
            more=True,
            next_token="t2",
        )

    zoho.route("GET", r"/Deals/5/__timeline", timeline)
    async with make_gateway(zoho, time) as gateway:
        changes = await gateway.get_timeline("Deals", "5")
        with pytest.raises(ValueError, match="module"):
            await gateway.get_timeline("../users", "5")
    assert [(c.field, c.old, c.new) for c in changes] == [("Stage", "A", "B"), ("Stage", "B", "C")]
    assert {(c.module, c.record_id) for c in changes} == {("Deals", "5")}


async def test_stats_count_endpoints(zoho: FakeZoho, time: FakeTime) -> None:
    _ok_account(zoho)
    async with make_gateway(zoho, time) as gateway:
        await gateway.get_account_details("1")
        await gateway.get_account_details("2")
        stats = gateway.stats.as_dict()
    assert stats["requests"] == 2
    assert stats["token_requests"] == 1
    assert stats["by_endpoint"] == {"GET /Accounts/{id}": 2}
