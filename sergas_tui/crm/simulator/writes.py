"""Writes: notes (both ``Parent_Id`` shapes and the nested URL), tasks, account updates.

Each record of a batch (at most 100) succeeds or fails on its own, and the call answers 201
(insert) / 200 (update) when all succeed, 207 when some fail, 400 when all fail (412 when all
failed ``If-Unmodified-Since``). A success stamps ``Created/Modified_Time`` and ``_By`` with the
token's user and now, takes the next 19-digit id, and appends ``__timeline`` entries (the new
record's own ``added`` entry and an entry on its parent; an account update records every
changed field's old and new value). A new task also sets ``Last_Activity_Time`` on its account
(and deal). Only these writes exist: other inserts/updates answer INVALID_REQUEST_METHOD.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import JsonDict, ZohoError, invalid_data, invalid_method
from sergas_tui.crm.simulator.limits import write_cost
from sergas_tui.crm.simulator.orgdb import Writer
from sergas_tui.crm.simulator.records import module_param
from sergas_tui.crm.simulator.schema import field_of
from sergas_tui.crm.simulator.validate import (
    ItemError,
    check_value,
    invalid,
    lookup_id,
    lookup_ref,
    mandatory,
    resolve_lookup,
    timeline_data_type,
    user_ref,
)
from sergas_tui.demo.zoho import MODULE_IDS

MAX_RECORDS = 100
NOTE_PARENTS = ("Accounts", "Deals", "Contacts")
TASK_WHAT = ("Accounts", "Deals")
_SE_MODULE_KEYS = ("$se_module", "se_module")


class Batch:
    """One write call, applied inside the write transaction."""

    def __init__(self, w: Writer, user_id: str, now: str) -> None:
        self.w = w
        self.now = now
        row = w.row("Users", user_id)
        self.user = user_ref(row.data) if row else {"name": None, "id": user_id, "email": None}

    def entry(
        self,
        module: str,
        record: JsonDict,
        action: str,
        history: list[JsonDict] | None = None,
        related: tuple[str, JsonDict] | None = None,
    ) -> JsonDict:
        def ref(mod: str, data: JsonDict) -> JsonDict:
            return {"module": {"api_name": mod, "id": MODULE_IDS.get(mod)}, **lookup_ref(mod, data)}

        return {
            "audited_time": self.now,
            "action": action,
            "source": "crm_api",
            "type": None,
            "extension": None,
            "automation_details": None,
            "done_by": {"name": self.user["name"], "id": self.user["id"]},
            "record": ref(module, record),
            "related_record": None if related is None else ref(*related),
            "field_history": history,
        }

    def stamps(self, record: JsonDict, *, created: bool) -> None:
        if created:
            record["Created_Time"] = self.now
            record["Created_By"] = dict(self.user)
        record["Modified_Time"] = self.now
        record["Modified_By"] = dict(self.user)

    def success(self, record: JsonDict, message: str) -> JsonDict:
        def who(key: str) -> JsonDict:
            return {k: record[key].get(k) for k in ("name", "id")}

        details = {
            "Modified_Time": record["Modified_Time"],
            "Modified_By": who("Modified_By"),
            "Created_Time": record.get("Created_Time"),
            "id": record["id"],
            "Created_By": who("Created_By") if record.get("Created_By") else None,
        }
        return {"code": "SUCCESS", "details": details, "message": message, "status": "success"}

    def fields(self, module: str, item: JsonDict, path: str, skip: tuple[str, ...]) -> JsonDict:
        """Check every written field of ``item`` except ``skip`` and ``$`` keys."""
        values: JsonDict = {}
        for key, value in item.items():
            if key in skip or key.startswith("$") or key == "id":
                continue
            field = field_of(module, key)
            if field is None or field.api_name != key:
                raise invalid(key, f"{path}.{key}", "invalid field name")
            values[key] = check_value(self.w, field, value, f"{path}.{key}")
        return values

    def owner(self, item: JsonDict, path: str) -> JsonDict:
        if item.get("Owner") is None:
            return dict(self.user)
        return resolve_lookup(self.w, "Users", item["Owner"], "Owner", f"{path}.Owner")

    def insert(self, module: str, record: JsonDict, account_id: str | None) -> None:
        self.w.insert(module, record, account_id)
        self.w.add_timeline(module, record["id"], self.entry(module, record, "added"))

    # -- notes --------------------------------------------------------------------------------

    def note_parent(
        self, item: JsonDict, path: str, nested: tuple[str, str] | None
    ) -> tuple[str, str | None, JsonDict]:
        """The parent's module, account id and record."""
        module: Any
        if nested is not None:
            module, parent_id = nested
        else:
            parent = item.get("Parent_Id")
            if parent is None:
                raise mandatory("Parent_Id", f"{path}.Parent_Id")
            module_ref: Any = parent.get("module") if isinstance(parent, dict) else None
            module = (
                module_ref.get("api_name") if isinstance(module_ref, dict) else module_ref
            ) or next((item[k] for k in _SE_MODULE_KEYS if item.get(k)), None)
            if not module:
                raise mandatory("se_module", f"{path}.se_module")
            parent_id = lookup_id(parent) or ""
        if not isinstance(module, str) or module not in NOTE_PARENTS:
            raise invalid("Parent_Id", f"{path}.Parent_Id", "invalid parent module")
        row = self.w.row(module, parent_id)
        if row is None:
            raise invalid("Parent_Id", f"{path}.Parent_Id", "the id given seems to be invalid")
        return module, (row.id if module == "Accounts" else row.account_id), row.data

    def add_note(self, item: JsonDict, path: str, nested: tuple[str, str] | None) -> JsonDict:
        values = self.fields("Notes", item, path, ("Parent_Id", "Owner", *_SE_MODULE_KEYS))
        if not (values.get("Note_Title") or values.get("Note_Content")):
            raise mandatory("Note_Content", f"{path}.Note_Content")
        module, account_id, parent = self.note_parent(item, path, nested)
        owner = self.owner(item, path)
        note: JsonDict = {"id": self.w.next_id(), **values}
        note["Parent_Id"] = {"module": {"api_name": module}, **lookup_ref(module, parent)}
        note["Owner"] = owner
        self.stamps(note, created=True)
        note |= {"$attachments": None, "$is_shared_to_client": False, "$voice_note": False}
        note["$editable"] = True
        self.insert("Notes", note, account_id)
        related = self.entry(module, parent, "added", related=("Notes", note))
        self.w.add_timeline(module, parent["id"], related)
        return self.success(note, "record added")

    # -- tasks --------------------------------------------------------------------------------

    def add_task(self, item: JsonDict, path: str) -> JsonDict:
        skip = ("What_Id", "Who_Id", "Owner", *_SE_MODULE_KEYS)
        values = self.fields("Tasks", item, path, skip)
        if not isinstance(values.get("Subject"), str) or not values["Subject"].strip():
            raise mandatory("Subject", f"{path}.Subject")
        task: JsonDict = {"id": None, "Status": "Not Started", "Priority": "High"}
        task |= {k: v for k, v in values.items() if v is not None or k not in task}
        account_id: str | None = None
        deal_id: str | None = None
        what: JsonDict | None = None
        if item.get("What_Id") is not None:
            se_module = next((item[k] for k in _SE_MODULE_KEYS if item.get(k)), None)
            if se_module is None:
                raise mandatory("$se_module", f"{path}.$se_module")
            if se_module not in TASK_WHAT:
                raise invalid("$se_module", f"{path}.$se_module", "invalid module")
            task["What_Id"] = resolve_lookup(
                self.w, se_module, item["What_Id"], "What_Id", f"{path}.What_Id"
            )
            task["$se_module"] = se_module
            row = self.w.row(se_module, task["What_Id"]["id"])
            what = row.data if row else None
            account_id = row.account_id if row else None
            deal_id = task["What_Id"]["id"] if se_module == "Deals" else None
        if item.get("Who_Id") is not None:
            task["Who_Id"] = resolve_lookup(
                self.w, "Contacts", item["Who_Id"], "Who_Id", f"{path}.Who_Id"
            )
            if account_id is None:
                contact = self.w.row("Contacts", task["Who_Id"]["id"])
                account_id = contact.account_id if contact else None
        task["Owner"] = self.owner(item, path)
        self.stamps(task, created=True)
        task["$editable"] = True
        task["id"] = self.w.next_id()  # only once the record is valid: no gaps in ids
        self.insert("Tasks", task, account_id)
        if what is not None:
            module = task["$se_module"]
            self.w.add_timeline(
                module, what["id"], self.entry(module, what, "added", related=("Tasks", task))
            )
        for module, record_id in (("Accounts", account_id), ("Deals", deal_id)):
            if record_id is not None:
                self.w.set_field(module, record_id, "Last_Activity_Time", self.now)
        return self.success(task, "record added")

    # -- account updates ----------------------------------------------------------------------

    def update_account(
        self, item: JsonDict, path: str, record_id: str | None, since: str | None
    ) -> JsonDict:
        record_id = record_id or lookup_id(item.get("id"))
        if record_id is None:
            raise mandatory("id", f"{path}.id")
        row = self.w.row("Accounts", record_id)
        if row is None:
            raise invalid("id", f"{path}.id", "the id given seems to be invalid")
        record = row.data
        if since is not None and record["Modified_Time"] > since:
            raise ItemError(
                "ALREADY_MODIFIED",
                "the record was modified after the If-Unmodified-Since time",
                412,
                id=record_id,
                Modified_Time=record["Modified_Time"],
            )
        values = self.fields("Accounts", item, path, ())
        if "Account_Name" in values and not values["Account_Name"]:
            raise mandatory("Account_Name", f"{path}.Account_Name")
        history = []
        for key, new in values.items():
            old = record.get(key)
            if old != new:
                field = field_of("Accounts", key)
                assert field is not None
                if field.type in ("lookup", "owner"):
                    old, new = (
                        None if v is None else {"name": v.get("name"), "id": v.get("id")}
                        for v in (old, new)
                    )
                history.append(
                    {
                        "api_name": key,
                        "field_label": field.label,
                        "data_type": timeline_data_type(field),
                        "id": field.field_id,
                        "_value": {"old": old, "new": new},
                    }
                )
        record |= values
        self.stamps(record, created=False)
        self.w.replace("Accounts", record)
        self.w.add_timeline(
            "Accounts", record_id, self.entry("Accounts", record, "updated", history or None)
        )
        return self.success(record, "record updated")


Apply = Callable[[Batch, JsonDict, str], JsonDict]


async def _write(ctx: Ctx, module: str, op: str, apply: Apply) -> Response:
    ctx.require(module, op)
    body = await ctx.json_body()
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
    ctx.charge(write_cost(len(items)))
    user_id, now = ctx.token.user_id, ctx.stamp()

    def work(w: Writer) -> tuple[list[JsonDict], list[int]]:
        batch = Batch(w, user_id, now)
        results: list[JsonDict] = []
        failures: list[int] = []
        for index, item in enumerate(items):
            path = f"$.data[{index}]"
            try:
                if not isinstance(item, dict):
                    raise invalid("data", path, expected_data_type="jsonobject")
                results.append(apply(batch, item, path))
            except ItemError as err:
                results.append(err.body)
                failures.append(err.status)
        return results, failures

    results, failures = await ctx.run(ctx.db.write, work)
    if not failures:
        status = 201 if op == "CREATE" else 200
    elif len(failures) < len(results):
        status = 207
    else:
        status = 412 if all(code == 412 for code in failures) else 400
    return JSONResponse({"data": results}, status)


async def insert_records(ctx: Ctx) -> Response:
    """``POST /crm/v8/Notes`` and ``POST /crm/v8/Tasks``."""
    module = module_param(ctx)
    ctx.kind = f"POST {module}"
    if module == "Notes":
        return await _write(
            ctx, "Notes", "CREATE", lambda b, item, path: b.add_note(item, path, None)
        )
    if module == "Tasks":
        return await _write(ctx, "Tasks", "CREATE", lambda b, item, path: b.add_task(item, path))
    raise invalid_method()


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
    """``PUT /crm/v8/Accounts`` and ``PUT /crm/v8/Accounts/{id}``."""
    module = module_param(ctx)
    record_id = ctx.path.get("record_id")
    ctx.kind = f"PUT {module}" + ("/{id}" if record_id else "")
    if module != "Accounts":
        raise invalid_method()
    since = ctx.header_time("If-Unmodified-Since")
    return await _write(
        ctx, module, "UPDATE", lambda b, item, path: b.update_account(item, path, record_id, since)
    )


__all__ = ["insert_nested_note", "insert_records", "update_records"]
