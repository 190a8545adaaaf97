"""Links to a record's page in Zoho CRM's web UI, per data centre. Pure: no I/O.

A record opens at ``https://crm.zoho.<tld>/crm/org<org id>/tab/<tab>/<record id>``: the web
domain follows the org's data centre (``crm.zoho.eu`` for EU, ``crm.zohocloud.ca`` for Canada,
…), ``org<org id>`` is the org's ``domain_name`` as ``GET /crm/v8/org`` returns it
(``org`` + its ``zgid``), and the tab is the module's web name, which for Deals is still
``Potentials``. Without an org id the link leaves the ``org…`` part out and Zoho opens the record
in the user's default org. See docs/zoho.md ("Links to records") for the sources.

The demo org has no web UI, so a :class:`ZohoWeb` for it makes no links at all (``url`` answers
None and callers show the record's name without a link).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

WEB_DOMAINS: Mapping[str, str] = MappingProxyType(
    {
        "us": "https://crm.zoho.com",
        "eu": "https://crm.zoho.eu",
        "in": "https://crm.zoho.in",
        "au": "https://crm.zoho.com.au",
        "jp": "https://crm.zoho.jp",
        "cn": "https://crm.zoho.com.cn",
        "ca": "https://crm.zohocloud.ca",
        "sa": "https://crm.zoho.sa",
    }
)
"""Zoho CRM's web UI per data centre (the accounts server's domain with ``crm.``)."""

WEB_TABS: Mapping[str, str] = MappingProxyType(
    {
        "Accounts": "Accounts",
        "Contacts": "Contacts",
        "Deals": "Potentials",
        "Leads": "Leads",
        "Tasks": "Tasks",
        "Events": "Events",
        "Calls": "Calls",
    }
)
"""The web UI's tab for each API module that has record pages (Notes have none of their own)."""

_ORG = re.compile(r"^(?:org)?(\d{1,20})$")
_RECORD_ID = re.compile(r"^\d{1,25}$")


def org_segment(org_id: str | None) -> str | None:
    """``org74822955`` from ``74822955`` or ``org74822955``; None when absent or malformed."""
    if not org_id:
        return None
    match = _ORG.match(org_id.strip())
    return f"org{match[1]}" if match else None


@dataclass(frozen=True)
class ZohoWeb:
    """Where records open in a browser; ``base`` None means no web UI (the demo org)."""

    base: str | None
    org: str | None = None

    @property
    def enabled(self) -> bool:
        return self.base is not None

    def url(self, module: str, record_id: str) -> str | None:
        """The record's page, or None (no web UI, a module without pages, a malformed id)."""
        tab = WEB_TABS.get(module)
        if self.base is None or tab is None or not _RECORD_ID.match(record_id):
            return None
        org = f"/{self.org}" if self.org else ""
        return f"{self.base}/crm{org}/tab/{tab}/{record_id}"


NO_WEB = ZohoWeb(base=None)
"""No links: the demo org, or a CRM whose web UI is unknown."""


def zoho_web(
    data_centre: str,
    *,
    org_id: str | None = None,
    web_url: str | None = None,
    demo: bool = False,
) -> ZohoWeb:
    """The web UI of an org: ``web_url`` when given, else the data centre's; none for a demo."""
    if demo:
        return NO_WEB
    base = (web_url or WEB_DOMAINS.get(data_centre) or "").rstrip("/")
    if not base.startswith("https://"):
        return NO_WEB
    return ZohoWeb(base=base, org=org_segment(org_id))
