"""Writes on every record module: insert, update, upsert and delete (zoho-crm.md section 2.6).

- ``POST /{module}`` inserts (Notes also through ``POST /{module}/{id}/Notes``, with both
  ``Parent_Id`` shapes). Unknown or read-only fields and bad values are INVALID_DATA, a missing
  mandatory field (``Field.mandatory``) MANDATORY_NOT_FOUND, and a value already held on one of
  the module's system duplicate-check fields (``Email``, ``Account_Name``, ``Deal_Name``;
  compared ignoring case) DUPLICATE_DATA naming the existing record.
- ``PUT /{module}`` (each item has ``id``) and ``PUT /{module}/{id}`` change only the fields
  sent; ``If-Unmodified-Since`` -> ALREADY_MODIFIED (412); an unknown id is INVALID_DATA.
- ``POST /{module}/upsert`` (Leads, Accounts, Contacts, Deals, Campaigns) updates the first
  record matching the ``duplicate_check_fields`` in order (default: the system duplicate-check
  field) and inserts otherwise; items carry ``action`` and ``duplicate_field``.
- ``DELETE /{module}?ids=`` (at most 100) and ``DELETE /{module}/{id}`` remove records with their
  own notes (and a deal's Stage_History); an unknown id is INVALID_DATA "record not deleted".

Each record of a batch (at most 100) succeeds or fails on its own: the call answers 201 (an
insert, or an upsert that inserted something) / 200 (update, delete, an upsert that only
updated) when all succeed, 207 when some fail, 400 when all fail (412 when all failed
``If-Unmodified-Since``). A success stamps ``Created/Modified_Time`` and ``_By`` with the token's
user and now, takes the next 19-digit id (only once the record is valid), and appends
``__timeline`` entries (``added`` on the new record and, for a note or an activity, on its
parent; ``updated`` with every changed field's old and new value).

Each item is applied by :class:`~sergas_tui.crm.simulator.write_batch.Batch`; what Zoho derives
on a stored record is described in :mod:`~sergas_tui.crm.simulator.record_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import JsonDict, ZohoError, invalid_data, invalid_method
from sergas_tui.crm.simulator.limits import write_cost
from sergas_tui.crm.simulator.orgdb import Writer
from sergas_tui.crm.simulator.record_rules import NOTE_PARENTS
from sergas_tui.crm.simulator.records import module_param
from sergas_tui.crm.simulator.schema import DUPLICATE_CHECK_FIELDS, field_of
from sergas_tui.crm.simulator.validate import ItemError, invalid
from sergas_tui.crm.simulator.write_batch import Batch

MAX_RECORDS = 100
UPSERT_MODULES = ("Leads", "Accounts", "Contacts", "Deals", "Campaigns")
DELETE_COST = 1


Apply = Callable[[Batch, Any, str], JsonDict]
Results = tuple[list[JsonDict], list[int]]


def _each(apply: Callable[[Batch, JsonDict, str], JsonDict]) -> Apply:
    """``apply`` for the JSON objects of ``data[]`` (anything else is INVALID_DATA)."""

    def checked(batch: Batch, item: Any, path: str) -> JsonDict:
        if not isinstance(item, dict):
            raise invalid("data", path, expected_data_type="jsonobject")
        return apply(batch, item, path)

    return checked


def _items(body: JsonDict) -> list[Any]:
    items = body.get("data")
    if not isinstance(items, list) or not items:
        raise invalid_data("the data is missing", api_name="data", expected_data_type="jsonarray")
    if len(items) > MAX_RECORDS:
        raise ZohoError(
            400,
            "LIMIT_EXCEEDED",
            "more than 100 records in one call",
            {"api_name": "data", "limit": MAX_RECORDS},
        )
    return items


async def _run(ctx: Ctx, items: Sequence[Any], apply: Apply, path: str = "$.data") -> Results:
    """Apply each item in one write transaction; a failed item leaves nothing behind."""
    user_id, now = ctx.token.user_id, ctx.stamp()

    def work(w: Writer) -> Results:
        batch = Batch(w, user_id, now)
        results: list[JsonDict] = []
        failures: list[int] = []
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            try:
                results.append(apply(batch, item, item_path))
            except ItemError as err:
                results.append(err.body)
                failures.append(err.status)
        return results, failures

    return await ctx.run(ctx.db.write, work)


def _respond(results: list[JsonDict], failures: list[int], ok: int) -> Response:
    if not failures:
        status = ok
    elif len(failures) < len(results):
        status = 207
    else:
        status = 412 if all(code == 412 for code in failures) else 400
    return JSONResponse({"data": results}, status)


async def _write(
    ctx: Ctx, module: str, op: str, apply: Callable[[Batch, JsonDict, str], JsonDict]
) -> Response:
    ctx.require(module, op)
    items = _items(await ctx.json_body())
    ctx.charge(write_cost(len(items)))
    results, failures = await _run(ctx, items, _each(apply))
    return _respond(results, failures, 201 if op == "CREATE" else 200)


async def insert_records(ctx: Ctx) -> Response:
    """``POST /crm/v8/{module}``."""
    module = module_param(ctx)
    ctx.kind = f"POST {module}"
    return await _write(
        ctx, module, "CREATE", lambda b, item, path: b.add_record(module, item, path)
    )


async def insert_nested_note(ctx: Ctx) -> Response:
    """``POST /crm/v8/{module}/{id}/Notes``."""
    module = module_param(ctx)
    if ctx.path["related"].lower() != "notes" or module not in NOTE_PARENTS:
        raise invalid_method()
    ctx.kind = f"POST {module}/{{id}}/Notes"
    nested = (module, ctx.path["record_id"])
    return await _write(
        ctx, "Notes", "CREATE", lambda b, item, path: b.add_note(item, path, nested)
    )


async def update_records(ctx: Ctx) -> Response:
    """``PUT /crm/v8/{module}`` and ``PUT /crm/v8/{module}/{id}``."""
    module = module_param(ctx)
    record_id = ctx.path.get("record_id")
    ctx.kind = f"PUT {module}" + ("/{id}" if record_id else "")
    since = ctx.header_time("If-Unmodified-Since")
    return await _write(
        ctx,
        module,
        "UPDATE",
        lambda b, item, path: b.update(module, item, path, record_id, since),
    )


def _duplicate_fields(module: str, body: JsonDict) -> tuple[str, ...]:
    """The upsert's match order: ``duplicate_check_fields`` or the system field(s)."""
    system = DUPLICATE_CHECK_FIELDS.get(module, ())
    raw = body.get("duplicate_check_fields")
    if raw is None or raw == []:
        return system
    if not isinstance(raw, list):
        raise invalid_data(
            "invalid data", api_name="duplicate_check_fields", expected_data_type="jsonarray"
        )
    names: list[str] = []
    for index, name in enumerate(raw):
        field = field_of(module, name) if isinstance(name, str) else None
        # Only unique fields may be listed; this org has no user-defined unique fields.
        if field is None or field.api_name != name or name not in system:
            raise invalid_data(
                "invalid data",
                api_name=name if isinstance(name, str) else "duplicate_check_fields",
                json_path=f"$.duplicate_check_fields[{index}]",
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


async def upsert_records(ctx: Ctx) -> Response:
    """``POST /crm/v8/{module}/upsert``."""
    module = module_param(ctx)
    ctx.kind = f"UPSERT {module}"
    if module not in UPSERT_MODULES:
        raise ZohoError(
            400,
            "INVALID_MODULE",
            "The given module is not supported in API",
            {"resource_path_index": 0, "module": ctx.path["module"]},
        )
    ctx.require(module, "CREATE")
    body = await ctx.json_body()
    items = _items(body)
    order = _duplicate_fields(module, body)
    since = ctx.header_time("If-Unmodified-Since")
    ctx.charge(write_cost(len(items)))
    results, failures = await _run(
        ctx, items, _each(lambda b, item, path: b.upsert(module, item, path, order, since))
    )
    inserted = any(r.get("action") == "insert" for r in results)
    return _respond(results, failures, 201 if inserted else 200)


def _delete_ids(ctx: Ctx) -> list[str]:
    record_id = ctx.path.get("record_id")
    if record_id is not None:
        return [record_id]
    raw = ctx.params.get("ids")
    if raw is None or not raw.strip():
        raise ZohoError(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            {"param_name": "ids"},
        )
    ids = list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))
    if len(ids) > MAX_RECORDS:
        raise ZohoError(
            400, "LIMIT_EXCEEDED", "too many ids", {"param_name": "ids", "limit": MAX_RECORDS}
        )
    if not all(i.isdigit() for i in ids):
        raise ZohoError(
            400,
            "UNABLE_TO_PARSE_DATA_TYPE",
            "either the request body or parameters is in wrong format",
            {"param_name": "ids"},
        )
    return ids


async def delete_records(ctx: Ctx) -> Response:
    """``DELETE /crm/v8/{module}?ids=`` and ``DELETE /crm/v8/{module}/{id}``."""
    module = module_param(ctx)
    ctx.kind = f"DELETE {module}" + ("/{id}" if ctx.path.get("record_id") else "")
    ctx.require(module, "DELETE")
    ids = _delete_ids(ctx)
    ctx.charge(DELETE_COST)
    results, failures = await _run(
        ctx, ids, lambda b, record_id, path: b.delete(module, str(record_id)), "$.ids"
    )
    return _respond(results, failures, 200)


__all__ = [
    "delete_records",
    "insert_nested_note",
    "insert_records",
    "update_records",
    "upsert_records",
]
