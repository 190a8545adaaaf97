"""The incremental review's pure parts: the merge, the watermark, what a deal's stored version
still tells, the scout reading only changed records, and the call tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from sergas_tui.agents.events import RunFinished, RunSummary
from sergas_tui.agents.scout import DataScout
from sergas_tui.agents.scout_fetch import contacts_needing_timeline
from sergas_tui.agents.sync_merge import (
    WATERMARK_MARGIN,
    carry_deal,
    changed_ids,
    merge_changes,
    merge_full,
    next_watermark,
)
from sergas_tui.clock import FixedClock
from sergas_tui.config import SignalSettings
from sergas_tui.crm.call_tally import ZohoCalls, add_calls, tally_calls
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.domain import Account, Activity, Contact, Deal, Link, Note, Owner, StageChange
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.pipeline import stage_fixed_by, stage_stay
from sergas_tui.storage import Repository
from sergas_tui.storage.read_cache import ReadCache
from sergas_tui.storage.sync_mirror import SyncMirror, SyncState, payload_of
from sergas_tui.viewmodels.review import ReviewProgress

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)
ANA = Owner(id="u1", name="Ana", email="ana@example.test")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def account(aid: str, created: datetime | None = None, **kw: Any) -> Account:
    return Account(id=aid, name=f"Account {aid}", owner=ANA, created_time=created or ago(400), **kw)


def deal(did: str, aid: str, modified: datetime, **kw: Any) -> Deal:
    values: dict[str, Any] = {"stage": "Negotiation/Review", "amount": 1000.0, **kw}
    return Deal(id=did, name=f"Deal {did}", account_id=aid, created_time=ago(200),
                modified_time=modified, **values)  # fmt: skip


def changes(**records: Any) -> SyncBatch:
    return SyncBatch(owner_email=None, modified_since=SINCE, fetched_at=NOW, full=False, **records)


def stored() -> dict[str, Bundle]:
    return {
        "A1": Bundle(
            account=account("A1"),
            contacts=[
                Contact(id="C1", name="Cy", account_id="A1", role="Buyer", modified_time=ago(30))
            ],
            deals=[deal("D1", "A1", ago(40)), deal("D2", "A1", ago(40))],
            activities=[
                Activity(id="T1", kind="task", subject="old", what=Link(id="D1", module="Deals"))
            ],
            notes=[
                Note(id="N1", parent=Link(id="A1", module="Accounts"), modified_time=ago(10)),
                Note(id="N2", parent=Link(id="A1", module="Accounts"), modified_time=ago(89)),
            ],
        ),
        "A2": Bundle(account=account("A2")),
    }


def test_an_edit_that_leaves_the_stage_alone_keeps_what_the_old_version_told() -> None:
    old = deal("D1", "A1", ago(40))
    edited = deal("D1", "A1", ago(0.1), next_step="Call on Friday")
    carried = carry_deal(old, edited)
    assert carried.stage_fields_since == ago(40)
    assert stage_fixed_by(carried) == ago(40)
    stay = stage_stay(carried)
    assert stay is not None
    assert stay.latest == ago(40)  # entered the stage 40 days ago at the latest
    # And the next edit still knows it.
    assert carry_deal(carried, deal("D1", "A1", ago(0.01))).stage_fields_since == ago(40)
    # A new stage, amount or closing date: only the new Modified_Time bounds it.
    moved = deal("D1", "A1", ago(0.1), stage="Closed Won")
    assert carry_deal(old, moved).stage_fields_since is None
    assert carry_deal(old, deal("D1", "A1", ago(0.1), amount=900.0)).stage_fields_since is None
    assert carry_deal(None, edited).stage_fields_since is None


def test_changes_merge_into_the_stored_records() -> None:
    merged = merge_changes(
        stored(),
        changes(
            accounts=[account("A1", description="new"), account("A3", created=ago(0.2))],
            deals=[
                deal("D2", "A2", ago(0.1)),  # moved to another account, stage as before
                deal("D3", "A3", ago(0.2)),
            ],
            contacts=[Contact(id="C1", name="Cy", account_id="A1", role="Buyer", title="VP",
                              modified_time=ago(0.1))],
            activities=[
                Activity(id="T2", kind="call", subject="new", what=Link(id="D2"),
                         created_time=ago(0.1)),
                Activity(id="T9", kind="call", subject="elsewhere", what=Link(id="Z9")),
            ],
            notes=[Note(id="N3", parent=Link(id="D3"), modified_time=ago(0.1))],
        ),
        history_days=88,
    )  # fmt: skip
    assert not isinstance(merged, str)
    bundles = merged.bundles
    assert list(bundles) == ["A1", "A2", "A3"]
    assert bundles["A1"].account.description == "new"
    assert [d.id for d in bundles["A1"].deals] == ["D1"]
    assert [d.id for d in bundles["A2"].deals] == ["D2"]
    assert bundles["A2"].deals[0].stage_fields_since == ago(40)
    assert [c.title for c in bundles["A1"].contacts] == ["VP"]
    # The new call on D2 lands on D2's (new) account, with its module now known.
    assert [(a.id, a.what and a.what.module) for a in bundles["A2"].activities] == [("T2", "Deals")]
    assert bundles["A2"].account.last_activity_time == ago(0.1)
    assert [n.id for n in bundles["A3"].notes] == ["N3"]
    # Notes older than the window go; records of no account of the scope are dropped.
    assert [n.id for n in bundles["A1"].notes] == ["N1"]
    assert all(a.id != "T9" for b in bundles.values() for a in b.activities)
    assert merged.touched == {"A1", "A2", "A3"}
    # Cached reads stay valid for the moved deal (stage unchanged) and the contact (role).
    assert ("stage_history", "D2", ago(40), ago(0.1)) in merged.moves
    assert ("timeline:Contacts", "C1", ago(30), ago(0.1)) not in merged.moves  # title changed
    assert bundles["A1"].contacts[0].role_fields_since is None


def test_an_edit_that_leaves_a_contacts_role_alone_needs_no_timeline() -> None:
    edited = Contact(id="C1", name="Cy", account_id="A1", role="Buyer", phone="555",
                     created_time=ago(300), modified_time=ago(0.1))  # fmt: skip
    merged = merge_changes(stored(), changes(contacts=[edited]), history_days=90)
    assert not isinstance(merged, str)
    [contact] = merged.bundles["A1"].contacts
    assert contact.role_fields_since == ago(30)
    assert ("timeline:Contacts", "C1", ago(30), ago(0.1)) in merged.moves
    # Modified within the sponsor window, but its role was already what it is 30 days ago.
    settings = SignalSettings(sponsor_change_days=14)
    assert contacts_needing_timeline(merged.bundles.values(), settings, NOW) == []
    assert contacts_needing_timeline([Bundle(account("A1"), contacts=[edited])], settings, NOW)


def test_an_older_account_the_stored_records_lack_asks_for_a_full_sync() -> None:
    arrived = changes(accounts=[account("A9", created=ago(300))])
    reason = merge_changes(stored(), arrived, history_days=90)
    assert isinstance(reason, str)
    assert "moved to this owner" in reason


def test_a_full_sync_replaces_the_records_and_keeps_what_deals_told() -> None:
    full = SyncBatch(
        owner_email=None,
        modified_since=None,
        fetched_at=NOW,
        full=True,
        accounts=[account("A1")],
        deals=[deal("D1", "A1", ago(0.1), next_step="x")],
    )
    merged = merge_full(stored(), full)
    assert list(merged.bundles) == ["A1"]  # A2 is gone (deleted, or another owner's now)
    assert merged.bundles["A1"].deals[0].stage_fields_since == ago(40)
    assert merged.touched == {"A1"}


def test_the_watermark_trails_the_crms_latest_stamp_and_never_goes_back() -> None:
    batch = changes(
        accounts=[account("A1", modified_time=NOW - timedelta(hours=2))],
        notes=[Note(id="N1", modified_time=NOW - timedelta(hours=1))],
    )
    assert next_watermark(batch, None) == NOW - timedelta(hours=1) - WATERMARK_MARGIN
    # A CRM clock ahead of ours: our start bounds it.
    ahead = changes(accounts=[account("A1", modified_time=NOW + timedelta(hours=3))])
    assert next_watermark(ahead, None) == NOW - WATERMARK_MARGIN
    # Nothing read: stay where we were; and never move back.
    assert next_watermark(changes(), SINCE) == SINCE
    assert next_watermark(batch, NOW) == NOW
    assert changed_ids(batch) == {"A1", "N1"}


@dataclass
class StubGateway:
    histories: dict[str, list[StageChange]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        self.calls.append(deal_id)
        return self.histories.get(deal_id, [])

    async def get_timeline(self, module: str, record_id: str) -> list[Any]:
        self.calls.append(f"{module}:{record_id}")
        return []


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.open(tmp_path / "ws.sqlite", clock=FixedClock(NOW))


async def test_an_incremental_review_reads_only_changed_records(repo: Repository) -> None:
    # Three deals whose stall the scout cannot decide without their history: one changed
    # since the last review, one unchanged with a cached read, one unchanged never read.
    undecided = [deal(d, "A1", ago(10)) for d in ("D1", "D2", "D3")]
    ReadCache(repo).save(
        "stage_history",
        [("D2", ago(10), [StageChange(stage="Negotiation/Review",
                                      changed_at=ago(50)).model_dump(mode="json")])],
        NOW,
    )  # fmt: skip
    entered = StageChange(stage="Negotiation/Review", changed_at=ago(12))
    gateway = StubGateway(histories={"D1": [entered], "D3": [entered]})
    scout = DataScout(cast(CrmReader, gateway), repo, SignalSettings(), FixedClock(NOW))
    call = Activity(id="K1", kind="call", subject="hi", when=ago(1), what=Link(id="A1"))
    merged = SyncBatch(
        owner_email=None,
        modified_since=SINCE,
        fetched_at=NOW,
        full=False,
        accounts=[account("A1", last_activity_time=ago(1))],
        deals=undecided,
        activities=[call],
        changed=frozenset({"D1"}),
    )
    (facts,) = await scout.scout(merged, previous={})
    assert gateway.calls == ["D1"]
    assert scout.last_run is not None
    assert scout.last_run.undecided_deals == ["D3"]  # waits for a full review
    assert [bool(d.stage_history) for d in facts.deals] == [True, True, False]


def test_the_mirror_stores_what_changed_and_drops_what_a_full_sync_lost(
    repo: Repository,
) -> None:
    mirror = SyncMirror(repo)
    state = SyncState(scope="*", since=SINCE, full_at=NOW, synced_at=NOW, history_days=90)
    bundles = stored()
    assert mirror.save(state, bundles, stored={}, complete=True, fetched_at=NOW) == 2
    loaded = mirror.load("*")
    assert loaded.state == state
    assert list(loaded.bundles) == ["A1", "A2"]
    assert payload_of(loaded.bundles["A1"]) == loaded.payloads["A1"]
    # Unchanged rows are not written again; a complete save drops accounts no longer there.
    written = mirror.save(
        state, {"A1": bundles["A1"]}, stored=loaded.payloads, complete=True, fetched_at=NOW
    )
    assert written == 1
    assert list(mirror.load("*").bundles) == ["A1"]
    assert mirror.load("someone@example.test").state is None
    # Cached reads follow a record to its new version.
    cache = ReadCache(repo)
    cache.save("stage_history", [("D1", ago(40), [])], NOW)
    assert mirror.rekey([("stage_history", "D1", ago(40), ago(1))]) == 1
    assert cache.fresh("stage_history", {"D1": ago(1)}) == {"D1": []}


def test_calls_are_tallied_by_kind_inside_the_block_only() -> None:
    add_calls("get_stage_history", 5)  # no tally open: nowhere to go
    with tally_calls() as outer:
        add_calls("sync", 8)
        with tally_calls() as inner:
            add_calls("get_stage_history", 2)
            add_calls("get_fields", 1)
            add_calls("get_account_details", 1)
        add_calls("create_task", 1)
    assert inner.counts() == ZohoCalls(stage_history=2, metadata=1, reads=1)
    assert outer.counts() == ZohoCalls(sync=8, stage_history=2, metadata=1, reads=1, writes=1)
    assert outer.counts().total == 13
    assert outer.counts().text() == (
        "13 (sync 8, stage history 2, metadata 1, other reads 1, writes 1)"
    )
    assert ZohoCalls().text() == "0"


def test_the_review_screen_says_what_the_run_cost_in_zoho_calls() -> None:
    progress = ReviewProgress()
    progress.begin("ana@example.test", NOW)
    calls = ZohoCalls(sync=8, stage_history=1)
    summary = RunSummary(accounts=3, calls=calls.total, zoho_calls=calls, sync="changes since")
    progress.apply(RunFinished("run-1", summary, ()), NOW)
    assert progress.note == "Review finished · Zoho API calls: 9 (sync 8, stage history 1)"
