"""What Zoho checks and derives on every record a write stores (zoho-crm.md section 2.6).

:class:`RecordRules` holds the pieces every write of
:class:`~sergas_tui.crm.simulator.write_batch.Batch` shares: the written fields checked against
the module's schema, the system duplicate-check fields, the ``Created/Modified_Time`` and
``_By`` stamps, the ``__timeline`` entries (``added``, and ``updated`` with every changed
field's old and new value) and the success item.

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

from datetime import datetime

from sergas_tui.crm.simulator.errors import JsonDict
from sergas_tui.crm.simulator.orgdb import Writer
from sergas_tui.crm.simulator.schema import DUPLICATE_CHECK_FIELDS, field_of
from sergas_tui.crm.simulator.validate import (
    ItemError,
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

NOTE_PARENTS = ("Accounts", "Deals", "Contacts", "Leads")
ACTIVITIES = ("Tasks", "Events", "Calls")
WHAT_MODULES = ("Accounts", "Deals", "Leads")
PEOPLE = ("Contacts", "Leads")
# Modules other records look up (so a rename is copied into those lookups).
LOOKED_UP = ("Accounts", "Contacts", "Deals", "Leads")
SE_MODULE_KEYS = ("$se_module", "se_module")
# Keys handled by the module's own code rather than by the field checks.
OWN_KEYS: dict[str, tuple[str, ...]] = {
    "Notes": ("Parent_Id", *SE_MODULE_KEYS),
    **dict.fromkeys(ACTIVITIES, ("What_Id", *SE_MODULE_KEYS)),
}


class RecordRules:
    """The checks and derivations of one write call's records, inside the write transaction."""

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
        sent = next((item[k] for k in SE_MODULE_KEYS if item.get(k)), None)
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
