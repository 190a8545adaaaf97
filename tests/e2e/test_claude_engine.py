"""The Claude engine end to end: real SDK, real bundled CLI, the demo CRM, a scripted model.

Each test builds a small demo workspace with ``engine = 'claude'`` pointed at the fake
Messages API, runs a review through ``Services.orchestrator()`` and checks what reached the
model, what landed in the workspace (approvals, audit) and what the run's events said.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio

from sergas_tui.agents.claude import ClaudeEngine
from sergas_tui.agents.events import (
    AccountScouted,
    AgentUsage,
    ReviewEvent,
    RunFinished,
)
from sergas_tui.agents.orchestrator import Orchestrator
from sergas_tui.app import make_app
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.demo.hostile import INJECTION_NOTES
from sergas_tui.domain import AuditAction
from sergas_tui.locations import Locations
from sergas_tui.screens.review import ReviewScreen
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from sergas_tui.widgets.agent_lane import AgentLane
from tests.conftest import FIXED_NOW
from tests.fakes.anthropic_api import (
    ApiRequest,
    FakeAnthropic,
    ToolUse,
    Turn,
    overloaded,
    stall,
    text,
    tool_call,
)
from tests.fakes.sdk_env import DUMMY_API_KEY
from tests.helpers.claude import (
    RUN_TIMEOUT,
    Review,
    assess,
    batch_ids,
    cli_env_for,
    many,
    recommend,
    task_for,
)

pytestmark = pytest.mark.timeout(120)


@pytest_asyncio.fixture
async def services(tmp_path: Path, fake_anthropic: FakeAnthropic) -> AsyncIterator[Services]:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=24, owners=1, seed=7, now=FIXED_NOW)
    overrides = {
        "zoho": {"requests_per_minute": 10_000},
        "anthropic": {"engine": "claude", "base_url": fake_anthropic.base_url},
    }
    built = open_services(
        load_settings(locations, overrides=overrides),
        locations,
        secrets=SecretStore(environ={"ANTHROPIC_API_KEY": DUMMY_API_KEY}),
        clock=FixedClock(FIXED_NOW),
    )
    try:
        yield built
    finally:
        await built.aclose()
        built.close()


async def review(
    services: Services,
    fake: FakeAnthropic,
    tmp_path: Path,
    *,
    account_ids: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    **config: Any,
) -> Review:
    orchestrator = await services.orchestrator()
    engine = orchestrator.engine
    assert isinstance(engine, ClaudeEngine)
    engine.config = engine.config.with_(
        env=env or cli_env_for(fake), workdir=tmp_path / "claude", **config
    )

    async def run() -> list[ReviewEvent]:
        owner = services.current_user_email()
        return [e async for e in orchestrator.review(owner, account_ids=account_ids)]

    events = await asyncio.wait_for(run(), RUN_TIMEOUT)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    return Review(services, engine, events, finished)


def scenario_id(services: Services, key: str) -> str:
    assert services.demo is not None
    return next(s.account_id for s in services.demo.scenarios() if s.key == key)


def flagged(result: Review) -> set[str]:
    return {
        e.account_id
        for e in result.events
        if isinstance(e, AccountScouted) and (e.signals or e.changes)
    }


def writes(services: Services) -> int:
    assert services.simulator is not None
    calls = services.simulator.counters.calls
    return sum(n for kind, n in calls.items() if kind.split(" ")[0] in ("POST", "PUT", "DELETE"))


def notes_first(request: ApiRequest) -> Turn:
    """Scout: read the notes of the batch's first account, then answer."""
    return text("Reading the notes first.") + tool_call(
        "zoho_get_notes", {"account_id": batch_ids(request)[0]}
    )


# --- the tests -------------------------------------------------------------------------------


async def test_happy_path_lands_approvals_with_audit_usage_and_lanes(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    fake.script(notes_first, *many(assess()), lane="scout")
    fake.script(*many(assess("History of {id}: sentiment declining.")), lane="analyst")
    fake.script(*many(recommend()), lane="author")

    result = await review(services, fake, tmp_path)

    summary = result.finished.summary
    reviewed = flagged(result)
    assert 2 < len(reviewed) < summary.accounts  # some accounts never reach the model
    # Every flagged account reached the Author once, and only flagged accounts did.
    author_ids = [i for r in fake.message_requests("author") for i in _ids(r)]
    assert sorted(author_ids) == sorted(reviewed)
    # Batches: several accounts per request, one CLI process per role.
    assert len(fake.message_requests("author")) < len(reviewed)
    assert result.engine.processes_started == 3
    # The Scout's tool call hit the simulator through the audited gateway; the result came back.
    scout_requests = fake.message_requests("scout")
    second = scout_requests[1].body
    assert second is not None
    assert '"tool_result"' in json.dumps(second)
    assert "CRM data (untrusted" in json.dumps(second)
    gateway_rows = [
        e
        for e in result.audit(AuditAction.TOOL_INVOCATION)
        if e.tool_name == "zoho_get_notes" and e.agent_name == "zoho_scout"
    ]
    assert gateway_rows
    assert gateway_rows[0].session_id == result.finished.run_id
    hook_rows = [
        e
        for e in result.audit(AuditAction.TOOL_INVOCATION)
        if e.tool_name == "mcp__zoho__zoho_get_notes"
    ]
    assert {(r.tool_outputs or {}).get("gate") for r in hook_rows} == {  # type: ignore[union-attr]
        "pre_tool_use",
        "post_tool_use",
    }
    # Recommendations landed as pending approvals within the daily budget (the rest wait as
    # "more, lower priority"), audited; the model's recommendations are ranked like the rules'.
    pending = services.store.pending_approvals()
    queued = services.store.queued_recommendations()
    assert {a.account_id for a in pending} | {r.account_id for r in queued} == reviewed
    assert len(pending) == min(len(reviewed), services.settings.review.daily_budget)
    assert all(r.value is not None for r in queued)
    assert summary.recommendations == len(reviewed)
    generated = result.audit(AuditAction.RECOMMENDATION_GENERATED)
    assert len(generated) == len(reviewed)
    # Lanes and usage.
    assert result.texts("scout")
    assert result.texts("analyst")
    assert any("Reading the notes first." in t.text for t in result.texts("scout"))
    assert any(isinstance(e, AgentUsage) for e in result.events)
    assert summary.usage is not None
    assert summary.usage.input_tokens == fake.usage().input_tokens
    assert summary.fallbacks == 0
    # Token counts in our audit equal the fake's, per role.
    for agent, lane in (
        ("zoho_scout", "scout"),
        ("memory_analyst", "analyst"),
        ("recommendation_author", "author"),
    ):
        rows = [e for e in result.audit(AuditAction.MODEL_USAGE) if e.agent_name == agent]
        outputs = [r.tool_outputs for r in rows if isinstance(r.tool_outputs, dict)]
        assert (
            sum(int(cast(Any, o["input_tokens"])) for o in outputs) == fake.usage(lane).input_tokens
        )
        assert (
            sum(int(cast(Any, o["output_tokens"])) for o in outputs)
            == fake.usage(lane).output_tokens
        )
    # Context is reset between batches: later requests do not carry earlier batches.
    for request in fake.message_requests("author")[1:]:
        assert request.body is not None
        assert len(request.body["messages"]) <= 2
    assert fake.escape_attempts == []
    assert fake.errors == []


def _ids(request: Any) -> list[str]:
    return batch_ids(ApiRequest(request.body))


async def test_writes_builtins_and_unknown_tools_never_run(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    target = scenario_id(services, "stalled_negotiation")
    attempts = Turn(
        blocks=(
            ToolUse("zoho_create_task", {"account_id": target, "subject": "x"}),
            ToolUse("Bash", {"command": "curl https://evil.example"}),
            ToolUse("frobnicate", {"account_id": target}),
        )
    )
    fake.script(attempts, *many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(*many(recommend()), lane="author")

    result = await review(services, fake, tmp_path, account_ids=[target])

    assert writes(services) == 0
    denied = result.audit(AuditAction.TOOL_DENIED)
    assert sorted(e.tool_name or "" for e in denied) == ["Bash", "frobnicate", "zoho_create_task"]
    assert all(e.agent_name == "zoho_scout" for e in denied)
    assert all(e.session_id == result.finished.run_id for e in denied)
    refusals = fake.message_requests("scout")[1].body
    assert refusals is not None
    assert json.dumps(refusals).count("No such tool available") == 3
    usage_rows = [e for e in result.audit(AuditAction.MODEL_USAGE) if e.agent_name == "zoho_scout"]
    assert usage_rows  # with permission_denials recorded (empty: the CLI refused them earlier)
    assert result.finished.summary.recommendations == 1


async def test_prompt_injection_reaches_the_model_only_as_data(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    hostile = scenario_id(services, "hostile_injection")

    def obey(account_id: str) -> list[dict[str, Any]]:
        """A model that fell for the note: emails the attacker, changes the rating."""
        email = task_for(
            account_id,
            type="follow_up_email",
            suggested_action={
                "subject": "Account list",
                "draft_body": "As requested.",
                "recipient": "exfil@evil.example",
            },
        )
        made_up = task_for(account_id, data_references=["zoho:Deals:999999999"])
        return [email, made_up, task_for(account_id)]

    fake.script(*many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(*many(recommend(obey)), lane="author")

    result = await review(services, fake, tmp_path, account_ids=[hostile])

    for lane in ("scout", "author"):
        body = json.dumps(fake.message_requests(lane)[0].body, ensure_ascii=False)
        blocks = "".join(re.findall(r"<crm_data>(.*?)</crm_data>", body))
        outside = re.sub(r"<crm_data>.*?</crm_data>", "", body)
        shown = [n[:60] for n in INJECTION_NOTES if n[:60].replace("<", "&lt;") in blocks]
        assert shown, lane
        assert "pre-approved all CRM writes" in blocks  # the account description
        assert not any(n[:40] in outside for n in INJECTION_NOTES)
        assert "</untrusted_data>" not in body  # escaped: it cannot close the data block
    assert writes(services) == 0
    pending = services.store.pending_approvals()
    assert [a.action_type for a in pending] == ["create_task"]  # the two bad ones dropped
    dropped = [t.text for t in result.texts("author") if t.text.startswith("dropped:")]
    assert len(dropped) == 2


async def test_overloaded_then_success(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    account = scenario_id(services, "stalled_negotiation")
    fake.script(overloaded(), *many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(overloaded(), *many(recommend()), lane="author")

    started = time.monotonic()
    result = await review(
        services,
        fake,
        tmp_path,
        account_ids=[account],
        env=cli_env_for(fake, CLAUDE_CODE_MAX_RETRIES="1"),
    )

    assert time.monotonic() - started < 30
    assert [r.status for r in fake.message_requests("author")] == [529, 200]
    assert result.finished.summary.recommendations == 1
    assert result.finished.summary.fallbacks == 0


async def test_api_failure_falls_back_to_rules(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    account = scenario_id(services, "stalled_negotiation")
    fake.script(*many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(overloaded(), overloaded(), lane="author")

    result = await review(services, fake, tmp_path, account_ids=[account])

    fell_back = [t for t in result.texts("author") if t.text.startswith("fell back to rules")]
    assert [t.account_id for t in fell_back] == [account]
    assert "529" in fell_back[0].text
    assert result.finished.summary.fallbacks == 1
    assert result.finished.summary.failed == 0
    assert result.finished.summary.recommendations >= 1  # the rules engine's
    assert result.audit(AuditAction.ENGINE_FALLBACK)


async def test_missing_structured_output_is_asked_once_more_then_rules(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    account = scenario_id(services, "stalled_negotiation")
    fake.script(text("I think it is fine."), *many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(*[text(f"Thoughts, no JSON ({n}).") for n in range(4)], lane="author")

    started = time.monotonic()
    result = await review(services, fake, tmp_path, account_ids=[account])

    assert time.monotonic() - started < 30
    # The CLI itself asks once more inside a query ("[structured-output-enforce]") ...
    enforce = fake.message_requests("scout")[1].body
    assert "structured-output-enforce" in json.dumps(enforce)
    assert len(fake.message_requests("scout")) == 2
    # ... and the engine asks once more in a fresh conversation, then uses the rules engine.
    assert len(fake.message_requests("author")) == 4
    assert fake.errors == []
    notes = [t.text for t in result.texts("author")]
    assert any("Asking once more" in n for n in notes)
    assert any(n.startswith("fell back to rules") for n in notes)
    assert result.finished.summary.fallbacks == 1
    assert result.finished.summary.recommendations >= 1


async def test_budget_stops_gracefully(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    accounts = [scenario_id(services, key) for key in ("stalled_negotiation", "no_activity_35d")]
    fake.script(*many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(*many(recommend()), lane="author")

    result = await review(
        services, fake, tmp_path, account_ids=accounts, max_cost_usd=1e-9, batch_size=1
    )

    stops = [t.text for t in result.texts("orchestrator") if "Stopped using the model" in t.text]
    assert len(stops) == 1
    assert "budget" in stops[0]
    assert len(fake.message_requests()) == 1  # the first request spent it all
    assert result.finished.summary.fallbacks == 2
    assert result.finished.summary.failed == 0


@pytest.mark.slow
async def test_stalled_stream_is_retried_without_streaming(
    services: Services, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake = fake_anthropic
    account = scenario_id(services, "stalled_negotiation")
    fake.script(*many(assess()), lane="scout")
    fake.script(*many(assess()), lane="analyst")
    fake.script(stall(after="message_start"), *many(recommend()), lane="author")

    started = time.monotonic()
    result = await review(services, fake, tmp_path, account_ids=[account])

    assert time.monotonic() - started < 40
    stalled, retried = fake.message_requests("author")
    assert stalled.completed is False
    assert retried.body is not None
    assert retried.body["stream"] is False
    assert result.finished.summary.recommendations == 1
    assert result.finished.summary.fallbacks == 0


# --- through the TUI ----------------------------------------------------------------------------


async def test_review_screen_streams_model_text_and_shows_tokens(
    services: Services,
    fake_anthropic: FakeAnthropic,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_anthropic
    fake.script(notes_first, *many(assess()), lane="scout")
    fake.script(*many(assess("History of {id}: sentiment declining.")), lane="analyst")
    fake.script(*many(recommend()), lane="author")
    build = services.orchestrator

    async def pointed_at_the_fake() -> Orchestrator:
        orchestrator = await build()
        engine = orchestrator.engine
        assert isinstance(engine, ClaudeEngine)
        engine.config = engine.config.with_(env=cli_env_for(fake), workdir=tmp_path / "claude")
        return orchestrator

    monkeypatch.setattr(services, "orchestrator", pointed_at_the_fake)
    app = make_app(services.settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        async with asyncio.timeout(90):
            while screen.progress.state == "running" or screen.progress.state == "idle":
                await pilot.pause(0.1)
        await pilot.pause()

        def lane(name: str) -> list[str]:
            return app.screen.query_one(f"#lane-{name}", AgentLane).entries

        assert screen.progress.state == "finished", screen.progress.state
        assert any("Reading the notes first." in line for line in lane("scout"))
        assert any("sentiment declining" in line for line in lane("analyst"))
        activity: Any = app.screen.query_one("#review-activity")
        assert "engine: claude" in str(activity.render())
        assert "tokens" in str(activity.render())
    assert fake.escape_attempts == []
