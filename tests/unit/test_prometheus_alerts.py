"""The alert rules in docs/monitoring/: Prometheus' own `promtool` checks them and runs their
unit tests (Debian's `prometheus` package; `make test` installs it as root, CI requires it),
and every metric they read is one Sergas exposes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sergas_tui import metrics

RULES = Path(__file__).resolve().parents[2] / "docs" / "monitoring" / "prometheus-alerts.yml"
RULE_TESTS = RULES.with_name("prometheus-alerts.test.yml")
# Read before the autouse fixture scrubs SERGAS_* from the environment.
REQUIRE_PROMTOOL = os.environ.get("SERGAS_REQUIRE_PROMTOOL") == "1"
PROMQL_WORDS = {"sum", "max", "increase", "and", "or", "le", "by", "without", "rate"}

# The founding design's four alerts and the rule that carries each.
FOUNDING_ALERTS = {
    "HighErrorRate": "SergasZohoErrors",
    "SlowOrchestrator": "SergasSlowReview",
    "ApprovalBacklog": "SergasApprovalBacklog",
    "CogneeDown": "SergasMemoryDown",
}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def exposed_names() -> set[str]:
    """Every sample name the registry exposes (``x_total``, ``x_bucket``, gauges, …)."""
    names: set[str] = set()
    for line in metrics.render().splitlines():
        if line.startswith("# TYPE "):
            family, kind = line.split()[2:4]
            suffixes = {
                "counter": ("",),  # the text format names counters with their _total
                "histogram": ("_bucket", "_count", "_sum"),
                "gauge": ("",),
            }[kind]
            names.update(family + suffix for suffix in suffixes)
    return names


def test_every_founding_alert_is_a_rule_with_severity_and_advice() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == set(FOUNDING_ALERTS.values())
    severities = {by_name[ours]["labels"]["severity"] for ours in FOUNDING_ALERTS.values()}
    assert severities == {"warning", "info", "critical"}
    for rule in by_name.values():
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_the_rules_read_only_metrics_sergas_exposes() -> None:
    exposed = exposed_names()
    for rule in rules():
        expression = re.sub(r"\{[^}]*\}|\[[^]]*\]", " ", rule["expr"])  # selectors, ranges
        words = set(re.findall(r"[a-z_][a-z0-9_]*", expression)) - PROMQL_WORDS
        assert words, rule
        assert words <= exposed, (rule["alert"], words - exposed)


def test_promtool_checks_the_rules_and_runs_their_unit_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = (
            "promtool (Debian's `prometheus` package) checks the alert rules: "
            "`sudo apt-get install prometheus` (`make test` does it as root)."
        )
        if REQUIRE_PROMTOOL:
            pytest.fail(message)
        pytest.skip(message)
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_thresholds_sergas_doctor_applies_are_the_rules_own() -> None:
    by_name = {rule["alert"]: " ".join(rule["expr"].split()) for rule in rules()}
    assert f"> {metrics.ALERT_ZOHO_ERRORS_5M}" in by_name["SergasZohoErrors"]
    assert "[5m]" in by_name["SergasZohoErrors"]
    # The bucket the rule reads is one the registry exposes, spelt as the client spells it.
    bucket = f'orchestrator_run_duration_seconds_bucket{{le="{float(metrics.ALERT_RUN_SECONDS)}"}}'
    assert bucket in by_name["SergasSlowReview"]
    assert any(line.startswith(bucket + " ") for line in metrics.render().splitlines())
    assert f"> {metrics.ALERT_PENDING_APPROVALS}" in by_name["SergasApprovalBacklog"]
    assert f"[{metrics.ALERT_MEMORY_SILENT_MINUTES}m]" in by_name["SergasMemoryDown"]
