"""``python -m tests.fakes.mcp_server_crash``: our Zoho MCP server (stdio) over the Zoho
simulator, in a process that SIGKILLs itself at a chosen point of a write.

Environment: ``CRASH_DB`` is the server's workspace database (it keeps the approval grants),
``CRASH_CRM`` the simulator's base URL, ``SERGAS_CRASH_AT`` the crash point (empty: no crash):
``after-claim`` (the grant is claimed, the CRM not called yet) or ``after-crm-call`` (the CRM
accepted the write, the grant is not settled yet). The crash is injected by wrapping the
gateway's write methods here; production code has no test hooks.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from sergas_tui.crm.approval_gate import ApprovalGate
from sergas_tui.crm.mcp.server import build_zoho_server, run_stdio
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.executor_crash import CRASH_ENV, arm, open_gateway

SERVER_CRASH_POINTS = ("after-claim", "after-crm-call")


async def serve(repo: Repository, base_url: str, point: str) -> None:
    gateway = open_gateway(base_url)
    if point:
        if point not in SERVER_CRASH_POINTS:
            raise SystemExit(f"unknown crash point {point!r}")
        # The gate claims before the gateway is called: "after-claim" is the executor's
        # "after-write-ahead" (die before the CRM call).
        arm(gateway, "after-write-ahead" if point == "after-claim" else point)
    gate = ApprovalGate(LocalGrantStore(repo), audit=repo.append_audit)
    try:
        await run_stdio(build_zoho_server(gateway, gate))
    finally:
        await gateway.aclose()


def main() -> None:
    with Repository.open(Path(os.environ["CRASH_DB"])) as repo:
        anyio.run(serve, repo, os.environ["CRASH_CRM"], os.environ.get(CRASH_ENV, ""))


if __name__ == "__main__":
    main()
