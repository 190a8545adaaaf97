"""Simulator: concurrency, per-minute and credit limits, fault injection, counters, loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from sergas_tui.crm.simulator import FaultPlan, Simulator, SimulatorConfig, create_simulator
from sergas_tui.crm.simulator.server import start_in_thread
from tests.integration.simkit import (
    Api,
    Clock,
    Ticker,
    api_for,
    error_code,
    make_org,
    token_params,
)

USERS = "/crm/v8/users"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def sim(org: Path, clock: Clock, ticker: Ticker) -> Iterator[Simulator]:
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


async def test_a_sixth_concurrent_call_gets_429_at_once(api: Api, sim: Simulator) -> None:
    sim.faults = FaultPlan(slow=1.0, delay=0.3)

    responses = await asyncio.gather(*(api.get(USERS) for _ in range(6)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 200, 200, 429]
    limited = next(r for r in responses if r.status_code == 429)
    assert error_code(limited) == "TOO_MANY_REQUESTS"
    assert "retry-after" not in limited.headers
    assert sim.counters.peak_concurrency == 5
    assert sim.counters.too_many_requests == 1


async def test_concurrency_limit_is_configurable(api: Api, sim: Simulator) -> None:
    sim.config.max_concurrency = 2
    sim.faults = FaultPlan(slow=1.0, delay=0.2)

    responses = await asyncio.gather(*(api.get(USERS) for _ in range(4)))

    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429]
    assert sim.counters.peak_concurrency == 2


async def test_per_minute_limit_over_a_rolling_window(
    api: Api, sim: Simulator, ticker: Ticker
) -> None:
    sim.config.per_minute = 3

    assert await statuses(api, 4) == [200, 200, 200, 429]
    ticker.now += 30
    assert await statuses(api, 1) == [429]
    ticker.now += 31
    assert await statuses(api, 3) == [200, 200, 200]
    assert sim.counters.peak_per_minute == 5
    assert sim.counters.too_many_requests == 2


async def test_default_per_minute_limit_is_120(api: Api, sim: Simulator) -> None:
    codes = await statuses(api, 121)

    assert codes.count(200) == 120
    assert codes[-1] == 429
    assert sim.counters.peak_per_minute == 121


async def test_credits_run_out_and_the_header_shows_at_half(
    api: Api, sim: Simulator, clock: Clock
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
    clock.advance(hours=24)
    assert await statuses(api, 1) == [200]


async def test_credits_are_charged_per_endpoint_kind(api: Api, sim: Simulator) -> None:
    await api.get("/crm/v8/Accounts", params={"fields": "Account_Name"})
    await api.coql("select Deal_Name from Deals limit 1000")
    await api.get("/crm/v8/Accounts")  # rejected before charging

    assert sim.counters.credits == {"GET Accounts": 1, "COQL Deals": 2}
    assert sim.counters.calls["GET Accounts"] == 2
    assert sim.counters.credits_total == 3


async def fault_sequence(org: Path, plan: FaultPlan, calls: int = 40) -> list[int]:
    sim = create_simulator(org, SimulatorConfig(per_minute=None))
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
