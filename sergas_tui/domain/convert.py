"""Explicit conversions from Zoho wire models to domain records.

Each function takes one wire model and returns one domain record; nothing here does I/O. Missing
names get a readable placeholder rather than failing, because a record the CRM holds is still
worth showing even when someone left its name empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from sergas_tui.domain.records import (
    Account,
    Activity,
    Change,
    Contact,
    Deal,
    Link,
    Note,
    Owner,
    StageChange,
)
from sergas_tui.domain.zoho import (
    ZohoAccount,
    ZohoCall,
    ZohoContact,
    ZohoDeal,
    ZohoEvent,
    ZohoLookup,
    ZohoNote,
    ZohoStageHistory,
    ZohoTask,
    ZohoTimelineEntry,
    ZohoUser,
    ZohoUserRef,
)

UNNAMED = "(no name)"
"""Shown for a record whose name field is empty."""


def owner_from_zoho(ref: ZohoUserRef | None) -> Owner | None:
    """``Owner``/``Created_By``-style user reference → :class:`Owner`."""
    return None if ref is None else Owner(id=ref.id, name=ref.name, email=ref.email)


def owner_from_user(user: ZohoUser) -> Owner:
    """A Users API row → :class:`Owner`."""
    name = user.full_name or " ".join(p for p in (user.first_name, user.last_name) if p) or None
    return Owner(id=user.id, name=name, email=user.email)


def link_from_zoho(lookup: ZohoLookup | None, module: str | None = None) -> Link | None:
    """A lookup field → :class:`Link`; ``module`` is the module the lookup points into."""
    return None if lookup is None else Link(id=lookup.id, name=lookup.name, module=module)


def account_from_zoho(account: ZohoAccount) -> Account:
    """An Accounts record → :class:`Account`."""
    return Account(
        id=account.id,
        name=account.Account_Name or UNNAMED,
        owner=owner_from_zoho(account.Owner),
        industry=account.Industry,
        annual_revenue=account.Annual_Revenue,
        account_type=account.Account_Type,
        rating=account.Rating,
        employees=account.Employees,
        phone=account.Phone,
        website=account.Website,
        description=account.Description,
        billing_city=account.Billing_City,
        billing_country=account.Billing_Country,
        parent_account=link_from_zoho(account.Parent_Account, "Accounts"),
        last_activity_time=account.Last_Activity_Time,
        created_time=account.Created_Time,
        modified_time=account.Modified_Time,
    )


def contact_from_zoho(contact: ZohoContact) -> Contact:
    """A Contacts record → :class:`Contact`; the role falls back to the job title."""
    parts = [p for p in (contact.First_Name, contact.Last_Name) if p]
    return Contact(
        id=contact.id,
        name=contact.Full_Name or " ".join(parts) or contact.Email or UNNAMED,
        first_name=contact.First_Name,
        last_name=contact.Last_Name,
        email=contact.Email,
        phone=contact.Phone or contact.Mobile,
        title=contact.Title,
        department=contact.Department,
        role=contact.Contact_Role or contact.Title,
        account_id=contact.Account_Name.id if contact.Account_Name else None,
        owner=owner_from_zoho(contact.Owner),
        last_activity_time=contact.Last_Activity_Time,
        created_time=contact.Created_Time,
        modified_time=contact.Modified_Time,
    )


def stage_change_from_zoho(row: ZohoStageHistory) -> StageChange | None:
    """A ``Stage_History`` row → :class:`StageChange`; ``None`` when it names no stage."""
    if not row.Stage:
        return None
    return StageChange(
        stage=row.Stage,
        changed_at=row.Modified_Time,
        changed_by=(row.Modified_By.name or row.Modified_By.email) if row.Modified_By else None,
        amount=row.Amount,
        probability=row.Probability,
        closing_date=row.Close_Date,
    )


def deal_from_zoho(deal: ZohoDeal, stage_history: Iterable[ZohoStageHistory] = ()) -> Deal:
    """A Deals record (and optionally its stage history, any order) → :class:`Deal`.

    Stage history is sorted oldest first; rows without a time keep their relative order first.
    """
    changes = [c for c in map(stage_change_from_zoho, stage_history) if c is not None]
    changes.sort(key=lambda c: c.changed_at or datetime.min.replace(tzinfo=UTC))
    return Deal(
        id=deal.id,
        name=deal.Deal_Name or UNNAMED,
        stage=deal.Stage,
        amount=deal.Amount,
        closing_date=deal.Closing_Date,
        probability=deal.Probability,
        type=deal.Type,
        next_step=deal.Next_Step,
        contact=link_from_zoho(deal.Contact_Name, "Contacts"),
        account_id=deal.Account_Name.id if deal.Account_Name else None,
        owner=owner_from_zoho(deal.Owner),
        created_time=deal.Created_Time,
        modified_time=deal.Modified_Time,
        last_activity_time=deal.Last_Activity_Time,
        stage_history=changes,
    )


def _start_of_day(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)


def activity_from_task(task: ZohoTask) -> Activity:
    """A Tasks record → :class:`Activity`; ``when`` is the due date (midnight UTC)."""
    return Activity(
        id=task.id,
        kind="task",
        subject=task.Subject or UNNAMED,
        when=_start_of_day(task.Due_Date) or task.Closed_Time,
        status=task.Status,
        who=link_from_zoho(task.Who_Id, "Contacts"),
        what=link_from_zoho(task.What_Id, task.se_module),
        owner=owner_from_zoho(task.Owner),
        description=task.Description,
        created_time=task.Created_Time,
        closed_time=task.Closed_Time,
    )


def activity_from_event(event: ZohoEvent) -> Activity:
    """An Events record → :class:`Activity`; ``when`` is the start time."""
    return Activity(
        id=event.id,
        kind="event",
        subject=event.Event_Title or event.Subject or UNNAMED,
        when=event.Start_DateTime,
        status=None,
        who=link_from_zoho(event.Who_Id, "Contacts"),
        what=link_from_zoho(event.What_Id, event.se_module),
        owner=owner_from_zoho(event.Owner),
        description=event.Description,
        created_time=event.Created_Time,
    )


def activity_from_call(call: ZohoCall) -> Activity:
    """A Calls record → :class:`Activity`; ``when`` is the call's start time."""
    return Activity(
        id=call.id,
        kind="call",
        subject=call.Subject or UNNAMED,
        when=call.Call_Start_Time,
        status=call.Call_Status or call.Call_Result,
        who=link_from_zoho(call.Who_Id, "Contacts"),
        what=link_from_zoho(call.What_Id, call.se_module),
        owner=owner_from_zoho(call.Owner),
        description=call.Description,
        created_time=call.Created_Time,
    )


def note_from_zoho(note: ZohoNote) -> Note:
    """A Notes record → :class:`Note`, with either shape of ``Parent_Id``."""
    module, parent_id, name = note.parent()
    return Note(
        id=note.id,
        title=note.Note_Title,
        content=note.Note_Content,
        parent=Link(id=parent_id, name=name, module=module) if parent_id else None,
        owner=owner_from_zoho(note.Owner),
        created_time=note.Created_Time,
        modified_time=note.Modified_Time,
    )


def changes_from_timeline(
    entry: ZohoTimelineEntry, module: str | None = None, record_id: str | None = None
) -> list[Change]:
    """The field changes of one timeline entry → :class:`Change` items.

    ``module`` and ``record_id`` default to the entry's own ``record``; entries without field
    history (creations, notes, emails) give no changes.
    """
    record = entry.record
    if record is not None:
        module = module or (record.module.api_name if record.module else None)
        record_id = record_id or record.id
    return [
        Change(
            field=item.api_name or item.field_label or "?",
            old=item.value.old if item.value else None,
            new=item.value.new if item.value else None,
            timestamp=entry.audited_time,
            module=module,
            record_id=record_id,
        )
        for item in entry.field_history
        if item.api_name or item.field_label
    ]
