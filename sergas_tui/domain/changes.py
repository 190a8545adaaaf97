"""Change detection: a stable, minimal snapshot per account and the diff between two of them.

:func:`snapshot_of` keeps only what a reviewer cares about and what changes meaningfully:

- account: ``Account_Name``, ``Account_Type``, ``Industry``, ``Rating``, ``Annual_Revenue``,
  ``Employees``, ``Owner`` (email, else id), ``Parent_Account`` (id), ``Billing_Country``;
- per deal (``Deals`` → id → fields): ``Deal_Name``, ``Stage``, ``Amount``, ``Closing_Date``,
  ``Next_Step``, ``Type``, ``Owner``;
- per contact (``Contacts`` → id → fields): ``Full_Name``, ``Title``, ``role``.

Left out on purpose (:data:`VOLATILE_FIELDS`): stamps that move without anyone changing the
record (``Modified_Time``, ``Modified_By``, ``Last_Activity_Time``), values derived from others
(``Probability``, ``Expected_Revenue`` follow the stage and amount), ``Created_*`` (never
change) and free text (``Description``). Field names follow Zoho's API names so a snapshot
change and the same change from the Zoho timeline deduplicate in :func:`merge_changes`
(``role`` is ours: it is ``Contact_Role`` when the org has it, else the job title).

The snapshot goes through :func:`~sergas_tui.domain.redaction.redact`, so nothing sensitive is
ever stored even if a field list grows.

``_quiet`` (:data:`QUIET_KEY`) keeps how long the account had gone without a customer touch
when the review saw it (``Account.quiet``: since when, and the touch), for the portfolio's Quiet
column; like every key starting with ``_`` it is never compared.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType

from pydantic import JsonValue, ValidationError

from sergas_tui.domain.records import Account, Change, Contact, Deal, Owner, Quiet
from sergas_tui.domain.redaction import REDACTED, is_sensitive_field, redact

SNAPSHOT_VERSION = 1
QUIET_KEY = "_quiet"
RECORD_FIELD = "(record)"
"""The ``field`` of a change that adds (``old`` None) or removes (``new`` None) a record."""
VOLATILE_FIELDS: frozenset[str] = frozenset(
    {
        "Modified_Time",
        "Modified_By",
        "Last_Activity_Time",
        "Created_Time",
        "Created_By",
        "Probability",
        "Expected_Revenue",
        "Description",
    }
)
"""Fields never compared, even when an older snapshot holds them."""
NESTED_MODULES: tuple[str, ...] = ("Deals", "Contacts")
_NAME_FIELDS = ("Deal_Name", "Full_Name")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _owner(owner: Owner | None) -> str | None:
    return None if owner is None else owner.email or owner.id


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


_ACCOUNT: Mapping[str, Callable[[Account], JsonValue]] = MappingProxyType(
    {
        "Account_Name": lambda a: a.name,
        "Account_Type": lambda a: a.account_type,
        "Industry": lambda a: a.industry,
        "Rating": lambda a: a.rating,
        "Annual_Revenue": lambda a: a.annual_revenue,
        "Employees": lambda a: a.employees,
        "Owner": lambda a: _owner(a.owner),
        "Parent_Account": lambda a: a.parent_account.id if a.parent_account else None,
        "Billing_Country": lambda a: a.billing_country,
    }
)
_DEAL: Mapping[str, Callable[[Deal], JsonValue]] = MappingProxyType(
    {
        "Deal_Name": lambda d: d.name,
        "Stage": lambda d: d.stage,
        "Amount": lambda d: d.amount,
        "Closing_Date": lambda d: _day(d.closing_date),
        "Next_Step": lambda d: d.next_step,
        "Type": lambda d: d.type,
        "Owner": lambda d: _owner(d.owner),
    }
)
_CONTACT: Mapping[str, Callable[[Contact], JsonValue]] = MappingProxyType(
    {
        "Full_Name": lambda c: c.name,
        "Title": lambda c: c.title,
        "role": lambda c: c.role,
    }
)


def snapshot_of(
    account: Account, deals: Iterable[Deal], contacts: Iterable[Contact]
) -> dict[str, JsonValue]:
    """The account's minimal snapshot; equal inputs give equal dicts, whatever their order."""
    data: dict[str, JsonValue] = {"_version": SNAPSHOT_VERSION}
    data.update({name: pick(account) for name, pick in _ACCOUNT.items()})
    deal_map: dict[str, JsonValue] = {
        d.id: {name: pick(d) for name, pick in _DEAL.items()}
        for d in sorted(deals, key=lambda d: d.id)
    }
    contact_map: dict[str, JsonValue] = {
        c.id: {name: pick(c) for name, pick in _CONTACT.items()}
        for c in sorted(contacts, key=lambda c: c.id)
    }
    data["Deals"] = deal_map
    data["Contacts"] = contact_map
    if account.quiet is not None:
        data[QUIET_KEY] = account.quiet.model_dump(mode="json")
    return redact(data)


def snapshot_quiet(data: Mapping[str, JsonValue]) -> Quiet | None:
    """The silence a snapshot recorded (None: not recorded, or unreadable)."""
    raw = data.get(QUIET_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return Quiet.model_validate(raw)
    except ValidationError:
        return None


def _fields(
    previous: Mapping[str, JsonValue],
    current: Mapping[str, JsonValue],
    *,
    module: str,
    record_id: str,
    at: datetime | None,
    skip: Iterable[str] = (),
) -> list[Change]:
    ignored = set(skip)
    changes: list[Change] = []
    for name in sorted(set(previous) | set(current)):
        if name.startswith("_") or name in VOLATILE_FIELDS or name in ignored:
            continue
        old, new = previous.get(name), current.get(name)
        if _norm(old) == _norm(new):
            continue
        if is_sensitive_field(name):
            old, new = REDACTED, REDACTED
        changes.append(
            Change(field=name, old=old, new=new, timestamp=at, module=module, record_id=record_id)
        )
    return changes


def _section(snapshot: Mapping[str, JsonValue], module: str) -> Mapping[str, JsonValue]:
    value = snapshot.get(module)
    return value if isinstance(value, dict) else {}


def _record_name(record: JsonValue) -> JsonValue:
    if isinstance(record, dict):
        return next((record[k] for k in _NAME_FIELDS if k in record), None)
    return None


def diff_snapshots(
    previous: Mapping[str, JsonValue] | None,
    current: Mapping[str, JsonValue],
    *,
    module: str,
    record_id: str,
    at: datetime | None,
) -> list[Change]:
    """The changes from ``previous`` to ``current`` (two :func:`snapshot_of` dicts).

    Top-level fields are changes of (``module``, ``record_id``); the ``Deals`` and
    ``Contacts`` sections give changes of those records, and a record that appears or
    disappears gives one :data:`RECORD_FIELD` change carrying its name. Every change is
    stamped ``at``. With no previous snapshot there is no baseline, hence no changes.
    """
    if previous is None:
        return []
    changes = _fields(
        previous, current, module=module, record_id=record_id, at=at, skip=NESTED_MODULES
    )
    for section in NESTED_MODULES:
        before, after = _section(previous, section), _section(current, section)
        for rid in sorted(set(before) | set(after)):
            old, new = before.get(rid), after.get(rid)
            if old is None or new is None:
                changes.append(
                    Change(
                        field=RECORD_FIELD,
                        old=_record_name(old),
                        new=_record_name(new),
                        timestamp=at,
                        module=section,
                        record_id=rid,
                    )
                )
            elif isinstance(old, dict) and isinstance(new, dict):
                changes += _fields(old, new, module=section, record_id=rid, at=at)
    return changes


def stage_history_changes(deal: Deal) -> list[Change]:
    """Stage, Amount and Closing_Date changes read off consecutive stage-history rows, each
    stamped with the later row's time (oldest first)."""
    changes: list[Change] = []
    rows = [row for row in deal.stage_history if row.changed_at is not None]
    for before, after in itertools.pairwise(rows):
        pairs: Sequence[tuple[str, JsonValue, JsonValue]] = (
            ("Stage", before.stage, after.stage),
            ("Amount", before.amount, after.amount),
            ("Closing_Date", _day(before.closing_date), _day(after.closing_date)),
        )
        for name, old, new in pairs:
            if old is not None and new is not None and _norm(old) != _norm(new):
                changes.append(
                    Change(
                        field=name,
                        old=old,
                        new=new,
                        timestamp=after.changed_at,
                        module="Deals",
                        record_id=deal.id,
                    )
                )
    return changes


def _norm(value: JsonValue) -> str:
    """A comparable form: 210000, 210000.0 and "210000" match; strings are stripped."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, str):
        text = value.strip()
        return repr(float(text)) if _NUMBER.fullmatch(text) else text
    return json.dumps(value, sort_keys=True, default=str)


def change_key(change: Change) -> tuple[str, str, str, str, str]:
    """What makes two changes the same change, whatever their source and timestamp."""
    return (
        change.module or "",
        change.record_id or "",
        change.field.casefold(),
        _norm(change.old),
        _norm(change.new),
    )


def merge_changes(*groups: Iterable[Change]) -> list[Change]:
    """All changes of ``groups`` without duplicates (:func:`change_key`), oldest first.

    When two sources report the same change, the one in the earlier group is kept: pass the
    most precise source (the Zoho timeline) first and the snapshot diff last.
    """
    seen: set[tuple[str, str, str, str, str]] = set()
    merged: list[Change] = []
    for change in itertools.chain.from_iterable(groups):
        key = change_key(change)
        if key not in seen:
            seen.add(key)
            merged.append(change)
    return sorted(merged, key=lambda c: (c.timestamp is None, c.timestamp))


def changes_since(changes: Iterable[Change], since: datetime | None) -> list[Change]:
    """The changes after ``since`` (all when None); undated changes are kept."""
    return [c for c in changes if since is None or c.timestamp is None or c.timestamp > since]


def redact_change(change: Change) -> Change:
    """``change`` with its values redacted when the field (or a nested key) is sensitive."""
    if is_sensitive_field(change.field):
        return change.model_copy(update={"old": REDACTED, "new": REDACTED})
    old, new = redact(change.old), redact(change.new)
    if old == change.old and new == change.new:
        return change
    return change.model_copy(update={"old": old, "new": new})
