"""Simulator: Zoho's limits by edition (credits, concurrency, sub-concurrency), the opt-in
per-minute knob, our client against them, fault injection, counters, loopback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.api import ZohoApi
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.simulator.limits import EITHER_LIMIT, Edition
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.errors import CrmRateLimitedError
from tests.integration.simkit import (
    NOW,
    Api,
    Ticker,
    api_for,
    copy_org,
    error_code,
    make_org,
    token_params,
)

USERS = "/crm/v8/users"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def sim(org: Path, clock: FixedClock, ticker: Ticker) -> Iterator[Simulator]:
    config = SimulatorConfig(clock=clock, monotonic=ticker, token_lifetime=timedelta(days=30))
    simulator = create_simulator(org, config)
    yield simulator
    simulator.close()


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with api_for(sim) as client:
        yield client


async def statuses(api: Api, calls: int, url: str = USERS) -> list[int]:
    return [(await api.get(url)).status_code for _ in range(calls)]


def _no_rate_headers(response: httpx.Response) -> None:
    """Zoho documents no Retry-After and no X-RateLimit-* headers."""
    assert "retry-after" not in response.headers
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]


@pytest.mark.parametrize(
    ("edition", "limit"),
    [("free", 5), ("standard", 10), ("professional", 15), ("enterprise", 20), ("ultimate", 25)],
)
async def test_one_call_over_the_editions_concurrency_gets_429_at_once(
    api: Api, sim: Simulator, edition: Edition, limit: int
) -> None:
    sim.config.edition = edition
    sim.faults = FaultPlan(slow=1.0, delay=0.3)

    responses = await asyncio.gather(*(api.get(USERS) for _ in range(limit + 1)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * limit + [429]
    limited = next(r for r in responses if r.status_code == 429)
    assert error_code(limited) == "TOO_MANY_REQUESTS"
    assert "concurrency limit" in limited.json()["message"]
    assert f"{limit} API calls at once" in limited.json()["message"]
    _no_rate_headers(limited)
    assert sim.counters.peak_concurrency == limit
    assert sim.counters.too_many_requests == 1
    assert sim.counters.limits_hit == {"concurrency": 1}


def _coql(api: Api) -> Awaitable[httpx.Response]:
    return api.coql("select Deal_Name from Deals limit 10")


HEAVY_CALLS: dict[str, Callable[[Api], Awaitable[httpx.Response]]] = {
    "coql": _coql,
    "search": lambda api: api.get("/crm/v8/Accounts/search", params={"word": "Harbor"}),
    "sorted list": lambda api: api.get(
        "/crm/v8/Accounts", params={"fields": "Account_Name", "sort_by": "Modified_Time"}
    ),
    "custom view": lambda api: api.get(
        "/crm/v8/Accounts", params={"fields": "Account_Name", "cvid": "5725767000000087501"}
    ),
}


@pytest.mark.parametrize("name", list(HEAVY_CALLS))
async def test_an_eleventh_heavy_call_gets_429_for_sub_concurrency(
    api: Api, sim: Simulator, name: str
) -> None:
    call = HEAVY_CALLS[name]
    sim.faults = FaultPlan(slow=1.0, delay=0.3)

    responses = await asyncio.gather(*(call(api) for _ in range(11)))

    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) == 1
    assert error_code(limited[0]) == "TOO_MANY_REQUESTS"
    assert "sub-concurrency limit" in limited[0].json()["message"]
    _no_rate_headers(limited[0])
    assert sim.counters.limits_hit == {"sub_concurrency": 1}


async def test_plain_calls_share_only_the_editions_limit(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(slow=1.0, delay=0.3)
    plain = [api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}) for _ in range(15)]

    responses = await asyncio.gather(*plain)

    assert {r.status_code for r in responses} == {200}
    assert sim.counters.peak_concurrency == 15


async def test_heavy_and_plain_calls_together(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(slow=1.0, delay=0.3)
    heavy = [_coql(api) for _ in range(12)]
    plain = [api.get(USERS) for _ in range(8)]

    responses = await asyncio.gather(*heavy, *plain)

    heavy_codes = sorted(r.status_code for r in responses[:12])
    assert heavy_codes == [200] * 10 + [429, 429]
    assert {r.status_code for r in responses[12:]} == {200}


async def test_writes_of_more_than_ten_records_are_heavy(
    org: Path, tmp_path: Path, clock: FixedClock, ticker: Ticker
) -> None:
    config = SimulatorConfig(clock=clock, monotonic=ticker, token_lifetime=timedelta(days=30))
    sim = create_simulator(copy_org(org, tmp_path), config)
    sim.faults = FaultPlan(slow=1.0, delay=0.3)
    unknown = [{"id": str(5725767000009000000 + n), "Phone": "1"} for n in range(11)]
    try:
        async with api_for(sim) as api:
            bulk = [api.put("/crm/v8/Accounts", json={"data": unknown}) for _ in range(11)]
            small = [api.put("/crm/v8/Accounts", json={"data": unknown[:10]}) for _ in range(9)]
            responses = await asyncio.gather(*bulk, *small)
    finally:
        sim.close()

    assert [r.status_code for r in responses[:11]].count(429) == 1
    assert 429 not in [r.status_code for r in responses[11:]]
    assert sim.counters.limits_hit == {"sub_concurrency": 1}


async def test_concurrency_limit_is_configurable(api: Api, sim: Simulator) -> None:
    sim.config.max_concurrency = 2
    sim.faults = FaultPlan(slow=1.0, delay=0.2)

    responses = await asyncio.gather(*(api.get(USERS) for _ in range(4)))

    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429]
    assert sim.counters.peak_concurrency == 2


async def test_opt_in_per_minute_knob_over_a_rolling_window(
    api: Api, sim: Simulator, ticker: Ticker
) -> None:
    sim.config.per_minute = 3  # a test knob: Zoho has no per-minute limit

    assert await statuses(api, 4) == [200, 200, 200, 429]
    ticker.now += 30
    assert await statuses(api, 1) == [429]
    ticker.now += 31
    assert await statuses(api, 3) == [200, 200, 200]
    assert sim.counters.peak_per_minute == 5
    assert sim.counters.too_many_requests == 2
    assert sim.counters.limits_hit == {"per_minute": 2}


async def test_no_per_minute_limit_by_default(api: Api, sim: Simulator) -> None:
    codes = await statuses(api, 250)

    assert set(codes) == {200}
    assert sim.counters.peak_per_minute == 250


async def test_credits_run_out_and_the_header_shows_at_half(
    api: Api, sim: Simulator, clock: FixedClock
) -> None:
    sim.config.daily_credits = 4
    headers = []
    codes = []
    for _ in range(5):
        response = await api.get(USERS)
        codes.append(response.status_code)
        headers.append(response.headers.get("X-API-CREDITS-REMAINING"))

    assert codes == [200, 200, 200, 200, 429]
    assert headers == [None, "2", "1", "0", "0"]
    assert sim.credits_used == 4
    assert sim.counters.limits_hit == {"credits": 1}
    clock.advance(timedelta(hours=24))
    assert await statuses(api, 1) == [200]


async def test_enterprise_default_allowance_counts_the_orgs_users(api: Api, sim: Simulator) -> None:
    users = (await api.get(USERS, params={"type": "ActiveUsers"})).json()["users"]
    assert sim.env.active_users == len(users) >= 1
    assert sim.env.allowance().total == 50_000 + 1_000 * len(users)
    sim.config.licences = 100
    assert sim.env.allowance().total == 150_000


async def test_free_edition_credits_run_out_with_zohos_429(
    api: Api, sim: Simulator, clock: FixedClock
) -> None:
    sim.config.edition = "free"
    sim.env.ledger.try_spend(4_999, 5_000, clock.now())

    last = await api.get(USERS)
    refused = await api.get(USERS)

    assert last.status_code == 200
    assert last.headers["X-API-CREDITS-REMAINING"] == "0"
    assert refused.status_code == 429
    assert error_code(refused) == "TOO_MANY_REQUESTS"
    message = refused.json()["message"]
    assert "24 hour period is exceeded" in message
    assert "5,000 API credits" in message
    _no_rate_headers(refused)
    assert refused.headers["X-API-CREDITS-REMAINING"] == "0"
    clock.advance(timedelta(hours=24))
    assert await statuses(api, 1) == [200]


async def test_header_appears_at_half_the_editions_credits(
    api: Api, sim: Simulator, clock: FixedClock
) -> None:
    sim.config.edition = "standard"
    sim.config.licences = 10  # 52,500 credits
    sim.config.add_on_credits = 10_000  # 62,500, but the header still starts at 26,250 used
    sim.env.ledger.try_spend(26_248, 62_500, clock.now())

    before = await api.get(USERS)
    at_half = await api.get(USERS)

    assert "X-API-CREDITS-REMAINING" not in before.headers
    assert at_half.headers["X-API-CREDITS-REMAINING"] == str(62_500 - 26_250)


async def test_injected_429_names_both_limits_like_zoho(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(rate_limit=1.0)

    refused = await api.get(USERS)

    assert refused.status_code == 429
    assert refused.json()["message"] == EITHER_LIMIT
    assert sim.counters.limits_hit == {"injected": 1}


# --- our client against them ---------------------------------------------------------------


def _client(sim: Simulator, **settings: Any) -> ZohoApi:
    credentials = ZohoCredentials(
        DEMO_CLIENT_ID, SecretStr(DEMO_CLIENT_SECRET), SecretStr(DEMO_REFRESH_TOKEN)
    )
    return ZohoApi(
        ZohoSettings(client_id=DEMO_CLIENT_ID, **settings),
        credentials,
        clock=FixedClock(NOW),
        sleep=asyncio.sleep,
        rng=random.Random(5),
        transport=httpx.ASGITransport(app=sim.app),
    )


async def test_client_stops_at_once_when_the_credits_are_used_up(sim: Simulator) -> None:
    sim.config.daily_credits = 2
    api = _client(sim)
    try:
        await api.get_json("GET", "/users", endpoint="GET /users")
        assert api.stats.credits_remaining == 1  # the header shows from half used
        await api.get_json("GET", "/users", endpoint="GET /users")
        assert api.stats.credits_remaining == 0
        with pytest.raises(CrmRateLimitedError) as caught:
            await api.get_json("GET", "/users", endpoint="GET /users")
    finally:
        await api.aclose()

    error = caught.value
    assert error.code == "TOO_MANY_REQUESTS"
    assert error.title == "Zoho API credits used up"
    assert "API credits for the last 24 hours are used up" in error.message
    assert "Zoho reports 0 credits left" in error.message
    assert api.stats.requests == 3
    assert api.stats.retries == 0
    assert sim.counters.too_many_requests == 1


async def test_client_retries_a_concurrency_429_until_it_gets_in(sim: Simulator) -> None:
    sim.config.edition = "free"  # 5 in flight
    sim.faults = FaultPlan(slow=1.0, delay=0.2)
    api = _client(sim, concurrent_requests=8)  # backoff from 0.75-1 s, after the 0.2 s calls
    try:
        bodies = await asyncio.gather(
            *(api.get_json("GET", "/users", endpoint="GET /users") for _ in range(8))
        )
    finally:
        await api.aclose()

    assert all(body and body["users"] for body in bodies)
    assert sim.counters.limits_hit == {"concurrency": 3}
    assert api.stats.rate_limited == 3
    assert api.stats.retries == 3


async def test_credits_are_charged_per_endpoint_kind(api: Api, sim: Simulator) -> None:
    await api.get("/crm/v8/Accounts", params={"fields": "Account_Name"})
    await api.coql("select Deal_Name from Deals limit 1000")
    await api.get("/crm/v8/Accounts")  # rejected before charging

    assert sim.counters.credits == {"GET Accounts": 1, "COQL Deals": 2}
    assert sim.counters.calls["GET Accounts"] == 2
    assert sim.counters.credits_total == 3


async def fault_sequence(org: Path, plan: FaultPlan, calls: int = 40) -> list[int]:
    sim = create_simulator(org, SimulatorConfig())
    sim.faults = plan
    async with api_for(sim) as api:
        codes = await statuses(api, calls)
    sim.close()
    return codes


async def test_same_seed_same_faults(org: Path) -> None:
    plan = FaultPlan(seed=42, rate_limit=0.2, server_error=0.2)

    first = await fault_sequence(org, plan)
    second = await fault_sequence(org, plan)
    other = await fault_sequence(org, FaultPlan(seed=43, rate_limit=0.2, server_error=0.2))

    assert first == second
    assert first != other
    assert {200, 429, 500} == set(first)


async def test_fault_counters_and_log(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(seed=1, rate_limit=0.3, server_error=0.3)

    codes = await statuses(api, 30)

    log = sim.fault_log
    assert sim.counters.faults["rate_limit"] == len([k for _, k in log if k == "rate_limit"])
    assert codes.count(500) == sim.counters.faults["server_error"]
    assert codes.count(429) == sim.counters.too_many_requests
    assert all(codes[n - 1] in (429, 500) for n, _ in log)


async def test_scheduled_faults_and_token_expiry(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(schedule={2: "server_error", 3: ("slow", "rate_limit")}, delay=0.01)
    first = await statuses(api, 4)
    assert first == [200, 500, 429, 200]
    failed = await api.get(USERS)
    assert failed.status_code == 200

    sim.faults = FaultPlan(expire_tokens_at=2)
    assert await statuses(api, 1) == [200]
    expired = await api.get(USERS)
    assert expired.status_code == 401
    assert error_code(expired) == "INVALID_TOKEN"
    await api.refresh()
    assert await statuses(api, 1) == [200]
    assert sim.counters.faults == {
        "server_error": 1,
        "slow": 1,
        "rate_limit": 1,
        "expire_tokens": 1,
    }


async def test_token_endpoint_is_faulted_only_when_asked(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(rate_limit=1.0)
    fine = await api.http.post("/oauth/v2/token", data=token_params())
    assert fine.status_code == 200

    sim.faults = FaultPlan(rate_limit=1.0, include_token_endpoint=True)
    refused = await api.http.post("/oauth/v2/token", data=token_params())
    assert refused.status_code == 429


async def test_counters_and_reset(api: Api, sim: Simulator) -> None:
    await api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1})
    await api.get("/crm/v8/Accounts/5725767000001000005")
    await api.get("/crm/v8/Accounts/5725767000001000005/Deals", params={"fields": "Deal_Name"})
    await api.get("/crm/v8/Deals/search", params={"word": "Harbor"})
    await api.get("/crm/v8/nowhere/at/all/really")
    await api.post("/crm/v8/coql", json={"select_query": "select email from Users"})

    counters = sim.counters
    assert dict(counters.calls) == {
        "token": 1,
        "GET Accounts": 1,
        "GET Accounts/{id}": 1,
        "GET Accounts/{id}/Deals": 1,
        "SEARCH Deals": 1,
        "UNKNOWN": 1,
        "COQL Users": 1,
    }
    assert counters.total_calls == 6
    assert counters.token_calls == 1
    assert counters.status == {200: 5, 404: 1}
    assert counters.snapshot()["total_calls"] == 6

    same = sim.counters
    sim.reset_counters()
    assert same is sim.counters
    assert counters.total_calls == 0
    assert counters.calls == {}
    assert counters.peak_per_minute == 0


async def test_loopback_server(org: Path) -> None:
    sim = create_simulator(org)
    base_url, stop = start_in_thread(sim)
    try:
        async with httpx.AsyncClient(base_url=base_url) as http:
            grant = (await http.post("/oauth/v2/token", data=token_params())).json()
            assert grant["api_domain"] == base_url
            headers = {"Authorization": f"Zoho-oauthtoken {grant['access_token']}"}
            responses = await asyncio.gather(
                *(
                    http.get(
                        f"{grant['api_domain']}/crm/v8/Accounts?fields=Account_Name",
                        headers=headers,
                    )
                    for _ in range(3)
                )
            )
    finally:
        stop()
        sim.close()

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json()["info"]["count"] == 150
    assert base_url.startswith("http://127.0.0.1:")
    assert sim.counters.calls["GET Accounts"] == 3
    assert sim.counters.token_calls == 1


def test_start_in_thread_with_a_path(org: Path) -> None:
    base_url, stop = start_in_thread(org)
    try:
        response = httpx.post(f"{base_url}/oauth/v2/token", params=token_params())
    finally:
        stop()

    assert response.json()["api_domain"] == base_url
