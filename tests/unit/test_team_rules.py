"""The pure pieces of team mode's workers: the schedule, the owners' order, the retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from procrastinate.jobs import Job

from sergas_tui.domain import Account, Owner
from sergas_tui.errors import (
    ConfigError,
    CrmAuthError,
    CrmServerError,
    SecretError,
    StorageError,
)
from sergas_tui.team.cron import machine_zone, parse_schedule
from sergas_tui.team.owners import OwnerToReview, owners_from_accounts, pick_owners, review_order
from sergas_tui.team.review_job import RETRY_ATTEMPTS, ReviewRetry
from sergas_tui.team.scheduling import ScheduleReport, review_lock
from sergas_tui.team.stalled import heartbeat_interval, poll_interval, retry_bound

MADRID = ZoneInfo("Europe/Madrid")


# -- the schedule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("every morning", "is not a cron expression of five fields"),
        ("0 6 * *", "five fields"),
        ("0 6 * * * *", "five fields"),
        ("61 6 * * *", "'61 6 * * *' is not a cron expression"),
        ("", "five fields"),
    ],
)
def test_a_bad_cron_is_a_config_error_that_shows_an_example(cron: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(cron, "UTC")
    assert fragment in caught.value.message
    assert "'0 6 * * *' is 06:00 every day" in caught.value.message
    assert caught.value.exit_code == 2


def test_an_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not a time zone"):
        parse_schedule("0 6 * * *", "Mars/Olympus")


@pytest.mark.parametrize(
    ("now_utc", "expected_local"),
    [
        # Winter (UTC+1): 06:00 in Madrid is 05:00 UTC.
        (datetime(2026, 1, 10, 4, 0, tzinfo=UTC), datetime(2026, 1, 10, 6, 0, tzinfo=MADRID)),
        # Summer (UTC+2): 04:00 UTC.
        (datetime(2026, 7, 10, 3, 0, tzinfo=UTC), datetime(2026, 7, 10, 6, 0, tzinfo=MADRID)),
        # The morning the clocks go forward (29 March 2026): still 06:00 local.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 6, 0, tzinfo=MADRID)),
    ],
)
def test_the_cron_is_read_in_its_time_zone(now_utc: datetime, expected_local: datetime) -> None:
    schedule = parse_schedule("0 6 * * *", "Europe/Madrid")
    upcoming = schedule.next_after(now_utc)
    assert upcoming == expected_local
    assert upcoming.astimezone(MADRID).hour == 6


def test_a_scheduled_time_is_due_until_the_catch_up_window_closes() -> None:
    schedule = parse_schedule("0 6 * * *", "Europe/Madrid")
    slot = datetime(2026, 1, 10, 6, 0, tzinfo=MADRID)
    hour = timedelta(hours=1)
    assert schedule.due(slot, within=hour) == slot
    assert schedule.due(slot + timedelta(minutes=59), within=hour) == slot
    assert schedule.due(slot + hour, within=hour) is None
    assert schedule.due(slot - timedelta(seconds=1), within=hour) is None  # not yet
    assert schedule.latest_at(slot - timedelta(seconds=1)) == slot - timedelta(days=1)


def test_the_machine_zone_comes_from_tz_then_localtime(tmp_path: Path) -> None:
    zone, name = machine_zone({"TZ": ":Europe/Madrid"}, tmp_path / "none")
    assert (zone, name) == (MADRID, "Europe/Madrid")
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/New_York")
    zone, name = machine_zone({}, link)
    assert name == "America/New_York"
    zone, name = machine_zone({"TZ": "Not/AZone"}, tmp_path / "none")
    assert name.startswith("UTC+") or name.startswith("UTC-")


# -- owners and their order ---------------------------------------------------------------

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _account(n: int, email: str, name: str | None, moved: datetime | None) -> Account:
    return Account(
        id=str(n),
        name=f"Account {n}",
        owner=Owner(id=email, name=name, email=email),
        modified_time=moved,
    )


def test_owners_count_accounts_moved_since_their_last_good_review() -> None:
    accounts = [
        _account(1, "ana@x.test", "Ana Wong", T0 + timedelta(hours=1)),  # changed
        _account(2, "ana@x.test", "Ana Wong", T0 - timedelta(days=1)),
        _account(3, "Bo@x.test", "Bo Li", T0 - timedelta(days=1)),
        _account(4, "cy@x.test", None, None),
        Account(id="5", name="Orphan"),  # no owner: nobody to review
    ]
    last = {"ana@x.test": T0, "bo@x.test": T0}  # keyed lower-case; cy never reviewed
    owners = {o.email: o for o in owners_from_accounts(accounts, last)}
    assert set(owners) == {"ana@x.test", "Bo@x.test", "cy@x.test"}
    assert (owners["ana@x.test"].accounts, owners["ana@x.test"].changed_accounts) == (2, 1)
    assert owners["ana@x.test"].changed
    assert not owners["Bo@x.test"].changed
    assert owners["cy@x.test"].changed  # never reviewed
    assert owners["ana@x.test"].label() == "Ana Wong <ana@x.test>"
    assert owners["cy@x.test"].label() == "cy@x.test"


def _owner(email: str, accounts: int, changed: int, last: datetime | None) -> OwnerToReview:
    return OwnerToReview(email, email.split("@")[0].title(), accounts, changed, last)


def test_changed_owners_go_first_then_the_least_recently_reviewed() -> None:
    owners = [
        _owner("quiet-old@x.test", 50, 0, T0 - timedelta(days=3)),
        _owner("quiet-new@x.test", 50, 0, T0),
        _owner("busy@x.test", 50, 9, T0),
        _owner("new@x.test", 4, 0, None),  # never reviewed: all 4 accounts count as changed
        _owner("some@x.test", 50, 2, T0),
        _owner("also-busy@x.test", 10, 9, T0),
    ]
    assert [o.email for o in review_order(owners)] == [
        "also-busy@x.test",
        "busy@x.test",
        "new@x.test",
        "some@x.test",
        "quiet-old@x.test",
        "quiet-new@x.test",
    ]


def test_picking_owners_by_address_ignores_case_and_names_the_unknown() -> None:
    known = [_owner("ana@x.test", 3, 0, T0), _owner("bo@x.test", 3, 0, T0)]
    found, missing = pick_owners(known, ["BO@x.test", "nobody@x.test", "bo@x.test"])
    assert [o.email for o in found] == ["bo@x.test"]
    assert missing == ["nobody@x.test"]


def test_an_owners_lock_ignores_case() -> None:
    assert review_lock("Ana@X.test") == review_lock("ana@x.test") == "sergas-review:ana@x.test"


def test_the_schedule_report_says_what_was_queued_and_what_was_not() -> None:
    ana, bo, cy = (_owner(f"{n}@x.test", 3, 1, T0) for n in ("ana", "bo", "cy"))
    report = ScheduleReport(1, owners=[ana, bo, cy], queued=[ana])
    report.skipped = [(bo, "already queued"), (cy, "being reviewed now")]
    assert report.text() == (
        "Queued 1 of 3 owners' reviews: 3 with changed accounts (or never reviewed) go first; "
        "1 already queued; 1 being reviewed now."
    )
    assert ScheduleReport(2).text() == "Queued 0 of 0 owners' reviews."


# -- retries ------------------------------------------------------------------------------


def _job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="sergas-reviews",
        lock=None,
        queueing_lock=None,
        task_name="sergas.review_owner",
        attempts=attempts,
    )


def test_a_failed_review_is_retried_with_growing_waits_then_given_up() -> None:
    retry = ReviewRetry()
    error = CrmServerError("Zoho answered 500", status_code=500)
    waits = []
    for attempts in range(RETRY_ATTEMPTS - 1):
        before = datetime.now(UTC)
        decision = retry.get_retry_decision(exception=error, job=_job(attempts))
        assert decision is not None
        assert decision.retry_at is not None
        waits.append(round((decision.retry_at - before).total_seconds()))
    assert waits == [34, 46, 94]
    assert retry.get_retry_decision(exception=error, job=_job(RETRY_ATTEMPTS - 1)) is None


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad"),
        SecretError("missing"),
        CrmAuthError("refresh token revoked", status_code=401),
    ],
)
def test_what_another_attempt_cannot_cure_is_not_retried(error: Exception) -> None:
    assert ReviewRetry().get_retry_decision(exception=error, job=_job(0)) is None


def test_a_database_that_stayed_locked_is_tried_again() -> None:
    locked = StorageError("The memory file failed: database is locked.", title="Memory error")
    assert ReviewRetry().get_retry_decision(exception=locked, job=_job(0)) is not None


@pytest.mark.parametrize(
    ("stalled_after", "heartbeat", "poll", "bound"),
    [(30.0, 10.0, 5.0, 45.0), (6.0, 2.0, 2.0, 10.0), (300.0, 100.0, 5.0, 405.0)],
)
def test_a_killed_workers_job_runs_again_within_a_known_bound(
    stalled_after: float, heartbeat: float, poll: float, bound: float
) -> None:
    assert heartbeat_interval(stalled_after) == heartbeat
    assert poll_interval(stalled_after) == poll
    assert retry_bound(stalled_after) == bound
