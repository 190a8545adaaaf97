"""The model metrics of a Claude-engine review, end to end: real SDK, real bundled CLI, the
fake Messages API's own token counts, scraped from the exporter over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sergas_tui import metrics
from tests.fakes.anthropic_api import FakeAnthropic
from tests.helpers.claude import (
    MAIN,
    SIMPLE,
    OpenServices,
    fake_tokens_by_model,
    run_review,
    script,
)
from tests.helpers.metrics import delta, scrape

pytestmark = pytest.mark.timeout(180)


async def test_tokens_and_cost_by_model_are_the_apis_own_figures(
    make_services: OpenServices, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    script(fake_anthropic)
    services = make_services(model_simple=SIMPLE)
    exporter = metrics.serve(0)
    try:
        before = await asyncio.to_thread(scrape, exporter.url)
        result, _facts = await run_review(services, fake_anthropic, tmp_path)
        after = await asyncio.to_thread(scrape, exporter.url)
    finally:
        exporter.close()
    summary = result.finished.summary
    assert summary.usage is not None
    assert summary.usage.cost_usd
    fake = fake_tokens_by_model(fake_anthropic)
    assert set(fake) == {MAIN, SIMPLE}
    for model, (tokens_in, tokens_out) in fake.items():
        grown = delta(after, before, "anthropic_tokens_used_total", model=model)
        assert grown == tokens_in + tokens_out, model
        cost = delta(after, before, "anthropic_api_cost_usd_by_model_total", model=model)
        assert cost == pytest.approx(summary.by_model[model].cost_usd)
    cost = delta(after, before, "anthropic_api_cost_usd")
    assert cost == pytest.approx(summary.usage.cost_usd)
    assert delta(after, before, "orchestrator_runs_total") == 1
