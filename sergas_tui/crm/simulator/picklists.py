"""The simulated org's picklists: Zoho's default values plus the demo org's own additions.

The metadata API (``/settings/fields``) answers these, writes check values against them, and
the demo generator draws its records' values from the same words, so the three never disagree
(``tests/unit/test_simulator_metadata.py`` checks every value of a generated org). Zoho's
defaults that the rest of Sergas uses too (task priorities and statuses, deal stages, ratings)
come from :mod:`sergas_tui.domain.picklists`. Zoho lists
``-None-`` first in every picklist; it stands for an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping

from sergas_tui.demo import words
from sergas_tui.demo.deals import LOSS_REASONS
from sergas_tui.demo.zoho import DEMO_AT_RISK_RATING, PIPELINE
from sergas_tui.domain import picklists

NONE = "-None-"

_LEAD_SOURCES = tuple(dict.fromkeys((*words.LEAD_SOURCES, "Existing Customer", "Twitter")))
_INDUSTRIES = tuple(
    dict.fromkeys(
        (
            *words.INDUSTRIES,
            "ASP (Application Service Provider)",
            "Data/Telecom OEM",
            "ERP (Enterprise Resource Planning)",
            "Government/Military",
            "Large Enterprise",
            "Management ISV",
            "MSP (Management Service Provider)",
            "Network Equipment Enterprise",
            "Non-management ISV",
            "Optical Networking",
            "Service Provider",
            "Small/Medium Enterprise",
            "Storage Equipment",
            "Storage Service Provider",
            "Systems Integrator",
            "Wireless Industry",
        )
    )
)
_RATINGS = tuple(dict.fromkeys((*picklists.RATINGS, *words.RATINGS, DEMO_AT_RISK_RATING)))

_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Accounts", "Account_Type"): (
        "Analyst",
        "Competitor",
        "Customer",
        "Distributor",
        "Integrator",
        "Investor",
        "Other",
        "Partner",
        "Press",
        "Prospect",
        "Reseller",
        "Supplier",
        "Vendor",
    ),
    ("Accounts", "Industry"): _INDUSTRIES,
    ("Accounts", "Rating"): _RATINGS,
    ("Accounts", "Ownership"): tuple(
        dict.fromkeys(
            (*words.OWNERSHIPS, "Government", "Public", "Subsidiary", "Privately Held", "Other")
        )
    ),
    ("Contacts", "Salutation"): ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof."),
    ("Contacts", "Contact_Role"): tuple(words.CONTACT_ROLES),
    ("Contacts", "Lead_Source"): _LEAD_SOURCES,
    ("Leads", "Salutation"): ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof."),
    ("Leads", "Lead_Source"): _LEAD_SOURCES,
    ("Leads", "Lead_Status"): (
        "Attempted to Contact",
        "Contact in Future",
        "Contacted",
        "Junk Lead",
        "Lost Lead",
        "Not Contacted",
        "Pre-Qualified",
        "Not Qualified",
    ),
    ("Leads", "Industry"): _INDUSTRIES,
    ("Leads", "Rating"): picklists.RATINGS,
    ("Deals", "Stage"): picklists.DEAL_STAGES,
    ("Deals", "Type"): ("Existing Business", "New Business", "Renewal"),
    ("Deals", "Pipeline"): (PIPELINE,),
    ("Deals", "Lead_Source"): _LEAD_SOURCES,
    ("Deals", "Reason_For_Loss__s"): LOSS_REASONS,
    ("Tasks", "Status"): picklists.TASK_STATUSES,
    ("Tasks", "Priority"): picklists.TASK_PRIORITIES,
    ("Calls", "Call_Type"): ("Outbound", "Inbound", "Missed"),
    ("Calls", "Call_Purpose"): tuple(words.CALL_PURPOSES),
    ("Calls", "Call_Result"): tuple(words.CALL_RESULTS),
    ("Campaigns", "Type"): (
        "Conference",
        "Webinar",
        "Trade Show",
        "Public Relations",
        "Partners",
        "Referral Program",
        "Advertisement",
        "Banner Ads",
        "Direct mail",
        "Email",
        "Telemarketing",
        "Others",
    ),
    ("Campaigns", "Status"): ("Planning", "Active", "Inactive", "Complete"),
    ("Users", "status"): ("active", "disabled", "deleted"),
}
for _module in ("Accounts", "Contacts", "Deals", "Leads", "Campaigns"):
    _VALUES[(_module, "Currency")] = ("USD", "EUR", "GBP")
for _module in ("Accounts", "Contacts", "Deals", "Leads"):
    _VALUES[(_module, "Record_Status__s")] = ("Available", "Draft", "Trash")
PICKLIST_VALUES: Mapping[tuple[str, str], tuple[str, ...]] = _VALUES

RESTRICTED: frozenset[tuple[str, str]] = frozenset(
    {("Tasks", "Status"), ("Tasks", "Priority"), ("Deals", "Stage")}
)
"""Picklists whose writes must use one of the values (Zoho rejects others with INVALID_DATA);
other picklists accept a new value on write, as Zoho's unrestricted picklists do."""


def values_of(module: str, api_name: str) -> tuple[str, ...] | None:
    """The picklist's values (without ``-None-``), or None when the field is no picklist."""
    return PICKLIST_VALUES.get((module, api_name))


__all__ = ["NONE", "PICKLIST_VALUES", "RESTRICTED", "values_of"]
