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
(it changes only when the org file is generated). Each call costs one credit. The JSON these
endpoints answer with is built by :mod:`.metadata_json`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import ZohoError, invalid_data, invalid_module, required_param
from sergas_tui.crm.simulator.metadata_json import (
    FIELD_MODULES,
    layout_json,
    module_fields,
    module_json,
    org_json,
    profiles_json,
    related_lists_of,
    roles_json,
)
from sergas_tui.crm.simulator.schema import RECORD_MODULES
from sergas_tui.crm.simulator.sqlexpr import utc_text
from sergas_tui.demo.model import JsonDict

Handler = Callable[[Ctx], Awaitable[Response]]


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
    modules = [module_json(ctx, m, i) for i, m in enumerate(RECORD_MODULES, start=1)]
    return JSONResponse({"modules": modules})


async def get_module(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/modules/{api_name}``."""
    _settings_scope(ctx, "modules")
    raw = ctx.path["name"]
    module = next((m for m in RECORD_MODULES if m.lower() == raw.lower()), None)
    if module is None:
        raise invalid_module(raw)
    ctx.charge(1)
    detail = module_json(ctx, module, RECORD_MODULES.index(module) + 1)
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
    return JSONResponse({"layouts": [layout_json(ctx, module)]})


async def get_layout(ctx: Ctx) -> Response:
    """``GET /crm/v8/settings/layouts/{layout_id}?module=``."""
    _settings_scope(ctx, "layouts")
    module = _module_query(ctx, RECORD_MODULES)
    ctx.charge(1)
    layout = _one([layout_json(ctx, module)], "id", ctx.path["layout_id"], "layout")
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

__all__ = ["ROUTES", "get_org"]
