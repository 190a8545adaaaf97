"""Reads around a record: related lists, the ``__timeline``, and the Users API.

Related lists (``GET /{module}/{id}/{list}``): Accounts -> Contacts, Deals, Notes, Tasks,
Events, Calls; Deals -> Stage_History, Notes, Tasks, Events, Calls, Contacts (the deal's
``Contact_Name``); Contacts -> Deals, Notes, Tasks, Events, Calls. An account's Tasks, Events
and Calls include those on its deals (Zoho rolls activities up to the account); its Notes are
only the account's own. An unknown parent id is 400 INVALID_DATA.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import ZohoError, invalid_data
from sergas_tui.crm.simulator.metadata_json import user_json
from sergas_tui.crm.simulator.orgdb import RELATED_LISTS, Select, modified_after, related_filter
from sergas_tui.crm.simulator.paging import (
    bound_digest,
    int_param,
    page_info,
    parse_paging,
    token_expiry,
)
from sergas_tui.crm.simulator.records import module_param, page_response, paging_for, sort_params
from sergas_tui.crm.simulator.sqlexpr import Sql

USER_TYPES = (
    "AllUsers",
    "ActiveUsers",
    "DeactiveUsers",
    "ConfirmedUsers",
    "NotConfirmedUsers",
    "AdminUsers",
    "CurrentUser",
)
_SCOPE_MODULE = {"Stage_History": "Deals"}


def _list_name(parent: str, raw: str) -> str:
    for owner, name in RELATED_LISTS:
        if owner == parent and name.lower() == raw.lower():
            return name
    raise invalid_data(
        "the related list given seems to be invalid", resource_path_index=2, api_name=raw
    )


async def related_records(ctx: Ctx) -> Response:
    """``GET /crm/v8/{module}/{id}/{related_list}``."""
    parent_module = module_param(ctx)
    list_name = _list_name(parent_module, ctx.path["related"])
    record_id = ctx.path["record_id"]
    ctx.kind = f"GET {parent_module}/{{id}}/{list_name}"
    child_module = RELATED_LISTS[(parent_module, list_name)][0]
    ctx.require(parent_module)
    ctx.require(_SCOPE_MODULE.get(child_module, child_module))
    fields = ctx.fields_param()
    sort_by, descending = sort_params(ctx)
    since = ctx.header_time("If-Modified-Since")
    bound = bound_digest(parent_module, record_id, list_name, fields, sort_by, descending, since)
    paging = paging_for(ctx, bound)
    ctx.charge(1)
    parent = await ctx.run(ctx.db.parent, parent_module, record_id)
    if parent is None:
        raise invalid_data(
            "the related id given seems to be invalid", resource_path_index=1, id=record_id
        )
    child, where = related_filter(parent_module, list_name, parent)
    filters: tuple[Sql, ...] = (where,) if since is None else (where, modified_after(since))
    select = Select(
        child,
        filters,
        fields,
        sort_by,
        descending,
        paging.after,
        paging.limit + 1,
        paging.offset,
    )
    rows = await ctx.run(ctx.db.select, select)
    return page_response(
        ctx, rows, paging, bound, since=since, sort_by=sort_by, descending=descending
    )


async def timeline(ctx: Ctx) -> Response:
    """``GET /crm/v8/{module}/{id}/__timeline``: newest first unless ``sort_order=asc``."""
    module = module_param(ctx)
    record_id = ctx.path["record_id"]
    ctx.kind = f"GET {module}/{{id}}/__timeline"
    ctx.require(module)
    params = ctx.params
    if (params.get("sort_by") or "audited_time") != "audited_time":
        raise invalid_data(
            "invalid value for sort_by", param_name="sort_by", supported_values=["audited_time"]
        )
    order = (params.get("sort_order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise invalid_data("invalid value for sort_order", param_name="sort_order")
    if params.get("page_token") and params.get("per_page"):
        raise ZohoError(
            400,
            "AMBIGUITY_DURING_PROCESSING",
            "per_page cannot be given with page_token",
            {"param_names": ["per_page", "page_token"]},
        )
    bound = bound_digest("__timeline", module, record_id, order)
    tokens = ctx.env.page_tokens
    paging = parse_paging(
        params, tokens, bound, ctx.now(), page_cap=200, token_cap=ctx.config.page_token_cap
    )
    ctx.charge(1)
    rows = await ctx.run(
        ctx.db.timeline,
        module,
        record_id,
        order == "desc",
        paging.after,
        paging.limit + 1,
        paging.offset,
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    if not rows:
        return Response(status_code=204)
    next_token, expiry = None, None
    if more:
        expiry = token_expiry(ctx.now(), ctx.config.page_token_ttl)
        rowid, audited, _ = rows[-1]
        served = paging.served + len(rows)
        next_token = tokens.issue(bound, (audited, str(rowid)), served, expiry)
    info = page_info(paging, len(rows), more, next_token, expiry)
    return JSONResponse({"__timeline": [entry for _, _, entry in rows], "info": info})


async def list_users(ctx: Ctx) -> Response:
    """``GET /crm/v8/users?type=...``."""
    ctx.kind = "GET users"
    ctx.require_scope("ZohoCRM.users.READ", "ZohoCRM.users.ALL")
    kind = ctx.params.get("type") or "AllUsers"
    if kind not in USER_TYPES:
        raise invalid_data(
            "invalid value for type", param_name="type", supported_values=list(USER_TYPES)
        )
    per_page = int_param(ctx.params, "per_page", 200, 1, 200)
    page = int_param(ctx.params, "page", 1, 1, 10**6)
    ctx.charge(1)
    if kind == "CurrentUser":
        user = await ctx.run(ctx.db.record, "Users", ctx.token.user_id)
        users = [] if page > 1 or user is None else [user]
    else:
        users = await ctx.run(ctx.db.users, kind, per_page + 1, (page - 1) * per_page)
    if not users:
        return Response(status_code=204)
    info = {
        "per_page": per_page,
        "count": min(len(users), per_page),
        "page": page,
        "more_records": len(users) > per_page,
    }
    return JSONResponse({"users": [user_json(u) for u in users[:per_page]], "info": info})


async def get_user(ctx: Ctx) -> Response:
    """``GET /crm/v8/users/{id}``."""
    ctx.kind = "GET users/{id}"
    ctx.require_scope("ZohoCRM.users.READ", "ZohoCRM.users.ALL")
    ctx.charge(1)
    user = await ctx.run(ctx.db.record, "Users", ctx.path["user_id"])
    if user is None:
        return Response(status_code=204)
    return JSONResponse({"users": [user_json(user)]})


__all__ = ["get_user", "list_users", "related_records", "timeline"]
