"""The Zoho fields Sergas asks for, per module (``fields=`` on list calls, COQL select lists).

Zoho requires ``fields`` on every list and related-list call and allows at most 50 of them
(``LIMIT_EXCEEDED`` otherwise; reference §2.1); COQL allows 50 select columns (§3.1). Each list
holds exactly what the wire models in :mod:`sergas_tui.domain.zoho` read, so no sensitive field
(``Tax_ID``, ``Bank_Account``...) is ever fetched. ``id`` is not listed: Zoho always returns it,
and the COQL builder adds it to every select.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from sergas_tui.domain import ActivityKind

MAX_FIELDS = 50
"""Zoho's limit on ``fields`` per call and on COQL select columns."""

_RECORD = ("Owner", "Created_Time", "Modified_Time")

ACCOUNT_FIELDS: tuple[str, ...] = (
    "Account_Name",
    "Account_Number",
    "Account_Type",
    "Industry",
    "Annual_Revenue",
    "Rating",
    "Employees",
    "Phone",
    "Website",
    "Description",
    "Billing_City",
    "Billing_Country",
    "Parent_Account",
    "Last_Activity_Time",
    *_RECORD,
)

CONTACT_FIELDS: tuple[str, ...] = (
    "First_Name",
    "Last_Name",
    "Full_Name",
    "Email",
    "Phone",
    "Mobile",
    "Title",
    "Department",
    "Account_Name",
    "Last_Activity_Time",
    *_RECORD,
)

DEAL_FIELDS: tuple[str, ...] = (
    "Deal_Name",
    "Account_Name",
    "Contact_Name",
    "Stage",
    "Amount",
    "Closing_Date",
    "Probability",
    "Expected_Revenue",
    "Type",
    "Next_Step",
    "Lead_Source",
    "Pipeline",
    "Description",
    "Last_Activity_Time",
    *_RECORD,
)

# An unknown column fails a whole COQL query (INVALID_QUERY), so these stay to fields every
# org has: Events are titled ``Event_Title`` (no ``Subject``), and calls report ``Call_Result``.
_ACTIVITY = ("Description", "Who_Id", "What_Id", *_RECORD)

TASK_FIELDS: tuple[str, ...] = (
    "Subject",
    *_ACTIVITY,
    "Due_Date",
    "Status",
    "Priority",
    "Closed_Time",
)

EVENT_FIELDS: tuple[str, ...] = (
    *_ACTIVITY,
    "Event_Title",
    "Start_DateTime",
    "End_DateTime",
    "Venue",
    "All_day",
)

CALL_FIELDS: tuple[str, ...] = (
    "Subject",
    *_ACTIVITY,
    "Call_Type",
    "Call_Start_Time",
    "Call_Duration",
    "Call_Result",
)

NOTE_FIELDS: tuple[str, ...] = ("Note_Title", "Note_Content", "Parent_Id", *_RECORD)

STAGE_HISTORY_FIELDS: tuple[str, ...] = (
    "Stage",
    "Amount",
    "Probability",
    "Expected_Revenue",
    "Close_Date",
    "Modified_Time",
    "Modified_By",
)

ACTIVITY_FIELDS: Mapping[ActivityKind, tuple[str, ...]] = MappingProxyType(
    {"task": TASK_FIELDS, "event": EVENT_FIELDS, "call": CALL_FIELDS}
)

MODULE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Accounts": ACCOUNT_FIELDS,
        "Contacts": CONTACT_FIELDS,
        "Deals": DEAL_FIELDS,
        "Tasks": TASK_FIELDS,
        "Events": EVENT_FIELDS,
        "Calls": CALL_FIELDS,
        "Notes": NOTE_FIELDS,
        "Stage_History": STAGE_HISTORY_FIELDS,
    }
)
"""Every field list by module (or related list) name; each has at most :data:`MAX_FIELDS`."""


def fields_param(fields: Iterable[str]) -> str:
    """The ``fields`` query value: comma-separated API names (at most 50)."""
    names = list(dict.fromkeys(fields))
    if len(names) > MAX_FIELDS:
        raise ValueError(f"Zoho accepts at most {MAX_FIELDS} fields per call, got {len(names)}")
    return ",".join(names)
