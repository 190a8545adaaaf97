"""Prometheus metrics on the product path: the exporter scraped over HTTP during and after a
review of the demo org (the rules engine over the simulator), decisions through the approval
service, and the textfile a one-shot `sergas review` leaves for cron.

The registry is the process's own, shared by every test in it: each test compares scrapes
taken before and after what it does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sergas_tui import metrics
from sergas_tui.agents.events import (
    AccountAuthored,
    RecommendationProposed,
    ReviewEvent,
    RunFinished,
)
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.crm.factory import SIMULATOR_URL
from sergas_tui.crm.simulator import SimulatorConfig, create_simulator
from sergas_tui.demo import generate
from sergas_tui.errors import CrmError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from tests.helpers.metrics import Scrape, delta, follow, parse, scrape
from tests.helpers.waiting import wait_for

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

FOUNDING = {
    # name as exposed → its labels (besides Prometheus' own ``le`` on histogram buckets)
    "orchestrator_runs_total": set(),
    "orchestrator_run_duration_seconds": set(),
    "orchestrator_run_failures_total": set(),
    "subagent_invocations_total": {"agent_name"},
    "subagent_duration_seconds": {"agent_name"},
    "subagent_errors_total": {"agent_name"},
    "zoho_api_requests_total": {"tool_name"},
    "zoho_api_latency_seconds": {"tool_name"},
    "zoho_api_errors_total": {"error_code"},
    "cognee_queries_total": set(),
    "cognee_latency_seconds": set(),
    "accounts_processed_total": set(),
    "recommendations_generated_total": {"type"},
    "recommendations_approved_total": set(),
    "recommendations_rejected_total": set(),
    "anthropic_tokens_used_total": {"model"},
    "anthropic_api_cost_usd": set(),
}


@pytest.fixture
def exporter() -> Iterator[metrics.Exporter]:
    served = metrics.serve(0)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def locations() -> Locations:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=40, owners=2, seed=11, now=NOW)
    return locations


def open_demo(locations: Locations) -> Services:
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(NOW)
    )
    services.simulator = create_simulator(
        locations.demo_crm_file("demo"),
        SimulatorConfig(api_domain=SIMULATOR_URL, clock=FixedClock(NOW)),
    )
    return services


async def test_a_scrape_during_and_after_a_review_finds_every_metric_with_true_figures(
    locations: Locations, exporter: metrics.Exporter
) -> None:
    services = open_demo(locations)
    try:
        orchestrator = await services.orchestrator()
        before = await asyncio.to_thread(scrape, exporter.url)
        during: Scrape | None = None
        events: list[ReviewEvent] = []
        async for event in orchestrator.review(None):
            events.append(event)
            if during is None and isinstance(event, AccountAuthored):
                # The run is under way: the scout has run, accounts are being authored.
                during = await asyncio.to_thread(scrape, exporter.url)
        after = await asyncio.to_thread(scrape, exporter.url)
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        summary = finished.summary
        assert services.simulator is not None
        simulator = services.simulator.counters

        assert during is not None
        assert delta(during, before, "orchestrator_runs_total") == 0, "the run has not ended"
        assert delta(during, before, "subagent_invocations_total", agent_name="zoho_scout") == 1
        assert delta(during, before, "zoho_api_requests_total", tool_name="zoho_sync") > 0

        # Every founding-design metric, with its labels.
        for name, labels in FOUNDING.items():
            family = name.removesuffix("_total")
            assert family in after.families, f"{name} is not exposed"
            for (sample, sample_labels), _value in after.samples.items():
                if sample.startswith(family) and sample in (name, f"{name}_count", f"{name}_sum"):
                    assert {k for k, _ in sample_labels} == labels, (name, sample_labels)
        for agent in metrics.AGENTS:
            assert ("subagent_invocations_total", (("agent_name", agent),)) in after.samples

        # The run.
        assert delta(after, before, "orchestrator_runs_total") == 1
        assert delta(after, before, "orchestrator_run_duration_seconds_count") == 1
        took = delta(after, before, "orchestrator_run_duration_seconds_sum")
        # Timed from the same start as the summary's, and ended after it was taken.
        assert took >= summary.seconds > 0
        assert delta(after, before, "orchestrator_run_failures_total") == 0

        # Zoho: every call the simulator answered, by the operation that made it.
        assert delta(after, before, "zoho_api_requests_total") == simulator.total_calls
        assert simulator.total_calls == summary.calls
        calls = summary.zoho_calls
        assert delta(after, before, "zoho_api_requests_total", tool_name="zoho_sync") == calls.sync
        assert (
            delta(after, before, "zoho_api_requests_total", tool_name="zoho_get_stage_history")
            == calls.stage_history
        )
        assert (
            delta(after, before, "zoho_api_requests_total", tool_name="zoho_get_fields")
            == calls.metadata
        )
        assert delta(after, before, "zoho_api_latency_seconds_count") == simulator.total_calls
        assert delta(after, before, "zoho_api_errors_total") == 0

        # Subagents and memory: the scout once, the analyst and the author per account.
        reviewed = summary.accounts - summary.failed
        assert reviewed > 0
        for agent, count in (
            ("zoho_scout", 1),
            ("memory_analyst", reviewed),
            ("recommendation_author", reviewed),
        ):
            assert delta(after, before, "subagent_invocations_total", agent_name=agent) == count
            assert delta(after, before, "subagent_duration_seconds_count", agent_name=agent) == (
                count
            )
            assert delta(after, before, "subagent_errors_total", agent_name=agent) == 0
        assert delta(after, before, "cognee_queries_total") == reviewed
        assert delta(after, before, "cognee_latency_seconds_count") == reviewed
        assert delta(after, before, "accounts_processed_total") == reviewed

        # Recommendations: as many as the run summary says, by type as the events say.
        assert delta(after, before, "recommendations_generated_total") == summary.recommendations
        assert summary.recommendations > 0
        proposed = Counter(
            str(e.recommendation.type) for e in events if isinstance(e, RecommendationProposed)
        )
        grown = {
            kind: value - before.by("recommendations_generated_total", "type").get(kind, 0.0)
            for kind, value in after.by("recommendations_generated_total", "type").items()
        }
        assert {k: v for k, v in grown.items() if v} == proposed
        pending = services.store.pending_approval_count()
        assert after.value("pending_approvals_count") == pending > 0

        # Decisions through the approval service: one approved, one rejected.
        service = services.approval_service()
        first, second = (await service.pending())[:2]
        await service.approve(first.id, actor="ae")
        await service.reject(second.id, actor="ae", reason="not now")
        decided = await asyncio.to_thread(scrape, exporter.url)
        assert delta(decided, after, "recommendations_approved_total") == 1
        assert delta(decided, after, "recommendations_rejected_total") == 1
        assert decided.value("pending_approvals_count") == pending - 2
    finally:
        await services.aclose()
        services.close()


async def test_zoho_errors_are_counted_by_zoho_code(
    locations: Locations, exporter: metrics.Exporter
) -> None:
    services = open_demo(locations)
    try:
        crm = await services.crm()
        before = await asyncio.to_thread(scrape, exporter.url)
        with pytest.raises(CrmError):
            await crm.get_stage_history("not-a-deal-id")
        after = await asyncio.to_thread(scrape, exporter.url)
        grown = {
            code: value - before.by("zoho_api_errors_total", "error_code").get(code, 0.0)
            for code, value in after.by("zoho_api_errors_total", "error_code").items()
        }
        failed = {code: n for code, n in grown.items() if n}
        assert sum(failed.values()) >= 1
        assert all(code.isupper() for code in failed), failed
        assert (
            delta(after, before, "zoho_api_requests_total", tool_name="zoho_get_stage_history") >= 1
        )
    finally:
        await services.aclose()
        services.close()


def test_metrics_disabled_records_nothing(locations: Locations) -> None:
    metrics.configure(enabled=False)
    try:
        before = parse(metrics.render())
        metrics.run_ended(3.0, failed=True)
        metrics.zoho_call(0.1, "INVALID_DATA")
        metrics.decided(approved=True)
        after = parse(metrics.render())
        assert after.samples == before.samples
    finally:
        metrics.configure()


def test_cost_tracking_off_leaves_the_model_metrics_out() -> None:
    metrics.configure(enabled=True, cost_tracking=False)
    try:
        before = parse(metrics.render())
        metrics.model_usage("claude-sonnet-4-5", tokens=1000, cost_usd=0.5)
        after = parse(metrics.render())
        assert after.total("anthropic_tokens_used_total") == before.total(
            "anthropic_tokens_used_total"
        )
        assert after.value("anthropic_api_cost_usd") == before.value("anthropic_api_cost_usd")
    finally:
        metrics.configure()
    before = parse(metrics.render())
    metrics.model_usage("claude-haiku-4-5", tokens=1000, cost_usd=0.25)
    after = parse(metrics.render())
    assert delta(after, before, "anthropic_tokens_used_total", model="claude-haiku-4-5") == 1000
    assert delta(after, before, "anthropic_api_cost_usd") == pytest.approx(0.25)


def _cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (its own Sergas directories), without model credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env.update(extra)
    return env


def test_a_one_shot_review_writes_its_metrics_for_the_textfile_collector(
    locations: Locations, tmp_path: Path
) -> None:
    target = tmp_path / "textfile" / "sergas.prom"
    target.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "sergas_tui", "review", "--all", "--metrics-file", str(target)],
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote the review's metrics to" in done.stderr
    written = parse(target.read_text(encoding="utf-8"))
    assert written.value("orchestrator_runs_total") == 1
    assert written.value("orchestrator_run_failures_total") == 0
    assert written.total("zoho_api_requests_total") > 0
    assert written.total("accounts_processed_total") == 40
    assert not list(target.parent.glob(".*.tmp")), "no temporary file left behind"


def test_a_taken_port_is_a_warning_and_the_review_still_runs(
    locations: Locations, tmp_path: Path, exporter: metrics.Exporter
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sergas_tui", "review", "--all"],
        env=_cli_env(SERGAS_MONITORING__PROMETHEUS_PORT=str(exporter.port)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"cannot be served on 127.0.0.1:{exporter.port}" in " ".join(done.stderr.split())
    assert "Review finished" in done.stdout


# --- `sergas doctor`'s summary ---------------------------------------------------------------


def doctor_lines(locations: Locations) -> dict[str, tuple[str, str]]:
    """`sergas doctor`'s metrics lines, as of an hour after the demo's clock."""
    from datetime import timedelta

    from sergas_tui.doctor_metrics import metrics_checks

    checks = metrics_checks(
        load_settings(locations), locations, "demo", now=NOW + timedelta(hours=1)
    )
    return {c.name: (c.status, c.detail) for c in checks}


async def test_doctor_summarises_the_reviews_and_judges_the_alerts(locations: Locations) -> None:
    services = open_demo(locations)
    try:
        orchestrator = await services.orchestrator()
        events = [event async for event in orchestrator.review(None)]
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        pending = services.store.pending_approval_count()
        service = services.approval_service()
        first = (await service.pending())[0]
        await service.reject(first.id, actor="ae", reason="not now")
    finally:
        await services.aclose()
        services.close()
    lines = doctor_lines(locations)
    assert "not served" in lines["metrics"][1]
    detail = lines["last 24 h"][1]
    assert detail.startswith("1 review(s) (0 failed")
    assert f"{finished.summary.calls:,} Zoho calls, 0 failed" in detail
    assert f"0 approved, 1 rejected; {pending - 1} waiting for a decision" in detail
    assert lines["alert: Zoho errors"][0] == "ok"
    assert lines["alert: slow review"][0] == "ok"
    backlog = "warn" if pending - 1 > metrics.ALERT_PENDING_APPROVALS else "ok"
    assert lines["alert: approval backlog"] == (
        backlog,
        f"{pending - 1} waiting (fires above {metrics.ALERT_PENDING_APPROVALS})",
    )
    assert lines["alert: memory"][0] == "info"


def test_doctor_reads_a_live_exporter_and_says_when_nothing_serves(
    locations: Locations, exporter: metrics.Exporter
) -> None:
    config = locations.config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[monitoring]\nprometheus_port = {exporter.port}\n", encoding="utf-8")
    metrics.account_processed()
    lines = doctor_lines(locations)
    assert lines["exporter"][0] == "ok"
    assert f"127.0.0.1:{exporter.port}/metrics answers" in lines["exporter"][1]
    exporter.close()
    lines = doctor_lines(locations)
    assert lines["exporter"] == (
        "info",
        f"nothing serves http://127.0.0.1:{exporter.port}/metrics now (only while a review, "
        "worker or server runs)",
    )


def test_the_worst_five_minutes_of_zoho_errors() -> None:
    from datetime import timedelta

    from sergas_tui.storage.run_figures import _worst_window

    start = NOW
    moments = [start + timedelta(minutes=m) for m in (0, 1, 2, 7, 8, 8.5, 9, 11.9, 30)]
    assert _worst_window(moments) == 5  # 7, 8, 8.5, 9 and 11.9
    assert _worst_window([]) == 0


def test_an_mcp_server_serves_its_metrics_while_it_runs(locations: Locations) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "sergas_tui", "mcp", "zoho"],
        env=_cli_env(SERGAS_MONITORING__PROMETHEUS_PORT="0"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said = follow(server.stderr)
    try:

        def announced() -> str | None:
            assert server.poll() is None, said.text
            return said.metrics_url()

        url = wait_for(announced, "the server to say where its metrics are", timeout=60)
        figures = scrape(url)
        for name in FOUNDING:
            assert name.removesuffix("_total") in figures.families
    finally:
        assert server.stdin is not None
        server.stdin.close()  # end of the stdio session: the server stops
        server.wait(timeout=60)
    assert "Traceback" not in said.join()


def test_an_error_code_that_is_not_zohos_counts_as_other() -> None:
    before = parse(metrics.render())
    metrics.zoho_call(0.01, "INVALID_DATA")
    metrics.zoho_call(0.01, 'bad"code\n{with} junk')
    metrics.zoho_call(0.01, "HTTP_502")
    after = parse(metrics.render())
    for code in ("INVALID_DATA", "OTHER", "HTTP_502"):
        assert delta(after, before, "zoho_api_errors_total", error_code=code) == 1, code
