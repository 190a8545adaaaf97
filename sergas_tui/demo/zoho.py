"""Zoho CRM record shapes used by the demo org: ids, field metadata, lookups, timeline entries.

Shapes follow the Zoho CRM v8 REST API (see docs/reference zoho-crm.md 2.1-2.9): numeric
string ids, ISO-8601 datetimes with an offset, ``YYYY-MM-DD`` dates, ``{name,id,email}`` for
users and ``{name,id}`` for lookups. All datetimes are rendered in UTC (``+00:00``) so they sort
as strings; a simulator may re-render them in the caller's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sergas_tui.demo.model import MODULES, JsonDict

# Ids are 19 digits: a fixed org prefix, five zeros, then a seven-digit sequence. Sequence
# numbers below 1,000,000 are reserved for metadata (modules, fields, roles, profiles).
ORG_PREFIX = "5725767"
FIRST_RECORD_SEQUENCE = 1_000_000
LAST_SEQUENCE = 9_999_999


def fixed_id(sequence: int) -> str:
    """Return the Zoho-style id with the given sequence number."""
    if not 0 <= sequence <= LAST_SEQUENCE:
        raise ValueError(f"id sequence {sequence} out of range")
    return f"{ORG_PREFIX}00000{sequence:07d}"


# Leads and Campaigns are modules the org has (the simulator serves them) though the demo
# generates no records of them.
MODULE_IDS: Mapping[str, str] = {
    module: fixed_id(100 + i) for i, module in enumerate((*MODULES, "Leads", "Campaigns"))
}

PIPELINE = "Standard (Standard)"
DEMO_AT_RISK_RATING = "At Risk"
"""The demo org's own Accounts Rating value for an account at risk (orgs add one to Zoho's
default picklist); reviews on the demo propose it (``[review] at_risk_rating`` elsewhere)."""

# (module, api_name) -> (field_label, data_type); ids are assigned below in this order.
_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("Accounts", "Owner", "Account Owner", "ownerlookup"),
    ("Accounts", "Rating", "Rating", "picklist"),
    ("Accounts", "Account_Type", "Account Type", "picklist"),
    ("Deals", "Stage", "Stage", "picklist"),
    ("Deals", "Probability", "Probability (%)", "integer"),
    ("Deals", "Amount", "Amount", "currency"),
    ("Deals", "Closing_Date", "Closing Date", "date"),
    ("Deals", "Owner", "Deal Owner", "ownerlookup"),
    ("Contacts", "Contact_Role", "Contact Role", "picklist"),
    ("Contacts", "Title", "Title", "text"),
    ("Accounts", "Phone", "Phone", "phone"),
)
FIELD_META: Mapping[tuple[str, str], tuple[str, str, str]] = {
    (module, api): (label, kind, fixed_id(1000 + i))
    for i, (module, api, label, kind) in enumerate(_FIELDS)
}

ROLE_MANAGER: Mapping[str, str] = {"name": "Sales Manager", "id": fixed_id(201)}
ROLE_REP: Mapping[str, str] = {"name": "Account Executive", "id": fixed_id(202)}
PROFILE_STANDARD: Mapping[str, str] = {"name": "Standard", "id": fixed_id(301)}
PROFILE_MANAGER: Mapping[str, str] = {"name": "Sales Manager Profile", "id": fixed_id(302)}
LAYOUT_STANDARD: Mapping[str, str] = {"name": "Standard", "id": fixed_id(401)}

# The field on each module that Zoho uses as the record's display name.
NAME_FIELD: Mapping[str, str] = {
    "Accounts": "Account_Name",
    "Contacts": "Full_Name",
    "Deals": "Deal_Name",
}


def iso(moment: datetime) -> str:
    """Render a datetime the way Zoho does: seconds precision with an explicit offset."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def day(value: date) -> str:
    """Render a Zoho ``Date`` field."""
    return value.isoformat()


def user_ref(user: JsonDict) -> JsonDict:
    """``Owner``/``Created_By``/``Modified_By`` shape of a user."""
    return {"name": user["full_name"], "id": user["id"], "email": user["email"]}


def done_by(user: JsonDict) -> JsonDict:
    """``done_by`` shape of a user in a timeline entry."""
    return {"name": user["full_name"], "id": user["id"]}


def lookup(module: str, record: JsonDict) -> JsonDict:
    """``{name, id}`` lookup of a record of ``module``."""
    return {"name": record[NAME_FIELD[module]], "id": record["id"]}


def module_of(record: JsonDict) -> str:
    """Which of Accounts/Deals/Contacts a record built by the demo generator belongs to."""
    if "Deal_Name" in record:
        return "Deals"
    if "Full_Name" in record:
        return "Contacts"
    return "Accounts"


def expected_revenue(amount: int | None, probability: int) -> float | None:
    """Zoho's ``Expected_Revenue`` formula field: amount weighted by probability."""
    return None if amount is None else round(amount * probability / 100, 2)


def field_change(module: str, api_name: str, old: Any, new: Any) -> JsonDict:
    """One ``field_history`` item of a timeline entry."""
    label, kind, field_id = FIELD_META[(module, api_name)]
    return {
        "api_name": api_name,
        "field_label": label,
        "data_type": kind,
        "id": field_id,
        "_value": {"old": old, "new": new},
    }


def timeline_entry(
    module: str,
    record: JsonDict,
    at: datetime,
    by: JsonDict,
    action: str,
    field_history: list[JsonDict] | None,
    related: tuple[str, JsonDict] | None = None,
) -> JsonDict:
    """A Zoho ``__timeline`` entry for ``record`` of ``module``."""
    related_record = None
    if related is not None:
        related_module, related_data = related
        related_record = {
            "module": {"api_name": related_module, "id": MODULE_IDS[related_module]},
            **lookup(related_module, related_data),
        }
    return {
        "audited_time": iso(at),
        "action": action,
        "source": "crm_ui",
        "type": None,
        "extension": None,
        "automation_details": None,
        "done_by": done_by(by),
        "record": {
            "module": {"api_name": module, "id": MODULE_IDS[module]},
            **lookup(module, record),
        },
        "related_record": related_record,
        "field_history": field_history,
    }


def system_fields() -> JsonDict:
    """The ``$``-meta keys and standard extras Zoho returns on every record."""
    return {
        "$editable": True,
        "$approval_state": "approved",
        "$currency_symbol": "$",
        "$state": "save",
        "Currency": "USD",
        "Exchange_Rate": 1,
        "Layout": dict(LAYOUT_STANDARD),
        "Tag": [],
        "Locked__s": False,
        "Record_Status__s": "Available",
    }
