"""Escalation and expiry notices, each sent once.

- **Escalation**: an approval still pending ``[approvals] escalate_after_hours`` after it was
  proposed is told to the owner's manager (``manager_email`` of the owner in the team's roles);
  an owner without one is not escalated, and that is logged and reported.
- **Expiry**: an approval that expired undecided (in the last :data:`EXPIRY_WINDOW`) is told to
  its owner.

One message per recipient and kind lists every approval newly due for it. Each (approval, kind,
recipient) is claimed in ``team_notices`` before the message goes out, so it is sent once
whichever process runs :func:`send_notices` and however often; when no channel delivers the
message, the claims are withdrawn and the next run tries again. Notices carry no approval
links: a link decides as the owner, and a manager decides as themself in Sergas.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sergas_tui.briefs.compile import queue_rank
from sergas_tui.domain import Approval, ApprovalStatus, Recommendation
from sergas_tui.logs import get_logger
from sergas_tui.notify import compose
from sergas_tui.notify.channels import Channels, Delivery, channels_from, deliver
from sergas_tui.notify.digest import approval_service, item_of, notice_store
from sergas_tui.notify.links import NoticeKind, NoticeStore
from sergas_tui.notify.names import Directory, directory
from sergas_tui.services import Services

log = get_logger("sergas.notify")

EXPIRY_WINDOW = timedelta(days=7)
"""Expiries older than this are not told any more (a first run must not flood owners)."""


@dataclass(frozen=True)
class NoticeSent:
    """One message: its kind, its recipient, how many approvals it told."""

    kind: NoticeKind
    recipient: str
    items: int
    deliveries: tuple[Delivery, ...]

    @property
    def delivered(self) -> bool:
        return any(d.ok for d in self.deliveries)

    def text(self) -> str:
        done = "; ".join(d.text() for d in self.deliveries)
        again = "" if self.delivered else " (not recorded as sent: the next run tries again)"
        return f"{self.kind} to {self.recipient}: {self.items} approvals — {done}{again}"


@dataclass(frozen=True)
class NoticeReport:
    """What :func:`send_notices` did."""

    sent: tuple[NoticeSent, ...] = ()
    already: int = 0
    """Notices due that were sent before (not sent again)."""
    no_manager: tuple[str, ...] = ()
    """Owners with overdue approvals but no manager in the team's roles (not escalated)."""
    roles_error: str | None = None
    """Why the team's roles could not be read (so nobody's manager is known)."""

    @property
    def ok(self) -> bool:
        return all(all(d.ok for d in s.deliveries) for s in self.sent)

    def lines(self) -> list[str]:
        found = [s.text() for s in self.sent]
        if self.no_manager and self.roles_error:
            found.append(
                f"Not escalated (the team's roles could not be read: {self.roles_error}): "
                f"{', '.join(self.no_manager)}"
            )
        elif self.no_manager:
            found.append(
                "Not escalated (no manager in the team's roles; `sergas admin roles set "
                f"EMAIL --manager MANAGER`): {', '.join(self.no_manager)}"
            )
        if self.already:
            found.append(f"{self.already} notices were sent before and are not sent again.")
        return found or ["No escalation or expiry is due."]


def _read(
    services: Services, now: datetime
) -> tuple[list[Approval], list[Approval], dict[str, Recommendation | None], Directory]:
    store = services.store
    pending = store.pending_approvals(None)
    expired = [
        a
        for a in store.approvals_with_status([ApprovalStatus.EXPIRED])
        if a.expiry >= now - EXPIRY_WINDOW
    ]
    both = [*pending, *expired]
    recommendations = {a.id: store.get_recommendation(a.recommendation_id) for a in both}
    return pending, expired, recommendations, directory(services, both)


async def send_notices(services: Services) -> NoticeReport:
    """Send the escalations and expiry notices that are due and not sent yet.

    Raises :class:`ConfigError` / :class:`SecretError` for an incomplete set-up, a
    central-database error when the team's records cannot be reached.
    """
    channels = channels_from(services.settings, services.secrets, links=False)
    service = approval_service(services)
    await service.pull(None)
    if service.team_error is not None:
        raise service.team_error
    await service.expire_due()
    now = services.clock.now()
    pending, expired, recs, people = await asyncio.to_thread(_read, services, now)
    hours = services.settings.approvals.escalate_after_hours
    due: dict[tuple[NoticeKind, str], list[Approval]] = defaultdict(list)
    lonely: dict[str, int] = {}
    for approval in pending:
        if now - approval.created_at < timedelta(hours=hours):
            continue
        manager = people.manager_of(approval.owner_email)
        if manager is None:
            owner = people.label(approval.owner_email)
            lonely[owner] = lonely.get(owner, 0) + 1
            continue
        due[("escalation", manager)].append(approval)
    for owner, count in lonely.items():
        log.warning("escalation_without_manager", owner=owner, approvals=count)
    for approval in expired:
        due[("expiry", approval.owner_email.lower())].append(approval)
    store = notice_store(services)
    sent: list[NoticeSent] = []
    already = 0
    for (kind, recipient), approvals in sorted(due.items()):
        claimed = set(
            await asyncio.to_thread(store.claim, kind, recipient, [a.id for a in approvals])
        )
        already += len(approvals) - len(claimed)
        chosen = [a for a in approvals if a.id in claimed]
        if chosen:
            chosen.sort(key=lambda a: queue_rank(a, recs[a.id]))
            sent.append(
                await _send(services, channels, store, (kind, recipient), chosen, people, recs)
            )
    return NoticeReport(tuple(sent), already, tuple(sorted(lonely)), people.roles_error)


async def _send(
    services: Services,
    channels: Channels,
    store: NoticeStore,
    to: tuple[NoticeKind, str],
    approvals: list[Approval],
    people: Directory,
    recs: dict[str, Recommendation | None],
) -> NoticeSent:
    kind, recipient = to
    items = [item_of(a, recs[a.id], people) for a in approvals]
    label = people.label(recipient)
    greeting = people.first_name(recipient)
    if kind == "escalation":
        hours = services.settings.approvals.escalate_after_hours
        message = compose.escalation(recipient, label, greeting, items, hours)
    else:
        message = compose.expiry(recipient, label, greeting, items)
    deliveries = tuple(await deliver(channels, message))
    notice = NoticeSent(kind, label, len(items), deliveries)
    if not notice.delivered:
        await asyncio.to_thread(store.withdraw, kind, recipient, [a.id for a in approvals])
    log.info(
        "notice_sent" if notice.delivered else "notice_failed",
        kind=kind,
        recipient=recipient,
        approvals=[a.id for a in approvals],
    )
    return notice
