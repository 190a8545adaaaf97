"""What the notification tests share: a fresh central schema, team devices on the demo org, a
real SMTP server (aiosmtpd) and a webhook receiver on loopback, and the team's roles.

A "device" is a data directory with its own copy of the same demo org (same seed, same
``now``), as two machines of one Zoho org, sharing one central database.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import psycopg
from psycopg.conninfo import make_conninfo

from sergas_tui.audit.central.conn import target_from_settings
from sergas_tui.audit.central.people import CentralPeopleStore
from sergas_tui.clock import Clock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.domain.people import Person
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services

AE = "jordan.avery@demo.sergas.test"
"""The demo org's (seed 5, 2 owners) account executive; reports to :data:`MANAGER`."""
MANAGER = "uma.kim@demo.sergas.test"
"""The demo org's sales manager; reports to nobody."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def central_schema(postgres_dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards."""
    schema = f"sergas_notify_{uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield make_conninfo(postgres_dsn, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def device_locations(root: Path) -> Locations:
    return Locations(root / "config", root / "data", root / "log")


def make_device_org(root: Path, now: datetime, *, accounts: int = 40, owners: int = 2) -> Locations:
    """The device's directories and its copy of the demo org (seed 5: the same org on every
    device of a test)."""
    locations = device_locations(root)
    org = locations.demo_crm_file("demo")
    org.parent.mkdir(parents=True)
    generate(org, accounts=accounts, owners=owners, seed=5, now=now)
    return locations


def team_device(
    root: Path,
    name: str,
    dsn: str,
    *,
    now: datetime,
    clock: Clock,
    notifications: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    accounts: int = 40,
    owners: int = 2,
    overrides: Mapping[str, Any] | None = None,
) -> Services:
    """Services of one team device (its own data dir and demo org copy) on ``clock``, named
    ``name`` in the team's records (``overrides``: more settings tables)."""
    locations = make_device_org(root, now, accounts=accounts, owners=owners)
    settings = load_settings(
        locations,
        overrides={
            "zoho": {"requests_per_minute": 10_000},
            "central": {"dsn": dsn, "device": name},
            "notifications": dict(notifications or {}),
            **dict(overrides or {}),
        },
    )
    return open_services(
        settings, locations, secrets=SecretStore(environ=dict(environ or {})), clock=clock
    )


def save_roles(services: Services) -> None:
    """The team's roles: the AE reports to the manager, who reports to nobody."""
    store = CentralPeopleStore(target_from_settings(services.settings.central, services.secrets))
    store.save(
        [
            Person(email=AE, name="Jordan Avery", role="ae", manager_email=MANAGER),
            Person(email=MANAGER, name="Uma Kim", role="manager"),
        ],
        source="admin",
        updated_by="test",
    )


async def review(services: Services, owner: str | None) -> None:
    """A rules review of ``owner`` (every owner: None), run to its end."""
    orchestrator = await services.orchestrator()
    async for _event in orchestrator.review(owner):
        pass


async def reviewed(services: Services) -> Services:
    """``services`` with the team's roles saved and both demo owners reviewed."""
    save_roles(services)
    for owner in (AE, MANAGER):
        await review(services, owner)
    return services


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What a loopback aiosmtpd server received: (envelope recipients, parsed message)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for _, m in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self.received if address in rcpt]

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(port=free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return cast(str, cast(EmailMessage, part).get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return cast(str, cast(EmailMessage, part).get_content())


# -- webhook ------------------------------------------------------------------------------------


@dataclass
class WebhookSink:
    """A loopback HTTP server that takes Slack-style webhook posts (or refuses them)."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[str]:
        with self._lock:
            return [str(p.get("text")) for p in self.posts]


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(size) or b"{}")
            with sink._lock:
                sink.posts.append(body)
                status = sink.status
            answer = b"ok" if status == 200 else b"no_service"
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def notification_settings(box: Mailbox, public_url: str) -> dict[str, Any]:
    """E-mail to ``box`` (no TLS on loopback) and the webhook on, links to ``public_url``."""
    return {
        "email": True,
        "smtp_host": box.host,
        "smtp_port": box.port,
        "smtp_security": "none",
        "from_address": "Sergas <sergas@demo.sergas.test>",
        "webhook": True,
        "public_url": public_url,
    }
