"""The simulator's catalogue as Zoho's v8 metadata: the JSON of the org, its modules, fields,
layouts, related lists, roles, profiles and users, generated from :mod:`.schema`, the related
lists of :mod:`.orgdb` and :mod:`.picklists`, so that metadata and records never disagree. The
endpoints that answer with it are :mod:`.metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.orgdb import RELATED_LISTS
from sergas_tui.crm.simulator.picklists import NONE, values_of
from sergas_tui.crm.simulator.schema import CATALOGUE, NAME_FIELDS, RECORD_MODULES, Field
from sergas_tui.demo import zoho
from sergas_tui.demo.model import JsonDict
from sergas_tui.domain.picklists import STAGE_PROBABILITY, WON_OR_LOST

ZGID = zoho.ORG_PREFIX
"""The org's id (Zoho's ``zgid``); web links use ``org<zgid>``."""
# Modules whose fields the fields API answers: the record modules and Stage_History (a related
# list the SDK asks fields for before reading it).
FIELD_MODULES: tuple[str, ...] = (*RECORD_MODULES, "Stage_History")
# (singular, plural) labels; Zoho labels the Events module "Meetings".
_LABELS: Mapping[str, tuple[str, str]] = {
    "Leads": ("Lead", "Leads"),
    "Accounts": ("Account", "Accounts"),
    "Contacts": ("Contact", "Contacts"),
    "Deals": ("Deal", "Deals"),
    "Tasks": ("Task", "Tasks"),
    "Events": ("Meeting", "Meetings"),
    "Calls": ("Call", "Calls"),
    "Notes": ("Note", "Notes"),
    "Campaigns": ("Campaign", "Campaigns"),
    "Stage_History": ("Stage History", "Stage History"),
}
CUSTOM_FIELDS: frozenset[tuple[str, str]] = frozenset(
    {("Accounts", "Tax_ID"), ("Accounts", "Bank_Account")}
)
_OBJECT_TYPES: Mapping[str, str] = {
    "Layout": "layout",
    "Remind_At": "ALARM",
    "Recurring_Activity": "RRULE",
}
_DATA_TYPES: Mapping[str, str] = {
    "owner": "ownerlookup",
    "multi": "lookup",
    "list": "multiselectlookup",
    "id": "bigint",
}
_JSON_TYPES: Mapping[str, str] = {
    "integer": "integer",
    "double": "double",
    "currency": "double",
    "boolean": "boolean",
    "lookup": "jsonobject",
    "owner": "jsonobject",
    "multi": "jsonobject",
    "object": "jsonobject",
    "list": "jsonarray",
}
_LENGTHS: Mapping[str, int] = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "website": 255,
    "picklist": 120,
    "integer": 9,
    "bigint": 18,
    "double": 16,
    "currency": 16,
}

ROLE_CEO: Mapping[str, str] = {"name": "CEO", "id": zoho.fixed_id(200)}
PROFILE_ADMIN: Mapping[str, str] = {"name": "Administrator", "id": zoho.fixed_id(300)}
_ROLES: tuple[tuple[Mapping[str, str], Mapping[str, str] | None, str], ...] = (
    (ROLE_CEO, None, "Heads the organization"),
    (zoho.ROLE_MANAGER, ROLE_CEO, "Leads a team of account executives"),
    (zoho.ROLE_REP, zoho.ROLE_MANAGER, "Owns a portfolio of accounts"),
)
_PROFILES: tuple[tuple[Mapping[str, str], str], ...] = (
    (PROFILE_ADMIN, "This profile will have all the permissions."),
    (zoho.PROFILE_STANDARD, "This profile will have all the permissions except administrative."),
    (zoho.PROFILE_MANAGER, "Sales managers: their team's records and reports."),
)


# -- the catalogue as Zoho's metadata ------------------------------------------------------------


def _data_type(field: Field) -> str:
    if field.type == "object":
        return _OBJECT_TYPES.get(field.api_name, "text")
    return _DATA_TYPES.get(field.type, field.type)


def _lookup(field: Field) -> JsonDict:
    if field.type == "multi":
        target: JsonDict = {"api_name": "se_module", "id": None}
    elif field.type in ("lookup", "owner") and field.target:
        target = {"api_name": field.target, "id": zoho.MODULE_IDS.get(field.target)}
    else:
        return {}
    return {
        "display_label": field.label,
        "api_name": field.api_name,
        "module": target,
        "id": field.field_id,
    }


@cache
def _picklist_ids() -> dict[tuple[str, str, str], str]:
    ids: dict[tuple[str, str, str], str] = {}
    sequence = 600_000
    for module in FIELD_MODULES:
        for field in CATALOGUE[module].values():
            for value in (NONE, *(values_of(module, field.api_name) or ())):
                sequence += 1
                ids[(module, field.api_name, value)] = zoho.fixed_id(sequence)
    return ids


def _pick_list_values(field: Field) -> list[JsonDict]:
    values = values_of(field.module, field.api_name)
    if field.type != "picklist" or values is None:
        return []
    ids = _picklist_ids()
    out: list[JsonDict] = []
    for index, value in enumerate((NONE, *values), start=1):
        entry: JsonDict = {
            "display_value": value,
            "actual_value": value,
            "reference_value": value,
            "sequence_number": index,
            "type": "used",
            "colour_code": None,
            "id": ids[(field.module, field.api_name, value)],
        }
        if field.module == "Deals" and field.api_name == "Stage" and value != NONE:
            entry["probability"] = STAGE_PROBABILITY[value]
            entry["forecast_type"] = "Closed" if value in WON_OR_LOST else "Open"
        out.append(entry)
    return out


def field_json(field: Field, sequence: int) -> JsonDict:
    """One field as ``/settings/fields`` answers it."""
    custom = (field.module, field.api_name) in CUSTOM_FIELDS
    data_type = _data_type(field)
    return {
        "api_name": field.api_name,
        "field_label": field.label,
        "display_label": field.label,
        "id": field.field_id,
        "data_type": data_type,
        "json_type": _JSON_TYPES.get(field.type, "string"),
        "system_mandatory": field.mandatory,
        "read_only": field.read_only,
        "field_read_only": field.read_only,
        "custom_field": custom,
        "created_source": "custom" if custom else "default",
        "visible": True,
        "webhook": True,
        "searchable": field.type not in ("object", "list"),
        "sortable": field.type not in ("object", "list", "textarea"),
        "filterable": field.type not in ("object", "list"),
        "mass_update": not field.read_only and field.type not in ("object", "list"),
        "length": _LENGTHS.get(field.type),
        "decimal_place": 2 if field.type in ("currency", "double") else None,
        "display_field": NAME_FIELDS.get(field.module) == field.api_name,
        "sequence_number": sequence,
        "quick_sequence_number": str(sequence),
        "history_tracking": None,
        "lookup": _lookup(field),
        "pick_list_values": _pick_list_values(field),
        "pick_list_values_sorted_lexically": False,
        "unique": {},
        "currency": {"rounding_option": "normal", "precision": 2}
        if data_type == "currency"
        else {},
        "formula": {},
        "default_value": None,
        "profiles": [
            {
                "permission_type": "read_only" if field.read_only else "read_write",
                "name": name,
                "id": pid,
            }
            for (profile, _) in _PROFILES
            for name, pid in [(profile["name"], profile["id"])]
        ],
    }


def module_fields(module: str) -> list[JsonDict]:
    """Every field of ``module`` (``id`` is no field in Zoho's listing)."""
    fields = [f for f in CATALOGUE[module].values() if f.api_name != "id"]
    return [field_json(field, index) for index, field in enumerate(fields, start=1)]


def related_lists_of(module: str) -> list[JsonDict]:
    out: list[JsonDict] = []
    for index, ((parent, name), (child, _)) in enumerate(
        (item for item in RELATED_LISTS.items() if item[0][0] == module), start=1
    ):
        label = _LABELS.get(name, (name, name))[1]
        out.append(
            {
                "id": zoho.fixed_id(700_000 + 100 * FIELD_MODULES.index(parent) + index),
                "sequence_number": str(index),
                "display_label": label,
                "api_name": name,
                "module": {"api_name": child, "id": zoho.MODULE_IDS.get(child)},
                "name": name,
                "action": None,
                "href": f"{parent}/{{ENTITYID}}/{name}",
                "type": "default",
                "connectedmodule": None,
                "linkingmodule": None,
                "visible": True,
                "status": "visible",
                "customize_sort": True,
                "customize_fields": True,
                "customize_display_label": True,
            }
        )
    return out


def module_json(ctx: Ctx, module: str, sequence: int) -> JsonDict:
    singular, plural = _LABELS[module]
    modified = ctx.db.info.generated_at.replace(microsecond=0).isoformat()
    return {
        "api_name": module,
        "module_name": module,
        "singular_label": singular,
        "plural_label": plural,
        "id": zoho.MODULE_IDS[module],
        "api_supported": True,
        "generated_type": "default",
        "creatable": True,
        "editable": True,
        "deletable": True,
        "viewable": True,
        "visible": True,
        "visibility": 1,
        "status": "visible",
        "sequence_number": sequence,
        "modified_time": modified,
        "modified_by": None,
        "global_search_supported": module != "Notes",
        "show_as_tab": module != "Notes",
        "isBlueprintSupported": module in ("Leads", "Accounts", "Contacts", "Deals"),
        "triggers_supported": True,
        "feeds_required": False,
        "quick_create": module != "Notes",
        "web_link": None,
        "parent_module": {},
        "business_card_field_limit": 5,
        "per_page": 200,
        "profiles": [{"name": p["name"], "id": p["id"]} for p, _ in _PROFILES],
        "arguments": [],
        "lookupable": module != "Notes",
        "presence_sub_menu": module in ("Tasks", "Events", "Calls"),
    }


def layout_json(ctx: Ctx, module: str) -> JsonDict:
    singular = _LABELS[module][0]
    moment = ctx.db.info.generated_at.replace(microsecond=0).isoformat()
    fields = module_fields(module)
    return {
        "id": zoho.LAYOUT_STANDARD["id"] if module == "Accounts" else _layout_id(module),
        "name": "Standard",
        "api_name": "Standard",
        "display_label": "Standard",
        "status": "active",
        "visible": True,
        "source": "crm",
        "generated_type": "default",
        "mode": None,
        "created_time": moment,
        "modified_time": moment,
        "created_by": None,
        "modified_by": None,
        "show_business_card": False,
        "has_more_profiles": False,
        "profiles": [
            {"default": True, "name": p["name"], "id": p["id"], "_default_view": None}
            for p, _ in _PROFILES
        ],
        "sections": [
            {
                "display_label": f"{singular} Information",
                "name": f"{singular} Information",
                "api_name": f"{singular} Information",
                "sequence_number": 1,
                "column_count": 2,
                "tab_traversal": 1,
                "type": "used",
                "isSubformSection": False,
                "fields": fields,
            }
        ],
    }


def _layout_id(module: str) -> str:
    return zoho.fixed_id(401 + FIELD_MODULES.index(module) + 1)


def org_json(ctx: Ctx) -> JsonDict:
    info = ctx.db.info
    edition = str(getattr(ctx.config, "edition", "enterprise"))
    return {
        "id": zoho.fixed_id(1),
        "zgid": ZGID,
        "domain_name": f"org{ZGID}",
        "company_name": "Sergas Demo Co.",
        "alias": None,
        "primary_email": info.current_user_email,
        "primary_zuid": None,
        "country": "United States",
        "country_code": "US",
        "state": None,
        "city": None,
        "street": None,
        "zip": None,
        "phone": None,
        "mobile": None,
        "fax": None,
        "website": None,
        "description": "The Sergas demo org: generated records, served by the simulator.",
        "employee_count": str(info.owners),
        "currency": "US Dollar - USD",
        "iso_code": "USD",
        "currency_symbol": "$",
        "currency_locale": "en_US",
        "mc_status": False,
        "gapps_enabled": False,
        "translation_enabled": False,
        "privacy_settings": False,
        "hipaa_compliance_enabled": False,
        "lite_users_enabled": False,
        "time_zone": "UTC",
        "type": "production",
        "max_per_page": 200,
        "created_time": info.generated_at.replace(microsecond=0).isoformat(),
        "photo_id": None,
        "zia_portal_id": None,
        "license_details": {
            "paid": True,
            "paid_type": edition,
            "paid_expiry": None,
            "trial_type": None,
            "trial_expiry": None,
            "trial_action": None,
            "users_license_purchased": info.owners + 1,
        },
    }


def roles_json() -> list[JsonDict]:
    return [
        {
            "id": role["id"],
            "name": role["name"],
            "display_label": role["name"],
            "description": description,
            "reporting_to": None if parent is None else dict(parent),
            "forecast_manager": None,
            "share_with_peers": parent is not ROLE_CEO,
            "admin_user": role is ROLE_CEO,
            "created_by__s": None,
            "modified_by__s": None,
            "modified_time__s": None,
            "created_time__s": None,
        }
        for role, parent, description in _ROLES
    ]


def profiles_json(ctx: Ctx) -> list[JsonDict]:
    moment = ctx.db.info.generated_at.replace(microsecond=0).isoformat()
    return [
        {
            "id": profile["id"],
            "name": profile["name"],
            "display_label": profile["name"],
            "description": description,
            "default": profile is PROFILE_ADMIN,
            "custom": profile is zoho.PROFILE_MANAGER,
            "type": "normal_profile",
            "created_time": moment,
            "modified_time": moment,
            "created_by": None,
            "modified_by": None,
            "delete": False,
            "permission_type": "crm",
        }
        for profile, description in _PROFILES
    ]


def user_json(stored: JsonDict) -> JsonDict:
    """A stored demo user as the v8 Users API spells it (``Reporting_To``)."""
    user: dict[str, Any] = dict(stored)
    if "reporting_to" in user:
        user["Reporting_To"] = user.pop("reporting_to")
    return user


__all__ = [
    "CUSTOM_FIELDS",
    "FIELD_MODULES",
    "ZGID",
    "field_json",
    "layout_json",
    "module_fields",
    "module_json",
    "org_json",
    "profiles_json",
    "related_lists_of",
    "roles_json",
    "user_json",
]
