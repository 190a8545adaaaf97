"""The metadata cache over the simulator: the REST read at most once a day (on disk, 304 after a
day), a token without the settings scope, and reviews and `sergas doctor` on the demo org with
its own "At Risk" and with a value its picklist lacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from sergas_tui.agents.events import RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings, load_settings
from sergas_tui.crm.gateway import fields_or_unknown
from sergas_tui.crm.metadata_cache import FieldsCache, cached_state
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.simulator.config import DEMO_CLIENT, FULL_SCOPES, OAuthClient
from sergas_tui.demo import generate
from sergas_tui.doctor import run_checks
from sergas_tui.domain import FieldChange, UpdateAccountAction
from sergas_tui.errors import CrmAuthError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.integration.simkit import BASE_URL, NOW, make_org

FIELDS_CALL = "GET settings/fields"
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)
NO_SETTINGS_REFRESH = "1000.nosettings.refresh"
NO_SETTINGS = OAuthClient(
    client_id="1000.NOSETTINGS",
    client_secret="no-settings-secret-0000000000000000000000",
    refresh_tokens={
        NO_SETTINGS_REFRESH: tuple(s for s in FULL_SCOPES if not s.startswith("ZohoCRM.settings"))
    },
)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory, accounts=40, owners=2)


@asynccontextmanager
async def rest(
    sim: Simulator, clock: FixedClock, credentials: ZohoCredentials = CREDENTIALS
) -> AsyncIterator[ZohoRestGateway]:
    settings = ZohoSettings(accounts_url=BASE_URL, requests_per_minute=10_000)
    transport = httpx.ASGITransport(app=sim.app)
    async with ZohoRestGateway(settings, credentials, transport=transport, clock=clock) as gateway:
        yield gateway


async def test_rest_reads_fields_once_a_day_and_a_304_keeps_them(org: Path, tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    sim = create_simulator(org, SimulatorConfig(api_domain=BASE_URL, clock=clock))
    directory = tmp_path / "zoho-metadata"
    try:
        async with rest(sim, clock) as gateway:
            gateway.use_fields_cache(FieldsCache(directory))
            first = await gateway.get_fields("Accounts")
            assert sim.counters.calls[FIELDS_CALL] == 1
            rating = first.field("Rating")
            assert rating is not None
            assert rating.picklist is not None
            assert "At Risk" in rating.picklist
            assert "-None-" not in rating.picklist
            assert first.fetched_at == NOW
            written = json.loads((directory / "fields-Accounts.json").read_text())
            assert written["module"] == "Accounts"
            assert len(written["fields"]["fields"]) == len(first.fields)
            calls = sim.counters.total_calls
            clock.advance(timedelta(hours=23))
            assert await gateway.get_fields("Accounts") == first
            assert sim.counters.total_calls == calls  # within the day: no HTTP call at all

        # Another process (a new gateway over the same workspace directory), same day: no call.
        async with rest(sim, clock) as gateway:
            gateway.use_fields_cache(FieldsCache(directory))
            assert await gateway.get_fields("Accounts") == first
            assert sim.counters.total_calls == calls
            # A day later: one call with If-Modified-Since; the unchanged org answers 304.
            clock.advance(timedelta(hours=2))
            again = await gateway.get_fields("Accounts")
            assert sim.counters.calls[FIELDS_CALL] == 2
            assert sim.counters.status[304] == 1
            assert again.fields == first.fields
            assert again.fetched_at == clock.now()
            stored = cached_state(FieldsCache(directory), "Accounts")
            assert stored.fields == again
            clock.advance(timedelta(hours=1))
            await gateway.get_fields("Accounts")
            assert sim.counters.calls[FIELDS_CALL] == 2
    finally:
        sim.close()


async def test_a_token_without_the_settings_scope_leaves_the_metadata_unknown(
    org: Path, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    config = SimulatorConfig(api_domain=BASE_URL, clock=clock, clients=(DEMO_CLIENT, NO_SETTINGS))
    sim = create_simulator(org, config)
    limited = ZohoCredentials(
        client_id=NO_SETTINGS.client_id,
        client_secret=SecretStr(NO_SETTINGS.client_secret),
        refresh_token=SecretStr(NO_SETTINGS_REFRESH),
    )
    cache = FieldsCache(tmp_path)
    try:
        async with rest(sim, clock, limited) as gateway:
            gateway.use_fields_cache(cache)
            with pytest.raises(CrmAuthError, match=r"ZohoCRM\.settings\.fields\.READ"):
                await gateway.get_fields("Accounts")
            unknown = await fields_or_unknown(gateway, "Accounts")
            assert not unknown.known
            assert "ZohoCRM.settings.fields.READ" in (unknown.unknown or "")
            # Records are still readable: only the metadata is missing.
            assert await gateway.get_accounts()
        state = cached_state(cache, "Accounts")
        assert state.fields is None
        assert state.failure is not None
        assert "ZohoCRM.settings.fields.READ" in state.failure
    finally:
        sim.close()


# --- reviews and doctor on the demo org ----------------------------------------------------------


def rating_changes(finished: RunFinished) -> list[FieldChange]:
    """Every Rating change a run proposed, as a main write or riding with another."""
    changes: list[FieldChange] = []
    for brief in finished.briefs:
        for rec in brief.recommendations:
            actions = [rec.suggested_action, *(w.action for w in rec.also)]
            for action in actions:
                if isinstance(action, UpdateAccountAction):
                    changes += [c for c in action.field_changes if c.field == "Rating"]
    return changes


async def review_demo(config: str) -> tuple[RunFinished, Locations]:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True, exist_ok=True)
    locations.config_file.write_text(config + "\n[zoho]\nrequests_per_minute = 10000\n")
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(path, accounts=120, owners=3, seed=7, now=NOW)
    services = open_services(
        load_settings(locations),
        locations,
        secrets=SecretStore(environ={}),
        clock=FixedClock(NOW),
    )
    try:
        assert services.demo is not None
        orchestrator = await services.orchestrator()
        me = services.demo.meta().current_user_email
        events = [event async for event in orchestrator.review(me)]
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        assert finished.summary.failed == 0
        calls = [
            e.tool_name
            for e in services.store.audit_events(limit=10_000)
            if e.action_type == "tool_invocation"
        ]
        assert calls.count("zoho_get_fields") == 1  # once per review, inside the run
    finally:
        await services.aclose()
        services.close()
    return finished, locations


def rating_check(locations: Locations) -> tuple[str, str]:
    check = next(
        c
        for c in run_checks(locations, SecretStore(environ={}), "demo")
        if (c.group, c.name) == ("review", "at-risk rating")
    )
    return check.status, check.detail


async def test_a_demo_review_proposes_the_demo_orgs_at_risk_value() -> None:
    locations = Locations.from_env()
    status, detail = rating_check(locations)
    assert status == "info"
    assert "not checked yet" in detail
    finished, locations = await review_demo("")
    changes = rating_changes(finished)
    assert changes, "the demo's high-risk accounts get their Rating set to At Risk"
    assert {c.new for c in changes} == {"At Risk"}
    assert (locations.zoho_metadata_dir("demo") / "fields-Accounts.json").exists()
    status, detail = rating_check(locations)
    assert status == "ok"
    assert detail.startswith(
        "[review] at_risk_rating 'At Risk' is a value the org's Accounts Rating picklist takes"
    )


async def test_a_value_the_orgs_picklist_lacks_is_never_proposed() -> None:
    finished, locations = await review_demo('[review]\nat_risk_rating = "Nonexistent"')
    assert finished.summary.recommendations > 0  # the review itself goes on
    assert rating_changes(finished) == []
    status, detail = rating_check(locations)
    assert status == "warn"
    assert detail.startswith(
        "[review] at_risk_rating 'Nonexistent' is not a value of the org's Accounts Rating "
        "picklist (Acquired, Active, "
    )
    assert ": no Rating updates are proposed." in detail
