"""``python -m tests.fakes.mcp_zoho_fake_server``: our Zoho MCP server over the fake gateway.

Serves stdio. Environment: ``FAKE_ZOHO_DB`` is the workspace database holding the approval
grants (required); ``FAKE_ZOHO_LOG`` is a JSON-lines log file (optional). Reading notes prints to
stdout on purpose, to prove a stray print cannot corrupt the protocol.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from sergas_tui.crm.approval_gate import ApprovalGate
from sergas_tui.crm.mcp.server import build_zoho_server, run_stdio
from sergas_tui.domain import Note
from sergas_tui.logs import configure_logging
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.fake_gateway import FakeGateway


class NoisyGateway(FakeGateway):
    async def get_notes(self, account_id: str) -> list[Note]:
        print(f"stray print while reading the notes of {account_id}")
        return await super().get_notes(account_id)


def main() -> None:
    if log_file := os.environ.get("FAKE_ZOHO_LOG"):
        configure_logging(Path(log_file), "DEBUG")
    with Repository.open(Path(os.environ["FAKE_ZOHO_DB"])) as repo:
        gateway = NoisyGateway.seeded()
        gate = ApprovalGate(LocalGrantStore(repo), audit=repo.append_audit)
        anyio.run(run_stdio, build_zoho_server(gateway, gate))


if __name__ == "__main__":
    main()
