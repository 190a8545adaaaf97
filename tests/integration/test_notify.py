"""Digests and notices on the real PostgreSQL, a real SMTP server (aiosmtpd) and a webhook
receiver, both on loopback: one digest per owner with working links, each notice once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.domain import ApprovalStatus
from sergas_tui.notify.digest import link_store, send_all_digests, send_digest
from sergas_tui.notify.notices import send_notices
from sergas_tui.services import Services
from sergas_tui.web.app import build_app
from sergas_tui.web.desk import LinkDesk
from tests.fakes.notify_kit import (
    AE,
    MANAGER,
    Mailbox,
    WebhookSink,
    html_of,
    notification_settings,
    reviewed,
    smtp_server,
    team_device,
    text_of,
    webhook_sink,
)

from .simkit import NOW

pytestmark = pytest.mark.postgres

PUBLIC = "https://sergas.example.test/links"
LINK = re.compile(re.escape(PUBLIC) + r"/a/([A-Za-z0-9_-]{43})\?do=(approve|reject|adjust)")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with webhook_sink() as sink:
        yield sink


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def worker(
    tmp_path: Path, central_dsn: str, mailbox: Mailbox, webhook: WebhookSink, clock: FixedClock
) -> AsyncIterator[Services]:
    """A team device that reviewed both owners of the demo org, with the team's roles."""
    services = team_device(
        tmp_path / "worker",
        "worker-1",
        central_dsn,
        now=NOW,
        clock=clock,
        notifications=notification_settings(mailbox, PUBLIC),
        environ={"SERGAS_NOTIFY_WEBHOOK_URL": webhook.url},
    )
    try:
        yield await reviewed(services)
    finally:
        await services.aclose()
        services.close()


def _links(text: str) -> dict[str, set[str]]:
    """Token → the actions its links offer, from a message's text."""
    found: dict[str, set[str]] = {}
    for token, action in LINK.findall(text):
        found.setdefault(token, set()).add(action)
    return found


def _stored_links(dsn: str) -> dict[str, tuple[str, str, object]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT token_hash, approval_id, owner_email, expires_at FROM approval_links"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def _page(services: Services, token: str) -> httpx.Response:
    app = build_app(LinkDesk(services, link_store(services)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://links.test") as client:
        return await client.get(f"/a/{token}")


async def test_one_digest_per_owner_by_email_and_webhook_with_working_links(
    worker: Services, mailbox: Mailbox, webhook: WebhookSink, central_dsn: str
) -> None:
    reports = await send_all_digests(worker)

    assert [r.owner_email for r in reports] == sorted([AE, MANAGER])
    assert all(r.ok for r in reports), [r.text() for r in reports]
    assert len(mailbox.messages()) == 2, "one e-mail per owner, not one per item"
    assert len(webhook.posts) == 2, "one webhook post per owner"
    stored = _stored_links(central_dsn)
    seen_tokens: set[str] = set()
    for owner, name in ((AE, "Jordan Avery"), (MANAGER, "Uma Kim")):
        pending = worker.store.pending_approvals(owner)
        assert pending, f"the demo review proposes writes for {owner}"
        [mail] = mailbox.to(owner)
        assert name in mail["To"]
        assert (
            mail["Subject"] == f"Sergas: {len(pending)} proposed CRM writes wait for your decision"
        )
        assert mail["Auto-Submitted"] == "auto-generated"
        body = text_of(mail)
        assert body.startswith(f"Hello {name},")
        links = _links(body)
        assert len(links) == len(pending), "a fresh link per item"
        assert all(actions == {"approve", "reject", "adjust"} for actions in links.values())
        for item in pending:
            snapshot = worker.store.latest_snapshot(item.account_id)
            assert snapshot is not None
            assert str(snapshot.data["Account_Name"]) in body, "accounts by name"
            assert item.id[:8] in body
        for token in links:  # stored hashed, bound to the approval and its owner
            approval_id, link_owner, expires = stored[hashlib.sha256(token.encode()).hexdigest()]
            approval = worker.store.get_approval(approval_id)
            assert approval is not None
            assert (approval.owner_email, link_owner) == (owner, owner)
            assert expires == approval.expiry
        seen_tokens |= set(links)
        html = html_of(mail)
        assert all(token in html for token in links)
        [post] = [t for t in webhook.texts() if f"— {name} &lt;{owner}&gt;" in t.split("\n")[0]]
        # a channel is shared: the post lists the queue by name but carries no link
        assert "/a/" not in post
        assert all(token not in post for token in links)
        assert "links are not posted to a channel" in post
    assert not any(token in str(stored) for token in seen_tokens), "only hashes are stored"

    # the links work: each opens its approval's page with the account by name
    token = next(iter(_links(text_of(mailbox.to(AE)[0]))))
    approval_id = stored[hashlib.sha256(token.encode()).hexdigest()][0]
    approval = worker.store.get_approval(approval_id)
    assert approval is not None
    page = await _page(worker, token)
    assert page.status_code == 200
    snapshot = worker.store.latest_snapshot(approval.account_id)
    assert snapshot is not None
    assert str(snapshot.data["Account_Name"]) in page.text


async def test_the_queue_is_ranked_best_first(worker: Services, mailbox: Mailbox) -> None:
    from sergas_tui.briefs.compile import queue_rank

    await send_digest(worker, AE)
    body = text_of(mailbox.to(AE)[0])
    listed = re.findall(r"\(approval ([0-9a-f]{8})\)", body)
    pending = worker.store.pending_approvals(AE)
    ranked = sorted(
        pending, key=lambda a: queue_rank(a, worker.store.get_recommendation(a.recommendation_id))
    )
    assert listed == [a.id[:8] for a in ranked]


async def test_a_failing_channel_is_reported_and_loses_nothing(
    worker: Services, mailbox: Mailbox, webhook: WebhookSink, central_dsn: str
) -> None:
    webhook.status = 404  # a removed Slack webhook answers 404 no_service
    first = await send_digest(worker, AE)

    assert not first.ok
    by_channel = {d.channel: d for d in first.deliveries}
    assert by_channel["email"].ok
    assert not by_channel["webhook"].ok
    assert "HTTP 404" in by_channel["webhook"].detail
    assert webhook.url not in first.text(), "the webhook URL is a secret"
    assert "127.0.0.1" in by_channel["webhook"].detail
    old = set(_links(text_of(mailbox.to(AE)[0])))

    webhook.status = 200  # a retry sends a new digest with new links; the old ones still work
    again = await send_digest(worker, AE)
    assert again.ok
    new = set(_links(text_of(mailbox.to(AE)[1])))
    assert new
    assert old
    assert not new & old
    for token in (*old, *new):
        assert (await _page(worker, token)).status_code == 200


async def test_an_owner_with_nothing_waiting_gets_no_digest(
    worker: Services, mailbox: Mailbox
) -> None:
    report = await send_digest(worker, "nobody@demo.sergas.test")
    assert report.items == 0
    assert report.ok
    assert "no digest sent" in report.text()
    assert mailbox.messages() == []


async def test_escalations_and_expiries_are_sent_once(
    worker: Services,
    mailbox: Mailbox,
    webhook: WebhookSink,
    clock: FixedClock,
    central_dsn: str,
) -> None:
    hours = worker.settings.approvals.escalate_after_hours
    ae_pending = worker.store.pending_approvals(AE)
    manager_pending = worker.store.pending_approvals(MANAGER)

    early = await send_notices(worker)
    assert early.sent == ()
    assert mailbox.messages() == []

    clock.advance(timedelta(hours=hours, minutes=1))
    first = await send_notices(worker)
    assert [(s.kind, s.items) for s in first.sent] == [("escalation", len(ae_pending))]
    assert first.ok
    assert first.no_manager == ("Uma Kim <uma.kim@demo.sergas.test>",)
    [mail] = mailbox.to(MANAGER)
    assert "Jordan Avery" in mail["Subject"]
    body = text_of(mail)
    assert all(a.id[:8] in body for a in ae_pending)
    assert "/a/" not in body, "notices carry no approval links"
    assert len(webhook.posts) == 1

    second = await send_notices(worker)  # nothing twice
    assert second.sent == ()
    assert second.already == len(ae_pending)
    assert len(mailbox.messages()) == 1
    assert len(webhook.posts) == 1

    clock.advance(timedelta(hours=72))
    expired = await send_notices(worker)
    assert sorted((s.kind, s.recipient) for s in expired.sent) == [
        ("expiry", "Jordan Avery <jordan.avery@demo.sergas.test>"),
        ("expiry", "Uma Kim <uma.kim@demo.sergas.test>"),
    ]
    assert all(
        a.status == ApprovalStatus.EXPIRED
        for a in worker.store.approvals_with_status([ApprovalStatus.EXPIRED])
    )
    [ae_expiry] = [m for m in mailbox.to(AE) if "expired" in m["Subject"]]
    assert all(a.id[:8] in text_of(ae_expiry) for a in ae_pending)
    assert len(mailbox.to(MANAGER)) == 2
    assert all(a.id[:8] in text_of(mailbox.to(MANAGER)[1]) for a in manager_pending)

    last = await send_notices(worker)
    assert last.sent == ()
    assert len(mailbox.messages()) == 3
    with psycopg.connect(central_dsn) as conn:
        rows = conn.execute("SELECT kind, count(*) FROM team_notices GROUP BY kind").fetchall()
    assert dict(rows) == {
        "escalation": len(ae_pending),
        "expiry": len(ae_pending) + len(manager_pending),
    }


async def test_an_undelivered_notice_is_sent_by_the_next_run(
    worker: Services, mailbox: Mailbox, webhook: WebhookSink, clock: FixedClock
) -> None:
    mailbox_port = worker.settings.notifications.smtp_port
    closed = worker.settings.model_copy(
        update={
            "notifications": worker.settings.notifications.model_copy(
                update={"smtp_port": 1, "webhook": False}
            )
        }
    )
    clock.advance(timedelta(hours=25))
    worker.settings = closed
    failed = await send_notices(worker)
    assert [s.delivered for s in failed.sent] == [False]
    assert not failed.ok
    assert "did not take it" in failed.sent[0].text()

    worker.settings = closed.model_copy(
        update={
            "notifications": closed.notifications.model_copy(update={"smtp_port": mailbox_port})
        }
    )
    sent = await send_notices(worker)
    assert [s.delivered for s in sent.sent] == [True]
    assert len(mailbox.to(MANAGER)) == 1


async def test_a_webhook_that_reaches_the_owner_alone_may_carry_working_links(
    worker: Services, mailbox: Mailbox, webhook: WebhookSink, central_dsn: str
) -> None:
    settings = worker.settings
    settings.notifications.webhook_links = True
    report = await send_digest(worker, AE)
    assert report.ok, report.text()
    [post] = webhook.texts()
    tokens = set(re.findall(re.escape(PUBLIC) + r"/a/([A-Za-z0-9_-]{43})\?do=approve\|", post))
    assert len(tokens) == report.links
    for token in tokens:
        for action in ("approve", "reject", "adjust"):
            assert f"<{PUBLIC}/a/{token}?do={action}|{action.capitalize()}>" in post
    page = await _page(worker, next(iter(tokens)))
    assert page.status_code == 200
    assert "Approve" in page.text
