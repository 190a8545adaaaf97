"""Fixtures for end-to-end tests of the real claude-agent-sdk + bundled CLI against the fake API.

``fake_anthropic`` is a started :class:`FakeAnthropic` (stopped after the test); ``sdk`` is an
:class:`SdkSandbox` under ``tmp_path`` pointed at it, with the fake as proxy trap so anything
the CLI sends off loopback shows up in ``fake_anthropic.escape_attempts``. Tests skip when the
SDK wheel carries no bundled CLI (the CLI is what makes these tests end to end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import claude_agent_sdk
import pytest
import pytest_asyncio

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from tests.conftest import FIXED_NOW
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.sdk_env import DUMMY_API_KEY, SdkSandbox, sdk_sandbox
from tests.helpers.claude import MAIN, OpenServices

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    if not BUNDLED_CLI.exists():
        pytest.skip(f"claude-agent-sdk has no bundled CLI at {BUNDLED_CLI}")
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def sdk(tmp_path: Path, fake_anthropic: FakeAnthropic) -> SdkSandbox:
    return sdk_sandbox(
        tmp_path / "sdk", fake_anthropic.base_url, proxy_trap=fake_anthropic.base_url
    )


@pytest_asyncio.fixture
async def make_services(
    tmp_path: Path, fake_anthropic: FakeAnthropic
) -> AsyncIterator[OpenServices]:
    """Opens Services on a 24-account demo workspace whose Claude engine talks to the fake
    API (``[anthropic]`` overrides as keywords); closes every one after the test."""
    opened: list[Services] = []
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=24, owners=1, seed=7, now=FIXED_NOW)

    def make(**anthropic: Any) -> Services:
        overrides = {
            "zoho": {"requests_per_minute": 10_000},
            "anthropic": {
                "engine": "claude",
                "base_url": fake_anthropic.base_url,
                "model": MAIN,
                **anthropic,
            },
        }
        built = open_services(
            load_settings(locations, overrides=overrides),
            locations,
            secrets=SecretStore(environ={"ANTHROPIC_API_KEY": DUMMY_API_KEY}),
            clock=FixedClock(FIXED_NOW),
        )
        opened.append(built)
        return built

    try:
        yield make
    finally:
        for built in opened:
            await built.aclose()
            built.close()
