"""MCP transports shared by our MCP servers (Zoho, memory): stdio, and streamable HTTP behind a
bearer token.

stdio: the protocol owns stdout, so anything else printed goes to stderr. HTTP: loopback by
default; a request without ``Authorization: Bearer <token>`` gets a plain 401 (the token
compared in constant time) that says "bad or missing bearer token". It advertises no OAuth:
the challenge names no ``resource_metadata`` and every path, ``/.well-known/…`` included,
answers 401, so clients report an authentication failure instead of starting an OAuth flow.
:func:`run_http` refuses to start with a guessable token (fewer than 32 random characters, see
:func:`sergas_tui.secrets.server_token_problem`): `sergas auth generate mcp_server_token` makes
a good one.

It lives at the package root so that the ``crm`` and ``memory`` adapters, which must not import
each other, can share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sys
from collections.abc import Callable
from typing import Any

import structlog
import uvicorn
from mcp.server import Server
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp, Receive, Scope, Send

from sergas_tui.errors import SergasError
from sergas_tui.secrets import check_server_token

log = structlog.get_logger("sergas.mcp")

DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8765
DEFAULT_HTTP_PATH = "/mcp"


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client over this process's stdin/stdout until it disconnects.

    While serving, ``sys.stdout`` is ``sys.stderr`` and file descriptor 1 points at stderr
    too, so a stray print (ours or a child process's) cannot corrupt the protocol; configure
    logging to a file (or stderr) before calling this.
    """
    sys.stdout.flush()
    async with stdio_server() as (read_stream, write_stream):
        # After the claim: stdio_server serves the wire from sys.stdout's own descriptor.
        with contextlib.redirect_stdout(sys.stderr):
            await server.run(read_stream, write_stream, server.create_initialization_options())


UNAUTHORIZED_BODY = (
    b'{"error":"invalid_token","error_description":"bad or missing bearer token: send '
    b'Authorization: Bearer <the token the server was started with>"}'
)
"""The body of every 401: what went wrong, in words an MCP client shows its user."""


class BearerTokenMiddleware:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get a plain 401
    (no OAuth metadata advertised)."""

    def __init__(self, app: ASGIApp, token: str, *, realm: str = "sergas") -> None:
        if not token:
            raise ValueError("the MCP HTTP server needs a non-empty bearer token")
        self._app = app
        self._expected = f"Bearer {token}".encode()
        self._realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        presented = self._presented(scope)
        if scope["type"] != "http" or secrets.compare_digest(presented, self._expected):
            await self._app(scope, receive, send)
            return
        log.warning("http_unauthorized", path=scope.get("path"), client=scope.get("client"))
        # RFC 6750: no error code when no token was sent, invalid_token for a wrong one.
        challenge = f'Bearer realm="{self._realm}"'
        if presented:
            challenge += ', error="invalid_token", error_description="bad bearer token"'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": UNAUTHORIZED_BODY})

    @staticmethod
    def _presented(scope: Scope) -> bytes:
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                return bytes(value)
        return b""


def http_app(
    server: Server[Any],
    *,
    bearer_token: str,
    host: str = DEFAULT_HTTP_HOST,
    path: str = DEFAULT_HTTP_PATH,
) -> ASGIApp:
    """The streamable-HTTP ASGI app for ``server``, behind bearer-token authentication."""
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    return BearerTokenMiddleware(app, bearer_token, realm=server.name)


async def run_http(
    server: Server[Any],
    host: str = DEFAULT_HTTP_HOST,
    port: int = DEFAULT_HTTP_PORT,
    *,
    bearer_token: str,
    path: str = DEFAULT_HTTP_PATH,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve streamable HTTP at ``http://host:port/path`` until cancelled or interrupted.

    ``ready`` is called with the endpoint URL once the socket listens. Cancelling the caller
    shuts the server down gracefully before the cancellation propagates. A weak
    ``bearer_token`` is refused before anything listens (:class:`SecretError`, exit code 2).
    """
    check_server_token(bearer_token)
    app = http_app(server, bearer_token=bearer_token, host=host, path=path)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
    )

    def started(bound: int) -> None:
        if ready is not None:
            ready(f"http://{host}:{bound}{path}")

    await serve_uvicorn(config, ready=started, title="Cannot start the MCP server")


def bind_listening(host: str, port: int, *, title: str, hint: str = "") -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port) for a server to listen on; a
    :class:`SergasError` titled ``title`` when it cannot be (``hint``: what to change)."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as err:
        raise SergasError(f"Cannot listen on {where}: {err.strerror}.{hint}", title=title) from err
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise SergasError(
            f"Cannot listen on {where} ({err.strerror}); is another server using the port?{hint}",
            title=title,
        ) from err
    return sock


async def serve_uvicorn(
    config: uvicorn.Config,
    *,
    ready: Callable[[int], None] | None,
    title: str,
    hint: str = "",
) -> None:
    """Run ``config``'s server until cancelled or interrupted; ``ready`` is called with the
    port once the socket listens. Cancelling the caller shuts it down gracefully before the
    cancellation propagates. A port that cannot be bound is a :class:`SergasError` titled
    ``title`` (``hint``: what to change), raised before anything is served: uvicorn's own bind
    would end the process instead."""
    sock = bind_listening(config.host, config.port, title=title, hint=hint)
    bound = int(sock.getsockname()[1])
    uv = _Uvicorn(config, (lambda: ready(bound)) if ready is not None else None)
    serving = asyncio.ensure_future(uv.serve(sockets=[sock]))
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        uv.should_exit = True
        await serving
        raise
    finally:
        sock.close()


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that reports when it listens."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_started is not None:
            self._on_started()
