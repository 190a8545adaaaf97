"""CRM calls made together are audited together (``audit/gateway.py`` ``GroupAppender``).

On a real workspace database: concurrent calls' events land in fewer transactions, in order,
on an intact hash chain; each call returns only once its own event is committed; a failed
group write fails each of its callers (the gateway logs it, the call's result stands); a
cancelled caller's event is still written.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from sergas_tui.audit.gateway import GroupAppender
from sergas_tui.audit.verify import verify_database
from sergas_tui.domain import AuditAction, AuditEvent
from sergas_tui.storage import Repository
from tests.helpers.memory import NOW


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "sergas.db") as repository:
        yield repository


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        timestamp=NOW,
        session_id="run-1",
        agent_name="data_scout",
        action_type=AuditAction.TOOL_INVOCATION,
        tool_name="zoho_get_stage_history",
        tool_inputs={"deal_id": f"d{i}"},
    )


class CountingRepository:
    """The repository, counting group writes and able to hold one until released."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.groups: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail = False

    def append_audit_batch(self, events: Iterable[AuditEvent]) -> int:
        self.entered.set()
        self.hold.wait(30)
        if self.fail:
            raise OSError("disk full")
        count = self.inner.append_audit_batch(events)
        self.groups.append(count)
        return count


def _inputs(repo: Repository) -> list[object]:
    return [e.tool_inputs for e in repo.audit_events(limit=1000)]


async def test_concurrent_events_go_in_groups_in_order_on_an_intact_chain(
    repo: Repository,
) -> None:
    counting = CountingRepository(repo)
    appender = GroupAppender(counting)  # type: ignore[arg-type]
    counting.hold.clear()
    first = asyncio.ensure_future(appender.append(_event(0)))
    await asyncio.to_thread(counting.entered.wait, 30)  # the first group is being written
    rest = [asyncio.ensure_future(appender.append(_event(i))) for i in range(1, 20)]
    await asyncio.sleep(0)
    assert not first.done()  # not before its commit
    counting.hold.set()
    await asyncio.gather(first, *rest)
    assert counting.groups == [1, 19]  # those that waited went together
    assert _inputs(repo) == [{"deal_id": f"d{i}"} for i in range(20)]
    result = verify_database(repo)
    assert result.ok, result


async def test_a_failed_group_fails_each_caller_and_the_next_group_is_written(
    repo: Repository,
) -> None:
    counting = CountingRepository(repo)
    appender = GroupAppender(counting)  # type: ignore[arg-type]
    counting.fail = True
    results = await asyncio.gather(
        *(appender.append(_event(i)) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    counting.fail = False
    await appender.append(_event(3))
    assert _inputs(repo) == [{"deal_id": "d3"}]


async def test_a_cancelled_callers_event_is_still_written(repo: Repository) -> None:
    counting = CountingRepository(repo)
    appender = GroupAppender(counting)  # type: ignore[arg-type]
    counting.hold.clear()
    waiting = asyncio.ensure_future(appender.append(_event(0)))
    await asyncio.to_thread(counting.entered.wait, 30)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    counting.hold.set()
    await appender.append(_event(1))  # written after the cancelled caller's
    assert _inputs(repo) == [{"deal_id": "d0"}, {"deal_id": "d1"}]


def test_one_appender_serves_one_event_loop_after_another(repo: Repository) -> None:
    appender = GroupAppender(repo)
    for i in range(3):  # as CLI commands run asyncio.run more than once
        asyncio.run(appender.append(_event(i)))
    assert _inputs(repo) == [{"deal_id": f"d{i}"} for i in range(3)]
