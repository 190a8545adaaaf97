"""What happens behind an approval link: showing the approval, and deciding it once.

A link names nothing but its token. Its row (``approval_links``) binds it to one approval and
that approval's owner, so a link can show and decide only that approval, as that owner: the
decision goes through :class:`ApprovalService` with ``Identity(email=owner, role="ae",
how="link")`` (which refuses an approval of anyone else) and an audit context holding the
client's address and user agent. Deciding spends the link first (a compare-and-set on its row),
then decides, then — for an approval — writes it once with the :class:`Executor` on this device,
which is the deciding device in the team's records.

A refused request (unknown, used or expired link, a stale or foreign form, an invalid
adjustment) changes nothing; a link whose decision could not be recorded (the team's records
unreachable, an adjustment refused on saving) is released and works again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sergas_tui.approvals.cli_support import describe_write, one_line, plain
from sergas_tui.approvals.execution_records import ExecutionResult
from sergas_tui.approvals.service import (
    InvalidAdjustmentError,
    NotAllowedError,
    payload_problems,
)
from sergas_tui.approvals.team import TeamUnavailableError
from sergas_tui.audit.central.conn import CentralAuditError
from sergas_tui.domain import Approval
from sergas_tui.domain.approval import DECIDABLE, DECISIONS, Decision
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.people import Identity
from sergas_tui.domain.write_summary import action_line
from sergas_tui.errors import SergasError, StorageError
from sergas_tui.logs import get_logger
from sergas_tui.notify.links import Link, LinkStore, token_hash, well_formed
from sergas_tui.notify.names import directory
from sergas_tui.services import Services
from sergas_tui.viewmodels.approval_form import FormField, form_fields, payload_from_form
from sergas_tui.viewmodels.names import add_memory
from sergas_tui.web import pages
from sergas_tui.web.nonce import Nonces
from sergas_tui.web.pages import Page

log = get_logger("sergas.web")

_ACTION_OF: dict[str, Decision] = {a: a for a in DECISIONS}
REASON_MAX = 2000
VIA = "approval link"


@dataclass(frozen=True)
class Client:
    """Who sent the request: address (after trusted proxies) and user agent."""

    ip: str | None
    agent: str | None


@dataclass
class _Form:
    errors: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    reason: str = ""


UNREACHABLE = "The team's records cannot be reached right now; try again in a few minutes."
"""What a browser is told when the central database fails (its address stays in the log)."""


def public_message(err: SergasError) -> str:
    """What an approval page may say about ``err``: a decision's own refusal as it is, but
    never the database's address or driver text (those are for the server's log)."""
    if isinstance(err, TeamUnavailableError | CentralAuditError | StorageError):
        return UNREACHABLE
    return err.message


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


class LinkDesk:
    """The approval pages of one serving process (its workspace, clock and team records)."""

    def __init__(
        self, services: Services, links: LinkStore, *, nonces: Nonces | None = None
    ) -> None:
        self._services = services
        self._links = links
        self._nonces = nonces or Nonces()
        self._pulling = asyncio.Lock()

    # -- the page -------------------------------------------------------------------------

    async def show(self, token: str, want: str | None) -> Page:
        found = await self._link(token)
        if isinstance(found, Page):
            return found
        approval = await self._approval(found)
        if isinstance(approval, Page):
            return approval
        return await self._page(approval, found, want, _Form(), 200)

    async def _page(
        self, approval: Approval, link: Link, want: str | None, form: _Form, status: int
    ) -> Page:
        services = self._services

        def read() -> pages.ApprovalView:
            recommendation = services.store.get_recommendation(approval.recommendation_id)
            people = directory(services, [approval])
            return pages.ApprovalView(
                owner=one_line(people.label(approval.owner_email)),
                account=one_line(people.names.account_name(approval.account_id)),
                write=_write_line(approval, people.names),
                priority=recommendation.priority if recommendation else None,
                confidence=recommendation.confidence if recommendation else None,
                rationale=plain(recommendation.rationale) if recommendation else None,
                expires=_when(approval.expiry),
                status=str(approval.status),
                lines=[],
                fields=[],
                names=people.names,
                recommendation=recommendation,
            )

        view = await asyncio.to_thread(read)
        await add_memory(services, view.names, [approval.account_id])
        view.lines.extend(describe_write(approval, view.names, view.recommendation))
        view.fields.extend(_fields(approval, form.values))
        issued = int(self._now().timestamp())
        html = pages.approval(
            view,
            want=want if want in DECISIONS else None,
            nonce=self._nonces.make(link.token_hash, issued),
            issued=issued,
            errors=form.errors,
            reason=form.reason,
        )
        return Page(status, html)

    # -- deciding -------------------------------------------------------------------------

    async def decide(self, token: str, form: Mapping[str, str], client: Client) -> Page:
        found = await self._link(token)
        if isinstance(found, Page):
            return found
        now = int(self._now().timestamp())
        if not self._nonces.check(found.token_hash, form.get("issued"), form.get("nonce"), now):
            log.warning("link_form_refused", link=found.id, ip=client.ip, reason="stale nonce")
            return pages.refusal(
                403,
                "This page is out of date",
                "The form was not made by this server for this link just now (it is over an "
                "hour old, the server restarted, or it came from elsewhere). Nothing was "
                "decided. Open the link from your digest again.",
            )
        action = _ACTION_OF.get(form.get("action", ""))
        if action is None:
            return pages.refusal(
                400,
                "Unknown decision",
                "Use the Approve, Reject or Adjust buttons of the page. Nothing was decided.",
            )
        approval = await self._approval(found)
        if isinstance(approval, Page):
            return approval
        reason = form.get("reason", "").strip()[:REASON_MAX] or None
        payload: dict[str, object] | None = None
        if action == "adjust":
            values = {f.name: form.get(f"f.{f.name}", f.value) for f in form_fields(approval)}
            payload = payload_from_form(approval, values)
            problems = payload_problems(approval, payload, today=self._today())
            if problems:  # nothing spent, nothing decided: the form again, with the problems
                bad = _Form(problems, values, reason or "")
                return await self._page(approval, found, "adjust", bad, 422)
        spent = await asyncio.to_thread(
            self._links.spend,
            found.token_hash,
            action=action,
            now=self._now(),
            ip=client.ip,
            agent=client.agent,
        )
        if spent is None:  # used or expired a moment ago, by another request
            again = await self._link(token)
            return again if isinstance(again, Page) else pages.used(found)
        return await self._record(spent, approval, action, payload, reason, client)

    async def _record(
        self,
        link: Link,
        approval: Approval,
        action: Decision,
        payload: dict[str, object] | None,
        reason: str | None,
        client: Client,
    ) -> Page:
        services = self._services
        service = services.approval_service(
            identity=Identity(email=link.owner_email, role="ae", how="link"),
            audit_context={
                "ip": client.ip,
                "user_agent": (client.agent or "")[:512] or None,
                "via": VIA,
                "link": link.id,
            },
        )
        actor = link.owner_email
        try:
            if action == "approve":
                decided = await service.approve(approval.id, actor=actor, rationale=reason)
            elif action == "reject":
                decided = await service.reject(approval.id, actor=actor, reason=reason)
            else:
                assert payload is not None
                decided = await service.adjust(approval.id, payload, actor=actor, rationale=reason)
        except (TeamUnavailableError, InvalidAdjustmentError) as err:
            await asyncio.to_thread(self._links.release, link)
            log.warning("link_decision_not_recorded", link=link.id, error=err.message)
            return pages.refusal(
                503 if isinstance(err, TeamUnavailableError) else 422,
                err.title,
                f"{public_message(err)} The link still works.",
            )
        except NotAllowedError as err:
            log.warning("link_not_allowed", link=link.id, approval_id=approval.id, ip=client.ip)
            return pages.refusal(403, err.title, err.message)
        except SergasError as err:  # decided elsewhere first, expired meanwhile …
            log.info("link_decision_refused", link=link.id, error=err.message)
            return pages.refusal(409, err.title, public_message(err))
        log.info("link_used", link=link.id, approval_id=approval.id, action=action, ip=client.ip)
        if not decided.status.is_approved:
            return Page(200, pages.rejected(decided), decided=True)
        result = await self._execute(decided)
        return Page(200, pages.approved(decided, result), decided=True)

    async def _execute(self, approval: Approval) -> ExecutionResult:
        services = self._services
        try:
            executor = await services.executor()
            return await executor.execute(approval.id)
        except SergasError as err:
            log.warning("link_write_not_started", approval_id=approval.id, error=err.message)
            return ExecutionResult(approval.id, "failed", error=err.message)

    async def sync_audit(self) -> None:
        """Send the audit rows of a decision to the central database (best effort: the
        outbox keeps them for the next sync)."""
        try:
            await asyncio.to_thread(self._services.sync_central_audit)
        except SergasError as err:
            log.warning("audit_sync_after_link_failed", error=err.message)

    # -- the link and its approval --------------------------------------------------------

    async def _link(self, token: str) -> Link | Page:
        if not well_formed(token):
            return pages.unknown()
        link = await asyncio.to_thread(self._links.find, token_hash(token))
        if link is None:
            return pages.unknown()
        if link.used_at is not None:
            return pages.used(link)
        if link.expired(self._now()):
            return pages.expired(link)
        return link

    async def _approval(self, link: Link) -> Approval | Page:
        """The link's approval as the team's records have it now, if this link may act on it."""
        services = self._services
        service = services.approval_service()
        async with self._pulling:  # one pull at a time: two would both add a new approval
            await service.pull(link.owner_email)
        approval = await asyncio.to_thread(services.store.get_approval, link.approval_id)
        if approval is None:
            if service.team_error is not None:
                return pages.refusal(
                    503,
                    service.team_error.title,
                    f"{public_message(service.team_error)} Nothing was decided; the link still "
                    "works.",
                )
            return pages.refusal(
                404,
                "Approval not found",
                "The approval behind this link is not in the team's records. Nothing was decided.",
            )
        if approval.owner_email.lower() != link.owner_email.lower():
            log.warning("link_owner_mismatch", link=link.id, approval_id=approval.id)
            return pages.refusal(
                403,
                "Not allowed",
                f"This link was issued to {link.owner_email}, and the approval it names belongs "
                "to another owner. A link shows and decides only its owner's approvals; nothing "
                "was shown or decided.",
            )
        if approval.is_expired(self._now()):
            return pages.expired(link)
        if approval.status not in DECIDABLE:
            return pages.decided(approval)
        return approval

    def _now(self) -> datetime:
        return self._services.clock.now()

    def _today(self) -> date:
        """The person's today, as the approvals service judges due dates."""
        return self._now().astimezone().date()


def _write_line(approval: Approval, names: RecordNames) -> str:
    """The main write in words, and how many more the decision makes."""
    line = action_line(approval.payload, names, approval.account_id, approval.owner_email)
    more = len(approval.also)
    if more:
        line += f" — and {more} more write{'' if more == 1 else 's'} with this decision"
    return one_line(line)


def _fields(approval: Approval, values: Mapping[str, str]) -> list[FormField]:
    """The adjust form's fields, holding what the person typed when the form comes back."""
    found = []
    for f in form_fields(approval):
        typed = values.get(f.name)
        found.append(f if typed is None else FormField(f.name, f.label, typed, f.kind, f.hint))
    return found
