"""A memory file filled the way a real review fills it: a rules review of a small demo org.

:func:`build_reviewed_memory` generates the demo org in ``root``, runs the rules engine over
every account (which ingests each account's facts and remembers its recommendations) and
returns the path of the workspace's ``memory.db``, closed and checkpointed, ready to be copied
into each test. Everything lives under ``root``: nothing reads the developer's directories.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.memory import memory_path
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FAST = {"zoho": {"requests_per_minute": 10_000}}


@dataclass(frozen=True)
class ReviewedMemory:
    path: Path
    """The memory file after the review (copy it before use)."""
    scenarios: dict[str, str]
    """Demo scenario key → account id."""
    owner_email: str


def build_reviewed_memory(root: Path, *, accounts: int = 40) -> ReviewedMemory:
    locations = Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "log")
    crm = locations.demo_crm_file("demo")
    crm.parent.mkdir(parents=True)
    generate(crm, accounts=accounts, owners=1, seed=7, now=NOW)
    services = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        secrets=SecretStore(environ={}),
        clock=FixedClock(NOW),
    )

    async def review() -> None:
        orchestrator = await services.orchestrator()
        async for _event in orchestrator.review(None):
            pass

    try:
        asyncio.run(review())
        assert services.demo is not None
        scenarios = {s.key: s.account_id for s in services.demo.scenarios()}
        owner = services.demo.meta().current_user_email
    finally:
        asyncio.run(services.aclose())
        services.close()
    return ReviewedMemory(memory_path(locations.database_file("demo")), scenarios, owner)
