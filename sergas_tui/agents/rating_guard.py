"""The author's Rating values against the org's picklist, checked once per review run.

The rules author proposes ``update_account`` writes of the Accounts ``Rating``: to
:attr:`~sergas_tui.agents.author.rules.AuthorPolicy.at_risk_rating` on high-risk accounts and
back to :attr:`~sergas_tui.agents.author.rules.AuthorPolicy.recovered_rating` once they
recovered. A value the org's picklist lacks would be refused by Zoho or, in an unrestricted
picklist, quietly added to it. :class:`RatingGuard` reads the Accounts field metadata through
the review's CRM reader (the metadata cache: at most one API call a day, audited like every
other), decides with :func:`~sergas_tui.agents.author.rules.rating_writes` and narrows the
author's policy to the values the org has, logging why. Without the metadata (a token without
``ZohoCRM.settings.fields.READ``, a failed call, a server without the read) the review goes on:
only the trusted values (the demo org's own) are proposed, nothing else.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from sergas_tui.agents.author.rules import AuthorPolicy, RatingWrites, rating_writes
from sergas_tui.config import Settings
from sergas_tui.crm.gateway import CrmReader, fields_or_unknown
from sergas_tui.demo.zoho import DEMO_AT_RISK_RATING

log = structlog.get_logger("sergas.author")

ACCOUNTS = "Accounts"


class RatingGuard:
    """Narrows an :class:`AuthorPolicy` to the Rating values the org's picklist has."""

    def __init__(self, crm: CrmReader, *, trusted: frozenset[str] = frozenset()) -> None:
        self._crm = crm
        self._trusted = trusted
        self.last: RatingWrites | None = None
        """The latest decision (None before the first check, or with no at-risk value)."""

    async def narrow(self, policy: AuthorPolicy) -> AuthorPolicy:
        """``policy`` with :attr:`AuthorPolicy.rating_values` set from the org's metadata (no
        CRM call when no at-risk value is configured: nothing would be proposed anyway)."""
        if policy.at_risk_rating is None:
            return policy
        fields = await fields_or_unknown(self._crm, ACCOUNTS)
        decision = rating_writes(fields, policy, trusted=self._trusted)
        self.last = decision
        for note in decision.notes:
            if decision.ok:
                log.info("review.rating_check", note=note)
            else:
                log.warning("review.rating_check", note=note)
        return replace(policy, rating_values=decision.allowed)


def at_risk_rating_for(settings: Settings, *, demo: bool) -> str | None:
    """``[review] at_risk_rating``, else the demo org's "At Risk" on a demo CRM, else None."""
    configured = settings.review.at_risk_rating
    if configured:
        return configured
    return DEMO_AT_RISK_RATING if demo else None


def trusted_ratings(*, demo: bool) -> frozenset[str]:
    """Rating values proposed even when the org's field metadata cannot be read: on the demo
    CRM its own "At Risk" and Zoho's default "Active" (its generated picklist has both); none on
    any other org, where an unchecked value could be refused or pollute the picklist."""
    return frozenset({DEMO_AT_RISK_RATING, "Active"}) if demo else frozenset()


__all__ = ["RatingGuard", "at_risk_rating_for", "trusted_ratings"]
