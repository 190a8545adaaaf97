"""The run's model usage split by model, as the CLI's summary and the review screen show it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest
from rich.console import Console

from sergas_tui.agents.events import AgentUsage, RunFinished, RunStarted, RunSummary, Usage
from sergas_tui.cli.review_run import summary_table
from sergas_tui.viewmodels.review import ReviewProgress
from sergas_tui.viewmodels.review import Usage as ShownUsage

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
RUN = "run-1"
MAIN, SIMPLE = "claude-sonnet-4-5", "claude-haiku-4-5"
MAIN_USE = Usage(input_tokens=9000, output_tokens=1200, cost_usd=0.045, requests=3)
SIMPLE_USE = Usage(input_tokens=4000, output_tokens=600, cost_usd=0.007, requests=3)


def printed(summary: RunSummary) -> dict[str, str]:
    """The summary table's rows, label → value."""
    console = Console(record=True, width=140)
    console.print(summary_table(summary))
    rows = [line.strip("│ ").split("│") for line in console.export_text().splitlines()]
    return {cells[0].strip(): cells[1].strip() for cells in rows if len(cells) == 2}


def test_cli_summary_shows_each_model_when_two_were_used() -> None:
    summary = RunSummary(
        accounts=10,
        usage=MAIN_USE + SIMPLE_USE,
        by_model={MAIN: MAIN_USE, SIMPLE: SIMPLE_USE},
    )
    rows = printed(summary)
    assert rows["model tokens"] == "13,000 in / 1,800 out · 6 requests · $0.0520"
    assert rows[SIMPLE] == "4,000 in / 600 out · 3 requests · $0.0070"
    assert rows[MAIN] == "9,000 in / 1,200 out · 3 requests · $0.0450"


def test_cli_summary_with_one_model_has_no_split() -> None:
    rows = printed(RunSummary(usage=MAIN_USE, by_model={MAIN: MAIN_USE}))
    assert rows["model tokens"] == "9,000 in / 1,200 out · 3 requests · $0.0450"
    assert MAIN not in rows


def started() -> ReviewProgress:
    progress = ReviewProgress()
    progress.begin("jordan@example.com", T0)
    progress.apply(RunStarted(RUN, "jordan@example.com", "claude", T0), T0)
    return progress


def test_review_screen_splits_cost_by_model_live_and_takes_the_runs_figures_at_the_end() -> None:
    p = started()
    p.apply(AgentUsage(RUN, "scout", MAIN_USE, ("A1",), model=MAIN), T0)
    assert p.cost_text() == "engine: claude · 9.0k in / 1.2k out tokens · $0.04"  # one model yet
    p.apply(AgentUsage(RUN, "scout", SIMPLE_USE, ("A2",), model=SIMPLE), T0)
    assert p.by_model == {
        MAIN: ShownUsage(9000, 1200, 0.045),
        SIMPLE: ShownUsage(4000, 600, 0.007),
    }
    assert p.cost_text() == (
        "engine: claude · 13.0k in / 1.8k out tokens · $0.05 "
        f"({MAIN}: 9.0k in / 1.2k out · $0.04; {SIMPLE}: 4.0k in / 600 out · $0.01)"
    )
    final_main = Usage(10_000, 1500, 0.05, 4)
    summary = RunSummary(
        usage=final_main + SIMPLE_USE, by_model={MAIN: final_main, SIMPLE: SIMPLE_USE}
    )
    p.apply(RunFinished(RUN, summary, ()), T0)
    assert p.by_model[MAIN] == ShownUsage(10_000, 1500, cast(float, pytest.approx(0.05)))
    assert p.usage == ShownUsage(14_000, 2100, cast(float, pytest.approx(0.057)))


def test_review_screen_without_model_names_shows_no_split() -> None:
    p = started()
    p.apply(AgentUsage(RUN, "author", MAIN_USE, ("A1",)), T0)
    p.apply(RunFinished(RUN, RunSummary(usage=MAIN_USE), ()), T0)
    assert p.by_model == {}
    assert p.cost_text() == "engine: claude · 9.0k in / 1.2k out tokens · $0.04"
