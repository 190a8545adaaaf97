"""The header line every screen shows: workspace, CRM freshness, engine, pending approvals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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

    @property
    def parts(self) -> tuple[str, ...]:
        pending = f"{self.pending} pending" if self.pending else "nothing pending"
        return (self.workspace, self.crm, self.synced, f"engine: {self.engine}", pending)


def shell_status(services: Services) -> ShellStatus:
    """Read the header's facts (blocking SQLite reads: call from a thread worker)."""
    owner = services.current_user_email()
    last = services.store.last_sync(owner or "*")
    now = services.clock.now()
    synced = "never synced" if last is None else f"synced {ago(last.started_at, now)}"
    mode = services.settings.zoho.resolved_mode()
    crm = {"demo": "demo CRM", "rest": "Zoho REST", "mcp": "Zoho MCP"}.get(mode, mode)
    engine, why = services.engine()
    return ShellStatus(
        workspace=services.workspace,
        crm=crm,
        synced=synced,
        engine=engine,
        engine_reason=why,
        pending=services.store.pending_approval_count(owner),
        owner=owner,
    )
