"""Domain records: our own snake_case view of CRM data, independent of Zoho's wire format.

Every datetime here is timezone-aware. :class:`RecordRef` is how evidence points at a record;
its string form (``zoho:Accounts:123``) is what goes into a recommendation's
``data_references``, so references can be checked against real records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from sergas_tui.domain.common import Severity, Timestamp, new_id

# Legacy seed references such as "zoho_account_123" name the module in the singular.
_LEGACY_MODULES: Mapping[str, str] = MappingProxyType(
    {
        "account": "Accounts",
        "contact": "Contacts",
        "deal": "Deals",
        "task": "Tasks",
        "event": "Events",
        "call": "Calls",
        "note": "Notes",
    }
)
_REF = re.compile(r"^(?P<system>[a-z]+):(?P<module>[^:#\s]+):(?P<id>[^:#\s]+)(?:#(?P<field>\S+))?$")
_LEGACY_REF = re.compile(r"^zoho_(?P<kind>[a-z]+)_(?P<id>\w+)$")


class RecordRef(BaseModel):
    """A pointer at a record (and optionally one field of it) in some system.

    ``str(ref)`` is stable: ``zoho:Accounts:123`` or ``zoho:Deals:456#Stage``; memory
    references use another system, e.g. ``memory:notes:abc``.
    """

    model_config = ConfigDict(frozen=True)

    system: str = "zoho"
    module: str
    id: str
    field: str | None = None

    def __str__(self) -> str:
        base = f"{self.system}:{self.module}:{self.id}"
        return f"{base}#{self.field}" if self.field else base

    def record(self) -> RecordRef:
        """The same reference without the field part."""
        return self if self.field is None else self.model_copy(update={"field": None})

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        """Parse the stable string form; also accepts the seed's ``zoho_account_123`` style."""
        if match := _REF.match(text.strip()):
            return cls(**{k: v for k, v in match.groupdict().items() if v is not None})
        if (match := _LEGACY_REF.match(text.strip())) and match["kind"] in _LEGACY_MODULES:
            return cls(module=_LEGACY_MODULES[match["kind"]], id=match["id"])
        raise ValueError(f"not a record reference: {text!r}")


class Link(BaseModel):
    """A lookup to another record as shown to people: its id, name and (when known) module."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None
    module: str | None = None

    def ref(self) -> RecordRef | None:
        """The record reference, when the module is known."""
        return RecordRef(module=self.module, id=self.id) if self.module else None


TouchKind = Literal["call", "meeting", "task", "stage_move", "deal_won", "deal_lost"]
"""What kind of customer touch ended an account's silence (see :mod:`.touches`)."""


class Touch(BaseModel):
    """One customer touch: when it happened, what it was and the record that shows it."""

    model_config = ConfigDict(frozen=True)

    at: Timestamp
    kind: TouchKind
    ref: RecordRef
    """The call, meeting, task or deal (``#Stage`` or ``#Closing_Date``) that shows it."""
    label: str
    """How a person names it: ``call 'Contract status'``, ``deal 'X' won``."""


QuietBasis = Literal["touch", "created", "records"]
"""What an account's silence is measured from: its last customer touch; its creation (no
touch ever, and its whole life is on record); the records read (no touch among them, so the
silence is *at least* that long)."""


class Quiet(BaseModel):
    """How long an account has gone without a customer touch: since when, and why we know."""

    model_config = ConfigDict(frozen=True)

    since: Timestamp
    basis: QuietBasis
    touch: Touch | None = None
    """The last customer touch (basis ``touch``)."""

    @property
    def at_least(self) -> bool:
        """True when ``since`` only bounds the silence (no touch on record)."""
        return self.basis == "records"


class Owner(BaseModel):
    """A CRM user who owns records: the account executive."""

    id: str
    name: str | None = None
    email: str | None = None


class Account(BaseModel):
    """A customer account."""

    id: str
    name: str
    owner: Owner | None = None
    industry: str | None = None
    annual_revenue: float | None = None
    account_type: str | None = None
    rating: str | None = None
    employees: int | None = None
    phone: str | None = None
    website: str | None = None
    description: str | None = None
    billing_city: str | None = None
    billing_country: str | None = None
    parent_account: Link | None = None
    last_activity_time: Timestamp | None = None
    """Zoho's stamp, bumped by any task, call or meeting (ours and open ones too): never a
    measure of customer contact (see :mod:`~sergas_tui.domain.touches`)."""
    created_time: Timestamp | None = None
    modified_time: Timestamp | None = None
    quiet: Quiet | None = None
    """Not a CRM field: how long the account had gone without a customer touch when the Data
    Scout reviewed it (:func:`~sergas_tui.domain.touches.quiet_of`); None before a review."""

    def ref(self) -> RecordRef:
        return RecordRef(module="Accounts", id=self.id)


class Contact(BaseModel):
    """A person at an account; ``role`` is their part in the deal (or their title)."""

    id: str
    name: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    department: str | None = None
    role: str | None = None
    account_id: str | None = None
    owner: Owner | None = None
    last_activity_time: Timestamp | None = None
    created_time: Timestamp | None = None
    modified_time: Timestamp | None = None
    role_fields_since: Timestamp | None = None
    """Not a CRM field: the contact's role and title have had their present values at least
    since then (the Modified_Time of the earliest synced version with them, kept by the
    review's sync, :mod:`sergas_tui.agents.incremental`). None when unknown."""

    def ref(self) -> RecordRef:
        return RecordRef(module="Contacts", id=self.id)


class StageChange(BaseModel):
    """One row of a deal's stage history: the stage it entered and when."""

    stage: str
    changed_at: Timestamp | None = None
    changed_by: str | None = None
    amount: float | None = None
    probability: float | None = None
    closing_date: date | None = None


class Deal(BaseModel):
    """A sales opportunity and, when fetched, its stage history (oldest first)."""

    id: str
    name: str
    stage: str | None = None
    amount: float | None = None
    closing_date: date | None = None
    probability: float | None = None
    type: str | None = None
    next_step: str | None = None
    contact: Link | None = None
    account_id: str | None = None
    owner: Owner | None = None
    created_time: Timestamp | None = None
    modified_time: Timestamp | None = None
    last_activity_time: Timestamp | None = None
    stage_history: list[StageChange] = Field(default_factory=list)
    stage_fields_since: Timestamp | None = None
    """Not a CRM field: the deal's Stage, Amount, Probability and Closing_Date have had their
    present values at least since then — the Modified_Time of the earliest synced version with
    these values (kept by the review's sync, :mod:`sergas_tui.agents.incremental`), so later
    edits touched other fields only. None when unknown: Modified_Time is the only bound."""

    def ref(self) -> RecordRef:
        return RecordRef(module="Deals", id=self.id)


ActivityKind = Literal["task", "event", "call"]

ACTIVITY_MODULES: Mapping[ActivityKind, str] = MappingProxyType(
    {"task": "Tasks", "event": "Events", "call": "Calls"}
)
"""The Zoho module of each kind of activity."""


class Activity(BaseModel):
    """A task, event (meeting) or call. ``when`` is when it is due or takes place."""

    id: str
    kind: ActivityKind
    subject: str
    when: Timestamp | None = None
    status: str | None = None
    who: Link | None = None
    what: Link | None = None
    owner: Owner | None = None
    description: str | None = None
    created_time: Timestamp | None = None
    closed_time: Timestamp | None = None
    """When a task was completed (Zoho's ``Closed_Time``); None for open tasks and others."""

    def ref(self) -> RecordRef:
        return RecordRef(module=ACTIVITY_MODULES[self.kind], id=self.id)


class Note(BaseModel):
    """A note attached to a record."""

    id: str
    title: str | None = None
    content: str | None = None
    parent: Link | None = None
    owner: Owner | None = None
    created_time: Timestamp | None = None
    modified_time: Timestamp | None = None

    def ref(self) -> RecordRef:
        return RecordRef(module="Notes", id=self.id)


class Change(BaseModel):
    """A field that changed on a record. The first four fields are the seed's ScoutReport
    ``changes`` item; ``module`` and ``record_id`` say which record when it is not the account."""

    field: str
    old: JsonValue = None
    new: JsonValue = None
    timestamp: Timestamp | None = None
    module: str | None = None
    record_id: str | None = None


SignalValue = str | bool | int | float
"""One figure a signal states: a count of days, an amount, a date (ISO text), a stage name."""


class RiskSignal(BaseModel):
    """Something about an account that needs attention, with the records that show it.

    ``data`` holds the figures the message states (``days_quiet``, ``days_in_stage``,
    ``pushes``, ``old_amount``…, see :mod:`~sergas_tui.domain.signals`): the message is
    rendered from them, and so is every other text that repeats one, so a number is worked
    out once, with one "now".
    """

    key: str
    severity: Severity = "warning"
    message: str
    evidence: list[RecordRef] = Field(default_factory=list)
    data: dict[str, SignalValue] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_data(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A signal without figures keeps the seed's JSON shape (no ``data`` key)."""
        dumped: dict[str, Any] = handler(self)
        if not self.data:
            dumped.pop("data", None)
        return dumped

    def __str__(self) -> str:
        return self.message


SyncStatus = Literal["running", "ok", "partial", "failed"]


class SyncRun(BaseModel):
    """One fetch of CRM data for an owner (``"*"`` for everyone)."""

    id: str = Field(default_factory=new_id)
    owner_email: str = "*"
    started_at: Timestamp
    finished_at: Timestamp | None = None
    modified_since: Timestamp | None = None
    calls: int = 0
    status: SyncStatus = "running"


class Snapshot(BaseModel):
    """The stored state of one account at one moment, compared with the next to find changes."""

    account_id: str
    owner_email: str
    taken_at: Timestamp
    run_id: str | None = None
    content_hash: str
    data: dict[str, JsonValue]
