"""The owner's brief over a reviewed demo org: the current picture, not the last run's delta.

One owner with 100 accounts (the demo generator, fixed seed and clock), reviewed by the rules
engine through the product's own path; the brief is exported the way `x` and `sergas export
brief` export it. Checked: statuses are those at export time, a second review keeps the queue,
the header's counts agree with the sections, the length, names instead of ids.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from sergas_tui.approvals.service import ApprovalService
from sergas_tui.briefs.markdown import md, render_brief
from sergas_tui.briefs.sections import brief_sections
from sergas_tui.clock import FixedClock
from sergas_tui.domain.brief import CurrentBrief
from sergas_tui.services import Services
from sergas_tui.viewmodels.brief import current_brief, export_current_brief
from sergas_tui.viewmodels.names import load_names
from tests.conftest import FIXED_NOW
from tests.integration.simkit import demo_services

OWNER = "jordan.avery@demo.sergas.test"
LONG_ID = re.compile(r"\d{15,}")


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    built = demo_services(accounts=300, owners=3, seed=7)
    try:
        yield built
    finally:
        await built.aclose()
        built.close()


async def review(services: Services, account_ids: list[str] | None = None) -> None:
    orchestrator = await services.orchestrator()
    async for _event in orchestrator.review(OWNER, account_ids=account_ids):
        pass


def brief_of(services: Services) -> tuple[CurrentBrief, str]:
    brief = current_brief(services, OWNER)
    assert brief is not None
    return brief, render_brief(brief, names=load_names(services, [OWNER]))


def section(markdown: str, title: str) -> str:
    """The body of the ``## title…`` section."""
    match = re.search(rf"^## {re.escape(title)}.*?\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match is not None, title
    return match.group(1)


def header(markdown: str) -> dict[str, str]:
    """The header table: label → value."""
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", markdown.split("\n## ", 1)[0], re.M)
    return {label: value for label, value in rows if label != "---"}


def first_number(text: str) -> int:
    found = re.match(r"\d+", text)
    assert found is not None, text
    return int(found.group())


def left_out(body: str) -> int:
    """The ``…and N more`` of a section."""
    found = re.search(r"^- …and (\d+) more", body, re.M)
    return int(found.group(1)) if found else 0


def bullets(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("- **")]


def queue_ids(markdown: str) -> list[str]:
    return re.findall(r"· approval `([0-9a-f]{8})`", section(markdown, "Your queue"))


async def test_statuses_are_those_at_export_time(services: Services) -> None:
    await review(services)
    before, text = brief_of(services)
    assert before.queue
    chosen = before.queue[0]
    assert chosen.approval_id[:8] in queue_ids(text)
    assert "Nothing decided" in section(text, "Recently decided")

    await ApprovalService(services.store, clock=services.clock).approve(
        chosen.approval_id, actor=OWNER
    )
    after, again = brief_of(services)
    assert chosen.approval_id not in {item.approval_id for item in after.queue}
    assert chosen.approval_id[:8] not in queue_ids(again)
    assert [item.approval_id for item in after.decided] == [chosen.approval_id]
    assert after.decided[0].status == "approved"
    decided = section(again, "Recently decided")
    assert f"`{chosen.approval_id[:8]}`" in decided
    assert "approved by you" in decided
    assert after.counts.in_queue == before.counts.in_queue - 1
    assert after.counts.decided == 1
    # A decided item is never shown as pending in the brief's recommendations either.
    assert chosen.recommendation_id not in {r.id for r in after.recommendations}


async def test_pending_past_expiry_is_expired_not_queued(services: Services) -> None:
    await review(services)
    brief, _ = brief_of(services)
    later = FIXED_NOW + timedelta(hours=services.settings.orchestrator.approval_timeout_hours + 1)
    services.clock = FixedClock(later)
    expired, text = brief_of(services)
    assert expired.queue == []
    assert {i.approval_id for i in expired.decided} == {i.approval_id for i in brief.queue}
    assert {i.status for i in expired.decided} == {"expired"}
    assert "Nothing is waiting for your decision." in section(text, "Your queue")


async def test_a_second_review_keeps_the_queue(services: Services) -> None:
    await review(services)
    first, first_text = brief_of(services)
    await review(services)
    second, second_text = brief_of(services)
    assert first.queue
    assert first.recommendations
    assert {i.approval_id for i in first.queue} <= {i.approval_id for i in second.queue}
    assert set(queue_ids(first_text)) <= set(queue_ids(second_text))
    assert len(second.recommendations) >= len(first.recommendations)
    assert second.counts.queued_more + second.counts.in_queue >= first.counts.in_queue
    # The per-run brief of the second review is its delta; the portfolio still reads signals.
    stored = services.store.latest_brief(OWNER)
    assert stored is not None
    assert stored.accounts
    assert second.counts.with_signals == first.counts.with_signals


async def test_a_review_of_one_account_keeps_the_others(services: Services) -> None:
    await review(services)
    first, _ = brief_of(services)
    one = next(a.account_id for a in first.accounts or [] if a.signals)
    await review(services, [one])
    again, _ = brief_of(services)
    assert again.counts.accounts == first.counts.accounts == 100
    assert again.counts.with_signals == first.counts.with_signals


async def test_header_counts_agree_with_the_sections(services: Services) -> None:
    await review(services)
    brief, text = brief_of(services)
    # Decide a few, so every section has lines.
    approvals = ApprovalService(services.store, clock=services.clock)
    await approvals.approve(brief.queue[0].approval_id, actor=OWNER)
    await approvals.reject(brief.queue[1].approval_id, actor=OWNER, reason="not now")
    brief, text = brief_of(services)
    counts = header(text)

    accounts = first_number(counts["Your accounts"])
    signals = counts["Accounts with risk signals"]
    with_signals = first_number(signals)
    attention = first_number(
        counts["Accounts that need attention (something waiting for your decision)"]
    )
    in_queue = first_number(counts["Your queue: pending approvals"])
    more = first_number(counts["More, lower priority: queued recommendations"])
    [decided_label] = [k for k in counts if k.startswith("Decided since")]
    decided = first_number(counts[decided_label])
    changed = first_number(counts["Accounts changed at their last review"])
    need, other = (int(n) for n in re.findall(r"(\d+) (?:need attention|listed)", signals))

    queue_body = section(text, "Your queue")
    shown = re.findall(r"^\d+\. \*\*", queue_body, re.M)
    assert (
        len(shown) + left_out(queue_body)
        == in_queue
        == int(
            re.search(r"## Your queue \((\d+)\)", text).group(1)  # type: ignore[union-attr]
        )
    )
    more_body = section(text, "More, lower priority")
    assert len(bullets(more_body)) + left_out(more_body) == more
    decided_body = section(text, "Recently decided")
    assert len(bullets(decided_body)) + left_out(decided_body) == decided == 2
    others_body = section(text, "Other accounts with signals")
    assert len(bullets(others_body)) + left_out(others_body) == other
    changes_body = section(text, "What changed")
    assert len(bullets(changes_body)) + left_out(changes_body) == changed
    assert need + other == with_signals <= accounts == 100
    split = re.findall(r"\d+", counts["Your accounts"])[1:]
    assert [int(n) for n in split] == [attention, other, accounts - attention - other]
    quiet = brief_sections(brief, load_names(services, [OWNER])).quiet
    assert len(quiet) == accounts - attention - other
    assert all(md(item.text) in section(text, "Nothing to report") for item in quiet)
    assert need <= attention <= accounts

    # ... and with the workspace.
    store = services.store
    pending = store.pending_approvals(OWNER)
    queued = store.queued_recommendations(OWNER)
    assert in_queue == len(pending)
    assert more == len(queued)
    assert attention == len({a.account_id for a in pending} | {r.account_id for r in queued})
    assert brief.counts.need_attention == brief.high_priority_accounts == attention
    assert brief.summary is not None
    assert brief.summary.pending_approvals == in_queue


async def test_a_hundred_accounts_make_a_readable_brief(services: Services) -> None:
    await review(services)
    path = export_current_brief(services)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert 150 <= len(lines) <= 250, len(lines)
    assert len(text) < 40_000
    assert text.startswith("# Account brief — Jordan Avery")
    # Names, not ids: no bare Zoho id anywhere a person reads.
    assert not LONG_ID.search(re.sub(r"<https://[^>]*>", "", text))
    # No boilerplate paragraph repeated across items.
    long_lines = [line for line in lines if len(line) > 80]
    assert len(long_lines) == len(set(long_lines))

    # A day later: some decided, a second review on the unchanged CRM (so nothing changed);
    # still about the same page.
    brief, _ = brief_of(services)
    approvals = ApprovalService(services.store, clock=services.clock)
    for item in brief.queue[:5]:
        await approvals.approve(item.approval_id, actor=OWNER)
    for item in brief.queue[5:8]:
        await approvals.reject(item.approval_id, actor=OWNER, reason="not now")
    services.clock = FixedClock(FIXED_NOW + timedelta(days=1))
    await review(services)
    later = export_current_brief(services).read_text(encoding="utf-8")
    assert 130 <= len(later.splitlines()) <= 250, len(later.splitlines())
    assert "## Recently decided (8)" in later
    assert not LONG_ID.search(later)


def test_no_brief_before_a_review(services: Services) -> None:
    assert current_brief(services, OWNER) is None
