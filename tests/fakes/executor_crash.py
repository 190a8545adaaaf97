"""Run ``Executor.execute`` in a process that SIGKILLs itself at a chosen point.

Usage: ``python -m tests.fakes.executor_crash <workspace.sqlite> <simulator base url> <approval>``
with ``SERGAS_CRASH_AT`` set to ``after-write-ahead`` (the ``executing`` status is stored, the
CRM not called yet) or ``after-crm-call`` (the CRM answered, nothing recorded yet). The crash is
injected by wrapping the gateway's write methods here; production code has no test hooks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sergas_tui.approvals.executor import Executor
from sergas_tui.clock import SystemClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from sergas_tui.storage import Repository

CRASH_ENV = "SERGAS_CRASH_AT"
CRASH_POINTS = ("after-write-ahead", "after-crm-call")
WRITE_METHODS = ("create_task", "add_note", "update_account")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def open_gateway(base_url: str) -> ZohoRestGateway:
    credentials = ZohoCredentials(
        client_id=DEMO_CLIENT_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
    )
    settings = ZohoSettings(accounts_url=base_url, retry_initial_delay_ms=0)
    return ZohoRestGateway(settings, credentials)


def arm(gateway: ZohoRestGateway, point: str) -> None:
    """Replace the gateway's write methods with ones that kill the process at ``point``."""
    for name in WRITE_METHODS:
        real: Callable[..., Awaitable[Any]] = getattr(gateway, name)

        async def crashing(
            *args: Any, _real: Callable[..., Awaitable[Any]] = real, **kw: Any
        ) -> Any:
            if point == "after-write-ahead":
                die()
            result = await _real(*args, **kw)
            if point == "after-crm-call":
                die()
            return result

        setattr(gateway, name, crashing)


async def main(workspace: Path, base_url: str, approval_id: str) -> int:
    point = os.environ.get(CRASH_ENV, "")
    repo = Repository.open(workspace)
    gateway = open_gateway(base_url)
    if point:
        if point not in CRASH_POINTS:
            raise SystemExit(f"unknown crash point {point!r}")
        arm(gateway, point)
    try:
        result = await Executor(repo, gateway, clock=SystemClock()).execute(approval_id)
    finally:
        await gateway.aclose()
        repo.close()
    print(result.status)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
