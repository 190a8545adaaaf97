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

What the store derives as Zoho does: lookups are stored as ``{name, id}`` (users also
``email``) and a rename is copied into every lookup pointing at the record; the ``account_id``
column (what related lists filter on) is an account's own id, a contact's or deal's account, a
note's parent's account, and an activity's ``What_Id`` record's account (else its ``Who_Id``
contact's), and follows a deal or contact that changes account; Contacts/Leads ``Full_Name``
comes from the first and last names; a deal's ``Probability`` follows its stage unless given,
``Expected_Revenue`` is amount x probability, each stage entered adds a Stage_History row; a
completed task gets ``Closed_Time``; a new activity sets ``Last_Activity_Time`` on its account
and its ``What_Id`` deal or lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from sergas_tui.crm.simulator.context import Ctx
from sergas_tui.crm.simulator.errors import (
    JsonDict,
    ZohoError,
    invalid_data,
    invalid_method,
)
from sergas_tui.crm.simulator.limits import write_cost
from sergas_tui.crm.simulator.orgdb import Writer
from sergas_tui.crm.simulator.records import module_param
from sergas_tui.crm.simulator.schema import DUPLICATE_CHECK_FIELDS, NAME_FIELDS, field_of
from sergas_tui.crm.simulator.validate import (
    ItemError,
    check_mandatory,
    check_probability,
    check_value,
    duplicate,
    invalid,
    lookup_id,
    lookup_ref,
    mandatory,
    resolve_lookup,
    timeline_data_type,
    user_ref,
)
from sergas_tui.demo.zoho import MODULE_IDS, PIPELINE, system_fields
from sergas_tui.domain.picklists import STAGE_PROBABILITY

MAX_RECORDS = 100
NOTE_PARENTS = ("Accounts", "Deals", "Contacts", "Leads")
ACTIVITIES = ("Tasks", "Events", "Calls")
WHAT_MODULES = ("Accounts", "Deals", "Leads")
UPSERT_MODULES = ("Leads", "Accounts", "Contacts", "Deals", "Campaigns")
PEOPLE = ("Contacts", "Leads")
# Modules other records look up (so a rename is copied into those lookups).
LOOKED_UP = ("Accounts", "Contacts", "Deals", "Leads")
DELETE_COST = 1
_SE_MODULE_KEYS = ("$se_module", "se_module")
# Keys handled by the module's own code rather than by the field checks.
_OWN_KEYS: dict[str, tuple[str, ...]] = {
    "Notes": ("Parent_Id", *_SE_MODULE_KEYS),
    **dict.fromkeys(ACTIVITIES, ("What_Id", *_SE_MODULE_KEYS)),
}


class Batch:
    """One write call, applied inside the write transaction."""

    def __init__(self, w: Writer, user_id: str, now: str) -> None:
        self.w = w
        self.now = now
        row = w.row("Users", user_id)
        self.user = user_ref(row.data) if row else {"name": None, "id": user_id, "email": None}

    # -- shared pieces ------------------------------------------------------------------------

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
        """Check every written field of ``item`` except ``skip``, ``id`` and ``$`` keys."""
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

    def check_duplicates(
        self, module: str, record: JsonDict, path: str, sent: set[str], exclude: str | None
    ) -> None:
        for name in DUPLICATE_CHECK_FIELDS.get(module, ()):
            value = record.get(name)
            if name not in sent or not isinstance(value, str) or not value.strip():
                continue
            existing = self.w.find_equal(module, name, value, exclude)
            if existing is not None:
                raise duplicate(module, name, f"{path}.{name}", existing)

    def account_of(self, module: str, record: JsonDict) -> str | None:
        """The ``account_id`` column of a record (see the module docstring)."""
        if module == "Accounts":
            return str(record["id"])
        if module in ("Contacts", "Deals"):
            return lookup_id(record.get("Account_Name"))
        if module in ACTIVITIES:
            what_id, se_module = lookup_id(record.get("What_Id")), record.get("$se_module")
            account_id: str | None = None
            if what_id is not None and isinstance(se_module, str):
                row = self.w.row(se_module, what_id)
                account_id = row.account_id if row else None
            who_id = lookup_id(record.get("Who_Id"))
            if account_id is None and who_id is not None:
                contact = self.w.row("Contacts", who_id)
                account_id = contact.account_id if contact else None
            return account_id
        return None

    def rehome(self, module: str, record_id: str, account_id: str | None) -> None:
        """Records whose account comes from a deal or contact follow it to its new account."""
        for note in self.w.rows_where("Notes", "$.Parent_Id.id", record_id):
            self.w.set_account("Notes", note.id, account_id)
        if module == "Deals":
            for row in self.w.rows_where("Stage_History", '$."$deal_id"', record_id):
                self.w.set_account("Stage_History", row.id, account_id)
        key = "What_Id" if module == "Deals" else "Who_Id"
        for activity in ACTIVITIES:
            for row in self.w.rows_where(activity, f"$.{key}.id", record_id):
                target = self.account_of(activity, row.data)
                if target != row.account_id:
                    self.w.set_account(activity, row.id, target)

    # -- module rules -------------------------------------------------------------------------

    def defaults(self, module: str) -> JsonDict:
        if module in ACTIVITIES:
            base: JsonDict = {"$editable": True}
            if module == "Tasks":
                base |= {"Status": "Not Started", "Priority": "High"}
            return base
        return system_fields()

    def link_what(self, record: JsonDict, item: JsonDict, path: str) -> None:
        """An activity's ``What_Id`` (with ``$se_module``) from ``item``, if it sends one."""
        if "What_Id" not in item:
            return
        if item["What_Id"] is None:
            record["What_Id"] = None
            record.pop("$se_module", None)
            return
        sent = next((item[k] for k in _SE_MODULE_KEYS if item.get(k)), None)
        se_module = sent or record.get("$se_module")
        if se_module is None:
            raise mandatory("$se_module", f"{path}.$se_module")
        if se_module not in WHAT_MODULES:
            raise invalid("$se_module", f"{path}.$se_module", "invalid module")
        record["What_Id"] = resolve_lookup(
            self.w, se_module, item["What_Id"], "What_Id", f"{path}.What_Id"
        )
        record["$se_module"] = se_module

    def derive(
        self, module: str, record: JsonDict, before: JsonDict, sent: set[str], path: str
    ) -> None:
        """Fields Zoho computes from others (``before`` is empty for a new record)."""
        if module in PEOPLE:
            parts = (record.get("First_Name"), record.get("Last_Name"))
            record["Full_Name"] = " ".join(p.strip() for p in parts if p and p.strip())
        elif module == "Deals":
            if "Probability" in sent:
                check_probability(record.get("Probability"), f"{path}.Probability")
            stage = record.get("Stage")
            moved = stage != before.get("Stage") and "Probability" not in sent
            if moved and isinstance(stage, str) and stage in STAGE_PROBABILITY:
                record["Probability"] = STAGE_PROBABILITY[stage]
            amount, probability = record.get("Amount"), record.get("Probability")
            if amount is not None and probability is not None:
                record["Expected_Revenue"] = round(amount * probability / 100, 2)
            elif "Expected_Revenue" in record:
                record["Expected_Revenue"] = None
            if not before and not record.get("Pipeline"):
                record["Pipeline"] = PIPELINE
        elif module == "Tasks":
            completed = record.get("Status") == "Completed"
            if completed and not record.get("Closed_Time"):
                record["Closed_Time"] = self.now
            elif not completed and record.get("Closed_Time"):
                record["Closed_Time"] = None
        elif module == "Calls":
            kind, duration = record.get("Call_Type"), record.get("Call_Duration")
            text = duration.strip() if isinstance(duration, str) else ""
            zero = bool(text) and not text.strip("0:. ")
            if kind in ("Inbound", "Outbound") and zero:
                raise ItemError(
                    "DEPENDENT_MISMATCH",
                    "Call Duration can not be zero.",
                    api_name="Call_Duration",
                    json_path=f"{path}.Call_Duration",
                )

    def stage_row(self, deal: JsonDict, account_id: str | None) -> None:
        """A Stage_History row for the stage the deal just entered; the previous row gets
        its ``Duration`` (days in that stage)."""
        rows = self.w.rows_where("Stage_History", '$."$deal_id"', deal["id"])
        if rows:
            last = max(rows, key=lambda r: (str(r.data.get("Modified_Time")), int(r.id)))
            since = datetime.fromisoformat(str(last.data["Modified_Time"]))
            days = (datetime.fromisoformat(self.now) - since).days
            self.w.set_field("Stage_History", last.id, "Duration", days)
        row: JsonDict = {
            "id": self.w.next_id(),
            "$deal_id": deal["id"],
            "Stage": deal.get("Stage"),
            "Amount": deal.get("Amount"),
            "Probability": deal.get("Probability"),
            "Expected_Revenue": deal.get("Expected_Revenue"),
            "Close_Date": deal.get("Closing_Date"),
            "Modified_Time": self.now,
            "Modified_By": dict(self.user),
            "Duration": None,
        }
        self.w.insert("Stage_History", row, account_id, (deal.get("Owner") or {}).get("id"))

    def touch(self, account_id: str | None, activity: JsonDict) -> None:
        """``Last_Activity_Time`` of the account and ``What_Id`` deal or lead of an activity."""
        targets = [("Accounts", account_id)]
        what_id, se_module = lookup_id(activity.get("What_Id")), activity.get("$se_module")
        if what_id is not None and se_module in ("Deals", "Leads"):
            targets.append((str(se_module), what_id))
        for module, record_id in targets:
            if record_id is not None:
                self.w.set_field(module, record_id, "Last_Activity_Time", self.now)

    # -- insert -------------------------------------------------------------------------------

    def add_record(self, module: str, item: JsonDict, path: str) -> JsonDict:
        if module == "Notes":
            return self.add_note(item, path, None)
        values = self.fields(module, item, path, _OWN_KEYS.get(module, ()))
        record: JsonDict = {"id": None, **self.defaults(module)}
        record |= {k: v for k, v in values.items() if v is not None or k not in record}
        check_mandatory(module, record, path)
        if module in ACTIVITIES:
            self.link_what(record, item, path)
        self.derive(module, record, {}, set(values), path)
        self.check_duplicates(module, record, path, set(values), None)
        record["Owner"] = record.get("Owner") or dict(self.user)
        self.stamps(record, created=True)
        record["id"] = self.w.next_id()  # only once the record is valid: no gaps in ids
        account_id = self.account_of(module, record)
        self.insert(module, record, account_id)
        if module == "Deals":
            self.stage_row(record, account_id)
        if module in ACTIVITIES:
            self.activity_added(module, record, account_id)
        return self.success(record, "record added")

    def activity_added(self, module: str, record: JsonDict, account_id: str | None) -> None:
        what_id, se_module = lookup_id(record.get("What_Id")), record.get("$se_module")
        if what_id is not None and isinstance(se_module, str):
            row = self.w.row(se_module, what_id)
            if row is not None:
                entry = self.entry(se_module, row.data, "added", related=(module, record))
                self.w.add_timeline(se_module, what_id, entry)
        self.touch(account_id, record)

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
        values = self.fields("Notes", item, path, ("Owner", *_OWN_KEYS["Notes"]))
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

    # -- update -------------------------------------------------------------------------------

    def update(
        self, module: str, item: JsonDict, path: str, record_id: str | None, since: str | None
    ) -> JsonDict:
        record_id = record_id or lookup_id(item.get("id"))
        if record_id is None:
            raise mandatory("id", f"{path}.id")
        row = self.w.row(module, record_id)
        if row is None:
            raise invalid("id", f"{path}.id", "the id given seems to be invalid")
        before = row.data
        if since is not None and before["Modified_Time"] > since:
            raise ItemError(
                "ALREADY_MODIFIED",
                "the record was modified after the If-Unmodified-Since time",
                412,
                id=record_id,
                Modified_Time=before["Modified_Time"],
            )
        values = self.fields(module, item, path, _OWN_KEYS.get(module, ()))
        if "Owner" in values and values["Owner"] is None:
            del values["Owner"]  # a record always has an owner
        check_mandatory(module, values, path, values)
        record = {**before, **values}
        if module == "Notes":
            self.note_unchanged(item, path, before)
            if not (record.get("Note_Title") or record.get("Note_Content")):
                raise mandatory("Note_Content", f"{path}.Note_Content")
        if module in ACTIVITIES:
            self.link_what(record, item, path)
        self.derive(module, record, before, set(values), path)
        self.check_duplicates(module, record, path, set(values), record_id)
        history = self.history(module, before, record)
        self.stamps(record, created=False)
        self.w.replace(module, record)
        account_id = self.account_of(module, record)
        if module != "Notes" and account_id != row.account_id:
            self.w.set_account(module, record_id, account_id)
            if module in ("Deals", "Contacts"):
                self.rehome(module, record_id, account_id)
        name = NAME_FIELDS[module]
        if module in LOOKED_UP and record.get(name) != before.get(name):
            self.w.rename(record_id, record.get(name))
        if module == "Deals" and record.get("Stage") != before.get("Stage"):
            self.stage_row(record, account_id)
        entry = self.entry(module, record, "updated", history or None)
        self.w.add_timeline(module, record_id, entry)
        return self.success(record, "record updated")

    def note_unchanged(self, item: JsonDict, path: str, before: JsonDict) -> None:
        """A note's parent is fixed once it is written."""
        if "Parent_Id" in item and lookup_id(item["Parent_Id"]) != lookup_id(
            before.get("Parent_Id")
        ):
            raise invalid("Parent_Id", f"{path}.Parent_Id", "the field is read only")

    def history(self, module: str, before: JsonDict, after: JsonDict) -> list[JsonDict]:
        """``field_history`` of an update: every writable field whose value changed."""
        changes = []
        for key, new in after.items():
            old = before.get(key)
            field = field_of(module, key)
            if old == new or field is None or field.read_only or key.startswith("$"):
                continue
            if field.type in ("lookup", "owner", "multi"):
                old, new = (
                    {"name": v.get("name"), "id": v.get("id")} if isinstance(v, dict) else v
                    for v in (old, new)
                )
            changes.append(
                {
                    "api_name": key,
                    "field_label": field.label,
                    "data_type": timeline_data_type(field),
                    "id": field.field_id,
                    "_value": {"old": old, "new": new},
                }
            )
        return changes

    # -- upsert -------------------------------------------------------------------------------

    def upsert(
        self,
        module: str,
        item: JsonDict,
        path: str,
        order: Sequence[str],
        since: str | None,
    ) -> JsonDict:
        for name in order:
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            existing = self.w.find_equal(module, name, value, None)
            if existing is not None:
                result = self.update(module, item, path, existing.id, since)
                return _upserted(result, "update", name)
        return _upserted(self.add_record(module, item, path), "insert", None)

    # -- delete -------------------------------------------------------------------------------

    def delete(self, module: str, record_id: str) -> JsonDict:
        row = self.w.row(module, record_id) if record_id.isdigit() else None
        if row is None:
            raise ItemError("INVALID_DATA", "record not deleted", id=record_id)
        for note in self.w.rows_where("Notes", "$.Parent_Id.id", record_id):
            self.w.delete("Notes", note.id)
        if module == "Deals":
            for stage in self.w.rows_where("Stage_History", '$."$deal_id"', record_id):
                self.w.delete("Stage_History", stage.id)
        self.w.delete(module, record_id)
        return {
            "code": "SUCCESS",
            "details": {"id": record_id},
            "message": "record deleted",
            "status": "success",
        }


def _upserted(result: JsonDict, action: str, field: str | None) -> JsonDict:
    """An upsert item in the documented key order."""
    return {
        "code": result["code"],
        "duplicate_field": field,
        "action": action,
        "details": result["details"],
        "message": result["message"],
        "status": result["status"],
    }


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
