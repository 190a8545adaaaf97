"""ZohoRestGateway against the Zoho simulator: in-process (ASGI) and on a loopback port."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings
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
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.crm.writer import NoteDraft, TaskDraft
from sergas_tui.demo import DemoInfo, DemoStore
from sergas_tui.demo.generator import generate
from sergas_tui.errors import CrmConflictError
from tests.conftest import FIXED_NOW
from tests.fakes.write_approval import TEST_APPROVAL
from tests.fakes.zoho_http import FakeTime

CREDENTIALS = ZohoCredentials(
    DEMO_CLIENT_ID, SecretStr(DEMO_CLIENT_SECRET), SecretStr(DEMO_REFRESH_TOKEN)
)


def _org(path: Path) -> DemoInfo:
    generate(path, accounts=150, owners=4, seed=5, now=FIXED_NOW)
    with DemoStore.open(path) as store:
        return store.meta()


@pytest.fixture(scope="module")
def shared_org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoInfo]:
    path = tmp_path_factory.mktemp("sim") / "org.db"
    return path, _org(path)


@pytest.fixture
def sim(shared_org: tuple[Path, DemoInfo]) -> Iterator[Simulator]:
    simulator = create_simulator(shared_org[0], SimulatorConfig(clock=FixedClock(FIXED_NOW)))
    yield simulator
    simulator.close()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(FixedClock(FIXED_NOW))


def _gateway(
    transport: httpx.AsyncBaseTransport, time: FakeTime, **settings: object
) -> ZohoRestGateway:
    return ZohoRestGateway(
        ZohoSettings(client_id=DEMO_CLIENT_ID, **settings),
        CREDENTIALS,
        transport=transport,
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(3),
        monotonic=time.monotonic,
    )


def _asgi(sim: Simulator) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=sim.app)


async def test_sync_counts_every_call_the_simulator_saw(
    sim: Simulator, shared_org: tuple[Path, DemoInfo], time: FakeTime
) -> None:
    info = shared_org[1]
    async with _gateway(_asgi(sim), time) as gateway:
        batch = await gateway.sync(info.current_user_email)
        assert batch.calls == sim.counters.total_calls
        assert sim.counters.token_calls == 1
        assert gateway.stats.token_requests == 1
        notes_pages = gateway.stats.by_endpoint["GET /Notes"]
        assert batch.calls == 1 + 6 + notes_pages  # users, six COQL modules, notes pages
        assert batch.accounts
        assert {a.owner.id for a in batch.accounts if a.owner} == {info.current_user_id}
        account_ids = {a.id for a in batch.accounts}
        assert {d.account_id for d in batch.deals} <= account_ids
        assert {c.account_id for c in batch.contacts} <= account_ids
        assert batch.activities
        assert batch.notes
        cutoff = FIXED_NOW - timedelta(days=90)
        assert all(n.modified_time and n.modified_time >= cutoff for n in batch.notes)

        before = sim.counters.total_calls
        later = await gateway.sync(info.current_user_email, modified_since=FIXED_NOW)
        assert later.calls == 7 == sim.counters.total_calls - before
        assert later.accounts == []
        assert later.notes == []


async def test_reads_agree_with_the_sync(
    sim: Simulator, shared_org: tuple[Path, DemoInfo], time: FakeTime
) -> None:
    info = shared_org[1]
    async with _gateway(_asgi(sim), time) as gateway:
        mine = await gateway.get_accounts(info.current_user_email)
        assert mine
        account = next(a for a in mine if a.name)
        details = await gateway.get_account_details(account.id)
        assert details is not None
        assert details.name == account.name
        assert await gateway.get_account_details("5725767000009999999") is None
        deals = await gateway.get_deals(account.id)
        open_deals = await gateway.list_open_deals(info.current_user_email)
        mine_open = {
            d.id
            for d in deals
            if d.stage not in ("Closed Won", "Closed Lost")
            and d.owner is not None
            and d.owner.id == info.current_user_id
        }
        assert mine_open <= {d.id for d in open_deals}
        found = await gateway.search_accounts(account.name.split()[0])
        assert account.id in {a.id for a in found}
        me = await gateway.get_user_info()
        assert me is not None
        assert me.email == info.current_user_email
        notes = await gateway.get_notes(account.id)
        stamps = [n.created_time for n in notes]
        assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
        await gateway.get_activities(account.id, since=FIXED_NOW - timedelta(days=30))
        if deals:
            history = await gateway.get_stage_history(deals[0].id)
            times = [h.changed_at for h in history]
            assert times == sorted(times)  # type: ignore[type-var]
            changes = await gateway.get_timeline("Deals", deals[0].id)
            assert all(c.module == "Deals" for c in changes)


async def test_faults_are_retried_and_expired_tokens_refreshed(
    sim: Simulator, shared_org: tuple[Path, DemoInfo], time: FakeTime
) -> None:
    info = shared_org[1]
    async with _gateway(_asgi(sim), time) as gateway:
        sim.faults = FaultPlan(schedule={1: "server_error", 2: "rate_limit"}, expire_tokens_at=4)
        first = await gateway.get_user_info()
        assert first is not None
        assert gateway.stats.retries == 2
        assert len(time.backoffs()) == 2
        assert await gateway.get_accounts(info.current_user_email)
        assert gateway.stats.refreshes == 2  # the first token, then once after INVALID_TOKEN


async def test_writes_and_the_412_conflict(tmp_path: Path, time: FakeTime) -> None:
    path = tmp_path / "org.db"
    info = _org(path)
    sim = create_simulator(path, SimulatorConfig(clock=FixedClock(FIXED_NOW)))
    try:
        async with _gateway(_asgi(sim), time) as gateway:
            account = (await gateway.get_accounts(info.current_user_email))[0]
            updated = await gateway.update_account(
                account.id, {"Rating": "Hot"}, if_unmodified_since=FIXED_NOW, approval=TEST_APPROVAL
            )
            assert updated.record_id == account.id
            details = await gateway.get_account_details(account.id)
            assert details is not None
            assert details.rating == "Hot"
            with pytest.raises(CrmConflictError) as caught:
                await gateway.update_account(
                    account.id,
                    {"Rating": "Cold"},
                    if_unmodified_since=FIXED_NOW - timedelta(days=365),
                    approval=TEST_APPROVAL,
                )
            assert isinstance(caught.value.details, dict)
            assert caught.value.details["current"] == {"Rating": "Hot"}

            task = await gateway.create_task(
                TaskDraft(account_id=account.id, subject="Call"), approval=TEST_APPROVAL
            )
            assert task.module == "Tasks"
            assert task.record_id
            note = await gateway.add_note(
                NoteDraft(parent_id=account.id, content="[sergas:x] hi"), approval=TEST_APPROVAL
            )
            notes = await gateway.get_notes(account.id)
            assert note.record_id in {n.id for n in notes}
    finally:
        sim.close()


async def test_over_a_loopback_port(shared_org: tuple[Path, DemoInfo], time: FakeTime) -> None:
    base_url, stop = start_in_thread(shared_org[0], SimulatorConfig(clock=FixedClock(FIXED_NOW)))
    try:
        async with _gateway(httpx.AsyncHTTPTransport(), time, accounts_url=base_url) as gateway:
            me = await gateway.get_user_info()
            assert me is not None
            assert me.email == shared_org[1].current_user_email
    finally:
        stop()
