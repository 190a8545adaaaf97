"""Record reads: ``GET /{module}``, ``GET /{module}/{id}``, ``GET /{module}/search``, COQL.

Listing follows zoho-crm.md section 2.1: ``fields`` is required (at most 50; only those fields
and ``id`` come back, and a field the stored record lacks is left out), ``page`` reaches the
first ``page_cap`` records and ``page_token`` the rest, ``If-Modified-Since`` keeps records
modified after it (304 when none), and an empty page is 204 with no body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.coql import compile_query, execute
from sergas_tui.crm.simulator.errors import ZohoError, invalid_data, invalid_module
from sergas_tui.crm.simulator.limits import coql_cost
from sergas_tui.crm.simulator.orgdb import SORT_COLUMNS, Row, Select, ids_in, modified_after
from sergas_tui.crm.simulator.paging import (
    Paging,
    bound_digest,
    page_info,
    parse_paging,
    token_expiry,
)
from sergas_tui.crm.simulator.schema import RECORD_MODULES, canonical_module
from sergas_tui.crm.simulator.search import criteria_sql, email_sql, phone_sql, word_sql
from sergas_tui.crm.simulator.sqlexpr import Sql

MAX_IDS = 100
_ID = re.compile(r"^\d{1,25}$")


def module_param(ctx: Ctx, allowed: tuple[str, ...] = RECORD_MODULES) -> str:
    raw = ctx.path["module"]
    module = canonical_module(raw, allowed)
    if module is None:
        raise invalid_module(raw)
    return module


def sort_params(ctx: Ctx) -> tuple[str, bool]:
    sort_by = ctx.params.get("sort_by") or "id"
    if sort_by not in SORT_COLUMNS:
        raise invalid_data(
            "invalid value for sort_by",
            param_name="sort_by",
            supported_values=list(SORT_COLUMNS),
        )
    order = (ctx.params.get("sort_order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise invalid_data(
            "invalid value for sort_order",
            param_name="sort_order",
            supported_values=["asc", "desc"],
        )
    return sort_by, order == "desc"


def ids_param(ctx: Ctx) -> tuple[str, ...] | None:
    raw = ctx.params.get("ids")
    if raw is None or not raw.strip():
        return None
    ids = tuple(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))
    if len(ids) > MAX_IDS:
        raise ZohoError(400, "LIMIT_EXCEEDED", "too many ids", {"param_name": "ids", "limit": 100})
    if not all(_ID.match(i) for i in ids):
        raise invalid_data("invalid id given", param_name="ids")
    return ids


def paging_for(ctx: Ctx, bound: str) -> Paging:
    return parse_paging(
        ctx.params,
        ctx.env.page_tokens,
        bound,
        ctx.now(),
        page_cap=ctx.config.page_cap,
        token_cap=ctx.config.page_token_cap,
    )


def page_response(
    ctx: Ctx,
    rows: Sequence[Row],
    paging: Paging,
    bound: str,
    *,
    since: str | None,
    sort_by: str,
    descending: bool,
    tokens: bool = True,
) -> Response:
    """A page of records with Zoho's ``info``; 304/204 when empty."""
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    if not rows:
        first = paging.offset == 0 and paging.token is None
        return Response(status_code=304 if since is not None and first else 204)
    next_token, expiry = None, None
    if more and tokens:
        expiry = token_expiry(ctx.now(), ctx.config.page_token_ttl)
        last = rows[-1]
        served = paging.served + len(rows)
        next_token = ctx.env.page_tokens.issue(bound, (last.sort_value, last.id), served, expiry)
    info = page_info(
        paging,
        len(rows),
        more,
        next_token,
        expiry,
        sort_by=sort_by,
        sort_order="desc" if descending else "asc",
    )
    return JSONResponse({"data": [row.record for row in rows], "info": info})


async def list_records(ctx: Ctx) -> Response:
    """``GET /crm/v8/{module}``."""
    module = module_param(ctx)
    ctx.kind = f"GET {module}"
    ctx.require(module)
    fields = ctx.fields_param()
    sort_by, descending = sort_params(ctx)
    ids = ids_param(ctx)
    since = ctx.header_time("If-Modified-Since")
    bound = bound_digest(module, fields, sort_by, descending, ids, since)
    paging = paging_for(ctx, bound)
    ctx.charge(1)
    where: list[Sql] = []
    if ids is not None:
        where.append(ids_in(ids))
    if since is not None:
        where.append(modified_after(since))
    select = Select(
        module,
        tuple(where),
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


async def get_record(ctx: Ctx) -> Response:
    """``GET /crm/v8/{module}/{id}``: the whole record (or only ``fields``); 204 if unknown."""
    module = module_param(ctx)
    ctx.kind = f"GET {module}/{{id}}"
    ctx.require(module)
    fields = ctx.fields_param(required=False)
    ctx.charge(1)
    record = await ctx.run(ctx.db.record, module, ctx.path["record_id"])
    if record is None:
        return Response(status_code=204)
    if fields is not None:
        record = {"id": record["id"]} | {k: record[k] for k in fields if k in record}
    return JSONResponse({"data": [record]})


def _search_filter(ctx: Ctx, module: str) -> Sql | None:
    params = ctx.params
    if params.get("criteria"):
        return criteria_sql(module, params["criteria"])
    if params.get("email"):
        return email_sql(module, params["email"])
    if params.get("phone"):
        return phone_sql(module, params["phone"])
    if params.get("word"):
        return word_sql(module, params["word"])
    raise ZohoError(
        400,
        "EXPECTED_PARAM_MISSING",
        "One of the expected parameter is missing",
        {"expected_params": ["criteria", "email", "phone", "word"]},
    )


async def search_records(ctx: Ctx) -> Response:
    """``GET /crm/v8/{module}/search`` (criteria > email > phone > word)."""
    module = module_param(ctx)
    ctx.kind = f"SEARCH {module}"
    ctx.require(module)
    ctx.require_scope("ZohoSearch.securesearch.READ", "ZohoSearch.securesearch.ALL")
    where = _search_filter(ctx, module)
    fields = ctx.fields_param(required=False)
    sort_by, descending = sort_params(ctx)
    paging = parse_paging(
        ctx.params,
        ctx.env.page_tokens,
        "",
        ctx.now(),
        page_cap=ctx.config.page_cap,
        token_cap=None,
        cap_code="LIMIT_REACHED",
    )
    ctx.charge(1)
    if where is None:
        return Response(status_code=204)
    select = Select(
        module, (where,), fields, sort_by, descending, None, paging.limit + 1, paging.offset
    )
    rows = await ctx.run(ctx.db.select, select)
    return page_response(
        ctx, rows, paging, "", since=None, sort_by=sort_by, descending=descending, tokens=False
    )


async def coql_query(ctx: Ctx) -> Response:
    """``POST /crm/v8/coql`` with ``{"select_query": "..."}``."""
    ctx.kind = "COQL"
    ctx.require_scope("ZohoCRM.coql.READ", "ZohoCRM.coql.ALL")
    body = await ctx.json_body()
    query = body.get("select_query")
    if not isinstance(query, str) or not query.strip():
        # v8 OpenAPI (zoho/crm-oas v8.0/coql): MandatoryNotFound.
        raise ZohoError(
            400, "MANDATORY_NOT_FOUND", "mandatory key not found", {"api_name": "select_query"}
        )
    plan = compile_query(query)
    ctx.kind = f"COQL {plan.module}"
    if plan.module == "Users":
        ctx.require_scope("ZohoCRM.users.READ", "ZohoCRM.users.ALL")
    else:
        ctx.require(plan.module)
    # Credits go by the LIMIT tier, aggregate queries included (zoho-crm.md section 3.1).
    ctx.charge(coql_cost(plan.limit))
    data, more = await ctx.run(execute, ctx.db, plan)
    if not data:
        return Response(status_code=204)
    return JSONResponse({"data": data, "info": {"count": len(data), "more_records": more}})


__all__ = [
    "coql_query",
    "get_record",
    "list_records",
    "module_param",
    "page_response",
    "paging_for",
    "search_records",
    "sort_params",
]
