"""An owner's digest: one message listing their queue, best first, with a link per item.

After a (scheduled) review of an owner, :func:`send_digest` pulls the owner's open items from
the team's records, ranks the pending approvals as the brief does (priority, then expected
value, then the oldest), issues a fresh single-use link for each listed item (stored hashed,
expiring with its approval) and sends one message on every configured channel. A channel that
fails is reported in the :class:`DigestReport`; nothing is lost: the links stay valid, and the
next digest sends new ones.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sergas_tui.approvals.cli_support import one_line
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.audit.central.conn import target_from_settings
from sergas_tui.briefs.compile import queue_rank
from sergas_tui.domain import Approval, Recommendation
from sergas_tui.domain.write_summary import action_line
from sergas_tui.logs import get_logger
from sergas_tui.notify import compose
from sergas_tui.notify.channels import Channels, Delivery, channels_from, deliver
from sergas_tui.notify.links import LinkStore, NewLink, NoticeStore
from sergas_tui.notify.names import Directory, directory
from sergas_tui.services import Services

log = get_logger("sergas.notify")


@dataclass(frozen=True)
class DigestReport:
    """What :func:`send_digest` did for one owner."""

    owner_email: str
    owner: str
    """The owner's label (name and e-mail)."""
    items: int
    """Pending approvals in the owner's queue."""
    links: int = 0
    """Links issued (one per listed item)."""
    deliveries: tuple[Delivery, ...] = ()

    @property
    def ok(self) -> bool:
        """Every channel took it (or there was nothing to send)."""
        return all(d.ok for d in self.deliveries)

    def text(self) -> str:
        if not self.items:
            return f"{self.owner}: nothing waits for a decision; no digest sent."
        what = f"{self.items} waiting" + (f", {self.links} links" if self.links else "")
        done = "; ".join(d.text() for d in self.deliveries)
        return f"{self.owner}: {what} — {done}"


def link_store(services: Services) -> LinkStore:
    return LinkStore(target_from_settings(services.settings.central, services.secrets))


def notice_store(services: Services) -> NoticeStore:
    return NoticeStore(target_from_settings(services.settings.central, services.secrets))


def approval_service(services: Services) -> ApprovalService:
    """The approvals service as a system job uses it (pull, expire; no person decides)."""
    return services.approval_service()


async def _pending(services: Services, owner_email: str | None) -> list[Approval]:
    """The team's pending approvals (of one owner): pulled from the central records, overdue
    ones expired. Raises when the central records cannot be reached (links live there)."""
    service = approval_service(services)
    found = await service.pending(owner_email)
    if service.team_error is not None:
        raise service.team_error
    return found


async def send_digest(services: Services, owner_email: str) -> DigestReport:
    """Send ``owner_email`` one digest of their pending approvals (see the module text).

    Raises :class:`ConfigError` / :class:`SecretError` for an incomplete set-up (before
    anything is read), a central-database error when the team's records cannot be reached.
    """
    channels = channels_from(services.settings, services.secrets, links=True)
    owner = owner_email.strip()
    pending = await _pending(services, owner)
    return await _digest(services, channels, link_store(services), owner, pending)


async def send_all_digests(services: Services) -> list[DigestReport]:
    """One digest per owner with pending approvals, by e-mail."""
    channels = channels_from(services.settings, services.secrets, links=True)
    by_owner: dict[str, list[Approval]] = defaultdict(list)
    for approval in await _pending(services, None):
        by_owner[approval.owner_email].append(approval)
    store = link_store(services)
    return [
        await _digest(services, channels, store, owner, by_owner[owner])
        for owner in sorted(by_owner)
    ]


def _read(
    services: Services, approvals: Sequence[Approval]
) -> tuple[dict[str, Recommendation | None], Directory]:
    store = services.store
    recommendations = {a.id: store.get_recommendation(a.recommendation_id) for a in approvals}
    return recommendations, directory(services, approvals)


def item_of(
    approval: Approval,
    recommendation: Recommendation | None,
    people: Directory,
    link: str | None = None,
) -> compose.Item:
    """One approval as a message lists it: account name, the write in words, priority."""
    names = people.names
    return compose.Item(
        approval=approval,
        account=one_line(names.account_name(approval.account_id)),
        write=action_line(approval.payload, names, approval.account_id, approval.owner_email),
        more_writes=len(approval.also),
        priority=recommendation.priority if recommendation is not None else None,
        owner=people.label(approval.owner_email),
        link=link,
    )


async def _digest(
    services: Services,
    channels: Channels,
    store: LinkStore,
    owner: str,
    pending: Sequence[Approval],
) -> DigestReport:
    recommendations, people = await asyncio.to_thread(_read, services, pending)
    label = people.label(owner)
    ranked = sorted(pending, key=lambda a: queue_rank(a, recommendations[a.id]))
    if not ranked:
        log.info("digest_skipped", owner=owner, reason="nothing pending")
        return DigestReport(owner, label, 0)
    listed = ranked[: compose.LISTED_MAX]
    wanted = [NewLink(a.id, a.owner_email, a.expiry) for a in listed]
    tokens = await asyncio.to_thread(store.issue, wanted)
    assert channels.public_url is not None  # channels_from(links=True) checked it
    items = [
        item_of(a, recommendations[a.id], people, compose.link_base(channels.public_url, t))
        for a, t in zip(listed, tokens, strict=True)
    ]
    items += [item_of(a, recommendations[a.id], people) for a in ranked[len(listed) :]]
    message = compose.digest(
        owner,
        label,
        people.first_name(owner),
        items,
        webhook_links=services.settings.notifications.webhook_links,
    )
    deliveries = tuple(await deliver(channels, message))
    report = DigestReport(owner, label, len(ranked), len(tokens), deliveries)
    log.info(
        "digest_sent" if report.ok else "digest_failed",
        owner=owner,
        items=len(ranked),
        links=len(tokens),
        channels=[d.text() for d in deliveries],
    )
    return report
