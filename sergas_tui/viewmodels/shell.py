"""The header line every screen shows: workspace, CRM freshness, engine, pending approvals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sergas_tui.engine_choice import known_engine

if TYPE_CHECKING:
    from sergas_tui.services import Services


def ago(then: datetime | None, now: datetime) -> str:
    """'just now', '3 min ago', '2 h ago', '4 d ago' — or 'never'."""
    if then is None:
        return "never"
    seconds = max(int((now - then).total_seconds()), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@dataclass(frozen=True)
class ShellStatus:
    workspace: str
    crm: str
    """'demo CRM', 'Zoho REST' or 'Zoho MCP'."""
    synced: str
    """When the CRM was last reviewed, e.g. 'synced 3 min ago' or 'never synced'."""
    engine: str
    engine_reason: str
    pending: int
    owner: str | None
    audit: str | None = None
    """The central audit sync, e.g. 'audit: 12 to send' (None when not configured)."""
    audit_failing: bool = False

    @property
    def parts(self) -> tuple[str, ...]:
        pending = f"{self.pending} pending" if self.pending else "nothing pending"
        parts = (self.workspace, self.crm, self.synced, f"engine: {self.engine}")
        return (*parts, *((self.audit,) if self.audit else ()), pending)

    @property
    def compact_parts(self) -> tuple[str, ...]:
        """The same facts for narrow terminals (80 columns): the CRM kind and labels go."""
        pending = f"{self.pending} pending" if self.pending else "0 pending"
        synced = self.synced.replace("synced ", "").replace(" ago", "")
        parts = (self.workspace, f"synced {synced}", self.engine)
        return (*parts, *((self.audit,) if self.audit else ()), pending)


def audit_text(pending: int, last_synced: datetime | None, failing: bool, now: datetime) -> str:
    """'audit: 12 to send', 'audit sent 3 min ago' or 'audit sync failing · 12 to send'."""
    if failing:
        return f"audit sync failing · {pending} to send" if pending else "audit sync failing"
    if pending:
        return f"audit: {pending} to send"
    return "audit sent " + ago(last_synced, now) if last_synced else "audit: nothing sent yet"


def shell_status(services: Services) -> ShellStatus:
    """Read the header's facts (blocking SQLite reads: call from a thread worker)."""
    owner = services.current_user_email()
    last = services.store.last_sync(owner or "*")
    now = services.clock.now()
    synced = "never synced" if last is None else f"synced {ago(last.started_at, now)}"
    mode = services.settings.zoho.resolved_mode()
    crm = {"demo": "demo CRM", "rest": "Zoho REST", "mcp": "Zoho MCP"}.get(mode, mode)
    engine, why = services.engine()
    audit: str | None = None
    failing = False
    if services.central_audit_configured:
        from sergas_tui.audit.central.status import outbox_status

        outbox = outbox_status(services.store)
        failing = outbox.last_error is not None
        audit = audit_text(outbox.pending_rows, outbox.last_synced_at, failing, now)
    return ShellStatus(
        workspace=services.workspace,
        crm=crm,
        synced=synced,
        engine=engine,
        engine_reason=why,
        pending=services.store.pending_approval_count(owner),
        owner=owner,
        audit=audit,
        audit_failing=failing,
    )


BANNER_DISMISSED = "ui.first_run_banner_dismissed"
"""Workspace meta key: the first-run banner was hidden with `b` (it stays hidden)."""


def banner_visible(services: Services) -> bool:
    """Show the first-run banner on a demo workspace until the person hides it once.

    One read of the workspace's small ``meta`` table: cheap enough for a screen's compose.
    """
    if not (services.is_demo and services.settings.ui.show_first_run_banner):
        return False
    return services.store.meta_value(BANNER_DISMISSED) is None


def remember_banner(services: Services, *, visible: bool) -> None:
    """Record the banner's state for the next start (blocking: call from a thread worker)."""
    services.store.set_meta(BANNER_DISMISSED, None if visible else "1")


def header_label(services: Services, *, ask_keyring: bool = True) -> str:
    """'demo · demo CRM · engine: rules'; without ``ask_keyring``, 'engine: …' where only
    the keyring can tell (the app's first frame; it asks later, off the start-up path)."""
    if ask_keyring:
        engine: str = services.engine()[0]
    else:
        engine = known_engine(services.settings, services.secrets) or "…"
    kind = "demo CRM" if services.is_demo else "Zoho"
    if services.settings.zoho.resolved_mode() == "mcp":
        kind += " via MCP"
    return f"{services.workspace} · {kind} · engine: {engine}"
