"""`sergas doctor`'s metrics summary: where the metrics go, and the founding design's four
alerts judged without Prometheus or Grafana.

Three sources, each said as such: the settings ([monitoring]); the workspace's own records of
the last 24 hours (:mod:`sergas_tui.storage.run_figures`: reviews, Zoho errors, decisions,
the approval backlog); and, when ``prometheus_port`` is set and a Sergas process serves it
now (a worker, `sergas serve`, a review), a scrape of that endpoint for what only the live
process knows (memory queries).
"""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui import metrics
from sergas_tui.config import Settings
from sergas_tui.doctor import Check
from sergas_tui.errors import SergasError
from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from sergas_tui.storage.run_figures import RunFigures, run_figures

GROUP = "metrics"
SCRAPE_TIMEOUT_SECONDS = 3.0


def metrics_checks(
    settings: Settings, locations: Locations, name: str, *, now: datetime | None = None
) -> list[Check]:
    monitoring = settings.monitoring
    if not monitoring.metrics_enabled:
        return [Check(GROUP, "metrics", "info", "off ([monitoring] metrics_enabled = false)")]
    checks = [_where(settings)]
    if monitoring.metrics_file:
        checks.append(_textfile(Path(monitoring.metrics_file).expanduser(), now))
    live = _scrape(settings)
    if live is not None:
        checks.append(live[0])
    db = locations.database_file(name)
    if not db.exists():
        return checks
    try:
        repo = Repository.open(db)
    except SergasError as err:
        return [*checks, Check(GROUP, "last 24 h", "warn", err.message)]
    try:
        figures = run_figures(repo, now or datetime.now(UTC))
    finally:
        repo.close()
    checks.append(Check(GROUP, "last 24 h", "info", _summary(figures)))
    checks += _alerts(figures, None if live is None else live[1])
    return checks


def _where(settings: Settings) -> Check:
    monitoring = settings.monitoring
    if monitoring.prometheus_port is None:
        detail = (
            "recorded in each process; not served ([monitoring] prometheus_port unset). "
            "Alert rules: docs/monitoring/prometheus-alerts.yml"
        )
    else:
        detail = (
            f"served on http://{monitoring.prometheus_host}:{monitoring.prometheus_port}/metrics "
            "by headless reviews, workers, `sergas serve` and the MCP servers while they run. "
            "Alert rules: docs/monitoring/prometheus-alerts.yml"
        )
    return Check(GROUP, "metrics", "info", detail)


def _textfile(path: Path, now: datetime | None) -> Check:
    if not path.exists():
        return Check(GROUP, "metrics file", "info", f"{path} (written after each `sergas review`)")
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    age = ((now or datetime.now(UTC)) - written).total_seconds()
    return Check(GROUP, "metrics file", "info", f"{path}, written {_ago(age)} ago")


def _scrape(settings: Settings) -> tuple[Check, dict[str, float]] | None:
    """The live endpoint's figures, when something serves it now."""
    monitoring = settings.monitoring
    if not monitoring.prometheus_port:
        return None
    url = f"http://{monitoring.prometheus_host}:{monitoring.prometheus_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_SECONDS) as response:
            text = response.read().decode()
    except OSError:
        detail = f"nothing serves {url} now (only while a review, worker or server runs)"
        return Check(GROUP, "exporter", "info", detail), {}
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    runs = int(totals.get("orchestrator_runs_total", 0))
    detail = (
        f"{url} answers: {runs} review(s) ended in that process, "
        f"{int(totals.get('zoho_api_requests_total', 0)):,} Zoho calls, "
        f"{int(totals.get('cognee_queries_total', 0)):,} memory queries"
    )
    return Check(GROUP, "exporter", "ok", detail), totals


def _summary(f: RunFigures) -> str:
    longest = "" if f.longest_seconds is None else f", longest {f.longest_seconds:.1f} s"
    running = f", {f.running} not ended" if f.running else ""
    return (
        f"{f.runs} review(s) ({f.failed} failed, {f.partial} with failed accounts{running})"
        f"{longest}; {f.calls:,} Zoho calls, {f.zoho_calls_failed} failed; "
        f"{f.approved} approved, {f.rejected} rejected; {f.pending} waiting for a decision"
    )


def _alerts(f: RunFigures, live: dict[str, float] | None) -> list[Check]:
    errors = f.zoho_errors_worst_5m
    over = errors > metrics.ALERT_ZOHO_ERRORS_5M
    checks = [
        Check(
            GROUP,
            "alert: Zoho errors",
            "warn" if over else "ok",
            f"at most {errors} failed Zoho calls within 5 minutes "
            f"(fires above {metrics.ALERT_ZOHO_ERRORS_5M})",
        )
    ]
    slow = f.longest_seconds is not None and f.longest_seconds > metrics.ALERT_RUN_SECONDS
    longest = "no review ended" if f.longest_seconds is None else f"{f.longest_seconds:.0f} s"
    checks.append(
        Check(
            GROUP,
            "alert: slow review",
            "warn" if slow else "ok",
            f"longest review {longest} (fires above {metrics.ALERT_RUN_SECONDS} s)",
        )
    )
    backlog = f.pending > metrics.ALERT_PENDING_APPROVALS
    checks.append(
        Check(
            GROUP,
            "alert: approval backlog",
            "warn" if backlog else "ok",
            f"{f.pending} waiting (fires above {metrics.ALERT_PENDING_APPROVALS})",
        )
    )
    if not live:
        detail = "judged by Prometheus from a live endpoint (memory queries are not stored)"
        checks.append(Check(GROUP, "alert: memory", "info", detail))
    else:
        accounts = live.get("accounts_processed_total", 0.0)
        queries = live.get("cognee_queries_total", 0.0)
        silent = accounts > 0 and queries == 0
        checks.append(
            Check(
                GROUP,
                "alert: memory",
                "warn" if silent else "ok",
                f"{int(queries):,} memory queries for {int(accounts):,} accounts in the "
                "serving process",
            )
        )
    return checks


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"
