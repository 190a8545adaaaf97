"""The current owner's accounts as the review screen counts them, read through the CRM
(the portfolio screen has its own rows and cache: ``viewmodels/portfolio_rows.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sergas_tui.errors import CrmError

if TYPE_CHECKING:
    from sergas_tui.services import Services


@dataclass(frozen=True)
class AccountRow:
    """One of the current owner's accounts as :func:`owner_accounts` reads it."""

    account_id: str
    name: str
    owner: str
    industry: str | None
    account_type: str | None
    annual_revenue: float | None
    last_activity: datetime | None
    days_since_activity: int | None


async def owner_accounts(services: Services) -> list[AccountRow]:
    """The current owner's accounts, read through the CRM gateway."""
    owner = services.current_user_email()
    if owner is None:
        raise CrmError(
            "Sergas does not know which Zoho user you are. Set [zoho] user_email in the "
            "configuration (`sergas config path`).",
            title="Who are you?",
        )
    crm = await services.crm()
    now = services.clock.now()
    rows = [
        AccountRow(
            account_id=account.id,
            name=account.name or "(no name)",
            owner=(account.owner.name or "") if account.owner else "",
            industry=account.industry,
            account_type=account.account_type,
            annual_revenue=account.annual_revenue,
            last_activity=account.last_activity_time,
            days_since_activity=None
            if account.last_activity_time is None
            else max((now - account.last_activity_time).days, 0),
        )
        for account in await crm.get_accounts(owner)
    ]
    return sorted(rows, key=lambda row: row.name.casefold())
