"""Where notifications go: e-mail over SMTP (``aiosmtplib``) and a Slack-compatible incoming
webhook (``httpx``), configured in ``[notifications]`` with their secrets in the keyring.

:func:`channels_from` checks the whole set-up before anything is read or sent and raises one
clear error for the first gap (:class:`ConfigError`, or :class:`SecretError` for a missing
password or webhook URL). :func:`deliver` sends one message on every configured channel and
reports each outcome: a channel that fails is a :class:`Delivery` with the reason, never an
exception, so one owner's failure does not stop the others.

The webhook follows the house HTTP client: defaults in one block, pure :func:`should_retry` and
:func:`backoff`, retries for timeouts, connection errors, 408, 429 and 5xx only.
"""

from __future__ import annotations

import asyncio
import email.utils
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from sergas_tui.approvals.cli_support import one_line
from sergas_tui.config import NotificationSettings, Settings
from sergas_tui.errors import ConfigError
from sergas_tui.logs import get_logger
from sergas_tui.notify.compose import Message
from sergas_tui.secrets import SecretName, SecretStore

log = get_logger("sergas.notify")

# -- defaults ------------------------------------------------------------------------------
SMTP_TIMEOUT_SECONDS = 30.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
WEBHOOK_ATTEMPTS = 3
BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 8.0
RETRY_AFTER_MAX_SECONDS = 30.0

Channel = Literal["email", "webhook"]


@dataclass(frozen=True)
class Delivery:
    """What one channel did with one message."""

    channel: Channel
    ok: bool
    detail: str

    def text(self) -> str:
        return f"{self.channel} {'sent' if self.ok else 'failed'}: {self.detail}"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None
    password: SecretStr | None
    sender: str

    def describe(self) -> str:
        return f"the SMTP server {self.host}:{self.port}"


@dataclass(frozen=True)
class Webhook:
    url: SecretStr

    def describe(self) -> str:
        """The webhook by its host only (its path is the secret)."""
        return f"the webhook at {urlsplit(self.url.get_secret_value()).hostname or '?'}"


@dataclass(frozen=True)
class Channels:
    smtp: Smtp | None
    webhook: Webhook | None
    public_url: str | None

    def names(self) -> str:
        found = [n for n, c in (("e-mail", self.smtp), ("webhook", self.webhook)) if c]
        return " and ".join(found)


def enabled(settings: Settings) -> bool:
    """Whether notifications are on: team mode with at least one channel (a worker asks this
    before sending a digest after a review)."""
    config = settings.notifications
    return bool(settings.central.dsn) and (config.email or config.webhook)


def public_base(notifications: NotificationSettings) -> str:
    """``[notifications] public_url`` without its trailing slash; ConfigError when unset or
    not an http(s) URL of a host."""
    url = (notifications.public_url or "").strip()
    if not url:
        raise ConfigError(
            "Digests carry approval links, so they need the address `sergas serve` is reached "
            "at from the team's browsers: set [notifications] public_url (e.g. "
            "'https://sergas.example.com', the TLS proxy in front of `sergas serve`)."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(
            f"[notifications] public_url {url!r} is not an http(s) address of a host without a "
            "query, e.g. 'https://sergas.example.com' or 'https://example.com/sergas'."
        )
    return url.rstrip("/")


def channels_from(settings: Settings, secrets: SecretStore, *, links: bool) -> Channels:
    """The configured channels, checked; ``links``: the messages carry approval links (a
    digest), so ``public_url`` is needed too."""
    if not settings.central.dsn:
        raise ConfigError(
            "Notifications belong to team mode: their links and the notices already sent are "
            "kept in the team's central database. Set [central] dsn first (docs/operations.md)."
        )
    config = settings.notifications
    if not config.email and not config.webhook:
        raise ConfigError(
            "No notification channel is on: set [notifications] email = true (with smtp_host "
            "and from_address) and/or webhook = true (with `sergas auth set "
            "notify_webhook_url`)."
        )
    smtp = webhook = None
    if config.email:
        if not config.smtp_host:
            raise ConfigError(
                "[notifications] email = true needs the SMTP server: set [notifications] "
                "smtp_host (and smtp_port, smtp_security, smtp_username as your server wants)."
            )
        if not config.from_address or "@" not in config.from_address:
            raise ConfigError(
                "[notifications] email = true needs a sender: set [notifications] "
                "from_address, e.g. 'Sergas <sergas@example.com>'."
            )
        password = None
        if config.smtp_username:
            password = secrets.require(
                SecretName.SMTP_PASSWORD, f"The SMTP login {config.smtp_username!r}"
            )
        smtp = Smtp(
            host=config.smtp_host,
            port=config.smtp_port,
            security=config.smtp_security,
            username=config.smtp_username,
            password=password,
            sender=config.from_address,
        )
    if config.webhook:
        url = secrets.require(SecretName.NOTIFY_WEBHOOK_URL, "[notifications] webhook = true")
        if urlsplit(url.get_secret_value()).scheme not in ("http", "https"):
            raise ConfigError(
                "The stored notify_webhook_url is not an http(s) URL; store the incoming "
                "webhook's URL again with `sergas auth set notify_webhook_url`."
            )
        webhook = Webhook(url)
    public = public_base(config) if links else None
    return Channels(smtp=smtp, webhook=webhook, public_url=public)


async def deliver(channels: Channels, message: Message) -> list[Delivery]:
    """Send ``message`` on every configured channel; one :class:`Delivery` each."""
    done: list[Delivery] = []
    if channels.smtp is not None:
        done.append(await send_email(channels.smtp, message))
    if channels.webhook is not None:
        done.append(await post_webhook(channels.webhook, message))
    for delivery in done:
        event = "notification_sent" if delivery.ok else "notification_failed"
        log.info(event, channel=delivery.channel, to=message.to_email, detail=delivery.detail)
    return done


# -- e-mail ---------------------------------------------------------------------------------


def email_of(smtp: Smtp, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = smtp.sender
    name = message.to_label.split(" <", 1)[0] if " <" in message.to_label else ""
    mail["To"] = email.utils.formataddr((one_line(name), message.to_email))
    mail["Subject"] = one_line(message.subject)
    mail["Date"] = email.utils.formatdate(localtime=False)
    domain = smtp.sender.rsplit("@", 1)[-1].strip(" >") or "sergas.invalid"
    mail["Message-ID"] = email.utils.make_msgid("sergas", domain=domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


async def send_email(smtp: Smtp, message: Message) -> Delivery:
    import aiosmtplib

    mail = email_of(smtp, message)
    try:
        await aiosmtplib.send(
            mail,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=None if smtp.password is None else smtp.password.get_secret_value(),
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
        reason = one_line(str(err)) or type(err).__name__
        return Delivery("email", False, f"{smtp.describe()} did not take it: {reason}")
    return Delivery("email", True, f"to {message.to_email}")


# -- webhook --------------------------------------------------------------------------------


def should_retry(status: int | None) -> bool:
    """Retry a timeout or connection error (None), 408, 429 and 5xx; nothing else."""
    return status is None or status in (408, 429) or status >= 500


def backoff(attempt: int, retry_after: str | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: the server's Retry-After (capped) if it gave a
    number, else ``1 s * 2**(attempt-1)`` capped."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), RETRY_AFTER_MAX_SECONDS)
        except ValueError:
            pass
    return min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2.0 ** max(0, attempt - 1))


async def post_webhook(webhook: Webhook, message: Message) -> Delivery:
    import httpx

    where = webhook.describe()
    reason = "no attempt made"
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as client:
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            status: int | None = None
            retry_after = None
            try:
                response = await client.post(
                    webhook.url.get_secret_value(), json={"text": message.mrkdwn}
                )
            except httpx.HTTPError as err:  # never the URL: it is the secret
                said = one_line(str(err)).replace(webhook.url.get_secret_value(), "<webhook>")
                reason = f"{type(err).__name__} ({said[:200]})"
            else:
                status = response.status_code
                if response.is_success:
                    return Delivery("webhook", True, f"{where} for {message.to_email}")
                reason = f"HTTP {status} {one_line(response.text)[:200]}".rstrip()
                retry_after = response.headers.get("retry-after")
            if not should_retry(status) or attempt == WEBHOOK_ATTEMPTS:
                break
            await asyncio.sleep(backoff(attempt, retry_after))
    return Delivery("webhook", False, f"{where} did not take it: {reason}")
