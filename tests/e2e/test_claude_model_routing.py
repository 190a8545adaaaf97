"""Model routing in the Claude engine, end to end: real SDK, real bundled CLI, a scripted model.

With ``[anthropic] model_simple`` set, simple accounts (no open deal, at most one info/warning
signal) are reviewed on that model and the others on ``model``: what proves it is the ``model``
field of the request bodies the fake Messages API receives. A request never carries accounts of
two models, and the run's usage split by model (``RunSummary.by_model``, costs from the CLI)
adds up to the run's usage and matches the fake's token counts per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from sergas_tui.agents.claude.routing import model_for
from sergas_tui.agents.events import AgentUsage, Usage
from tests.fakes.anthropic_api import ApiRequest, FakeAnthropic
from tests.helpers.claude import (
    MAIN,
    SIMPLE,
    OpenServices,
    Review,
    batch_ids,
    fake_tokens_by_model,
    model_requests,
    run_review,
    script,
)

pytestmark = pytest.mark.timeout(180)


def total(parts: Sequence[Usage]) -> Usage:
    summed = Usage()
    for part in parts:
        summed = summed + part
    return summed


def same(a: Usage, b: Usage) -> bool:
    """Equal tokens and requests, and costs equal but for float rounding (summed in another
    order)."""
    assert (a.input_tokens, a.output_tokens, a.requests) == (
        b.input_tokens,
        b.output_tokens,
        b.requests,
    )
    assert a.cost_usd == pytest.approx(b.cost_usd, rel=1e-9)
    return True


def check_usage_adds_up(result: Review, fake: FakeAnthropic) -> dict[str, Usage]:
    summary = result.finished.summary
    assert summary.usage is not None
    by_model = summary.by_model
    assert same(total(list(by_model.values())), summary.usage)
    # Per model, our figures are the fake's counts of the requests that named that model.
    assert {m: (u.input_tokens, u.output_tokens) for m, u in by_model.items()} == (
        fake_tokens_by_model(fake)
    )
    # Every request's usage event names its model, and they add up to the same split.
    events = [e for e in result.events if isinstance(e, AgentUsage)]
    assert all(e.model in by_model for e in events)
    for model, usage in by_model.items():
        assert same(total([e.usage for e in events if e.model == model]), usage)
        assert usage.cost_usd is not None
        assert usage.cost_usd > 0  # the CLI's own cost figure
    return by_model


async def test_simple_accounts_go_to_model_simple_and_no_request_mixes(
    make_services: OpenServices, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    script(fake)
    services = make_services(model_simple=SIMPLE)

    result, facts = await run_review(services, fake, tmp_path)

    flagged = {f.account_id: f for f in facts if f.changes or f.signals}
    expected = {i: model_for(f, MAIN, SIMPLE) for i, f in flagged.items()}
    assert set(expected.values()) == {MAIN, SIMPLE}  # the demo has both kinds
    seen: dict[str, set[str]] = {}
    for request in model_requests(fake):
        assert request.body is not None
        ids = batch_ids(ApiRequest(request.body))
        assert ids, "every engine request is about a batch of accounts"
        models = {expected[i] for i in ids}
        assert models == {request.body["model"]}, (request.lane, ids)  # one model per request
        for i in ids:
            seen.setdefault(i, set()).add(request.body["model"])
    # Every flagged account reached the model, and only on the model it was routed to.
    assert {i: m.pop() for i, m in seen.items() if len(m) == 1} == expected
    # One process per role and model, reused batch after batch.
    assert result.engine.processes_started == 6
    by_model = check_usage_adds_up(result, fake)
    assert set(by_model) == {MAIN, SIMPLE}
    # The CLI prices the cheaper model lower: its cost per token is below the main model's.
    simple, main = by_model[SIMPLE], by_model[MAIN]
    assert simple.cost_usd is not None
    assert main.cost_usd is not None
    per_token = {
        m: (u.cost_usd or 0.0) / (u.input_tokens + u.output_tokens) for m, u in by_model.items()
    }
    assert per_token[SIMPLE] < per_token[MAIN]
    assert result.finished.summary.fallbacks == 0
    assert fake.escape_attempts == []
    assert fake.errors == []


async def test_without_model_simple_every_request_goes_to_model(
    make_services: OpenServices, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    script(fake)
    services = make_services()

    result, _facts = await run_review(services, fake, tmp_path)

    requests = model_requests(fake)
    assert requests
    assert {r.body["model"] for r in requests if r.body is not None} == {MAIN}
    assert result.engine.processes_started == 3
    by_model = check_usage_adds_up(result, fake)
    assert list(by_model) == [MAIN]
    assert fake.errors == []
