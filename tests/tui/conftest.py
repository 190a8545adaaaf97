"""A small generated demo workspace and services with a fixed clock, for Pilot and snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import Settings, load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from tests.conftest import FIXED_NOW


@pytest.fixture
def settings() -> Settings:
    return load_settings(Locations.from_env())


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=120, owners=4, seed=5, now=FIXED_NOW)
    built = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(FIXED_NOW)
    )
    yield built
    built.close()


async def review_current_owner(services: Services) -> None:
    """Run the rules review of the current owner, so approvals, briefs and audit rows exist."""
    orchestrator = await services.orchestrator()
    async for _event in orchestrator.review(services.current_user_email()):
        pass


@pytest.fixture
def reviewed(services: Services) -> Services:
    """``services`` after one review of the current owner (pending approvals, a brief).

    Synchronous (its own event loop), so snapshot tests can use it too; the CRM gateway is
    closed afterwards and reopens in the test's loop on first use.
    """

    async def run() -> None:
        await review_current_owner(services)
        await services.aclose()

    asyncio.run(run())
    return services
