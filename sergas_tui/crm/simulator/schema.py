"""The simulated org's field catalogue: API names, data types, lookup targets, read-only flags.

COQL and search need types (numbers compare numerically, datetimes as UTC strings, lookups by
id) and must reject unknown fields; writes need to know what may be written. The catalogue
covers Zoho's standard fields of each module plus the demo org's custom fields.

Spec syntax: ``Name:type`` with ``>Target`` for a lookup's module and a trailing ``!`` for a
read-only field and ``*`` for a mandatory one (Zoho's ``system_mandatory``); ``multi`` is a
multi-module lookup (``What_Id``, ``Parent_Id``). Picklist values live in
:mod:`~sergas_tui.crm.simulator.picklists`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sergas_tui.demo.zoho import FIELD_META, fixed_id

TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website", "picklist"})
NUMBER_TYPES = frozenset({"integer", "bigint", "double", "currency"})
TIME_TYPES = frozenset({"date", "datetime"})
REF_TYPES = frozenset({"lookup", "owner", "multi"})
JSON_TYPES = REF_TYPES | {"object", "list"}

# Modules served by the record endpoints; Users has its own endpoint.
RECORD_MODULES: tuple[str, ...] = (
    "Leads",
    "Accounts",
    "Contacts",
    "Deals",
    "Tasks",
    "Events",
    "Calls",
    "Notes",
    "Campaigns",
)
COQL_MODULES: tuple[str, ...] = (*RECORD_MODULES, "Users")
# The field Zoho shows as a record's name (lookups' ``name``, timeline ``record.name``).
NAME_FIELDS: Mapping[str, str] = {
    "Leads": "Full_Name",
    "Campaigns": "Campaign_Name",
    "Accounts": "Account_Name",
    "Contacts": "Full_Name",
    "Deals": "Deal_Name",
    "Tasks": "Subject",
    "Calls": "Subject",
    "Events": "Event_Title",
    "Notes": "Note_Title",
    "Users": "full_name",
}

_SYSTEM = (
    "id:id! Owner:owner>Users Created_Time:datetime! Created_By:owner>Users! "
    "Modified_Time:datetime! Modified_By:owner>Users! Tag:list "
)
_META = (
    "Currency:picklist Exchange_Rate:double Layout:object! Locked__s:boolean! "
    "Record_Status__s:picklist! "
)
_ACTIVITY = "What_Id:multi Who_Id:lookup>Contacts Description:textarea "
_SPECS: Mapping[str, str] = {
    "Accounts": _SYSTEM
    + _META
    + "Account_Name:text* Account_Number:text Account_Type:picklist Account_Site:text "
    "Industry:picklist Annual_Revenue:currency Employees:integer Rating:picklist "
    "Ownership:picklist Phone:phone Fax:phone Website:website Parent_Account:lookup>Accounts "
    "SIC_Code:integer Ticker_Symbol:text Billing_Street:text Billing_City:text "
    "Billing_State:text Billing_Code:text Billing_Country:text Shipping_Street:text "
    "Shipping_City:text Shipping_State:text Shipping_Code:text Shipping_Country:text "
    "Description:textarea Last_Activity_Time:datetime! Tax_ID:text Bank_Account:text",
    "Contacts": _SYSTEM
    + _META
    + "First_Name:text Last_Name:text* Full_Name:text! Salutation:picklist "
    "Account_Name:lookup>Accounts Email:email Secondary_Email:email Personal_Email:email "
    "Phone:phone Mobile:phone Home_Phone:phone Title:text Department:text "
    "Contact_Role:picklist Lead_Source:picklist Mailing_Street:text Mailing_City:text "
    "Mailing_State:text Mailing_Zip:text Mailing_Country:text Email_Opt_Out:boolean "
    "Date_of_Birth:date Home_Address:text Description:textarea Last_Activity_Time:datetime!",
    "Deals": _SYSTEM
    + _META
    + "Deal_Name:text* Account_Name:lookup>Accounts Contact_Name:lookup>Contacts "
    "Stage:picklist* Amount:currency Closing_Date:date Probability:integer "
    "Expected_Revenue:currency! Type:picklist Pipeline:picklist Lead_Source:picklist "
    "Next_Step:text Campaign_Source:lookup>Campaigns Reason_For_Loss__s:picklist "
    "Description:textarea Last_Activity_Time:datetime!",
    "Tasks": _SYSTEM
    + _ACTIVITY
    + "Subject:text* Due_Date:date Status:picklist Priority:picklist Closed_Time:datetime! "
    "Send_Notification_Email:boolean Remind_At:object Recurring_Activity:object",
    "Events": _SYSTEM
    + _ACTIVITY
    + "Event_Title:text* Start_DateTime:datetime* End_DateTime:datetime* All_day:boolean "
    "Participants:list Venue:text Remind_At:object",
    "Calls": _SYSTEM
    + _ACTIVITY
    + "Subject:text* Call_Type:picklist* Call_Purpose:picklist Call_Start_Time:datetime* "
    "Call_Duration:text* Call_Duration_in_seconds:integer Call_Result:picklist",
    "Notes": _SYSTEM + "Note_Title:text Note_Content:textarea* Parent_Id:multi*",
    "Stage_History": "id:id! Stage:picklist! Amount:currency! Probability:integer! "
    "Expected_Revenue:currency! Close_Date:date! Duration:integer! Modified_Time:datetime! "
    "Modified_By:owner>Users!",
    "Users": "id:id! full_name:text! first_name:text last_name:text email:email role:object "
    "profile:object status:picklist confirm:boolean time_zone:text locale:text "
    "reporting_to:lookup>Users created_time:datetime! Modified_Time:datetime!",
    "Leads": _SYSTEM
    + _META
    + "First_Name:text Last_Name:text* Full_Name:text! Salutation:picklist Company:text "
    "Designation:text Email:email Secondary_Email:email Phone:phone Mobile:phone Fax:phone "
    "Website:website Lead_Source:picklist Lead_Status:picklist Industry:picklist "
    "No_of_Employees:integer Annual_Revenue:currency Rating:picklist Email_Opt_Out:boolean "
    "Street:text City:text State:text Zip_Code:text Country:text Description:textarea "
    "Converted__s:boolean! Converted_Date_Time:datetime! Last_Activity_Time:datetime!",
    "Campaigns": _SYSTEM
    + "Campaign_Name:text* Type:picklist Status:picklist Start_Date:date End_Date:date "
    "Expected_Revenue:currency Budgeted_Cost:currency Actual_Cost:currency "
    "Expected_Response:integer Num_sent:integer Parent_Campaign:lookup>Campaigns "
    "Description:textarea Currency:picklist Exchange_Rate:double",
}

# Zoho's system-defined duplicate-check fields (zoho-crm.md section 2.6): an insert clashing on
# one is DUPLICATE_DATA; upsert matches on them unless ``duplicate_check_fields`` says otherwise.
DUPLICATE_CHECK_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Leads": ("Email",),
    "Contacts": ("Email",),
    "Accounts": ("Account_Name",),
    "Deals": ("Deal_Name",),
    "Campaigns": ("Campaign_Name",),
}


@dataclass(frozen=True)
class Field:
    """One field of a module."""

    module: str
    api_name: str
    type: str
    target: str | None = None
    read_only: bool = False
    field_id: str = ""
    mandatory: bool = False

    @property
    def label(self) -> str:
        meta = FIELD_META.get((self.module, self.api_name))
        return meta[0] if meta else self.api_name.replace("__s", "").replace("_", " ")


def _parse() -> dict[str, dict[str, Field]]:
    catalogue: dict[str, dict[str, Field]] = {}
    sequence = 2_000
    for module, spec in _SPECS.items():
        fields: dict[str, Field] = {}
        for item in spec.split():
            name, _, kind = item.partition(":")
            read_only = kind.endswith("!")
            mandatory = kind.endswith("*")
            kind, _, target = kind.rstrip("!*").partition(">")
            sequence += 1
            meta = FIELD_META.get((module, name))
            field_id = meta[2] if meta else fixed_id(sequence)
            fields[name.lower()] = Field(
                module, name, kind, target or None, read_only, field_id, mandatory
            )
        catalogue[module] = fields
    return catalogue


CATALOGUE: Mapping[str, Mapping[str, Field]] = _parse()
_MODULES_LOWER: Mapping[str, str] = {m.lower(): m for m in CATALOGUE}


def canonical_module(name: str, allowed: tuple[str, ...] = RECORD_MODULES) -> str | None:
    """The module's API name spelled as Zoho does, or None when it is not in ``allowed``."""
    module = _MODULES_LOWER.get(name.lower())
    return module if module in allowed else None


def field_of(module: str, name: str) -> Field | None:
    """A module's field by API name (case-insensitive), or None."""
    return CATALOGUE.get(module, {}).get(name.lower())


def fields_of(module: str, types: frozenset[str]) -> list[Field]:
    """Every field of ``module`` whose type is in ``types``, in catalogue order."""
    return [f for f in CATALOGUE[module].values() if f.type in types]


__all__ = [
    "CATALOGUE",
    "COQL_MODULES",
    "DUPLICATE_CHECK_FIELDS",
    "JSON_TYPES",
    "NAME_FIELDS",
    "NUMBER_TYPES",
    "RECORD_MODULES",
    "REF_TYPES",
    "TEXT_TYPES",
    "TIME_TYPES",
    "Field",
    "canonical_module",
    "field_of",
    "fields_of",
]
