"""The in-memory org builder: adds Zoho-shaped records and keeps them mutually consistent.

Callers (the random filler, the scenarios and the hostile accounts) decide *what* happens and
*when*; :class:`OrgBuilder` turns that into records, Stage_History rows and timeline entries,
so invariants live in one place:

- every lookup points at a record added earlier;
- a deal's Stage_History and ``__timeline`` are replayed from one list of changes;
- an activity's ``Modified_Time`` is its activity time, and ``Last_Activity_Time`` of an
  account (or deal) is the latest ``Modified_Time`` of the Tasks, Events and Calls attached to
  it or to its deals (set by :meth:`OrgBuilder.finish`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from sergas_tui.demo import zoho
from sergas_tui.demo.deals import DealPlan, replay
from sergas_tui.demo.model import DemoInfo, DemoOrg, JsonDict, RecordRow, Scenario, TimelineRow


def drop(record: JsonDict, omit: Iterable[str]) -> JsonDict:
    for key in omit:
        record.pop(key, None)
    return record


class OrgBuilder:
    """Accumulates the records, timeline and scenarios of one demo org."""

    def __init__(self, rng: Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.users: list[JsonDict] = []
        self._sequence = zoho.FIRST_RECORD_SEQUENCE
        self._rows: list[RecordRow] = []
        self._timeline: list[TimelineRow] = []
        self._scenarios: list[Scenario] = []
        self._accounts: list[JsonDict] = []
        self._deals: list[JsonDict] = []
        self._last_activity: dict[str, datetime] = {}

    # -- ids and rows ---------------------------------------------------------------------

    def new_id(self) -> str:
        """The next record id; ids increase in creation order, as Zoho's do."""
        self._sequence += 1
        return zoho.fixed_id(self._sequence)

    def add_row(
        self, module: str, data: JsonDict, account_id: str | None, owner_id: str | None
    ) -> JsonDict:
        """Append a finished record of ``module`` with the columns it is indexed by."""
        self._rows.append(RecordRow(module, data["id"], account_id, owner_id, data))
        return data

    def record_change(
        self,
        module: str,
        record: JsonDict,
        at: datetime,
        by: JsonDict,
        changes: Sequence[tuple[str, Any, Any]],
        *,
        action: str = "updated",
        related: tuple[str, JsonDict] | None = None,
    ) -> None:
        """Add a timeline entry for ``record`` and bump its ``Modified_Time`` if later."""
        history = [zoho.field_change(module, api, old, new) for api, old, new in changes]
        entry = zoho.timeline_entry(module, record, at, by, action, history or None, related)
        self._timeline.append(TimelineRow(module, record["id"], entry["audited_time"], entry))
        if entry["audited_time"] > record.get("Modified_Time", ""):
            record["Modified_Time"] = entry["audited_time"]
            record["Modified_By"] = zoho.user_ref(by)

    # -- users ----------------------------------------------------------------------------

    def add_user(
        self,
        first: str,
        last: str,
        *,
        manager: JsonDict | None,
        is_manager: bool,
        time_zone: str,
        created: datetime,
    ) -> JsonDict:
        """Add a CRM user; reps report to ``manager``."""
        user: JsonDict = {
            "id": self.new_id(),
            "full_name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}@demo.sergas.test".lower().replace(" ", ""),
            "role": dict(zoho.ROLE_MANAGER if is_manager else zoho.ROLE_REP),
            "profile": dict(zoho.PROFILE_MANAGER if is_manager else zoho.PROFILE_STANDARD),
            "status": "active",
            "confirm": True,
            "time_zone": time_zone,
            "locale": "en_US",
            "reporting_to": None if manager is None else zoho.done_by(manager),
            "created_time": zoho.iso(created),
            "Modified_Time": zoho.iso(created),
        }
        self.users.append(user)
        return self.add_row("Users", user, None, None)

    # -- accounts, contacts, deals --------------------------------------------------------

    def add_account(
        self,
        name: str,
        owner: JsonDict,
        created: datetime,
        fields: JsonDict,
        *,
        created_by: JsonDict | None = None,
        omit: Sequence[str] = (),
    ) -> JsonDict:
        """Add an account; ``fields`` supplies everything but identity, owner and stamps."""
        creator = zoho.user_ref(created_by or owner)
        account: JsonDict = {
            "id": self.new_id(),
            "Account_Name": name,
            "Owner": zoho.user_ref(owner),
            **fields,
            "Created_Time": zoho.iso(created),
            "Created_By": creator,
            "Modified_Time": zoho.iso(created),
            "Modified_By": creator,
            "Last_Activity_Time": None,
            **zoho.system_fields(),
        }
        drop(account, omit)
        self._accounts.append(account)
        self.add_row("Accounts", account, account["id"], owner["id"])
        self.record_change("Accounts", account, created, created_by or owner, (), action="added")
        return account

    def add_contact(
        self,
        account: JsonDict,
        owner: JsonDict,
        first: str,
        last: str,
        created: datetime,
        fields: JsonDict,
        *,
        omit: Sequence[str] = (),
    ) -> JsonDict:
        """Add a contact of ``account``; ``fields`` holds Title, Contact_Role, Email etc."""
        contact: JsonDict = {
            "id": self.new_id(),
            "First_Name": first,
            "Last_Name": last,
            "Full_Name": f"{first} {last}".strip(),
            "Account_Name": zoho.lookup("Accounts", account),
            "Owner": zoho.user_ref(owner),
            **fields,
            "Created_Time": zoho.iso(created),
            "Created_By": zoho.user_ref(owner),
            "Modified_Time": zoho.iso(created),
            "Modified_By": zoho.user_ref(owner),
            **zoho.system_fields(),
        }
        drop(contact, omit)
        return self.add_row("Contacts", contact, account["id"], owner["id"])

    def add_deal(self, account: JsonDict, plan: DealPlan) -> JsonDict:
        """Add a deal with its Stage_History and timeline (see :func:`deals.replay`)."""
        deal, history = replay(self, account, plan)
        self._deals.append(deal)
        owner_id = deal["Owner"]["id"]
        self.add_row("Deals", deal, account["id"], owner_id)
        for row in history:
            self.add_row("Stage_History", row, account["id"], owner_id)
        return deal

    # -- activities and notes -------------------------------------------------------------

    def _what(self, account: JsonDict, what: JsonDict | None) -> JsonDict:
        target = what or account
        module = zoho.module_of(target)
        return {"What_Id": zoho.lookup(module, target), "$se_module": module}

    def _touch(self, account: JsonDict, what: JsonDict | None, at: datetime) -> None:
        if at > self.now:
            raise ValueError(f"activity at {at} is after the anchor {self.now}")
        keys = [account["id"]] + ([what["id"]] if what is not None and what is not account else [])
        for key in keys:
            if key not in self._last_activity or at > self._last_activity[key]:
                self._last_activity[key] = at

    def add_task(
        self,
        account: JsonDict,
        owner: JsonDict,
        at: datetime,
        subject: str,
        *,
        created: datetime,
        completed: bool,
        status: str = "Completed",
        due: date | None = None,
        priority: str = "Normal",
        what: JsonDict | None = None,
        who: JsonDict | None = None,
        description: str | None = None,
        omit: Sequence[str] = (),
    ) -> JsonDict:
        """Add a task; ``at`` is when it was closed (completed) or last touched (open)."""
        task: JsonDict = {
            "id": self.new_id(),
            "Subject": subject,
            "Due_Date": None if due is None else zoho.day(due),
            "Status": "Completed" if completed else status,
            "Priority": priority,
            **self._what(account, what),
            "Who_Id": None if who is None else zoho.lookup("Contacts", who),
            "Owner": zoho.user_ref(owner),
            "Description": description,
            "Closed_Time": zoho.iso(at) if completed else None,
            "Created_Time": zoho.iso(created),
            "Created_By": zoho.user_ref(owner),
            "Modified_Time": zoho.iso(at),
            "Modified_By": zoho.user_ref(owner),
            "Send_Notification_Email": False,
            "$editable": True,
        }
        drop(task, omit)
        self._touch(account, what, at)
        return self.add_row("Tasks", task, account["id"], owner["id"])

    def add_event(
        self,
        account: JsonDict,
        owner: JsonDict,
        at: datetime,
        title: str,
        *,
        start: datetime,
        minutes: int,
        created: datetime,
        attendees: Sequence[JsonDict],
        what: JsonDict | None = None,
        venue: str | None = None,
        description: str | None = None,
    ) -> JsonDict:
        """Add a meeting; ``at`` is when it was last touched (scheduled, or logged after)."""
        event: JsonDict = {
            "id": self.new_id(),
            "Event_Title": title,
            "Start_DateTime": zoho.iso(start),
            "End_DateTime": zoho.iso(start + timedelta(minutes=minutes)),
            "All_day": False,
            **self._what(account, what),
            "Who_Id": zoho.lookup("Contacts", attendees[0]) if attendees else None,
            "Participants": [
                {
                    "type": "contact",
                    "participant": c["id"],
                    "name": c["Full_Name"],
                    "Email": c.get("Email"),
                    "invited": True,
                    "status": "accepted",
                }
                for c in attendees
            ],
            "Venue": venue,
            "Owner": zoho.user_ref(owner),
            "Description": description,
            "Created_Time": zoho.iso(created),
            "Created_By": zoho.user_ref(owner),
            "Modified_Time": zoho.iso(at),
            "Modified_By": zoho.user_ref(owner),
            "$editable": True,
        }
        self._touch(account, what, at)
        return self.add_row("Events", event, account["id"], owner["id"])

    def add_call(
        self,
        account: JsonDict,
        owner: JsonDict,
        at: datetime,
        subject: str,
        *,
        seconds: int,
        call_type: str,
        result: str,
        purpose: str,
        who: JsonDict | None,
        what: JsonDict | None = None,
        description: str | None = None,
    ) -> JsonDict:
        """Add a logged call that ended at ``at``."""
        call: JsonDict = {
            "id": self.new_id(),
            "Subject": subject,
            "Call_Type": call_type,
            "Call_Purpose": purpose,
            "Call_Start_Time": zoho.iso(at - timedelta(seconds=seconds)),
            "Call_Duration": f"{seconds // 60:02d}:{seconds % 60:02d}",
            "Call_Duration_in_seconds": seconds,
            "Call_Result": result,
            **self._what(account, what),
            "Who_Id": None if who is None else zoho.lookup("Contacts", who),
            "Owner": zoho.user_ref(owner),
            "Description": description,
            "Created_Time": zoho.iso(at),
            "Created_By": zoho.user_ref(owner),
            "Modified_Time": zoho.iso(at),
            "Modified_By": zoho.user_ref(owner),
            "$editable": True,
        }
        self._touch(account, what, at)
        return self.add_row("Calls", call, account["id"], owner["id"])

    def add_note(
        self,
        account: JsonDict,
        owner: JsonDict,
        at: datetime,
        content: str | None,
        *,
        title: str | None,
        parent: JsonDict | None = None,
    ) -> JsonDict:
        """Add a note on ``parent`` (the account unless a deal is given); None omits a field."""
        target = parent or account
        module = zoho.module_of(target)
        note: JsonDict = {
            "id": self.new_id(),
            "Note_Title": title,
            "Note_Content": content,
            "Parent_Id": {"module": {"api_name": module}, **zoho.lookup(module, target)},
            "Owner": zoho.user_ref(owner),
            "Created_Time": zoho.iso(at),
            "Created_By": zoho.user_ref(owner),
            "Modified_Time": zoho.iso(at),
            "Modified_By": zoho.user_ref(owner),
            "$attachments": None,
            "$is_shared_to_client": False,
            "$voice_note": False,
            "$editable": True,
        }
        drop(note, [k for k in ("Note_Title", "Note_Content") if note[k] is None])
        return self.add_row("Notes", note, account["id"], owner["id"])

    # -- scenarios and the result ---------------------------------------------------------

    def add_scenario(
        self, key: str, account: JsonDict, title: str, description: str, signals: Sequence[str]
    ) -> None:
        """Record that ``account`` demonstrates scenario ``key``."""
        self._scenarios.append(Scenario(key, account["id"], title, description, tuple(signals)))

    def finish(self, info: DemoInfo) -> DemoOrg:
        """Fill ``Last_Activity_Time`` everywhere and hand the org over."""
        for record in (*self._accounts, *self._deals):
            latest = self._last_activity.get(record["id"])
            if latest is not None:
                record["Last_Activity_Time"] = zoho.iso(latest)
        return DemoOrg(info, list(self._rows), list(self._timeline), list(self._scenarios))
