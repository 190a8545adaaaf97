"""Plain data shared by the demo generator and the demo store.

The generator builds a :class:`DemoOrg` in memory; :class:`~sergas_tui.demo.store.DemoStore`
persists it. Keeping the hand-off a value makes the generator testable without SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonDict = dict[str, Any]

FORMAT_VERSION = 1

# Every module the demo org holds, in the order they are listed and counted.
MODULES: tuple[str, ...] = (
    "Users",
    "Accounts",
    "Contacts",
    "Deals",
    "Stage_History",
    "Tasks",
    "Events",
    "Calls",
    "Notes",
)

# Risk scenarios: each key names one account owned by the local user.
SCENARIO_KEYS: tuple[str, ...] = (
    "stalled_negotiation",
    "exec_sponsor_changed",
    "no_activity_35d",
    "close_date_pushed_twice",
    "amount_cut",
    "single_threaded",
    "renewal_declining_sentiment",
    "healthy_expansion",
)

# Hostile-content accounts (also owned by the local user) that exercise rendering and safety.
HOSTILE_KEYS: tuple[str, ...] = (
    "hostile_markup",
    "hostile_ansi",
    "hostile_injection",
    "hostile_huge_note",
    "hostile_unicode",
    "hostile_sparse",
)

# Accounts that pin what "quiet" means (a customer touch), also owned by the local user; generated
# after every other account so that adding them changed nothing else.
TOUCH_KEYS: tuple[str, ...] = (
    "own_task_only",
    "deal_won_recently",
    "stage_move_recently",
    "completed_call_recently",
)

# Signal keys the scenarios promise; the signal engine is expected to use the same strings.
SIGNAL_STALLED = "stalled_in_stage"
SIGNAL_SPONSOR_CHANGE = "executive_sponsor_change"
SIGNAL_NO_ACTIVITY = "no_activity_critical"
SIGNAL_CLOSE_DATE_PUSHED = "close_date_pushed"
SIGNAL_AMOUNT_DECREASED = "amount_decreased"
SIGNAL_SINGLE_THREADED = "single_threaded"
SIGNAL_DECLINING_SENTIMENT = "renewal_declining_sentiment"


@dataclass(frozen=True)
class DemoInfo:
    """What a demo org was generated from, and who the local user is."""

    seed: int
    accounts: int
    owners: int
    anchor: datetime
    current_user_id: str
    current_user_email: str
    generated_at: datetime


@dataclass(frozen=True)
class Scenario:
    """A named account that exists to make one behaviour (or none) easy to demonstrate."""

    key: str
    account_id: str
    title: str
    description: str
    expected_signals: tuple[str, ...]


@dataclass
class RecordRow:
    """One Zoho record plus the columns the store indexes it by."""

    module: str
    id: str
    account_id: str | None
    owner_id: str | None
    data: JsonDict

    @property
    def created_time(self) -> str:
        for key in ("Created_Time", "created_time", "Modified_Time"):
            value = self.data.get(key)
            if isinstance(value, str):
                return value
        raise ValueError(f"{self.module} record {self.id} has no creation time")

    @property
    def modified_time(self) -> str:
        value = self.data.get("Modified_Time")
        return value if isinstance(value, str) else self.created_time


@dataclass(frozen=True)
class TimelineRow:
    """One Zoho ``__timeline`` entry of a record."""

    module: str
    record_id: str
    audited_time: str
    entry: JsonDict


@dataclass(frozen=True)
class DemoOrg:
    """A complete generated org, ready to be written by the store."""

    info: DemoInfo
    records: list[RecordRow]
    timeline: list[TimelineRow]
    scenarios: list[Scenario]
