"""Benchmark the Claude engine: a 500-account review, real SDK + CLI, a fake model that uses tools.

    python bench/claude_engine.py [--accounts 500] [--owners 5] [--latency 0.3] [--batch 8]
                                  [--no-tools] [--routing off|on|both]
                                  [--model claude-sonnet-4-5] [--model-simple claude-haiku-4-5]

Generates the demo org into a temporary workspace, starts the fake Messages API
(``tests/fakes/anthropic_api.py``) with every model turn answered after ``--latency`` seconds,
and reviews every owner's accounts on the Claude engine through the real SDK and bundled CLI.

The scripted model behaves like an agent. For each batch (the accounts named in its prompt):

- **Data Scout**: calls ``zoho_get_account_details`` for every account, waits for the results,
  then ``zoho_get_deals`` for every account, waits again, then answers through
  ``StructuredOutput`` with one assessment per account citing what the tools returned;
- **Memory Analyst**: calls ``cognee_retrieve_history`` for every account, waits, answers;
- **Recommendation Author**: the product offers it no tool, so it answers at once (one task per
  account).

Every turn carries a sentence of thinking per account (the CLI asks for thinking). Tools are
called only if the request offers them (``--no-tools``: never), so the tool round trips and the
tool results, re-sent on every later turn of the conversation, are in the figures. Tool calls
run in the product (in-process MCP servers over the demo CRM and memory) exactly as with a real
model.

Token figures are the fake API's own accounting of the bodies it received and the replies it
sent (see the fake's docstring for its tokenizer), reported per response in ``usage`` as the
Messages API does; they are cross-checked with what the product summed from the CLI's results.

Prints the result as JSON on stdout and a readable summary on stderr: requests, tool calls,
tool results and input/output tokens per role (input broken down by part), input tokens per
flagged account, CLI processes started (counted by the engine and, independently, by sampling
this process's children in /proc), wall time and the machine's load average before, during
and after. Tokens and cost are also reported per model: ``--routing on`` sets ``[anthropic]
model_simple`` (simple accounts go to the cheaper model), ``off`` leaves it unset, ``both``
(the default) runs the review twice, off then on, and reports each. Costs are the CLI's own
(its price table for the model ids the fake answers as), the tokens per model are
cross-checked with the fake's count of the requests that named each model.

Targets: processes ≤ pool size + 1; input tokens per flagged account ≤ 3,000. Exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sergas_tui.agents.claude import ClaudeEngine
from sergas_tui.agents.claude.hooks import AGENT_NAMES
from sergas_tui.agents.events import AccountScouted, AgentUsage, RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.domain import AuditAction
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.fakes.anthropic_api import (
    ApiRequest,
    FakeAnthropic,
    ToolUse,
    Turn,
    structured,
    text,
    thinking,
)
from tests.fakes.sdk_env import DUMMY_API_KEY, LOOPBACK, PROXY_VARIABLES
from tests.helpers.claude import ACCOUNT_ID, recommend

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MAX_TOKENS_PER_ACCOUNT = 3000
ROLES = ("scout", "analyst", "author")
TOOL_ROUNDS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "scout": (("zoho_get_account_details",), ("zoho_get_deals",)),
    "analyst": (("cognee_retrieve_history",),),
    "author": (),
}
"""The tools each role's scripted model calls, round by round, for every account of a batch."""


# --- the scripted agent ------------------------------------------------------------------------


def _plain(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


@dataclass
class Conversation:
    """The current batch's conversation as one request carries it."""

    ids: list[str]
    """The accounts of the batch, in prompt order."""
    calls: dict[str, tuple[str, str]] = field(default_factory=dict)
    """tool_use id → (tool name without the ``mcp__server__`` prefix, account id)."""
    results: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """tool_use id → (result text, is_error)."""

    @property
    def called(self) -> set[str]:
        return {tool for tool, _ in self.calls.values()}

    def results_for(self, account_id: str) -> list[tuple[str, str, bool]]:
        """(tool, text, is_error) of every tool result about ``account_id``."""
        found = []
        for use_id, (tool, target) in self.calls.items():
            if target == account_id and use_id in self.results:
                found.append((tool, *self.results[use_id]))
        return found


def conversation(request: ApiRequest) -> Conversation:
    """The batch prompt (the last user message naming accounts) and the tool calls and results
    that followed it."""
    messages = request.messages
    start = 0
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user" and ACCOUNT_ID.search(_plain(message.get("content"))):
            start = index
            break
    convo = Conversation(
        ACCOUNT_ID.findall(_plain(messages[start].get("content"))) if messages else []
    )
    for message in messages[start + 1 :]:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                name = str(block.get("name", "")).rsplit("__", 1)[-1]
                tool_input = block.get("input") or {}
                convo.calls[str(block.get("id"))] = (name, str(tool_input.get("account_id", "")))
            elif block.get("type") == "tool_result":
                result = (_plain(block.get("content")), bool(block.get("is_error")))
                convo.results[str(block.get("tool_use_id"))] = result
    return convo


def _records(result: str) -> str:
    """``"3 records"`` when a tool result says how many it holds; else its size."""
    start = result.find("{")
    try:
        data = json.loads(result[start:]) if start >= 0 else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("count"), int):
        return f"{data['count']} records"
    return f"{len(result):,} characters"


def _thoughts(ids: Sequence[str], what: str) -> Turn:
    return thinking(" ".join(f"Account {i}: {what}" for i in ids))


def assessment_answer(request: ApiRequest, convo: Conversation) -> Turn:
    """One assessment per account of the batch, naming what the tools returned for it."""
    accounts = []
    for account_id in convo.ids:
        read = [
            f"{tool} ({'error' if is_error else _records(body)})"
            for tool, body, is_error in convo.results_for(account_id)
        ]
        source = f"From {', '.join(read)}" if read else "From the synced facts"
        accounts.append(
            {
                "account_id": account_id,
                "assessment": f"{source}: the stalled deal is the real risk for {account_id}; "
                "the owner should call the main contact this week.",
            }
        )
    return _thoughts(convo.ids, "weigh what changed against the deals.") + structured(
        {"accounts": accounts}
    )


def author_answer(request: ApiRequest, convo: Conversation) -> Turn:
    return _thoughts(convo.ids, "one task for the owner.") + recommend()(request)


def agent(
    rounds: Sequence[Sequence[str]],
    answer: Callable[[ApiRequest, Conversation], Turn],
    latency: float = 0.0,
) -> Callable[[ApiRequest], Turn]:
    """A step that calls each round's tools (those the request offers) for every account of the
    batch, one round per turn, then answers with ``answer``; each turn after ``latency``."""

    def step(request: ApiRequest) -> Turn:
        convo = conversation(request)
        for tools in rounds:
            offered = [tool for tool in tools if request.find_tool(tool)]
            if offered and not set(offered) <= convo.called:
                uses = tuple(ToolUse(t, {"account_id": i}) for i in convo.ids for t in offered)
                turn = (
                    _thoughts(convo.ids, f"read {', '.join(offered)} before judging.")
                    + text(f"Reading {', '.join(offered)} for {len(convo.ids)} accounts.")
                    + Turn(blocks=uses)
                )
                return turn.after(latency)
        return answer(request, convo).after(latency)

    return step


def script_model(fake: FakeAnthropic, accounts: int, latency: float, tools: bool) -> None:
    """Queue enough agent steps on each role's lane for ``accounts`` accounts."""
    answers = {"scout": assessment_answer, "analyst": assessment_answer, "author": author_answer}
    for role in ROLES:
        rounds = TOOL_ROUNDS[role] if tools else ()
        step = agent(rounds, answers[role], latency)
        # One request per round plus the answer, per batch (at least one account each), plus
        # re-asks: generous, the steps are functions of the request.
        fake.script(*[step] * ((len(rounds) + 2) * accounts + 16), lane=role)


# --- measuring -----------------------------------------------------------------------------------


def claude_children() -> set[int]:
    """PIDs of this process's children that run the Claude Code CLI."""
    me = str(os.getpid())
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and b"claude" in cmdline:
            found.add(int(entry.name))
    return found


@dataclass
class Sampler:
    """CLI children and the 1-minute load average, sampled while the review runs."""

    seen: set[int] = field(default_factory=set)
    peak: int = 0
    load_max: float = 0.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stop.is_set():
            now = await asyncio.to_thread(claude_children)
            self.seen |= now
            self.peak = max(self.peak, len(now))
            self.load_max = max(self.load_max, os.getloadavg()[0])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.1)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass(frozen=True)
class Options:
    accounts: int = 500
    owners: int = 5
    latency: float = 0.3
    batch: int = 8
    tools: bool = True
    model: str = "claude-sonnet-4-5"
    model_simple: str | None = None
    """``[anthropic] model_simple`` for the run (``None``: routing off)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, routing: bool) -> Options:
        return cls(
            args.accounts,
            args.owners,
            args.latency,
            args.batch,
            not args.no_tools,
            args.model,
            args.model_simple if routing else None,
        )


@dataclass
class Bench:
    """One benchmark run: the printed report and the (stopped) fake, whose records stay."""

    report: dict[str, Any]
    fake: FakeAnthropic
    engine_usage: dict[str, dict[str, int]]
    """Per role, the tokens the product summed from the CLI's results (``AgentUsage``)."""


def _distribution(values: Sequence[float]) -> dict[str, int]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "min": round(ordered[0]),
        "median": round(statistics.median(ordered)),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]),
        "max": round(ordered[-1]),
    }


def fake_tokens_by_model(fake: FakeAnthropic) -> dict[str, dict[str, int]]:
    """The fake's own token count of the requests that named each model."""
    by: dict[str, dict[str, int]] = {}
    for record in fake.message_requests():
        if not record.completed or record.body is None:
            continue
        counts = by.setdefault(
            str(record.body.get("model")), {"requests": 0, "input_tokens": 0, "output_tokens": 0}
        )
        counts["requests"] += 1
        counts["input_tokens"] += record.input_tokens
        counts["output_tokens"] += record.output_tokens
    return by


def per_account_input(fake: FakeAnthropic) -> dict[str, float]:
    """Input tokens per account: each request's input shared among its batch's accounts."""
    shares: dict[str, float] = {}
    for record in fake.message_requests():
        if not record.completed or record.body is None or record.lane not in ROLES:
            continue
        ids = conversation(ApiRequest(record.body)).ids
        for account_id in ids:
            shares[account_id] = shares.get(account_id, 0.0) + record.input_tokens / len(ids)
    return shares


async def review(root: Path, options: Options) -> Bench:
    """Generate the org, review every owner on the Claude engine against the scripted fake."""
    locations = Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "log")
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=options.accounts, owners=options.owners, seed=7, now=ANCHOR)
    fake = FakeAnthropic()
    with fake:
        script_model(fake, options.accounts, options.latency, options.tools)
        overrides = {
            "zoho": {"requests_per_minute": 10_000},
            "anthropic": {
                "engine": "claude",
                "base_url": fake.base_url,
                "model": options.model,
                "model_simple": options.model_simple,
            },
            "orchestrator": {"author_batch_size": options.batch},
        }
        services = open_services(
            load_settings(locations, overrides=overrides),
            locations,
            secrets=SecretStore(environ={"ANTHROPIC_API_KEY": DUMMY_API_KEY}),
            clock=FixedClock(ANCHOR),
        )
        sampler = Sampler()
        usage_by_role = {role: {"input_tokens": 0, "output_tokens": 0} for role in ROLES}
        tool_runs = dict.fromkeys(ROLES, 0)
        load_before = load()
        try:
            orchestrator = await services.orchestrator()
            engine = orchestrator.engine
            assert isinstance(engine, ClaudeEngine)
            engine.config = engine.config.with_(
                workdir=root / "claude",
                env={
                    "CLAUDE_CODE_MAX_RETRIES": "0",
                    "NO_PROXY": LOOPBACK,
                    "no_proxy": LOOPBACK,
                    # Anything the CLI sends off loopback lands in fake.escape_attempts.
                    **dict.fromkeys(PROXY_VARIABLES, fake.base_url),
                },
            )
            sampling = asyncio.create_task(sampler.run())
            started = time.perf_counter()
            finished: RunFinished | None = None
            flagged: set[str] = set()
            async for event in orchestrator.review(None):
                if isinstance(event, AccountScouted) and (event.signals or event.changes):
                    flagged.add(event.account_id)
                elif isinstance(event, AgentUsage) and event.agent in usage_by_role:
                    counts = usage_by_role[event.agent]
                    counts["input_tokens"] += event.usage.input_tokens
                    counts["output_tokens"] += event.usage.output_tokens
                elif isinstance(event, RunFinished):
                    finished = event
            seconds = time.perf_counter() - started
            sampler.stop.set()
            await sampling
            agents = {name: role for role, name in AGENT_NAMES.items()}
            for row in services.store.audit_events(limit=10_000_000):
                outputs = row.tool_outputs
                gate = outputs.get("gate") if isinstance(outputs, dict) else None
                if (
                    row.action_type == AuditAction.TOOL_INVOCATION
                    and gate == "post_tool_use"
                    and (row.tool_name or "").startswith("mcp__")
                    and row.agent_name in agents
                ):
                    tool_runs[agents[row.agent_name]] += 1
        finally:
            await services.aclose()
            services.close()
    load_after = load()
    assert finished is not None
    summary = finished.summary
    pool = engine.config.pool_size
    roles = {}
    for role in ROLES:
        figures = fake.accounting(role).as_dict()
        figures["tool_runs_audited_by_the_product"] = tool_runs[role]
        roles[role] = figures
    total = fake.accounting()
    shares = per_account_input(fake)
    per_account = total.input_tokens / len(flagged) if flagged else 0.0
    report: dict[str, Any] = {
        "options": {
            "accounts": options.accounts,
            "owners": options.owners,
            "latency_per_turn_s": options.latency,
            "batch": options.batch,
            "model_calls_tools": options.tools,
            "model": options.model,
            "model_simple": options.model_simple,
        },
        "accounts": summary.accounts,
        "flagged_accounts": len(flagged),
        "recommendations": summary.recommendations,
        "fallbacks": summary.fallbacks,
        "failed": summary.failed,
        "pool_size": pool,
        "cli_processes_started": engine.processes_started,
        "cli_processes_seen_in_proc": len(sampler.seen),
        "cli_processes_peak": sampler.peak,
        "roles": roles,
        "requests_total": total.requests,
        "tool_calls_total": total.tool_calls_total,
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "input_tokens_by_part": total.input_parts,
        "input_tokens_per_flagged_account": round(per_account),
        "input_tokens_per_account_spread": _distribution(list(shares.values())),
        "accounts_seen_by_the_model": len(shares),
        "product_usage_by_role": usage_by_role,
        "product_usage_total": {
            "input_tokens": summary.usage.input_tokens if summary.usage else 0,
            "output_tokens": summary.usage.output_tokens if summary.usage else 0,
        },
        "product_cost_usd": summary.usage.cost_usd if summary.usage else None,
        "by_model": {
            model: {
                "queries": usage.requests,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": usage.cost_usd,
            }
            for model, usage in sorted(summary.by_model.items())
        },
        "fake_tokens_by_model": fake_tokens_by_model(fake),
        "wall_seconds": round(seconds, 1),
        "load_average": {
            "cpus": os.cpu_count(),
            "before": load_before,
            "max_1min_during": round(sampler.load_max, 2),
            "after": load_after,
        },
        "fake_errors": fake.errors[:3],
        "escape_attempts": len(fake.escape_attempts),
        "targets": {
            "cli_processes_max": pool + 1,
            "input_tokens_per_flagged_account_max": MAX_TOKENS_PER_ACCOUNT,
        },
        "targets_met": {
            "processes": engine.processes_started <= pool + 1 and len(sampler.seen) <= pool + 1,
            "tokens_per_account": per_account <= MAX_TOKENS_PER_ACCOUNT,
        },
    }
    return Bench(report, fake, usage_by_role)


def readable(report: Mapping[str, Any]) -> str:
    """The report as a few lines a person reads."""
    options = report["options"]
    lines = [
        f"Claude engine: {report['accounts']} accounts, {options['owners']} owners, "
        f"{report['flagged_accounts']} flagged; batch {options['batch']}, "
        f"{options['latency_per_turn_s']} s per model turn, "
        f"model calls tools: {'yes' if options['model_calls_tools'] else 'no'}; routing "
        + (f"on (simple: {options['model_simple']})" if options["model_simple"] else "off"),
        f"{'role':<8} {'requests':>8} {'tools':>6} {'results':>7} {'errors':>6} "
        f"{'input tok':>10} {'output tok':>10} {'tool-result tok':>15}",
    ]
    for role, r in report["roles"].items():
        lines.append(
            f"{role:<8} {r['requests']:>8} {r['tool_calls']:>6} {r['tool_results']:>7} "
            f"{r['tool_result_errors']:>6} {r['input_tokens']:>10,} {r['output_tokens']:>10,} "
            f"{r['input_tokens_by_part']['tool_results']:>15,}"
        )
    parts = ", ".join(f"{k} {v:,}" for k, v in report["input_tokens_by_part"].items())
    spread = report["input_tokens_per_account_spread"]
    load_avg = report["load_average"]
    met = report["targets_met"]
    targets = report["targets"]
    lines += [
        f"total    {report['requests_total']:>8} {report['tool_calls_total']:>6} "
        f"{'':>7} {'':>6} {report['input_tokens']:>10,} {report['output_tokens']:>10,}",
        f"input by part: {parts}",
        f"input tokens per flagged account: {report['input_tokens_per_flagged_account']:,} "
        f"(target ≤ {targets['input_tokens_per_flagged_account_max']:,}: "
        f"{'met' if met['tokens_per_account'] else 'MISSED'}); per account "
        + ", ".join(f"{k} {v:,}" for k, v in spread.items()),
        f"CLI processes: {report['cli_processes_started']} started, "
        f"{report['cli_processes_seen_in_proc']} seen in /proc, peak {report['cli_processes_peak']}"
        f" (target ≤ {targets['cli_processes_max']}: {'met' if met['processes'] else 'MISSED'})",
        *(
            f"{model}: {u['queries']} queries, {u['input_tokens']:,} in / "
            f"{u['output_tokens']:,} out tokens, "
            + ("cost unknown" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}")
            for model, u in report["by_model"].items()
        ),
        f"recommendations {report['recommendations']}, fallbacks {report['fallbacks']}, "
        f"failed {report['failed']}; wall {report['wall_seconds']} s; load average "
        f"{load_avg['before']} before, {load_avg['max_1min_during']} max during, "
        f"{load_avg['after']} after ({load_avg['cpus']} CPUs)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--owners", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model turn")
    parser.add_argument("--batch", type=int, default=8, help="accounts per request")
    parser.add_argument(
        "--no-tools", action="store_true", help="the model answers without calling any tool"
    )
    parser.add_argument("--model", default="claude-sonnet-4-5", help="[anthropic] model")
    parser.add_argument(
        "--model-simple", default="claude-haiku-4-5", help="[anthropic] model_simple (routing on)"
    )
    parser.add_argument(
        "--routing",
        choices=("off", "on", "both"),
        default="both",
        help="model_simple unset, set, or one run of each",
    )
    args = parser.parse_args(argv)
    runs = {"off": [False], "on": [True], "both": [False, True]}[args.routing]
    reports = {}
    for routing in runs:
        # The product's log lines go to stderr with the summary: stdout is the JSON alone.
        with (
            tempfile.TemporaryDirectory(prefix="sergas-bench-claude-") as tmp,
            contextlib.redirect_stdout(sys.stderr),
        ):
            options = Options.from_args(args, routing=routing)
            bench = asyncio.run(review(Path(tmp), options))
        reports["routing_on" if routing else "routing_off"] = bench.report
        print(readable(bench.report), file=sys.stderr)
    print(json.dumps(reports if len(reports) > 1 else bench.report, indent=2))
    met = [all(r["targets_met"].values()) for r in reports.values()]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
