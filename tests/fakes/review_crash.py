"""Run a full review of the demo workspace in a process that SIGKILLs itself mid-review.

Usage: ``python -m tests.fakes.review_crash <accounts authored before the kill> <chunk>``, with
the ``SERGAS_*_DIR`` variables naming a workspace whose demo org is generated. The review's
writer commits every ``<chunk>`` accounts (and never on its timer), so the kill lands with whole
chunks committed and an open one holding accounts that must vanish whole. The process prints
the run id first. Production code has no test hooks: the chunk size is set here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from sergas_tui.agents import account_loop
from sergas_tui.agents.events import AccountAuthored, RunStarted
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.integration.simkit import NOW


async def main(kill_after: int) -> None:
    locations = Locations.from_env()
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(NOW)
    )
    orchestrator = await services.orchestrator()
    authored = 0
    async for event in orchestrator.review(None):
        if isinstance(event, RunStarted):
            print(event.run_id, flush=True)
        if isinstance(event, AccountAuthored):
            authored += 1
            if authored == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    account_loop.PERSIST_CHUNK = int(sys.argv[2])
    account_loop.PERSIST_DELAY = 3600.0
    asyncio.run(main(int(sys.argv[1])))
