"""``python -m tests.fakes.memory_mcp_server``: our memory MCP server over stdio, for tests.

Environment: ``MEMORY_DB`` is the memory file to serve (required); ``MEMORY_READ_ONLY=1``
offers only the read tools. Searching prints to stdout and logs on purpose, to prove that
neither can corrupt the protocol stream. The clock is fixed at the reviewed demo's "now".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anyio

from sergas_tui.clock import FixedClock
from sergas_tui.memory import LocalMemory, MemoryHit
from sergas_tui.memory.mcp_server import run_memory_server
from tests.fakes.reviewed_memory import NOW


class NoisyMemory(LocalMemory):
    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        print(f"stray print while searching for {query!r}")
        logging.getLogger("noisy").warning("a library logs while searching")
        return await super().search(query, account_id=account_id, limit=limit)


async def serve(path: Path, read_only: bool) -> None:
    clock = FixedClock(NOW)
    store = NoisyMemory(path, clock=clock)
    try:
        await run_memory_server(store, http_port=None, token=None, read_only=read_only, clock=clock)
    finally:
        await store.close()


def main() -> None:
    path = Path(os.environ["MEMORY_DB"])
    anyio.run(serve, path, os.environ.get("MEMORY_READ_ONLY") == "1")


if __name__ == "__main__":
    main()
