"""The words of notifications: an owner's digest and the escalation and expiry notices, each as
an e-mail (plain text and HTML) and as a Slack-compatible webhook text (mrkdwn).

Pure. CRM text goes through :func:`~sergas_tui.approvals.cli_support.one_line` (no control
characters, no bidi overrides); the HTML is rendered by Jinja with autoescaping on, and the
mrkdwn escapes ``&``, ``<`` and ``>`` so a name cannot forge a link or a mention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from sergas_tui.approvals.cli_support import one_line
from sergas_tui.domain import Approval
from sergas_tui.domain.approval import DECISIONS, Decision

TEMPLATES = Path(__file__).parent / "templates"
WHEN = "%Y-%m-%d %H:%M UTC"
LISTED_MAX = 40
"""Items one message lists; the rest are counted ("and 3 more: open Sergas")."""

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Message:
    """One notification to one person, in every form a channel may send."""

    to_email: str
    to_label: str
    subject: str
    text: str
    html: str
    mrkdwn: str


@dataclass(frozen=True)
class Item:
    """One approval as a message lists it (names, never ids alone)."""

    approval: Approval
    account: str
    """The account's name."""
    write: str
    """What the main write does, in one line."""
    more_writes: int = 0
    """Further writes of the same decision."""
    priority: str | None = None
    owner: str = ""
    """The owner's label (in messages to someone else: a manager)."""
    link: str | None = None
    """The item's approval link (digests only): ``{public_url}/a/{token}``."""

    def __post_init__(self) -> None:  # CRM text on one line, without control characters
        for name in ("account", "write", "owner"):
            object.__setattr__(self, name, one_line(getattr(self, name)))
        if self.priority is not None:
            object.__setattr__(self, "priority", one_line(self.priority))

    @property
    def short_id(self) -> str:
        return self.approval.id[:8]

    @property
    def expires(self) -> str:
        return self.approval.expiry.strftime(WHEN)

    @property
    def proposed(self) -> str:
        return self.approval.created_at.strftime(WHEN)

    @property
    def what(self) -> str:
        extra = ""
        if self.more_writes:
            noun = "write" if self.more_writes == 1 else "writes"
            extra = f" — and {self.more_writes} more {noun} with this decision"
        return self.write + extra

    def url(self, do: Decision) -> str:
        assert self.link is not None
        return f"{self.link}?do={do}"


def link_base(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/a/{token}"


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters as entities (a name cannot become a link)."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listed(items: Sequence[Item]) -> tuple[list[Item], int]:
    return list(items[:LISTED_MAX]), max(0, len(items) - LISTED_MAX)


def _render(template: str, **values: object) -> str:
    return _ENV.get_template(template).render(**values)


# -- the owner's digest ---------------------------------------------------------------------


def digest(
    to_email: str,
    to_label: str,
    greeting: str,
    items: Sequence[Item],
    *,
    webhook_links: bool = False,
) -> Message:
    """One owner's queue, best first, with an Approve / Reject / Adjust link per item (in the
    webhook's form only when ``webhook_links``: a webhook usually posts to a shared channel)."""
    shown, hidden = _listed(items)
    waiting = _count(len(items), "proposed CRM write")
    verb = "waits" if len(items) == 1 else "wait"
    subject = f"Sergas: {waiting} {verb} for your decision"
    intro = (
        f"{waiting} {verb} for your decision, best first. Each link opens the exact write on "
        "a page where you confirm it; a link works once and expires with its approval."
    )
    rest = (
        f"And {_count(hidden, 'more item')}, lower in the queue: open Sergas "
        "(the approvals view, or `sergas approvals list`)."
        if hidden
        else ""
    )
    lines = [f"Hello {one_line(greeting)},", "", intro, ""]
    for n, item in enumerate(shown, 1):
        lines += [
            f"{n}. {one_line(item.account)} · {item.priority or 'no'} priority · expires "
            f"{item.expires} (approval {item.short_id})",
            f"   {item.what}",
            f"   Approve: {item.url('approve')}",
            f"   Reject:  {item.url('reject')}",
            f"   Adjust:  {item.url('adjust')}",
            "",
        ]
    if rest:
        lines += [rest, ""]
    lines.append(f"Sergas · sent to {one_line(to_label)}")
    # A webhook usually posts into a channel others read: unless it reaches the owner alone
    # ([notifications] webhook_links), it lists the queue without links (a link decides as
    # its owner); the owner decides from the e-mail or the app.
    slack = [f"*{mrkdwn_escape(subject)}* — {mrkdwn_escape(to_label)}, best first:"]
    for n, item in enumerate(shown, 1):
        links = ""
        if webhook_links:
            links = " · " + " · ".join(f"<{item.url(do)}|{do.capitalize()}>" for do in DECISIONS)
        slack.append(
            f"{n}. *{mrkdwn_escape(item.account)}* · {mrkdwn_escape(item.priority or 'no')} "
            f"priority · expires {item.expires}\n    {mrkdwn_escape(item.what)}{links}"
        )
    if rest:
        slack.append(mrkdwn_escape(rest))
    if not webhook_links:
        slack.append(
            "Decide in Sergas, or from the approval links in your e-mail digest (links are "
            "not posted to a channel)."
        )
    html = _render(
        "digest.html.j2",
        subject=subject,
        greeting=one_line(greeting),
        intro=intro,
        items=shown,
        rest=rest,
        to_label=one_line(to_label),
        dos=DECISIONS,
    )
    return Message(to_email, to_label, subject, "\n".join(lines), html, "\n".join(slack))


# -- notices --------------------------------------------------------------------------------


def escalation(
    to_email: str, to_label: str, greeting: str, items: Sequence[Item], hours: int
) -> Message:
    """To a manager: approvals of their reports undecided for more than ``hours``."""
    shown, hidden = _listed(items)
    owners = sorted({i.owner for i in items})
    whose = one_line(owners[0]) if len(owners) == 1 else f"{len(owners)} of your reports"
    subject = f"Sergas: {_count(len(items), 'approval')} of {whose} undecided for over {hours} h"
    emails = sorted({i.approval.owner_email for i in items})
    who = emails[0] if len(emails) == 1 else "EMAIL"
    intro = (
        f"These proposed CRM writes have waited for a decision for more than {hours} hours. "
        f"Decide them in Sergas (the approvals view, or `sergas approvals list --owner {who}`) "
        "or ask the owner. You get this notice once per approval."
    )
    return _notice(to_email, to_label, greeting, subject, intro, shown, hidden, "escalation")


def expiry(to_email: str, to_label: str, greeting: str, items: Sequence[Item]) -> Message:
    """To an owner: their approvals that expired undecided."""
    shown, hidden = _listed(items)
    subject = f"Sergas: {_count(len(items), 'proposed CRM write')} expired undecided"
    intro = (
        "These proposed CRM writes expired without a decision. Nothing was written; the next "
        "review proposes them again if they still apply."
    )
    return _notice(to_email, to_label, greeting, subject, intro, shown, hidden, "expiry")


def _notice(
    to_email: str,
    to_label: str,
    greeting: str,
    subject: str,
    intro: str,
    shown: Sequence[Item],
    hidden: int,
    kind: Literal["escalation", "expiry"],
) -> Message:
    rest = f"And {_count(hidden, 'more item')}." if hidden else ""
    lines = [f"Hello {one_line(greeting)},", "", intro, ""]
    slack = [f"*{mrkdwn_escape(subject)}* — for {mrkdwn_escape(to_label)}:"]
    for n, item in enumerate(shown, 1):
        when = (
            f"proposed {item.proposed}, expires {item.expires}"
            if kind == "escalation"
            else f"expired {item.expires}"
        )
        head = f"{n}. {one_line(item.account)} · {one_line(item.owner)} · {when}"
        lines += [head, f"   {item.what} (approval {item.short_id})", ""]
        slack.append(f"{mrkdwn_escape(head)}\n    {mrkdwn_escape(item.what)}")
    if rest:
        lines += [rest, ""]
        slack.append(rest)
    lines.append(f"Sergas · sent to {one_line(to_label)}")
    html = _render(
        "notice.html.j2",
        subject=subject,
        greeting=one_line(greeting),
        intro=intro,
        items=shown,
        rest=rest,
        to_label=one_line(to_label),
        escalation=kind == "escalation",
    )
    return Message(to_email, to_label, subject, "\n".join(lines), html, "\n".join(slack))
