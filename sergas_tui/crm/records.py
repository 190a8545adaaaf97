"""Zoho rows → domain records for the REST gateway, and the CRM's user directory.

Rows go through the wire models of :mod:`sergas_tui.domain.zoho` and the conversions of
:mod:`sergas_tui.domain.convert`; a row without an ``id`` is skipped (and logged), one odd field
never sinks a page. COQL returns lookups as ``{id}`` (maybe ``name``), so owners are completed
from the :class:`UserDirectory`, and an activity's ``What_Id`` module (``$se_module``, which COQL
does not return) is inferred from the records it points at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    Deal,
    Link,
    Note,
    Owner,
    account_from_zoho,
    activity_from_call,
    activity_from_event,
    activity_from_task,
    contact_from_zoho,
    deal_from_zoho,
    note_from_zoho,
    owner_from_user,
)
from sergas_tui.domain.zoho import (
    ZohoAccount,
    ZohoCall,
    ZohoContact,
    ZohoDeal,
    ZohoEvent,
    ZohoNote,
    ZohoTask,
    ZohoUser,
)
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.zoho")

W = TypeVar("W", bound=BaseModel)
D = TypeVar("D")
R = TypeVar("R", Account, Contact, Deal, Activity, Note)


def _convert(
    rows: Iterable[Mapping[str, Any]], model: type[W], convert: Callable[[W], D]
) -> list[D]:
    out: list[D] = []
    for row in rows:
        try:
            out.append(convert(model.model_validate(row)))
        except ValidationError as err:
            log.warning("zoho.row_skipped", model=model.__name__, errors=err.error_count())
    return out


def accounts_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Account]:
    return _convert(rows, ZohoAccount, account_from_zoho)


def contacts_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Contact]:
    return _convert(rows, ZohoContact, contact_from_zoho)


def deals_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Deal]:
    return _convert(rows, ZohoDeal, deal_from_zoho)


def notes_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Note]:
    return _convert(rows, ZohoNote, note_from_zoho)


def activities_from_rows(kind: ActivityKind, rows: Iterable[Mapping[str, Any]]) -> list[Activity]:
    if kind == "task":
        return _convert(rows, ZohoTask, activity_from_task)
    if kind == "event":
        return _convert(rows, ZohoEvent, activity_from_event)
    return _convert(rows, ZohoCall, activity_from_call)


def users_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Owner]:
    return _convert(rows, ZohoUser, owner_from_user)


def with_what_module(activity: Activity, account_ids: set[str], deal_ids: set[str]) -> Activity:
    """Name the module of ``What_Id`` when Zoho left it out, from the ids it can point at."""
    what = activity.what
    if what is None or what.module is not None:
        return activity
    module = "Accounts" if what.id in account_ids else "Deals" if what.id in deal_ids else None
    if module is None:
        return activity
    return activity.model_copy(update={"what": Link(id=what.id, name=what.name, module=module)})


def activity_time(activity: Activity) -> datetime | None:
    """When an activity happens (or, failing that, when it was created)."""
    return activity.when or activity.created_time


class UserDirectory:
    """The org's users by id and email, kept for the life of a gateway."""

    def __init__(self) -> None:
        self._by_id: dict[str, Owner] = {}
        self._completed: dict[tuple[str, str | None, str | None], Owner] = {}
        """Completed owners by what the record said: one shared object per user (a sync
        completes tens of thousands of records' owners, mostly the same few users)."""
        self.loaded = False

    def __len__(self) -> int:
        return len(self._by_id)

    def replace(self, users: Iterable[Owner]) -> None:
        self._by_id = {user.id: user for user in users}
        self._completed = {}
        self.loaded = True

    def add(self, user: Owner) -> None:
        self._by_id[user.id] = user
        self._completed = {}

    def knows(self, user_id: str) -> bool:
        return user_id in self._by_id

    def all(self) -> list[Owner]:
        return list(self._by_id.values())

    def by_email(self, email: str) -> Owner | None:
        wanted = email.strip().casefold()
        for user in self._by_id.values():
            if user.email and user.email.casefold() == wanted:
                return user
        return None

    def require(self, email: str) -> Owner:
        """The user with ``email``, or a CrmError saying the email matches nobody."""
        user = self.by_email(email)
        if user is None:
            raise CrmError(
                f"No Zoho user has the email {email!r} ({len(self)} users checked). Set "
                "zoho.user_email to the email you sign in to Zoho CRM with.",
                title="Unknown Zoho user",
            )
        return user

    def complete(self, owner: Owner | None) -> Owner | None:
        """Fill a bare ``{id}`` owner's name and email from the directory."""
        if owner is None or (owner.name and owner.email):
            return owner
        known = self._by_id.get(owner.id)
        if known is None:
            return owner
        key = (owner.id, owner.name, owner.email)
        done = self._completed.get(key)
        if done is None:
            done = Owner(
                id=owner.id, name=owner.name or known.name, email=owner.email or known.email
            )
            self._completed[key] = done
        return done

    def complete_all(self, records: list[R]) -> list[R]:
        completed: list[R] = []
        for record in records:
            owner = record.owner
            if owner is not None and (done := self.complete(owner)) is not owner:
                record = record.model_copy(update={"owner": done})
            completed.append(record)
        return completed
