"""``bench/claude_engine.py`` with routing on, small: its tokens and cost per model add up.

The demo org's flagged accounts nearly all have an open deal, so at this size every request may
go to the main model; what is checked is that the per-model report is the product's
``RunSummary.by_model`` and agrees with the fake's own count of the requests naming each model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import claude_agent_sdk
import pytest

from bench.claude_engine import Options, readable, review

pytestmark = pytest.mark.timeout(240)

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def test_per_model_figures_add_up_with_routing_on(tmp_path: Path) -> None:
    if not BUNDLED_CLI.exists():
        pytest.skip(f"claude-agent-sdk has no bundled CLI at {BUNDLED_CLI}")
    options = Options(accounts=20, owners=1, latency=0.0, batch=8, model_simple="claude-haiku-4-5")
    report = asyncio.run(asyncio.wait_for(review(tmp_path, options), 200)).report
    by_model = report["by_model"]
    assert set(by_model) <= {"claude-sonnet-4-5", "claude-haiku-4-5"}
    assert set(by_model) == set(report["fake_tokens_by_model"])
    for model, figures in by_model.items():
        fake = report["fake_tokens_by_model"][model]
        assert (figures["input_tokens"], figures["output_tokens"]) == (
            fake["input_tokens"],
            fake["output_tokens"],
        )
        assert figures["cost_usd"] > 0
    assert sum(f["input_tokens"] for f in by_model.values()) == report["input_tokens"]
    assert sum(f["cost_usd"] for f in by_model.values()) == pytest.approx(
        report["product_cost_usd"]
    )
    assert report["cli_processes_started"] <= report["pool_size"] == 6
    assert "routing on (simple: claude-haiku-4-5)" in readable(report)
