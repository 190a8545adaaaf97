"""Helpers shared by the simulator tests: a demo org, a hand-moved monotonic clock, an
authenticated client. (The wall clock the simulator is given is the project's FixedClock.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Simulator,
)
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BASE_URL = "http://sim.invalid"
HARBOR_POINT = "5725767000001000005"  # the stalled_negotiation scenario account
HARBOR_DEAL = "5725767000001000010"


def demo_services(
    *, accounts: int = 40, owners: int = 2, seed: int = 5, **zoho: object
) -> Services:
    """Services on a new demo workspace of the environment's locations, on the clock ``NOW``,
    with no Zoho per-minute politeness (``zoho``: more settings of the [zoho] table)."""
    locations = Locations.from_env()
    org = locations.demo_crm_file("demo")
    org.parent.mkdir(parents=True)
    generate(org, accounts=accounts, owners=owners, seed=seed, now=NOW)
    return open_services(
        load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000, **zoho}}),
        locations,
        secrets=SecretStore(environ={}),
        clock=FixedClock(NOW),
    )


def make_org(factory: pytest.TempPathFactory, accounts: int = 150, owners: int = 4) -> Path:
    path = factory.mktemp("org") / "org.sqlite"
    generate(path, accounts=accounts, owners=owners, seed=7, now=NOW)
    return path


def copy_org(source: Path, directory: Path) -> Path:
    """A private copy of an org file (for tests that write)."""
    target = directory / "org-copy.sqlite"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


class Ticker:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def token_params(**overrides: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "refresh_token": DEMO_REFRESH_TOKEN,
        **overrides,
    }


@dataclass
class Api:
    """An httpx client plus the current access token."""

    http: httpx.AsyncClient
    token: str = ""

    async def refresh(self, **overrides: str) -> str:
        response = await self.http.post("/oauth/v2/token", data=token_params(**overrides))
        self.token = response.json()["access_token"]
        return self.token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token}"}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.get(url, headers=headers, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.post(url, headers=headers, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.put(url, headers=headers, **kwargs)

    async def coql(self, query: str) -> httpx.Response:
        return await self.post("/crm/v8/coql", json={"select_query": query})


@asynccontextmanager
async def api_for(sim: Simulator, *, authenticate: bool = True) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        api = Api(http)
        if authenticate:
            await api.refresh()
        yield api


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "details", "message", "status"}, body
    assert body["status"] == "error"
    return str(body["code"])
