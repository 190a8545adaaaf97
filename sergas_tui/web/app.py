"""`sergas serve`: the approval pages behind digest links, on Starlette and uvicorn.

Routes: ``GET /a/{token}`` shows the approval (it never changes anything, so a mail scanner
that follows links decides nothing), ``POST /a/{token}`` decides it (a form carrying the page's
nonce, :mod:`.nonce`), ``GET /s/page.css`` the stylesheet, ``GET /healthz`` for proxies and
probes. Every answer is ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``
(the link is a credential), with a Content-Security-Policy that allows no script, no frame and
forms only back to this server.

It listens on loopback by default (``[notifications] serve_host`` / ``serve_port``); to reach
it from elsewhere, put a TLS reverse proxy in front (docs/operations.md). The client address in
the audit is the proxy's ``X-Forwarded-For`` when the proxy is trusted (uvicorn's
``FORWARDED_ALLOW_IPS``, loopback by default).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.mcp_transport import serve_uvicorn
from sergas_tui.web import pages
from sergas_tui.web.desk import Client, LinkDesk, public_message

log = get_logger("sergas.web")

FORM_MAX_BYTES = 256 * 1024
"""The largest decision form accepted (an adjusted note may be long; nothing is bigger)."""
FORM_MAX_FIELDS = 64
SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """ASGI middleware: the headers of :data:`SECURITY_HEADERS` on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {bytes(k).lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self._app(scope, receive, with_headers)


def _html(page: pages.Page, background: BackgroundTask | None = None) -> HTMLResponse:
    return HTMLResponse(page.html, status_code=page.status, background=background)


async def _form(request: Request) -> dict[str, str] | pages.Page:
    """The urlencoded form, read up to :data:`FORM_MAX_BYTES` (a refusal page otherwise)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return pages.refusal(415, "Not a form", "Send the page's form. Nothing was decided.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            return pages.refusal(
                413, "Too much text", "The form is too large. Nothing was decided."
            )
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=FORM_MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        return pages.refusal(400, "Unreadable form", "Send the page's form. Nothing was decided.")
    return dict(pairs)


def build_app(desk: LinkDesk) -> ASGIApp:
    """The ASGI app of `sergas serve` over ``desk``."""

    async def link(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":
            return _html(await desk.show(token, request.query_params.get("do")))
        if request.headers.get("sec-fetch-site") == "cross-site":
            log.warning("link_cross_site_post", ip=request.client.host if request.client else None)
            return _html(
                pages.refusal(
                    403,
                    "Not from this page",
                    "Decisions are taken on the approval page itself. Nothing was decided.",
                )
            )
        form = await _form(request)
        if isinstance(form, pages.Page):
            return _html(form)
        client = Client(
            ip=request.client.host if request.client else None,
            agent=request.headers.get("user-agent"),
        )
        page = await desk.decide(token, form, client)
        return _html(page, BackgroundTask(desk.sync_audit) if page.decided else None)

    async def stylesheet(request: Request) -> Response:
        return Response(pages.STYLESHEET, media_type="text/css")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _html(pages.refusal(status, "Nothing here", "This address is not an approval link."))

    async def failed(request: Request, exc: Exception) -> Response:
        log.error("web_request_failed", path=request.url.path, error=repr(exc), exc_info=exc)
        what = public_message(exc) if isinstance(exc, SergasError) else "The server met an error."
        return _html(
            pages.refusal(
                500,
                "Something went wrong",
                f"{what} Nothing more was done; the details are in the server's log.",
            )
        )

    app = Starlette(
        routes=[
            Route("/a/{token}", link, methods=["GET", "POST"]),
            Route("/s/page.css", stylesheet),
            Route("/healthz", health),
        ],
        exception_handlers={404: not_found, 405: not_found, Exception: failed},
    )
    return SecurityHeaders(app)


async def serve(
    app: ASGIApp, host: str, port: int, *, ready: Callable[[str], None] | None = None
) -> None:
    """Serve ``app`` at ``http://host:port`` until cancelled or interrupted (Ctrl+C).

    Raises :class:`SergasError` when the port cannot be bound.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=True,
        server_header=False,
    )
    await serve_uvicorn(
        config,
        ready=(lambda bound: ready(f"http://{host}:{bound}")) if ready else None,
        title="Cannot start the approval server",
        hint=" Set [notifications] serve_port, or pass --port.",
    )
