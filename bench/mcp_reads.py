"""Benchmark our Zoho MCP server's read results: the largest result a client receives.

    python bench/mcp_reads.py --accounts 5000 --owners 50

1. Generates a demo org (fixed seed and anchor) in a temporary directory.
2. Serves it with our Zoho MCP server (the product's own code path: build_zoho_server over
   ZohoRestGateway → the in-process simulator) and connects the product's McpGateway to it over
   an in-memory MCP transport, counting the bytes of every result on the wire.
3. Calls every read tool the way a client would, with no arguments beyond the required ones
   (the unbounded calls of before: every account, every open deal, a full sync of every owner),
   following pages to the end.

Prints, per tool, the pages, the largest JSON-RPC result message in bytes and the total.
Target: no result above 100 KB by default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp.server import Server
from mcp.shared.memory import create_client_server_memory_streams
from pydantic import SecretStr

from sergas_tui.config import ZohoSettings
from sergas_tui.crm.approval_gate import ApprovalGate
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.server import build_zoho_server
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.demo import DemoStore, generate
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BASE = "http://sim.invalid"
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)


class Meter:
    """Bytes of every tool result the client receives, per tool."""

    def __init__(self) -> None:
        self.pages: dict[str, list[int]] = defaultdict(list)
        self.current = "?"

    def record(self, message: Any) -> None:
        result = getattr(getattr(message, "message", None), "result", None)
        if isinstance(result, dict) and "content" in result:
            # What travels: the whole JSON-RPC message, as the transport serialises it.
            wire = message.message.model_dump_json(by_alias=True, exclude_none=True)
            self.pages[self.current].append(len(wire.encode()))


@asynccontextmanager
async def metered(server: Server[Any], meter: Meter) -> Any:
    async with (
        create_client_server_memory_streams() as (client_streams, server_streams),
        anyio.create_task_group() as tg,
    ):
        client_read, client_write = client_streams
        send, receive = anyio.create_memory_object_stream[Any](1000)

        async def tap() -> None:
            async with send:
                async for message in client_read:
                    meter.record(message)
                    await send.send(message)

        async def serve() -> None:
            await server.run(*server_streams, server.create_initialization_options())

        tg.start_soon(serve)
        tg.start_soon(tap)
        try:
            yield receive, client_write
        finally:
            tg.cancel_scope.cancel()


async def measure(org: Path, db: Path) -> tuple[Meter, dict[str, float]]:
    sim = create_simulator(org, SimulatorConfig(api_domain=BASE, per_minute=100_000))
    store = DemoStore.open(org)
    owner = store.meta().current_user_email
    account_id = store.accounts(owner_id=store.meta().current_user_id)[0]["id"]
    store.close()
    meter = Meter()
    timings: dict[str, float] = {}
    rest = ZohoRestGateway(
        ZohoSettings(accounts_url=BASE, requests_per_minute=10_000, concurrent_requests=25),
        CREDENTIALS,
        transport=httpx.ASGITransport(app=sim.app),
    )
    with Repository.open(db) as repo:
        server = build_zoho_server(rest, ApprovalGate(LocalGrantStore(repo)))
        gateway = await McpGateway.connect(metered(server, meter), target="bench")
        calls: list[tuple[str, Any]] = [
            ("zoho_get_accounts", lambda: gateway.get_accounts()),
            ("zoho_list_open_deals", lambda: gateway.list_open_deals()),
            ("zoho_search_accounts", lambda: gateway.search_accounts("a", limit=2000)),
            ("zoho_get_deals", lambda: gateway.get_deals(account_id)),
            ("zoho_get_activities", lambda: gateway.get_activities(account_id)),
            ("zoho_get_notes", lambda: gateway.get_notes(account_id)),
            ("zoho_sync (one owner)", lambda: gateway.sync(owner)),
            ("zoho_sync (every owner)", lambda: gateway.sync()),
        ]
        try:
            for name, call in calls:
                meter.current = name
                started = time.perf_counter()
                await call()
                timings[name] = time.perf_counter() - started
        finally:
            await gateway.aclose()
            await rest.aclose()
            sim.close()
    return meter, timings


def main() -> int:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        org = Path(tmp) / "org.sqlite"
        started = time.perf_counter()
        generate(org, accounts=args.accounts, owners=args.owners, seed=args.seed, now=ANCHOR)
        print(
            f"generated {args.accounts} accounts / {args.owners} owners in "
            f"{time.perf_counter() - started:.1f} s"
        )
        meter, timings = asyncio.run(measure(org, Path(tmp) / "server.db"))
    largest = 0
    print(f"{'tool':28} {'pages':>6} {'largest KB':>11} {'total KB':>10} {'seconds':>8}")
    for name, pages in meter.pages.items():
        if name == "?":
            continue
        largest = max(largest, *pages)
        print(
            f"{name:28} {len(pages):6d} {max(pages) / 1000:11.1f} {sum(pages) / 1000:10.1f} "
            f"{timings.get(name, 0):8.2f}"
        )
    print(f"largest MCP read result: {largest / 1000:.1f} KB (target ≤ 100 KB)")
    return 0 if largest <= 100_000 else 1


if __name__ == "__main__":
    sys.exit(main())
