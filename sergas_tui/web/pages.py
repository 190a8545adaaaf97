"""The HTML of `sergas serve`: the approval page and every answer it gives.

Rendered by Jinja with autoescaping on, so CRM text (names, subjects, bodies) is text, never
markup; CRM text has its control characters and bidi overrides removed before
(:func:`~sergas_tui.approvals.cli_support.plain`). The pages need no JavaScript; their one
stylesheet is served by the same server (``/s/page.css``), which the Content-Security-Policy
allows and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from sergas_tui.approvals.cli_support import one_line
from sergas_tui.approvals.execution_records import ExecutionResult
from sergas_tui.domain import Approval, Recommendation
from sergas_tui.domain.names import RecordNames
from sergas_tui.notify.links import Link
from sergas_tui.viewmodels.approval_form import FormField

HERE = Path(__file__).parent
STYLESHEET = (HERE / "templates" / "page.css").read_text(encoding="utf-8")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_HEADINGS = {
    None: "A proposed CRM write waits for your decision",
    "approve": "Approve this CRM write?",
    "reject": "Reject this CRM write?",
    "adjust": "Adjust this CRM write, then approve it",
}


@dataclass(frozen=True)
class Page:
    """An answer: its HTTP status and HTML."""

    status: int
    html: str
    decided: bool = False
    """A decision was recorded (the audit outbox has new rows to send)."""


@dataclass
class ApprovalView:
    """What the approval page shows (names, never ids alone)."""

    owner: str
    account: str
    write: str
    priority: str | None
    confidence: str | None
    rationale: str | None
    expires: str
    status: str
    lines: list[str]
    """The exact write, as `sergas approvals show` prints it."""
    fields: list[FormField]
    """The adjust form's fields."""
    names: RecordNames
    recommendation: Recommendation | None


def _render(template: str, **values: object) -> str:
    return _ENV.get_template(template).render(**values)


def approval(
    view: ApprovalView,
    *,
    want: str | None,
    nonce: str,
    issued: int,
    errors: list[str],
    reason: str,
) -> str:
    return _render(
        "approval.html.j2",
        title=f"{_HEADINGS[want]} — {view.account}",
        heading=_HEADINGS[want],
        view=view,
        write_text="\n".join(view.lines),
        want=want,
        nonce=nonce,
        issued=issued,
        errors=errors,
        reason=reason,
    )


def message(title: str, *paragraphs: str, tone: str = "info") -> str:
    """A page of a title and paragraphs (``tone``: info, done or refused)."""
    return _render("message.html.j2", title=title, paragraphs=paragraphs, tone=tone)


def refusal(status: int, title: str, *paragraphs: str) -> Page:
    """An answer that changed nothing."""
    return Page(status, message(title, *paragraphs, tone="refused"))


# -- links that cannot be used --------------------------------------------------------------


def unknown() -> Page:
    return refusal(
        404,
        "This link is not known",
        "Check that the whole link was copied from your digest. Nothing was shown or decided.",
    )


def used(link: Link) -> Page:
    did = {"approve": "approve", "reject": "reject", "adjust": "adjust"}.get(
        link.used_action or "", "decide"
    )
    when = "" if link.used_at is None else f" at {link.used_at:%Y-%m-%d %H:%M} UTC"
    return refusal(
        410,
        "This link was already used",
        f"It was used{when} to {did} this write. Each link works once; nothing was changed now. "
        "Your next digest lists what still waits for you.",
    )


def expired(link: Link) -> Page:
    return refusal(
        410,
        "This link has expired",
        f"It expired with its approval at {link.expires_at:%Y-%m-%d %H:%M} UTC. Nothing was "
        "written; the next review proposes the write again if it still applies.",
    )


def decided(approval: Approval) -> Page:
    who = f" by {one_line(approval.decided_by)}" if approval.decided_by else ""
    when = f" at {approval.decided_at:%Y-%m-%d %H:%M} UTC" if approval.decided_at else ""
    return refusal(
        410,
        "Already decided",
        f"This write is already {approval.status}{who}{when}. Nothing was changed now.",
    )


def rejected(approval: Approval) -> str:
    return message(
        "Rejected",
        "Nothing will be written to the CRM. Your decision is recorded in the audit log.",
        tone="done",
    )


def approved(approval: Approval, result: ExecutionResult) -> str:
    verb = "Approved with your changes" if approval.status == "adjusted" else "Approved"
    if result.status in ("executed", "already_executed"):
        return message(
            f"{verb} and written",
            "The write is in the CRM"
            + (f" (record …{result.record_id[-6:]})" if result.record_id else "")
            + ". Your decision is recorded in the audit log.",
            tone="done",
        )
    if result.status == "conflict":
        return message(
            f"{verb}, but not written",
            "The CRM record changed since it was read, so nothing was overwritten. Decide "
            "again in Sergas on its current values.",
            tone="refused",
        )
    return message(
        f"{verb}, but not written yet",
        f"{one_line(result.error or 'The write did not complete.')} Your decision stands; the "
        "serving machine writes it when `sergas approvals execute` runs there.",
        tone="refused",
    )
