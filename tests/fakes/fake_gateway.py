"""An in-memory ``CrmGateway`` with a small fixed org; it records every write it performs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import JsonValue

from sergas_tui.crm.gateway import CLOSED_STAGES, SyncBatch
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Change,
    Contact,
    Deal,
    Link,
    Note,
    Owner,
    StageChange,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import CrmError

BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)

ANA = Owner(id="u1", name="Ana Owner", email="ana@sergas.example")
BEN = Owner(id="u2", name="Ben Owner", email="ben@sergas.example")


@dataclass
class FakeGateway:
    """A few accounts, deals, activities and notes; writes go to ``writes`` and the records."""

    users: list[Owner] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    activities: dict[str, list[Activity]] = field(default_factory=dict)
    notes: dict[str, list[Note]] = field(default_factory=dict)
    timeline: dict[tuple[str, str], list[Change]] = field(default_factory=dict)
    writes: list[tuple[str, Any]] = field(default_factory=list)
    approvals: list[WriteApproval] = field(default_factory=list)
    fail_next_write: CrmError | None = None
    fields: dict[str, ModuleFields] = field(default_factory=dict)
    """Field metadata by module; a module not here is unknown metadata."""
    fields_error: CrmError | None = None
    """Raised by every ``get_fields`` (a token without the settings scope, say)."""
    fields_calls: int = 0
    closed: bool = False
    _next_id: int = 9000

    @classmethod
    def seeded(cls) -> FakeGateway:
        acme = Account(
            id="1001",
            name="Acme Energy",
            owner=ANA,
            industry="Energy",
            annual_revenue=12_500_000.0,
            rating="Warm",
            last_activity_time=BASE - timedelta(days=40),
            modified_time=BASE,
        )
        globex = Account(
            id="1002",
            name="Globex Logistics",
            owner=ANA,
            industry="Logistics",
            modified_time=BASE + timedelta(days=3),
        )
        initech = Account(id="1003", name="Initech", owner=BEN, industry="Software")
        deals = [
            Deal(
                id="2001",
                name="Acme turbine retrofit",
                stage="Negotiation",
                amount=480_000.0,
                closing_date=date(2026, 12, 15),
                account_id="1001",
                owner=ANA,
                stage_history=[StageChange(stage="Qualification", changed_at=BASE)],
            ),
            Deal(id="2002", name="Acme service", stage="Closed Won", account_id="1001", owner=ANA),
            Deal(id="2003", name="Initech seats", stage="Proposal", account_id="1003", owner=BEN),
        ]
        activities = {
            "1001": [
                Activity(id="3001", kind="task", subject="Send proposal", when=BASE, owner=ANA),
                Activity(
                    id="3002",
                    kind="call",
                    subject="Kick-off call",
                    when=BASE - timedelta(days=50),
                    owner=ANA,
                ),
            ]
        }
        notes = {
            "1001": [
                Note(
                    id="4001",
                    title="Budget",
                    content="Budget approved for Q1. [bold]not markup[/bold]",
                    parent=Link(id="1001", name="Acme Energy", module="Accounts"),
                    created_time=BASE,
                )
            ]
        }
        timeline = {
            ("Accounts", "1001"): [
                Change(field="Rating", old="Hot", new="Warm", timestamp=BASE),
                Change(field="Tax_ID", old="111-22", new="333-44", timestamp=BASE),
            ]
        }
        return cls(
            users=[ANA, BEN],
            accounts={a.id: a for a in (acme, globex, initech)},
            contacts=[Contact(id="5001", name="Carla Contact", account_id="1001")],
            deals=deals,
            activities=activities,
            notes=notes,
            timeline=timeline,
        )

    # --- reads --------------------------------------------------------------------------------

    def _owned(self, owner_email: str | None) -> list[Account]:
        return [
            a
            for a in self.accounts.values()
            if owner_email is None or (a.owner is not None and a.owner.email == owner_email)
        ]

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        return [
            a
            for a in self._owned(owner_email)
            if modified_since is None
            or (a.modified_time is not None and a.modified_time >= modified_since)
        ]

    async def get_account_details(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        word = query.casefold()
        found = [
            a
            for a in self.accounts.values()
            if word in a.name.casefold() or word in (a.industry or "").casefold()
        ]
        return found[:limit]

    async def get_deals(self, account_id: str) -> list[Deal]:
        return [d for d in self.deals if d.account_id == account_id]

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        return [
            d
            for d in self.deals
            if d.stage not in CLOSED_STAGES
            and (owner_email is None or (d.owner is not None and d.owner.email == owner_email))
        ]

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        return [
            a
            for a in self.activities.get(account_id, [])
            if a.kind in kinds and (since is None or (a.when is not None and a.when >= since))
        ]

    async def get_notes(self, account_id: str) -> list[Note]:
        return list(self.notes.get(account_id, []))

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        if email is None:
            return self.users[0]
        return next((u for u in self.users if u.email == email), None)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        deal = next((d for d in self.deals if d.id == deal_id), None)
        return [] if deal is None else list(deal.stage_history)

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        return list(self.timeline.get((module, record_id), []))

    async def get_fields(self, module: str) -> ModuleFields:
        self.fields_calls += 1
        if self.fields_error is not None:
            raise self.fields_error
        found = self.fields.get(module)
        return found or ModuleFields.unknown_for(module, "the fake has no field metadata")

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        accounts = await self.get_accounts(owner_email, modified_since)
        ids = {a.id for a in accounts}
        return SyncBatch(
            owner_email=owner_email,
            modified_since=modified_since,
            fetched_at=BASE + timedelta(days=30),
            full=modified_since is None,
            users=list(self.users),
            accounts=accounts,
            contacts=[c for c in self.contacts if c.account_id in ids],
            deals=[d for d in self.deals if d.account_id in ids],
            activities=[a for i in ids for a in self.activities.get(i, [])],
            notes=[n for i in ids for n in self.notes.get(i, [])],
            calls=4,
        )

    # --- writes -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _maybe_fail(self) -> None:
        if self.fail_next_write is not None:
            err, self.fail_next_write = self.fail_next_write, None
            raise err

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        self._maybe_fail()
        self.approvals.append(approval)
        self.writes.append(("update_account", (account_id, dict(changes))))
        return WriteResult(
            module="Accounts", record_id=account_id, action="updated", modified_time=BASE
        )

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        self._maybe_fail()
        self.approvals.append(approval)
        self.writes.append(("create_task", task))
        return WriteResult(module="Tasks", record_id=self._new_id(), action="created")

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        self._maybe_fail()
        self.approvals.append(approval)
        self.writes.append(("add_note", note))
        return WriteResult(module="Notes", record_id=self._new_id(), action="created")

    async def aclose(self) -> None:
        self.closed = True
