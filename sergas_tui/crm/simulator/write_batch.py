"""One write call's records, applied inside the simulator's write transaction: insert
(with notes and activities), update, upsert and delete.

Each record succeeds or fails on its own (an :class:`ItemError` becomes that item's error
answer in ``writes``); a success takes the next 19-digit id only once the record is valid. The
checks and derived fields every operation shares are in
:mod:`~sergas_tui.crm.simulator.record_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sergas_tui.crm.simulator.errors import JsonDict
from sergas_tui.crm.simulator.record_rules import (
    ACTIVITIES,
    LOOKED_UP,
    NOTE_PARENTS,
    OWN_KEYS,
    SE_MODULE_KEYS,
    RecordRules,
)
from sergas_tui.crm.simulator.schema import NAME_FIELDS
from sergas_tui.crm.simulator.validate import (
    ItemError,
    check_mandatory,
    invalid,
    lookup_id,
    lookup_ref,
    mandatory,
)


class Batch(RecordRules):
    """One write call, applied inside the write transaction."""

    # -- insert -------------------------------------------------------------------------------

    def add_record(self, module: str, item: JsonDict, path: str) -> JsonDict:
        if module == "Notes":
            return self.add_note(item, path, None)
        values = self.fields(module, item, path, OWN_KEYS.get(module, ()))
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
            ) or next((item[k] for k in SE_MODULE_KEYS if item.get(k)), None)
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
        values = self.fields("Notes", item, path, ("Owner", *OWN_KEYS["Notes"]))
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
        values = self.fields(module, item, path, OWN_KEYS.get(module, ()))
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
