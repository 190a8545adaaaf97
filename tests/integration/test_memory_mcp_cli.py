"""`sergas mcp memory` as a client sees it: a real subprocess speaking MCP over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from tests.conftest import FIXED_NOW

ROOT = Path(__file__).resolve().parents[2]
READ_TOOLS = {
    "cognee_search_memory",
    "cognee_retrieve_history",
    "cognee_aggregate_insights",
    "cognee_get_relationship_graph",
}


async def test_sergas_mcp_memory_read_only_over_stdio(tmp_path: Path) -> None:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=20, owners=2, seed=3, now=FIXED_NOW)
    env = {k: v for k, v in os.environ.items() if k.startswith("SERGAS_")}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sergas_tui", "mcp", "memory", "--read-only"],
        env=env,
        cwd=ROOT,
    )
    with (tmp_path / "server.stderr").open("w", encoding="utf-8") as sink:
        async with (
            asyncio.timeout(60),
            stdio_client(params, errlog=sink) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listing = await session.list_tools()
            insights = await session.call_tool("cognee_aggregate_insights", {})
    assert {tool.name for tool in listing.tools} == READ_TOOLS
    assert not insights.is_error
    [content] = insights.content
    assert isinstance(json.loads(content.text), dict)  # type: ignore[union-attr]
