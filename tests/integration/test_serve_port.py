"""A server whose port is taken says so in words (the MCP servers and `sergas serve` share the
serving code, mcp_transport.serve_uvicorn)."""

from __future__ import annotations

import socket

import pytest
import uvicorn
from starlette.applications import Starlette

from sergas_tui.errors import SergasError
from sergas_tui.mcp_transport import serve_uvicorn


async def test_a_taken_port_is_a_clear_error_not_an_exit() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = uvicorn.Config(Starlette(), host="127.0.0.1", port=port, log_config=None)
        with pytest.raises(SergasError) as refused:
            await serve_uvicorn(
                config, ready=None, title="Cannot start the approval server", hint=" Pick another."
            )
    assert refused.value.title == "Cannot start the approval server"
    assert refused.value.message == (
        f"Cannot listen on 127.0.0.1:{port} (Address already in use); is another server using "
        "the port? Pick another."
    )


async def test_port_zero_listens_on_a_free_port_and_says_which() -> None:
    import asyncio

    import httpx

    config = uvicorn.Config(Starlette(), host="127.0.0.1", port=0, log_config=None)
    told: asyncio.Queue[int] = asyncio.Queue()
    serving = asyncio.ensure_future(serve_uvicorn(config, ready=told.put_nowait, title="t"))
    try:
        port = await asyncio.wait_for(told.get(), 30)
        assert port > 0
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/nothing-here")
        assert answer.status_code == 404
    finally:
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
