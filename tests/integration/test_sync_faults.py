"""A full sync of 5,000 accounts survives 20% injected 429/500 and a token expiry.

The data must be identical to a clean sync, and the simulator's counters must show the client
never went over its own limits (5 in flight, 120 a minute). Real time: backoff sleeps for real.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.demo import generate

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BASE = "http://sim.invalid"
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)


@pytest.fixture(scope="module")
def big_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "org.sqlite"
    generate(path, accounts=5000, owners=50, seed=7, now=NOW)
    return path


def canonical(batch: SyncBatch) -> dict[str, Any]:
    def dump(items: list[Any]) -> list[Any]:
        return sorted((item.model_dump(mode="json") for item in items), key=lambda d: d["id"])

    return {
        "users": dump(batch.users),
        "accounts": dump(batch.accounts),
        "contacts": dump(batch.contacts),
        "deals": dump(batch.deals),
        "activities": dump(batch.activities),
        "notes": dump(batch.notes),
    }


async def full_sync(sim: Simulator) -> SyncBatch:
    settings = ZohoSettings(accounts_url=BASE)  # defaults: 120/min, 5 in flight, 3 retries
    transport = httpx.ASGITransport(app=sim.app)
    # The org's clock, not the wall clock: the 90-day window must not move between two syncs.
    clock = FixedClock(NOW)
    async with ZohoRestGateway(settings, CREDENTIALS, transport=transport, clock=clock) as gateway:
        return await gateway.sync(history_days=90)


async def test_faulty_full_sync_equals_clean_sync(big_org: Path) -> None:
    config = SimulatorConfig(api_domain=BASE, clock=FixedClock(NOW))
    sim = create_simulator(big_org, config)
    try:
        clean = await full_sync(sim)
        assert len(clean.accounts) == 5000
        sim.reset_counters()
        sim.faults = FaultPlan(seed=11, rate_limit=0.10, server_error=0.10, expire_tokens_at=12)
        faulty = await full_sync(sim)
        counters = sim.counters
        assert counters.faults.get("rate_limit", 0) + counters.faults.get("server_error", 0) > 0
        assert counters.faults.get("expire_tokens", 0) == 1
        assert counters.peak_concurrency <= 5
        assert counters.peak_per_minute <= 120
        assert canonical(faulty) == canonical(clean)
        assert faulty.calls > clean.calls  # the retries were counted
    finally:
        sim.close()
