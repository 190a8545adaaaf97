"""The metadata API: org, modules, fields, layouts, related lists, roles and profiles.

Everything here is generated from the simulator's own catalogue (:mod:`.schema`, the related
lists of :mod:`.orgdb`, :mod:`.picklists`) so that metadata and records never disagree. Shapes
follow Zoho's v8 metadata APIs as its official SDK (``zohocrmsdk8_0``) reads them: the SDK asks
``/settings/modules``, ``/settings/fields?module=`` and ``/settings/related_lists?module=``
before record calls, and ``/users?type=CurrentUser`` plus ``/org`` to name the token's user.

- ``GET /crm/v8/org``: ``{"org": [{...}]}`` with ``zgid`` and ``domain_name`` (``org<zgid>``).
- ``GET /crm/v8/settings/modules`` (and ``/{api_name}``): ``{"modules": [...]}``; every module
  the record endpoints serve is ``api_supported``.
- ``GET /crm/v8/settings/fields?module=`` (and ``/{field_id}?module=``): ``{"fields": [...]}``
  with ``data_type``, ``json_type``, ``system_mandatory``, ``read_only``, ``custom_field``,
  ``lookup.module`` and ``pick_list_values``.
- ``GET /crm/v8/settings/layouts?module=`` (and ``/{layout_id}``): one Standard layout whose
  sections hold the module's fields.
- ``GET /crm/v8/settings/related_lists?module=``: the related lists this simulator serves.
- ``GET /crm/v8/settings/roles`` / ``profiles`` (and ``/{id}``): the role hierarchy behind the
  users' ``role`` and ``Reporting_To``.

``If-Modified-Since`` on modules and fields answers 304 when the metadata has not changed since
(it changes only when the org file is generated). Each call costs one credit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cache
from typing import Any

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import ZohoError, invalid_data, invalid_module, required_param
from sergas_tui.crm.simulator.orgdb import RELATED_LISTS
from sergas_tui.crm.simulator.picklists import NONE, values_of
from sergas_tui.crm.simulator.schema import CATALOGUE, NAME_FIELDS, RECORD_MODULES, Field
from sergas_tui.crm.simulator.sqlexpr import utc_text
from sergas_tui.demo import zoho
from sergas_tui.demo.model import JsonDict
from sergas_tui.domain.picklists import STAGE_PROBABILITY, WON_OR_LOST

Handler = Callable[[Ctx], Awaitable[Response]]

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


def _module_json(ctx: Ctx, module: str, sequence: int) -> JsonDict:
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


def _layout_json(ctx: Ctx, module: str) -> JsonDict:
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


# -- handlers -------------------------------------------------------------------------------------


def _settings_scope(ctx: Ctx, area: str) -> None:
    ctx.require_scope(
        f"ZohoCRM.settings.{area}.READ",
        f"ZohoCRM.settings.{area}.ALL",
        "ZohoCRM.settings.READ",
        "ZohoCRM.settings.ALL",
    )


def _module_query(ctx: Ctx, allowed: tuple[str, ...] = FIELD_MODULES) -> str:
    raw = ctx.params.get("module")
    if raw is None or not raw.strip():
        raise required_param("module")
    for module in allowed:
        if module.lower() == raw.strip().lower():
            return module
    raise invalid_module(raw)


def _unchanged_since(ctx: Ctx) -> bool:
    since = ctx.header_time("If-Modified-Since")
    if since is None:
        return False
    return utc_text(ctx.db.info.generated_at.replace(microsecond=0)) <= since


def _one(items: Iterable[JsonDict], key: str, wanted: str, what: str) -> JsonDict:
    for item in items:
        if str(item.get(key)) == wanted:
            return item
    raise invalid_data(f"the {what} id given seems to be invalid", resource_path_index=2, id=wanted)


async def get_org(ctx: Ctx) -> Response:
    """``GET /crm/v8/org``."""
    ctx.require_scope("ZohoCRM.org.READ", "ZohoCRM.org.ALL")
    ctx.charge(1)
    return JSONResponse({"org": [org_json(ctx)]})


async def list_modules(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/modules``."""
    _settings_scope(ctx, "modules")
    ctx.charge(1)
    if _unchanged_since(ctx):
        return Response(status_code=304)
    modules = [_module_json(ctx, m, i) for i, m in enumerate(RECORD_MODULES, start=1)]
    return JSONResponse({"modules": modules})


async def get_module(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/modules/{api_name}``."""
    _settings_scope(ctx, "modules")
    raw = ctx.path["name"]
    module = next((m for m in RECORD_MODULES if m.lower() == raw.lower()), None)
    if module is None:
        raise invalid_module(raw)
    ctx.charge(1)
    detail = _module_json(ctx, module, RECORD_MODULES.index(module) + 1)
    detail["fields"] = [{"api_name": f["api_name"], "id": f["id"]} for f in module_fields(module)]
    detail["related_lists"] = related_lists_of(module)
    return JSONResponse({"modules": [detail]})


async def list_fields(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/fields?module=``."""
    _settings_scope(ctx, "fields")
    module = _module_query(ctx)
    kind = ctx.params.get("type")
    if kind is not None and kind not in ("all", "unused"):
        raise invalid_data(
            "invalid value for type", param_name="type", supported_values=["all", "unused"]
        )
    ctx.charge(1)
    if _unchanged_since(ctx):
        return Response(status_code=304)
    if kind == "unused":
        return Response(status_code=204)
    return JSONResponse({"fields": module_fields(module)})


async def get_field(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/fields/{field_id}?module=``."""
    _settings_scope(ctx, "fields")
    module = _module_query(ctx)
    ctx.charge(1)
    field = _one(module_fields(module), "id", ctx.path["field_id"], "field")
    return JSONResponse({"fields": [field]})


async def list_layouts(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/layouts?module=``."""
    _settings_scope(ctx, "layouts")
    module = _module_query(ctx, RECORD_MODULES)
    ctx.charge(1)
    return JSONResponse({"layouts": [_layout_json(ctx, module)]})


async def get_layout(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/layouts/{layout_id}?module=``."""
    _settings_scope(ctx, "layouts")
    module = _module_query(ctx, RECORD_MODULES)
    ctx.charge(1)
    layout = _one([_layout_json(ctx, module)], "id", ctx.path["layout_id"], "layout")
    return JSONResponse({"layouts": [layout]})


async def list_related_lists(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/related_lists?module=``."""
    _settings_scope(ctx, "related_lists")
    module = _module_query(ctx, RECORD_MODULES)
    ctx.charge(1)
    lists = related_lists_of(module)
    if not lists:
        return Response(status_code=204)
    return JSONResponse({"related_lists": lists})


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


async def list_roles(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/roles``."""
    _settings_scope(ctx, "roles")
    ctx.charge(1)
    return JSONResponse({"roles": roles_json()})


async def get_role(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/roles/{role_id}``."""
    _settings_scope(ctx, "roles")
    ctx.charge(1)
    return JSONResponse({"roles": [_one(roles_json(), "id", ctx.path["role_id"], "role")]})


async def list_profiles(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/profiles``."""
    _settings_scope(ctx, "profiles")
    ctx.charge(1)
    return JSONResponse({"profiles": profiles_json(ctx)})


async def get_profile(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/profiles/{profile_id}``."""
    _settings_scope(ctx, "profiles")
    ctx.charge(1)
    profile = _one(profiles_json(ctx), "id", ctx.path["profile_id"], "profile")
    return JSONResponse({"profiles": [profile]})


async def unknown_setting(ctx: Ctx) -> Response:
    raise ZohoError(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def user_json(stored: JsonDict) -> JsonDict:
    """A stored demo user as the v8 Users API spells it (``Reporting_To``)."""
    user: dict[str, Any] = dict(stored)
    if "reporting_to" in user:
        user["Reporting_To"] = user.pop("reporting_to")
    return user


_S = "/crm/v8/settings"
ROUTES: list[tuple[str, Mapping[str, tuple[Handler, str]]]] = [
    (f"{_S}/modules", {"GET": (list_modules, "GET settings/modules")}),
    (f"{_S}/modules/{{name}}", {"GET": (get_module, "GET settings/modules/{id}")}),
    (f"{_S}/fields", {"GET": (list_fields, "GET settings/fields")}),
    (f"{_S}/fields/{{field_id}}", {"GET": (get_field, "GET settings/fields/{id}")}),
    (f"{_S}/layouts", {"GET": (list_layouts, "GET settings/layouts")}),
    (f"{_S}/layouts/{{layout_id}}", {"GET": (get_layout, "GET settings/layouts/{id}")}),
    (f"{_S}/related_lists", {"GET": (list_related_lists, "GET settings/related_lists")}),
    (f"{_S}/roles", {"GET": (list_roles, "GET settings/roles")}),
    (f"{_S}/roles/{{role_id}}", {"GET": (get_role, "GET settings/roles/{id}")}),
    (f"{_S}/profiles", {"GET": (list_profiles, "GET settings/profiles")}),
    (f"{_S}/profiles/{{profile_id}}", {"GET": (get_profile, "GET settings/profiles/{id}")}),
    (
        f"{_S}/{{rest:path}}",
        dict.fromkeys(("GET", "POST", "PUT", "PATCH", "DELETE"), (unknown_setting, "UNKNOWN")),
    ),
]

__all__ = [
    "CUSTOM_FIELDS",
    "FIELD_MODULES",
    "ROUTES",
    "ZGID",
    "field_json",
    "get_org",
    "module_fields",
    "org_json",
    "related_lists_of",
    "roles_json",
    "user_json",
]
