"""The approval links' rules, in-process (Starlette over httpx's ASGI transport) on the real
PostgreSQL: a link shows and decides only its own approval, as its owner, once; a form
without the page's nonce changes nothing; every answer carries the security headers.

The browser flow itself is tests/e2e/test_approval_page_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.notify.digest import link_store, send_digest
from sergas_tui.notify.links import new_token, token_hash
from sergas_tui.services import Services
from sergas_tui.web.app import build_app
from sergas_tui.web.desk import LinkDesk
from sergas_tui.web.nonce import Nonces
from tests.fakes.notify_kit import (
    AE,
    MANAGER,
    Mailbox,
    notification_settings,
    review,
    reviewed,
    smtp_server,
    team_device,
    text_of,
)

from .simkit import NOW

pytestmark = pytest.mark.postgres

PUBLIC = "http://links.test"
AGENT = "LinkTest/1.0 (approval links)"
KEY = b"k" * 32
TOKEN = re.compile(r"/a/([A-Za-z0-9_-]{43})\?do=approve")
NONCE = re.compile(r'name="nonce" value="([0-9a-f]{64})"')
ISSUED = re.compile(r'name="issued" value="(\d+)"')


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def device(
    tmp_path: Path, central_dsn: str, mailbox: Mailbox, clock: FixedClock
) -> AsyncIterator[Services]:
    services = team_device(
        tmp_path / "server",
        "link-server",
        central_dsn,
        now=NOW,
        clock=clock,
        notifications={**notification_settings(mailbox, PUBLIC), "webhook": False},
    )
    try:
        yield await reviewed(services)
    finally:
        await services.aclose()
        services.close()


@pytest.fixture
async def client(device: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(LinkDesk(device, link_store(device), nonces=Nonces(KEY)))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=PUBLIC, headers={"user-agent": AGENT}
    ) as http:
        yield http


async def _tokens(device: Services, mailbox: Mailbox, owner: str) -> dict[str, Approval]:
    """Send the owner's digest; their links' tokens → the approval each decides."""
    await send_digest(device, owner)
    tokens = TOKEN.findall(text_of(mailbox.to(owner)[-1]))
    store = link_store(device)
    found = {}
    for token in tokens:
        link = store.find(token_hash(token))
        assert link is not None
        approval = device.store.get_approval(link.approval_id)
        assert approval is not None
        found[token] = approval
    return found


def _form(page: httpx.Response, **fields: str) -> dict[str, str]:
    nonce, issued = NONCE.search(page.text), ISSUED.search(page.text)
    assert nonce, page.text[:500]
    assert issued, page.text[:500]
    return {"nonce": nonce.group(1), "issued": issued.group(1), **fields}


def _name(device: Services, approval: Approval) -> str:
    snapshot = device.store.latest_snapshot(approval.account_id)
    assert snapshot is not None
    return str(snapshot.data["Account_Name"])


def _decisions(device: Services, approval_id: str) -> list[dict[str, object]]:
    return [
        dict(e.tool_inputs)
        for e in device.store.audit_events(limit=2000)
        if e.action_type == "approval_decided"
        and isinstance(e.tool_inputs, dict)
        and e.tool_inputs.get("approval_id") == approval_id
    ]


async def test_a_link_decides_its_own_approval_once_as_its_owner(
    device: Services, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    mine = await _tokens(device, mailbox, AE)
    token, approval = next(iter(mine.items()))
    other = device.store.pending_approvals(MANAGER)[0]

    page = await client.get(f"/a/{token}", params={"do": "approve"})
    assert page.status_code == 200
    assert _name(device, approval) in page.text
    assert "Jordan Avery" in page.text
    # a field naming another approval is ignored: the link decides its own, nothing else
    answer = await client.post(
        f"/a/{token}", data=_form(page, action="approve", approval_id=other.id)
    )
    assert answer.status_code == 200, answer.text
    assert "Approved and written" in answer.text
    done = device.store.get_approval(approval.id)
    assert done is not None
    assert done.status == ApprovalStatus.EXECUTED
    assert done.decided_by == AE
    still = device.store.get_approval(other.id)
    assert still is not None
    assert still.status == ApprovalStatus.PENDING
    assert _decisions(device, other.id) == []
    [row] = _decisions(device, approval.id)
    assert row["actor"] == AE
    assert row["identified_by"] == "link"
    assert row["via"] == "approval link"
    assert (row["ip"], row["user_agent"]) == ("203.0.113.7", AGENT)

    again = await client.post(f"/a/{token}", data=_form(page, action="reject"))
    assert again.status_code == 410
    assert "already used" in again.text
    assert (await client.get(f"/a/{token}")).status_code == 410
    after = device.store.get_approval(approval.id)
    assert after is not None
    assert after.status == ApprovalStatus.EXECUTED


async def test_a_link_for_another_owners_approval_shows_and_decides_nothing(
    device: Services, client: httpx.AsyncClient, central_dsn: str, clock: FixedClock
) -> None:
    theirs = device.store.pending_approvals(MANAGER)[0]
    forged = new_token()  # a row naming the AE for the manager's approval
    hashed = token_hash(forged)
    with psycopg.connect(central_dsn) as conn:
        conn.execute(
            "INSERT INTO approval_links (token_hash, approval_id, owner_email, expires_at) "
            "VALUES (%s, %s, %s, %s)",
            (hashed, theirs.id, AE, theirs.expiry),
        )
    page = await client.get(f"/a/{forged}")
    assert page.status_code == 403
    assert _name(device, theirs) not in page.text
    assert "A link shows and decides only its owner" in page.text

    issued = int(clock.now().timestamp())
    form = {"nonce": Nonces(KEY).make(hashed, issued), "issued": str(issued)}
    answer = await client.post(f"/a/{forged}", data={**form, "action": "approve"})
    assert answer.status_code == 403
    unchanged = device.store.get_approval(theirs.id)
    assert unchanged is not None
    assert unchanged.status == ApprovalStatus.PENDING
    assert _decisions(device, theirs.id) == []


async def test_a_form_without_its_pages_nonce_changes_nothing(
    device: Services, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    (a_token, a), (b_token, _) = list((await _tokens(device, mailbox, AE)).items())[:2]
    page_b = await client.get(f"/a/{b_token}")

    bare = await client.post(f"/a/{a_token}", data={"action": "approve"})
    assert bare.status_code == 403
    borrowed = await client.post(f"/a/{a_token}", data=_form(page_b, action="approve"))
    assert borrowed.status_code == 403, "a nonce is bound to its own link"
    page_a = await client.get(f"/a/{a_token}")
    cross = await client.post(
        f"/a/{a_token}",
        data=_form(page_a, action="approve"),
        headers={"sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403
    json_post = await client.post(f"/a/{a_token}", json=_form(page_a, action="approve"))
    assert json_post.status_code == 415
    unchanged = device.store.get_approval(a.id)
    assert unchanged is not None
    assert unchanged.status == ApprovalStatus.PENDING
    assert (await client.get(f"/a/{a_token}")).status_code == 200, "the link is not spent"


async def test_unknown_and_expired_links_are_refused(
    device: Services, mailbox: Mailbox, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    token, approval = next(iter((await _tokens(device, mailbox, AE)).items()))
    unknown = await client.get(f"/a/{new_token()}")
    assert unknown.status_code == 404
    assert "not known" in unknown.text
    assert (await client.get("/a/short")).status_code == 404
    assert (await client.get("/elsewhere")).status_code == 404

    page = await client.get(f"/a/{token}")
    clock.current = approval.expiry + timedelta(seconds=1)
    expired = await client.post(f"/a/{token}", data=_form(page, action="approve"))
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert (await client.get(f"/a/{token}")).status_code == 410
    stored = device.store.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.PENDING


async def test_every_answer_is_uncached_and_leaks_no_referrer(
    device: Services, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    token = next(iter(await _tokens(device, mailbox, AE)))
    for answer in (
        await client.get(f"/a/{token}"),
        await client.get(f"/a/{new_token()}"),
        await client.get("/s/page.css"),
        await client.post(f"/a/{token}", data={"action": "approve"}),
    ):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert "server" not in answer.headers


LINK_GRANTS = (
    "UPDATE (status, approval, decided_by, decided_at, decided_on, revision, updated_by, "
    "updated_at) ON team_approvals",
    "UPDATE ON approval_grants",
    "UPDATE (used_at, used_action, used_ip, used_agent) ON approval_links",
    "DELETE ON team_notices",
)
"""What docs/operations.md grants beyond the audit's SELECT and INSERT (team mode, links and
notices)."""


async def test_the_documented_grants_run_links_and_notices_but_cannot_rewrite_a_link(
    tmp_path: Path, postgres_dsn: str, central_dsn: str, mailbox: Mailbox
) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from sergas_tui.audit.central.conn import CentralTarget, connect
    from sergas_tui.audit.central.schema import migrate_central
    from sergas_tui.notify.notices import send_notices

    with connect(CentralTarget(central_dsn), autocommit=False) as conn:  # the owner migrates
        migrate_central(conn)
    schema = str(conninfo_to_dict(central_dsn)["options"]).split("=")[-1]
    role = f"sergas_links_{uuid4().hex[:10]}"
    database = conninfo_to_dict(postgres_dsn).get("dbname", "test")
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        for grant in LINK_GRANTS:
            conn.execute(f"GRANT {grant} TO {role}")
    clock = FixedClock(NOW)
    try:
        dsn = make_conninfo(central_dsn, user=role)
        services = team_device(
            tmp_path / "least",
            "link-server",
            dsn,
            now=NOW,
            clock=clock,
            notifications={**notification_settings(mailbox, PUBLIC), "webhook": False},
        )
        try:
            save_roles_as_owner(central_dsn)
            await review(services, AE)
            tokens = await _tokens(services, mailbox, AE)
            app = build_app(LinkDesk(services, link_store(services)))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
                token, approval = next(iter(tokens.items()))
                page = await http.get(f"/a/{token}")
                answer = await http.post(f"/a/{token}", data=_form(page, action="approve"))
                assert answer.status_code == 200, answer.text
            done = services.store.get_approval(approval.id)
            assert done is not None
            assert done.status == ApprovalStatus.EXECUTED
            clock.advance(timedelta(hours=25))
            refused = services.settings.notifications.model_copy(update={"smtp_port": 1})
            services.settings = services.settings.model_copy(update={"notifications": refused})
            report = await send_notices(services)  # undelivered: the claim is withdrawn
            assert report.sent
            assert not report.sent[0].delivered
        finally:
            await services.aclose()
            services.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in (
                "UPDATE approval_links SET owner_email = 'someone@else.test'",
                "UPDATE approval_links SET expires_at = expires_at + interval '1 year'",
                "DELETE FROM approval_links",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        with psycopg.connect(central_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def save_roles_as_owner(dsn: str) -> None:
    """The team's roles, written with the schema owner's role (the test's role may not)."""
    from sergas_tui.audit.central.conn import CentralTarget
    from sergas_tui.audit.central.people import CentralPeopleStore
    from sergas_tui.domain.people import Person

    CentralPeopleStore(CentralTarget(dsn)).save(
        [
            Person(email=AE, name="Jordan Avery", role="ae", manager_email=MANAGER),
            Person(email=MANAGER, name="Uma Kim", role="manager"),
        ],
        source="admin",
        updated_by="test",
    )
