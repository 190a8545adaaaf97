"""The Data Scout against a stub gateway: grouping, call budgets, failures, redaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from sergas_tui.agents.scout import DataScout, group_batch
from sergas_tui.clock import FixedClock
from sergas_tui.config import SignalSettings
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.domain import (
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
from sergas_tui.domain.changes import snapshot_of
from sergas_tui.domain.redaction import REDACTED
from sergas_tui.errors import CrmServerError
from sergas_tui.storage import Repository

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ANA = Owner(id="u1", name="Ana", email="ana@example.test")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class StubGateway:
    """Answers stage-history and timeline reads from dicts and records every call."""

    histories: dict[str, list[StageChange]] = field(default_factory=dict)
    timelines: dict[tuple[str, str], list[Change]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        self.calls.append(("history", deal_id))
        if deal_id in self.failing:
            raise CrmServerError("boom", status_code=500)
        return self.histories.get(deal_id, [])

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        self.calls.append((module, record_id))
        return self.timelines.get((module, record_id), [])


def straddling(did: str, amount: float, account_id: str = "A1") -> Deal:
    """An open deal whose stall cannot be decided without its stage history."""
    return Deal(id=did, name=f"Deal {did}", stage="Negotiation/Review", amount=amount,
                account_id=account_id, created_time=ago(90), modified_time=ago(10),
                next_step="Call")  # fmt: skip


def batch(**records: Any) -> SyncBatch:
    records.setdefault(
        "accounts",
        [
            Account(
                id="A1", name="Acme", owner=ANA, created_time=ago(900), last_activity_time=ago(1)
            )
        ],
    )
    # A call yesterday: the account is not quiet, so no read is spent on dating a touch.
    records.setdefault(
        "activities",
        [Activity(id="K1", kind="call", subject="Check-in", when=ago(1),
                  what=Link(id="A1", module="Accounts"))],
    )  # fmt: skip
    return SyncBatch(
        owner_email=ANA.email, modified_since=None, fetched_at=NOW, full=True, **records
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.open(tmp_path / "ws.sqlite", clock=FixedClock(NOW))


def scout_with(gateway: StubGateway, repo: Repository, **kw: Any) -> DataScout:
    return DataScout(cast(CrmReader, gateway), repo, SignalSettings(), FixedClock(NOW), **kw)


def test_group_batch_attributes_records_to_accounts() -> None:
    grouped = group_batch(
        batch(
            accounts=[Account(id="A1", name="Acme"), Account(id="A2", name="Beta")],
            deals=[Deal(id="D1", name="d", account_id="A2"),
                   Deal(id="D9", name="x", account_id="Z")],
            contacts=[Contact(id="C1", name="c", account_id="A1")],
            activities=[
                Activity(id="T1", kind="task", subject="s", what=Link(id="D1", module="Deals")),
                Activity(id="T2", kind="call", subject="s", who=Link(id="C1", module="Contacts")),
                Activity(id="T3", kind="call", subject="s", what=Link(id="A1", module="Accounts")),
                Activity(id="T4", kind="call", subject="s", what=Link(id="D9", module="Deals")),
            ],
            notes=[
                Note(id="N1", parent=Link(id="D1", module="Deals")),
                Note(id="N2", parent=Link(id="C1", module="Contacts")),
                Note(id="N3", parent=None),
            ],
        )
    )  # fmt: skip
    assert {k: [a.id for a in b.activities] for k, b in grouped.items()} == {
        "A1": ["T2", "T3"],
        "A2": ["T1"],
    }
    assert {k: [n.id for n in b.notes] for k, b in grouped.items()} == {"A1": ["N2"], "A2": ["N1"]}
    assert [d.id for d in grouped["A2"].deals] == ["D1"]


async def test_stage_history_budget_goes_to_the_biggest_deals(repo: Repository) -> None:
    deals = [straddling(f"D{i}", amount) for i, amount in enumerate([10, 500, 30, 400, 20])]
    certain = Deal(id="DX", name="old", stage="Negotiation/Review", amount=9_999_999,
                   account_id="A1", created_time=ago(200), modified_time=ago(100))  # fmt: skip
    history = [StageChange(stage="Negotiation/Review", changed_at=ago(45))]
    gateway = StubGateway(histories={"D1": history, "D3": history})
    scout = scout_with(gateway, repo)
    (facts,) = await scout.scout(batch(deals=[*deals, certain]), previous={},
                                 stage_history_budget=2)  # fmt: skip
    assert gateway.calls == [("history", "D1"), ("history", "D3")]
    assert scout.last_run is not None
    assert scout.last_run.stage_history_calls == 2
    assert sorted(scout.last_run.undecided_deals) == ["D0", "D2", "D4"]
    stalled = {e.id for s in facts.signals if s.key == "stalled_in_stage" for e in s.evidence}
    assert stalled == {"D1", "D3", "DX"}  # the certainly stalled one needed no call


async def test_failed_reads_are_counted_not_fatal(repo: Repository) -> None:
    gateway = StubGateway(failing={"D1"})
    scout = scout_with(gateway, repo)
    facts = await scout.scout(batch(deals=[straddling("D1", 5)]), previous={})
    assert len(facts) == 1
    assert scout.last_run is not None
    assert scout.last_run.failed_calls == 1
    assert scout.last_run.undecided_deals == ["D1"]


async def test_contact_timelines_find_sponsor_changes_and_are_redacted(repo: Repository) -> None:
    changed = Contact(id="C1", name="Dana", account_id="A1", created_time=ago(900),
                      modified_time=ago(20))  # fmt: skip
    quiet = Contact(id="C2", name="Lee", account_id="A1", created_time=ago(900),
                    modified_time=ago(900))  # fmt: skip
    timeline = [
        Change(field="Contact_Role", old="Executive Sponsor", new="Influencer",
               timestamp=ago(20), module="Contacts", record_id="C1"),
        Change(field="Tax_ID", old="12-3456789", new="98-7654321", timestamp=ago(20),
               module="Contacts", record_id="C1"),
    ]  # fmt: skip
    gateway = StubGateway(timelines={("Contacts", "C1"): timeline})
    scout = scout_with(gateway, repo, timeline_budget=5)
    (facts,) = await scout.scout(batch(contacts=[changed, quiet]), previous={})
    assert gateway.calls == [("Contacts", "C1")]
    assert [s.key for s in facts.signals] == ["executive_sponsor_change"]
    tax = [c for c in facts.changes if c.field == "Tax_ID"]
    assert [(c.old, c.new) for c in tax] == [(REDACTED, REDACTED)]
    assert "12-3456789" not in facts.model_dump_json()


async def test_timeline_budget_caps_calls(repo: Repository) -> None:
    contacts = [Contact(id=f"C{i}", name="x", account_id="A1", created_time=ago(900),
                        modified_time=ago(i + 1)) for i in range(5)]  # fmt: skip
    gateway = StubGateway()
    scout = scout_with(gateway, repo, timeline_budget=3)
    await scout.scout(batch(contacts=contacts), previous={})
    assert gateway.calls == [("Contacts", "C0"), ("Contacts", "C1"), ("Contacts", "C2")]


async def test_previous_snapshots_come_from_the_repository(repo: Repository) -> None:
    deal = Deal(id="D1", name="d", stage="Qualification", amount=100.0, account_id="A1",
                created_time=ago(5), modified_time=ago(1))  # fmt: skip
    account = batch().accounts[0]
    repo.save_snapshot("A1", "ana@example.test", snapshot_of(account, [deal], []))
    grown = deal.model_copy(update={"amount": 150.0})
    scout = scout_with(StubGateway(), repo)
    (facts,) = await scout.scout(batch(deals=[grown]))
    assert [(c.field, c.old, c.new) for c in facts.changes] == [("Amount", 100.0, 150.0)]
    assert facts.report.changes_detected
    assert scout.last_run is not None
    # The snapshot also keeps the last customer touch (not compared), for the Quiet column.
    quiet = facts.account.quiet
    assert quiet is not None
    touch = quiet.touch
    assert touch is not None
    assert (str(touch.ref), touch.at) == ("zoho:Calls:K1", ago(1))
    assert scout.last_run.snapshots["A1"] == snapshot_of(facts.account, [grown], [])
    assert scout.last_run.snapshots["A1"]["_quiet"] == quiet.model_dump(mode="json")


async def test_a_stage_move_read_for_a_quiet_account_ends_its_silence(repo: Repository) -> None:
    # The last call was 45 days ago; the deal was modified 6 days ago: a stage move may hide
    # there, and only its stage history can date it.
    old_call = Activity(id="K1", kind="call", subject="Check-in", when=ago(45),
                        what=Link(id="A1", module="Accounts"))  # fmt: skip
    moved = Deal(id="D1", name="Moved", stage="Needs Analysis", amount=50.0, account_id="A1",
                 created_time=ago(20), modified_time=ago(6), next_step="Workshop")  # fmt: skip
    edited = Deal(id="D2", name="Old", stage="Qualification", amount=900.0, account_id="A1",
                  created_time=ago(200), modified_time=ago(100))  # fmt: skip
    history = [StageChange(stage="Qualification", changed_at=ago(20)),
               StageChange(stage="Needs Analysis", changed_at=ago(6))]  # fmt: skip
    gateway = StubGateway(histories={"D1": history})
    scout = scout_with(gateway, repo)
    (facts,) = await scout.scout(
        batch(deals=[moved, edited], activities=[old_call]), previous={}, stage_history_budget=8
    )
    assert gateway.calls[0] == ("history", "D1")  # before any stall read, and only D1
    assert ("history", "D2") not in gateway.calls  # modified before the last touch
    assert [s.key for s in facts.signals if s.key.startswith("no_activity")] == []
    quiet = facts.account.quiet
    assert quiet is not None
    touch = quiet.touch
    assert touch is not None
    assert (touch.kind, str(touch.ref)) == ("stage_move", "zoho:Deals:D1#Stage")
    # Without the read the account would count as quiet for 45 days.
    other = scout_with(StubGateway(histories={"D1": history}), repo)
    (blind,) = await other.scout(
        batch(deals=[moved, edited], activities=[old_call]), previous={}, stage_history_budget=0
    )
    assert [s.key for s in blind.signals if s.key.startswith("no_activity")] == [
        "no_activity_critical"
    ]


async def test_no_read_dates_touches_of_an_account_that_is_not_quiet(repo: Repository) -> None:
    recent = Deal(id="D1", name="Recent", stage="Needs Analysis", amount=50.0, account_id="A1",
                  created_time=ago(20), modified_time=ago(6), next_step="Workshop")  # fmt: skip
    gateway = StubGateway()
    scout = scout_with(gateway, repo)
    await scout.scout(batch(deals=[recent]), previous={}, stage_history_budget=8)
    assert gateway.calls == []  # a call yesterday (batch): nothing to date
