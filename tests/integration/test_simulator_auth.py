"""Simulator: the OAuth accounts endpoint, API authentication, data centres and scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    OAuthClient,
    SimulatorConfig,
    create_simulator,
)
from tests.integration.simkit import (
    BASE_URL,
    NOW,
    Api,
    api_for,
    error_code,
    make_org,
    token_params,
)

LIMITED = OAuthClient(
    client_id="1000.LIMITED",
    client_secret="limited-secret",
    refresh_tokens={"limited-refresh": ("ZohoCRM.modules.accounts.READ",)},
    data_centres=frozenset({"US"}),
)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def api(org: Path, clock: FixedClock) -> AsyncIterator[Api]:
    config = SimulatorConfig(clock=clock, clients=(*SimulatorConfig().clients, LIMITED))
    sim = create_simulator(org, config)
    async with api_for(sim, authenticate=False) as client:
        yield client
    sim.close()


async def test_refresh_grant_returns_a_bearer_token_and_no_refresh_token(api: Api) -> None:
    response = await api.http.post("/oauth/v2/token", data=token_params())

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["api_domain"] == BASE_URL
    assert "ZohoCRM.coql.READ" in body["scope"].split()
    assert "refresh_token" not in body
    assert body["access_token"].startswith("1000.")


async def test_token_parameters_may_come_in_the_query_string(api: Api) -> None:
    response = await api.http.post("/oauth/v2/token", params=token_params())

    assert response.status_code == 200
    assert "access_token" in response.json()


@pytest.mark.parametrize(
    ("accounts_host", "api_domain"),
    [
        ("accounts.zoho.com", "https://www.zohoapis.com"),
        ("accounts.zoho.eu", "https://www.zohoapis.eu"),
        ("accounts.zoho.in", "https://www.zohoapis.in"),
        ("accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        ("accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    ],
)
async def test_the_accounts_host_picks_the_api_domain(
    api: Api, accounts_host: str, api_domain: str
) -> None:
    url = f"https://{accounts_host}/oauth/v2/token"
    response = await api.http.post(url, data=token_params())

    assert response.json()["api_domain"] == api_domain


async def test_configured_api_domain_wins(org: Path) -> None:
    sim = create_simulator(org, SimulatorConfig(api_domain="http://127.0.0.1:9999"))
    async with api_for(sim, authenticate=False) as api:
        url = "https://accounts.zoho.eu/oauth/v2/token"
        response = await api.http.post(url, data=token_params())
    sim.close()

    assert response.json()["api_domain"] == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("url", "params", "error"),
    [
        ("/oauth/v2/token", {"client_id": "1000.NOPE"}, "invalid_client"),
        ("/oauth/v2/token", {"client_secret": "wrong"}, "invalid_client"),
        ("/oauth/v2/token", {"refresh_token": "1000.unknown"}, "invalid_code"),
        ("/oauth/v2/token", {"grant_type": "authorization_code"}, "invalid_code"),
        (
            "https://accounts.zoho.eu/oauth/v2/token",
            {
                "client_id": "1000.LIMITED",
                "client_secret": "limited-secret",
                "refresh_token": "limited-refresh",
            },
            "invalid_client",
        ),
    ],
)
async def test_accounts_errors_come_back_as_http_200(
    api: Api, url: str, params: dict[str, str], error: str
) -> None:
    response = await api.http.post(url, data=token_params(**params))

    assert response.status_code == 200
    assert response.json() == {"error": error}


async def test_a_revoked_refresh_token_stops_working(api: Api) -> None:
    await api.refresh()
    revoked = await api.http.post("/oauth/v2/token/revoke", params={"token": DEMO_REFRESH_TOKEN})
    assert revoked.status_code == 200

    response = await api.http.post("/oauth/v2/token", data=token_params())
    assert response.json() == {"error": "invalid_code"}
    assert error_code(await api.get("/crm/v8/users")) == "INVALID_TOKEN"


async def test_token_throttle_per_refresh_token(org: Path) -> None:
    sim = create_simulator(org, SimulatorConfig(tokens_per_refresh_window=2))
    async with api_for(sim, authenticate=False) as api:
        statuses = [
            (await api.http.post("/oauth/v2/token", data=token_params())).status_code
            for _ in range(3)
        ]
    sim.close()

    assert statuses == [200, 200, 400]


async def test_no_token_is_authentication_failure(api: Api) -> None:
    response = await api.http.get("/crm/v8/Accounts", params={"fields": "Account_Name"})

    assert response.status_code == 401
    assert error_code(response) == "AUTHENTICATION_FAILURE"


async def test_a_bearer_header_is_not_zohos_scheme(api: Api) -> None:
    token = await api.refresh()
    response = await api.http.get("/crm/v8/users", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert error_code(response) == "AUTHENTICATION_FAILURE"


async def test_an_unknown_token_is_invalid(api: Api) -> None:
    api.token = "1000.garbage.garbage"
    response = await api.get("/crm/v8/users")

    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"
    assert response.json()["message"] == "invalid oauth token"


async def test_tokens_expire_after_an_hour_by_the_injected_clock(
    api: Api, clock: FixedClock
) -> None:
    await api.refresh()
    assert (await api.get("/crm/v8/users")).status_code == 200

    clock.advance(timedelta(seconds=3599))
    assert (await api.get("/crm/v8/users")).status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = await api.get("/crm/v8/users")
    assert expired.status_code == 401
    assert error_code(expired) == "INVALID_TOKEN"

    await api.refresh()
    assert (await api.get("/crm/v8/users")).status_code == 200


async def test_a_token_is_refused_on_another_dcs_api_host(api: Api) -> None:
    eu = await api.http.post("https://accounts.zoho.eu/oauth/v2/token", data=token_params())
    api.token = eu.json()["access_token"]

    us = await api.get("https://www.zohoapis.com/crm/v8/users")
    assert us.status_code == 401
    assert error_code(us) == "INVALID_TOKEN"
    assert (await api.get("https://www.zohoapis.eu/crm/v8/users")).status_code == 200
    assert (await api.get("/crm/v8/users")).status_code == 200  # loopback accepts any DC


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/crm/v8/Deals?fields=Deal_Name", None),
        ("GET", "/crm/v8/Accounts/5725767000001000005/Deals?fields=Deal_Name", None),
        ("GET", "/crm/v8/users", None),
        ("GET", "/crm/v8/Accounts/search?word=Harbor", None),
        ("POST", "/crm/v8/coql", {"select_query": "select Account_Name from Accounts"}),
        ("POST", "/crm/v8/Tasks", {"data": [{"Subject": "x"}]}),
        ("PUT", "/crm/v8/Accounts/5725767000001000005", {"data": [{"Rating": "Active"}]}),
    ],
)
async def test_missing_scopes_are_oauth_scope_mismatch(
    api: Api, method: str, url: str, body: object
) -> None:
    await api.refresh(
        client_id="1000.LIMITED", client_secret="limited-secret", refresh_token="limited-refresh"
    )
    assert (await api.get("/crm/v8/Accounts?fields=Account_Name")).status_code == 200

    response = await api.http.request(method, url, json=body, headers=api.headers)

    assert response.status_code == 401
    assert error_code(response) == "OAUTH_SCOPE_MISMATCH"


async def test_demo_credentials_are_exported() -> None:
    assert DEMO_CLIENT_ID == "1000.SERGASDEMO"
    assert DEMO_CLIENT_SECRET
    assert DEMO_REFRESH_TOKEN
    assert isinstance(SimulatorConfig().token_lifetime, timedelta)


async def test_oauth_endpoint_is_not_counted_as_an_api_call(org: Path) -> None:
    sim = create_simulator(org)
    async with api_for(sim) as api:
        await api.get("/crm/v8/users")
    sim.close()

    assert sim.counters.token_calls == 1
    assert sim.counters.calls["token"] == 1
    assert sim.counters.total_calls == 1
    assert isinstance(api.http, httpx.AsyncClient)
