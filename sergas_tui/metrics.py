"""Prometheus metrics: the founding design's names and labels, recorded in-process.

Every instrument lives in one registry (:data:`REGISTRY`), created on first use so that a
process that records nothing (the TUI before a review) never imports ``prometheus_client``.
What records what:

=========================================  ==================================================
``orchestrator_runs_total``                 every review run that ended (finished, failed or
``orchestrator_run_duration_seconds``       stopped), its wall time
``orchestrator_run_failures_total``         runs that ended in an error
``subagent_invocations_total{agent_name}``  the Data Scout once per run (``zoho_scout``), the
``subagent_duration_seconds{agent_name}``   Memory Analyst (``memory_analyst``) and the
``subagent_errors_total{agent_name}``       Recommendation Author (``recommendation_author``)
                                            once per account
``zoho_api_requests_total{tool_name}``      every Zoho API call sent (each attempt, as Zoho
``zoho_api_latency_seconds{tool_name}``     counts them: an HTTP request over REST, a tool
                                            call over MCP), labelled by the gateway operation
                                            that made it (``zoho_sync``, ``zoho_create_task``,
                                            …; ``zoho_other`` outside one)
``zoho_api_errors_total{error_code}``       calls that failed: Zoho's error code
                                            (``INVALID_DATA``, ``TOO_MANY_REQUESTS``, …),
                                            ``HTTP_<status>`` without one, ``NETWORK`` or
                                            ``TIMEOUT``
``cognee_queries_total``                    memory queries (the Memory Analyst's recall and the
``cognee_latency_seconds``                  memory read tools), whatever the backend
``accounts_processed_total``                accounts a review authored recommendations for
``recommendations_generated_total{type}``   new recommendations, by action type
``recommendations_approved_total``          approvals decided: approved (or adjusted) / rejected
``recommendations_rejected_total``
``anthropic_tokens_used_total{model}``      model tokens (input and output) by model
``anthropic_api_cost_usd``                  model cost in dollars, as the CLI reported it
=========================================  ==================================================

Ours, beside them: ``pending_approvals_count`` (approvals waiting for a decision in the
workspace, set after each review, and after each decision once :func:`serve` runs; the
design's backlog alert reads it), ``anthropic_api_cost_usd_by_model{model}`` and
``zoho_api_waits_total{reason}`` (waits for Zoho's limits: ``rate_limited`` after a 429,
``paced`` by the shared budget).

``[monitoring] metrics_enabled = false`` records nothing; ``cost_tracking_enabled = false``
leaves the ``anthropic_*`` metrics out. :func:`serve` exposes the registry on
``[monitoring] prometheus_port`` (loopback); :func:`write_textfile` dumps it for the node
exporter's textfile collector after a one-shot review. The alert rules are in
docs/prometheus-alerts.yml.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from sergas_tui.config import MonitoringSettings

# The alert rules' thresholds (docs/monitoring/prometheus-alerts.yml; a test keeps them equal),
# which `sergas doctor` also applies to the workspace's own records.
ALERT_ZOHO_ERRORS_5M = 10
"""More failed Zoho calls than this within 5 minutes: SergasZohoErrors."""
ALERT_RUN_SECONDS = 600
"""A review longer than this: SergasSlowReview."""
ALERT_PENDING_APPROVALS = 50
"""More approvals than this waiting for a decision: SergasApprovalBacklog."""
ALERT_MEMORY_SILENT_MINUTES = 10
"""Accounts processed without one memory query for this long: SergasMemoryDown."""

AGENTS = ("zoho_scout", "memory_analyst", "recommendation_author")
"""The ``agent_name`` label's values (as the audit log names the subagents)."""

# Buckets: Zoho calls and memory queries take milliseconds to seconds; runs seconds to an hour.
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_RUN_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_AGENT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300)


@dataclass
class _Switches:
    metrics: bool = True
    cost: bool = True
    served: bool = False
    """An exporter of this process is (or was) up: figures that cost a query are worth it."""


_switches = _Switches()
_tool: ContextVar[str] = ContextVar("sergas_zoho_tool", default="zoho_other")


class _Instruments:
    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
        self.registry = r = CollectorRegistry()
        self.runs = Counter("orchestrator_runs", "Review runs that ended.", registry=r)
        self.run_seconds = Histogram(
            "orchestrator_run_duration_seconds",
            "Wall time of a review run.",
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.run_failures = Counter(
            "orchestrator_run_failures", "Review runs that ended in an error.", registry=r
        )
        self.agent_calls = Counter(
            "subagent_invocations", "Subagent invocations.", ["agent_name"], registry=r
        )
        self.agent_seconds = Histogram(
            "subagent_duration_seconds",
            "Time of one subagent invocation.",
            ["agent_name"],
            buckets=_AGENT_BUCKETS,
            registry=r,
        )
        self.agent_errors = Counter(
            "subagent_errors", "Subagent invocations that failed.", ["agent_name"], registry=r
        )
        for agent in AGENTS:  # every series exists from the start, at 0
            self.agent_calls.labels(agent)
            self.agent_seconds.labels(agent)
            self.agent_errors.labels(agent)
        self.zoho_calls = Counter(
            "zoho_api_requests", "Zoho API calls sent.", ["tool_name"], registry=r
        )
        self.zoho_seconds = Histogram(
            "zoho_api_latency_seconds",
            "Time of one Zoho API call.",
            ["tool_name"],
            buckets=_CALL_BUCKETS,
            registry=r,
        )
        self.zoho_errors = Counter(
            "zoho_api_errors", "Zoho API calls that failed.", ["error_code"], registry=r
        )
        self.zoho_waits = Counter(
            "zoho_api_waits", "Waits for Zoho's limits.", ["reason"], registry=r
        )
        self.memory_queries = Counter("cognee_queries", "Memory queries.", registry=r)
        self.memory_seconds = Histogram(
            "cognee_latency_seconds", "Time of one memory query.", buckets=_CALL_BUCKETS, registry=r
        )
        self.accounts = Counter("accounts_processed", "Accounts reviewed.", registry=r)
        self.recommendations = Counter(
            "recommendations_generated", "New recommendations.", ["type"], registry=r
        )
        self.approved = Counter(
            "recommendations_approved", "Approvals approved (as proposed or adjusted).", registry=r
        )
        self.rejected = Counter("recommendations_rejected", "Approvals rejected.", registry=r)
        self.pending = Gauge(
            "pending_approvals_count", "Approvals waiting for a decision.", registry=r
        )
        self.tokens = Counter(
            "anthropic_tokens_used", "Model tokens (input and output).", ["model"], registry=r
        )
        # A counter named *_usd (no _total): the design's name, exposed as written.
        self.cost = Gauge("anthropic_api_cost_usd", "Model cost in dollars.", registry=r)
        self.cost_by_model = Counter(
            "anthropic_api_cost_usd_by_model", "Model cost in dollars.", ["model"], registry=r
        )


_instruments: _Instruments | None = None


def _m() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def registry() -> CollectorRegistry:
    """The registry every Sergas metric lives in."""
    return _m().registry


def configure(*, enabled: bool = True, cost_tracking: bool = True) -> None:
    """Apply ``[monitoring] metrics_enabled`` and ``cost_tracking_enabled``."""
    _switches.metrics = enabled
    _switches.cost = enabled and cost_tracking


def served() -> bool:
    """True once this process serves its metrics (:func:`serve`): only then is a figure that
    costs a database query (the backlog after each decision) worth reading."""
    return _switches.metrics and _switches.served


# --- recording ------------------------------------------------------------------------------


@contextmanager
def zoho_tool(tool_name: str) -> Iterator[None]:
    """Label the Zoho calls made inside the block (and the tasks it starts) with ``tool_name``."""
    reset = _tool.set(tool_name)
    try:
        yield
    finally:
        _tool.reset(reset)


_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def zoho_call(seconds: float, error_code: str | None = None) -> None:
    """One Zoho API call (an attempt) under the current tool name; ``error_code`` if it failed.

    A code that does not look like Zoho's (upper-case words joined by ``_``) counts as
    ``OTHER``: an answer's body must not be able to mint label values without end."""
    if not _switches.metrics:
        return
    m = _m()
    tool = _tool.get()
    m.zoho_calls.labels(tool).inc()
    m.zoho_seconds.labels(tool).observe(seconds)
    if error_code is not None:
        code = error_code if _ERROR_CODE.fullmatch(error_code) else "OTHER"
        m.zoho_errors.labels(code).inc()


def error_code_of(err: BaseException) -> str:
    """The ``error_code`` label for a failed call: Zoho's code, else the HTTP status, else the
    kind of failure."""
    from sergas_tui.errors import CrmStatusError, CrmTimeoutError

    if isinstance(err, CrmStatusError):
        return err.code or f"HTTP_{err.status_code}"
    if isinstance(err, CrmTimeoutError | TimeoutError):
        return "TIMEOUT"
    return "NETWORK"


@contextmanager
def zoho_timed() -> Iterator[None]:
    """Time one Zoho call made in the block (an MCP tool call); a CRM error counts as failed."""
    started = time.perf_counter()
    try:
        yield
    except Exception as err:
        zoho_call(time.perf_counter() - started, error_code_of(err))
        raise
    zoho_call(time.perf_counter() - started)


def zoho_wait(reason: str) -> None:
    if _switches.metrics:
        _m().zoho_waits.labels(reason).inc()


@contextmanager
def subagent(agent_name: str) -> Iterator[None]:
    """One subagent invocation: counted, timed, and counted as an error if it raises."""
    if not _switches.metrics:
        yield
        return
    m = _m()
    started = time.perf_counter()
    m.agent_calls.labels(agent_name).inc()
    try:
        yield
    except Exception:
        m.agent_errors.labels(agent_name).inc()
        raise
    finally:
        m.agent_seconds.labels(agent_name).observe(time.perf_counter() - started)


@contextmanager
def memory_query() -> Iterator[None]:
    """One memory query, counted and timed."""
    if not _switches.metrics:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        m = _m()
        m.memory_queries.inc()
        m.memory_seconds.observe(time.perf_counter() - started)


def run_ended(seconds: float, *, failed: bool) -> None:
    if not _switches.metrics:
        return
    m = _m()
    m.runs.inc()
    m.run_seconds.observe(seconds)
    if failed:
        m.run_failures.inc()


def account_processed() -> None:
    if _switches.metrics:
        _m().accounts.inc()


def recommendation_generated(action_type: str) -> None:
    if _switches.metrics:
        _m().recommendations.labels(action_type).inc()


def decided(*, approved: bool) -> None:
    if not _switches.metrics:
        return
    (_m().approved if approved else _m().rejected).inc()


def pending_approvals(count: int) -> None:
    if _switches.metrics:
        _m().pending.set(count)


def model_usage(model: str | None, *, tokens: int, cost_usd: float | None) -> None:
    """One model request's tokens and cost (``cost_tracking_enabled``)."""
    if not _switches.cost:
        return
    m = _m()
    label = model or "unknown"
    m.tokens.labels(label).inc(tokens)
    if cost_usd:
        m.cost.inc(cost_usd)
        m.cost_by_model.labels(label).inc(cost_usd)


# --- exposing -------------------------------------------------------------------------------


@dataclass
class Exporter:
    """A running ``/metrics`` endpoint (:func:`serve`)."""

    host: str
    port: int
    _server: Any

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(port: int, host: str = "127.0.0.1") -> Exporter:
    """Expose the registry on ``http://host:port/metrics`` from a daemon thread (port 0: any
    free port). Raises :class:`~sergas_tui.errors.ConfigError` when the port is taken."""
    from prometheus_client import start_http_server

    from sergas_tui.errors import ConfigError

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry())
    except OSError as err:
        raise ConfigError(
            f"Prometheus metrics cannot be served on {host}:{port} ({err.strerror or err}): "
            "another process (a second worker or review?) holds the port. Give this process "
            "another one with SERGAS_MONITORING__PROMETHEUS_PORT, or leave [monitoring] "
            "prometheus_port unset."
        ) from err
    _switches.served = True
    return Exporter(host, int(server.server_address[1]), server)


def render() -> str:
    """The registry in Prometheus' text format."""
    from prometheus_client import generate_latest

    return generate_latest(registry()).decode()


def write_textfile(path: Path) -> None:
    """Write the registry for the node exporter's textfile collector, atomically (a temporary
    file renamed over ``path``), so a scrape never reads half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(render(), encoding="utf-8")
    os.replace(temporary, path)


@contextmanager
def exposed(
    monitoring: MonitoringSettings,
    *,
    warn: Callable[[str], None],
    tell: Callable[[str], None] | None = None,
) -> Iterator[Exporter | None]:
    """Serve the metrics for the block when ``[monitoring] prometheus_port`` is set (and
    metrics are enabled). A port that cannot be had is a warning, not a failure: the work the
    process is for (a review, a worker) matters more than its metrics."""
    if monitoring.prometheus_port is None or not monitoring.metrics_enabled:
        yield None
        return
    from sergas_tui.errors import ConfigError

    try:
        exporter = serve(monitoring.prometheus_port, monitoring.prometheus_host)
    except ConfigError as err:
        warn(f"Warning: {err.message} Going on without serving metrics.")
        yield None
        return
    if tell is not None:
        tell(f"Prometheus metrics on {exporter.url}")
    try:
        yield exporter
    finally:
        exporter.close()


def dump_to(path: Path | None, *, warn: Callable[[str], None]) -> bool:
    """Write the metrics to ``path`` (:func:`write_textfile`) when one is given; a file that
    cannot be written is a warning. True when written."""
    if path is None or not _switches.metrics:
        return False
    try:
        write_textfile(path)
    except OSError as err:
        warn(
            f"Warning: the metrics could not be written to {path} ({err.strerror or err}); "
            "check [monitoring] metrics_file or --metrics-file."
        )
        return False
    return True
