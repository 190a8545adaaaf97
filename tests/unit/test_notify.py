"""Notifications without a server: the set-up checks, the words of a digest (escaped for each
channel), the webhook's retry rules, the approval page's escaping and the form's nonce."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sergas_tui.config import Settings
from sergas_tui.domain import Approval, CreateTaskAction, FollowUpEmailAction
from sergas_tui.domain.names import RecordNames
from sergas_tui.errors import ConfigError, SecretError
from sergas_tui.notify import compose
from sergas_tui.notify.channels import (
    Smtp,
    backoff,
    channels_from,
    email_of,
    enabled,
    public_base,
    should_retry,
)
from sergas_tui.notify.links import new_token, token_hash, well_formed
from sergas_tui.secrets import SecretStore
from sergas_tui.viewmodels.approval_form import form_fields
from sergas_tui.web import pages
from sergas_tui.web.nonce import NONCE_TTL_SECONDS, Nonces

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
HOSTILE = "<script>alert(1)</script> & <!channel> <https://evil.test|click> \x1b[31mred\u202e"
WEBHOOK = {"SERGAS_NOTIFY_WEBHOOK_URL": "https://hooks.example.test/services/T0/B0/secret"}
EMAIL: dict[str, Any] = {
    "email": True,
    "smtp_host": "smtp.example.test",
    "from_address": "Sergas <sergas@example.test>",
    "public_url": "https://sergas.example.test/",
}


def settings(central: bool = True, **notifications: Any) -> Settings:
    data: dict[str, Any] = {"notifications": notifications}
    if central:
        data["central"] = {"dsn": "postgresql://sergas@db.example.test/sergas"}
    return Settings.model_validate(data)


@pytest.mark.parametrize(
    ("config", "central", "environ", "error", "words"),
    [
        (EMAIL, False, {}, ConfigError, "[central] dsn"),
        ({}, True, {}, ConfigError, "No notification channel is on"),
        ({**EMAIL, "smtp_host": None}, True, {}, ConfigError, "smtp_host"),
        ({**EMAIL, "from_address": None}, True, {}, ConfigError, "from_address"),
        ({**EMAIL, "public_url": None}, True, {}, ConfigError, "public_url"),
        ({**EMAIL, "public_url": "sergas.example.test"}, True, {}, ConfigError, "http(s)"),
        ({**EMAIL, "smtp_username": "bot"}, True, {}, SecretError, "smtp_password"),
        ({**EMAIL, "webhook": True}, True, {}, SecretError, "notify_webhook_url"),
        (
            {**EMAIL, "webhook": True},
            True,
            {"SERGAS_NOTIFY_WEBHOOK_URL": "hooks.example.test/x"},
            ConfigError,
            "not an http(s) URL",
        ),
    ],
)
def test_an_incomplete_set_up_is_one_clear_error(
    config: dict[str, Any],
    central: bool,
    environ: dict[str, str],
    error: type[Exception],
    words: str,
) -> None:
    with pytest.raises(error) as raised:
        channels_from(settings(central, **config), SecretStore(environ=environ), links=True)
    assert words in str(raised.value)


def test_a_complete_set_up_names_its_channels() -> None:
    channels = channels_from(
        settings(**EMAIL, webhook=True), SecretStore(environ=WEBHOOK), links=True
    )
    assert channels.names() == "e-mail and webhook"
    assert channels.public_url == "https://sergas.example.test"
    assert channels.webhook is not None
    assert channels.webhook.describe() == "the webhook at hooks.example.test"
    notices = channels_from(
        settings(**{**EMAIL, "public_url": None}), SecretStore(environ={}), links=False
    )
    assert notices.public_url is None, "notices carry no links"


def test_notifications_are_on_in_team_mode_with_a_channel() -> None:
    assert enabled(settings(email=True))
    assert enabled(settings(webhook=True))
    assert not enabled(settings())
    assert not enabled(settings(central=False, email=True))


def test_public_base_keeps_a_path() -> None:
    config = settings(public_url="https://example.test/sergas/").notifications
    assert public_base(config) == "https://example.test/sergas"


@pytest.mark.parametrize(
    ("status", "retry"),
    [(None, True), (408, True), (429, True), (500, True), (503, True), (400, False),
     (403, False), (404, False)],
)  # fmt: skip
def test_the_webhook_retries_only_what_another_attempt_may_cure(
    status: int | None, retry: bool
) -> None:
    assert should_retry(status) is retry


def test_webhook_backoff_doubles_and_honours_retry_after_within_a_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(1, "3") == 3.0
    assert backoff(1, "3600") == 30.0
    assert backoff(2, "soon") == 2.0


def _approval(subject: str = "Call Marcus", **update: Any) -> Approval:
    fields: dict[str, Any] = {
        "recommendation_id": "r1",
        "account_id": "5725767000001000005",
        "owner_email": "jordan.avery@demo.sergas.test",
        "action_type": "create_task",
        "payload": CreateTaskAction(subject=subject, priority="High"),
        "created_at": NOW,
    }
    return Approval(**(fields | update))


def _item(account: str = "Harbor Point", write: str = "Task 'Call Marcus'") -> compose.Item:
    return compose.Item(
        approval=_approval(),
        account=account,
        write=write,
        more_writes=1,
        priority="high",
        owner="Jordan Avery <jordan.avery@demo.sergas.test>",
        link=compose.link_base("https://sergas.example.test/", "T" * 43),
    )


def test_a_digest_lists_each_item_with_three_links_in_every_form() -> None:
    message = compose.digest(
        "jordan.avery@demo.sergas.test",
        "Jordan Avery <jordan.avery@demo.sergas.test>",
        "Jordan Avery",
        [_item(), _item("Quarry Ridge")],
    )
    assert message.subject == "Sergas: 2 proposed CRM writes wait for your decision"
    base = "https://sergas.example.test/a/" + "T" * 43
    for action in ("approve", "reject", "adjust"):
        assert message.text.count(f"{base}?do={action}") == 2
        assert message.html.count(f'href="{base}?do={action}"') == 2
        assert f"{base}?do={action}" not in message.mrkdwn  # never in a shared channel
    assert "Harbor Point · high priority · expires 2026-11-05 09:30 UTC" in message.text
    assert "and 1 more write with this decision" in message.text


def test_crm_text_cannot_become_markup_links_or_mentions() -> None:
    message = compose.digest("a@example.test", "A", HOSTILE, [_item(HOSTILE, HOSTILE)])
    assert "<script" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "<!channel>" not in message.mrkdwn
    assert "<https://evil.test|click>" not in message.mrkdwn
    assert "&lt;!channel&gt;" in message.mrkdwn
    for form in (message.text, message.html, message.mrkdwn):
        assert "\x1b" not in form
        assert "\u202e" not in form


def test_a_long_queue_lists_the_best_and_counts_the_rest() -> None:
    items = [_item(f"Account {n}") for n in range(compose.LISTED_MAX + 3)]
    message = compose.digest("a@example.test", "A", "A", items)
    assert message.text.count("?do=approve") == compose.LISTED_MAX
    assert "And 3 more items, lower in the queue" in message.text


def test_notices_carry_no_links() -> None:
    item = _item()
    plain = compose.Item(item.approval, item.account, item.write, owner=item.owner)
    escalation = compose.escalation("uma@example.test", "Uma Kim", "Uma", [plain], 24)
    assert escalation.subject.endswith("undecided for over 24 h")
    assert "--owner jordan.avery@demo.sergas.test" in escalation.text
    expiry = compose.expiry("jordan@example.test", "Jordan", "Jordan", [plain])
    for message in (escalation, expiry):
        assert "/a/" not in message.text + message.html + message.mrkdwn


def test_an_email_has_both_forms_and_no_header_injection() -> None:
    smtp = Smtp("smtp.example.test", 587, "starttls", None, None, "Sergas <sergas@example.test>")
    message = compose.Message(
        "jordan@example.test", "Jordan\r\nBcc: x@evil.test <jordan@example.test>", "Hi\r\nX: y",
        "text", "<p>html</p>", "mrkdwn",
    )  # fmt: skip
    mail = email_of(smtp, message)
    assert mail["Subject"] == "Hi X: y"
    [to] = mail["To"].addresses
    assert to.addr_spec == "jordan@example.test"
    assert mail["Bcc"] is None
    assert mail.get_body(("plain",)) is not None
    assert mail.get_body(("html",)) is not None
    assert mail["Auto-Submitted"] == "auto-generated"


def test_link_tokens_are_long_random_and_stored_only_hashed() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(well_formed(t) and len(t) == 43 for t in tokens)
    token = tokens.pop()
    assert token_hash(token) != token
    assert len(token_hash(token)) == 64
    assert not well_formed("short")
    assert not well_formed("x" * 43 + "/../")


def test_the_nonce_is_bound_to_its_link_and_expires() -> None:
    nonces = Nonces(b"k" * 32)
    issued = 1_800_000_000
    nonce = nonces.make("hash-a", issued)
    assert nonces.check("hash-a", str(issued), nonce, issued + 10)
    assert not nonces.check("hash-b", str(issued), nonce, issued + 10)
    assert not nonces.check("hash-a", str(issued), nonce, issued + NONCE_TTL_SECONDS + 1)
    assert not nonces.check("hash-a", str(issued + 60), nonce, issued)
    assert not nonces.check("hash-a", None, nonce, issued)
    assert not nonces.check("hash-a", "12e3", nonce, issued)
    assert not Nonces(b"j" * 32).check("hash-a", str(issued), nonce, issued)


def test_the_approval_page_escapes_crm_text_and_needs_no_script() -> None:
    approval = _approval(
        action_type="follow_up_email",
        payload=FollowUpEmailAction(subject=HOSTILE, draft_body=HOSTILE, recipient="x@y.test"),
    )
    view = pages.ApprovalView(
        owner="Jordan Avery <jordan.avery@demo.sergas.test>",
        account=HOSTILE,
        write=HOSTILE,
        priority="high",
        confidence="high",
        rationale=HOSTILE,
        expires="2026-11-05 09:30 UTC",
        status="pending",
        lines=[HOSTILE],
        fields=form_fields(approval),
        names=RecordNames(),
        recommendation=None,
    )
    html = pages.approval(
        view, want="adjust", nonce="n" * 64, issued=1, errors=[HOSTILE], reason=""
    )
    assert "<script" not in html
    assert html.count("&lt;script&gt;") >= 6
    assert '<details id="adjust" open>' in html
    assert 'name="f.subject"' in html
    assert "&lt;jordan.avery@demo.sergas.test&gt;" in html


def test_notices_say_why_nobody_was_escalated() -> None:
    from sergas_tui.notify.notices import NoticeReport

    lonely = NoticeReport(no_manager=("ana@x.test",))
    assert "no manager in the team's roles" in lonely.lines()[0]
    unreadable = NoticeReport(no_manager=("ana@x.test",), roles_error="permission denied")
    assert unreadable.lines()[0] == (
        "Not escalated (the team's roles could not be read: permission denied): ana@x.test"
    )
