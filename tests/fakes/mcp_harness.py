"""Run an MCP server in-process over memory streams, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.server import Server
from mcp.shared.memory import create_client_server_memory_streams


@asynccontextmanager
async def memory_transport(server: Server[Any]) -> AsyncIterator[tuple[Any, Any]]:
    """A client transport whose other end is ``server`` running in this event loop."""
    async with (
        create_client_server_memory_streams() as (client_streams, server_streams),
        anyio.create_task_group() as tg,
    ):

        async def serve() -> None:
            await server.run(*server_streams, server.create_initialization_options())

        tg.start_soon(serve)
        try:
            yield client_streams
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def connected(server: Server[Any]) -> AsyncIterator[ClientSession]:
    """An initialized client session with ``server``."""
    async with memory_transport(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session
