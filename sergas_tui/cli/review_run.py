"""`sergas review` and `sergas export brief`: the headless pipeline with a Rich progress bar.

Both write the owner's brief as it stands when it is written (its current picture: the whole
queue with today's statuses, see :mod:`sergas_tui.briefs.current`), not only what the run added.

Exit codes: 0 every account reviewed, 1 some accounts failed, 2 a configuration problem or an
output path that cannot be written (checked before the review runs, see
:mod:`sergas_tui.user_files`).
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sergas_tui import metrics
from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AgentText,
    CrmWaiting,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
    Usage,
)
from sergas_tui.briefs.markdown import render_brief
from sergas_tui.config import Settings
from sergas_tui.domain import OwnerBrief
from sergas_tui.domain.names import RecordNames
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.locations import Locations
from sergas_tui.services import Services, open_services
from sergas_tui.user_files import make_output_dir, output_dir, output_file, write_text_file
from sergas_tui.viewmodels.brief import current_brief
from sergas_tui.viewmodels.names import demo_users, names_for_brief


def usage_text(usage: Usage) -> str:
    """'12,345 in / 678 out · 9 requests · $0.0421' (the cost as the Claude Code CLI reported)."""
    cost = "cost unknown" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    return (
        f"{usage.input_tokens:,} in / {usage.output_tokens:,} out · "
        f"{usage.requests} requests · {cost}"
    )


def summary_table(summary: RunSummary) -> Table:
    """The run's figures as the CLI prints them; the model's usage split by model when more
    than one model was used."""
    table = Table(title="Review finished", show_header=False)
    table.add_row("accounts reviewed", str(summary.accounts))
    table.add_row("with changes", str(summary.with_changes))
    table.add_row("at risk", str(summary.at_risk))
    table.add_row("new recommendations", str(summary.recommendations))
    table.add_row("landed in the approvals queue", str(summary.landed))
    table.add_row("more, lower priority (`sergas approvals more`)", str(summary.queued))
    table.add_row("failed accounts", str(summary.failed))
    if summary.sync:
        table.add_row("Zoho sync", summary.sync)
    table.add_row("Zoho API calls", summary.zoho_calls.text())
    if summary.usage is not None:
        table.add_row("model tokens", usage_text(summary.usage))
        if len(summary.by_model) > 1:  # [anthropic] model_simple took some accounts
            for model, usage in sorted(summary.by_model.items()):
                table.add_row(f"  {model}", usage_text(usage))
    if summary.fallbacks:
        table.add_row("accounts handed to the rules engine", str(summary.fallbacks))
    table.add_row("time", f"{summary.seconds:.1f} s")
    return table


def brief_file_name(owner_email: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "@._-" else "_" for ch in owner_email)
    return f"brief-{safe}.md"


async def run_review(
    services: Services,
    console: Console,
    *,
    owner_email: str | None,
    json_file: Path | None,
    markdown_dir: Path | None,
) -> int:
    orchestrator = await services.orchestrator()
    finished: RunFinished | None = None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Syncing with Zoho…", total=None)
        async for event in orchestrator.review(owner_email):
            if isinstance(event, RunStarted):
                progress.update(task, description=f"Reviewing ({event.engine} engine)…")
            elif isinstance(event, AgentText) and event.agent == "orchestrator":
                console.print(Text(event.text, style="yellow"))
            elif isinstance(event, CrmWaiting):
                # A wait for Zoho's limits, not a failure: say so and carry on.
                progress.update(task, description="Waiting for Zoho…")
                if event.kind == "rate_limited" or event.seconds >= 10:
                    console.print(Text(f"Waiting: {event.reason}"))
            elif isinstance(event, Synced):
                progress.update(task, description="Reviewing accounts", total=event.accounts)
            elif isinstance(event, AccountAuthored | AccountFailed):
                progress.update(
                    task,
                    description="Reviewing accounts",
                    completed=event.done,
                    total=event.total,
                )
            elif isinstance(event, RunFinished):
                finished = event
    assert finished is not None
    summary = finished.summary
    console.print(summary_table(summary))
    for account_id, error in summary.failures[:20]:
        console.print(Text(f"failed: {account_id}: {error}", style="red"))
    briefs = await asyncio.to_thread(current_briefs, services, finished.briefs)
    if json_file is not None:
        write_json(json_file, briefs)
        console.print(Text(f"Wrote {json_file}"))
    if markdown_dir is not None:
        if make_output_dir(markdown_dir, "--markdown"):
            console.print(Text(f"Created the directory {markdown_dir}"))
        for brief in briefs:
            text = render_brief(
                brief,
                user_templates=services.locations.templates_dir,
                names=await names_for_brief(services, brief),
            )
            path = markdown_dir / brief_file_name(brief.owner_email)
            console.print(Text(f"Wrote {write_text_file(path, text, '--markdown')}"))
    return 1 if summary.failed else 0


def current_briefs(services: Services, run_briefs: Sequence[OwnerBrief]) -> list[OwnerBrief]:
    """Each reviewed owner's current picture (the run's own brief when there is none)."""
    return [current_brief(services, b.owner_email) or b for b in run_briefs]


def write_json(path: Path, briefs: Sequence[OwnerBrief]) -> None:
    """The brief (several: a list) as JSON in ``path``, checked by ``output_file`` first."""
    data = [b.model_dump(mode="json") for b in briefs]
    payload = data[0] if len(data) == 1 else data
    write_text_file(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "--json")


def review_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    owner: str | None,
    everyone: bool,
    engine: str | None,
    json_file: Path | None,
    markdown_dir: Path | None,
    metrics_file: Path | None = None,
) -> int:
    if owner and everyone:
        raise ConfigError("Use either --owner or --all, not both.", title="Bad arguments")
    if json_file is not None:
        output_file(json_file, "--json", special_ok=True, example="brief.json")
    if markdown_dir is not None:
        output_dir(markdown_dir, "--markdown")
    configured = settings.monitoring.metrics_file
    if metrics_file is not None:
        output_file(metrics_file, "--metrics-file", example="sergas.prom")
    elif configured and settings.monitoring.metrics_enabled:
        metrics_file = output_file(
            Path(configured).expanduser(), "[monitoring] metrics_file", example="sergas.prom"
        )
    if engine == "claude":  # said before the configuration's check would blame the file
        from sergas_tui.secrets import SecretName, SecretStore

        SecretStore().require(
            SecretName.ANTHROPIC_API_KEY, "The Claude engine, chosen with --engine claude,"
        )
    if engine is not None:
        settings = settings.model_copy(
            update={"anthropic": settings.anthropic.model_copy(update={"engine": engine})}
        )
    services = open_services(settings, locations, workspace=workspace)
    try:
        target: str | None = None
        if owner:
            target = owner_email(services, owner)
        elif not everyone:
            target = services.current_user_email()
        if not everyone and target is None:
            raise ConfigError(
                "Whose accounts? Pass --owner EMAIL or --all, or set [zoho] user_email.",
                title="No owner",
            )

        async def main() -> int:
            try:
                return await run_review(
                    services,
                    console,
                    owner_email=target,
                    json_file=json_file,
                    markdown_dir=markdown_dir,
                )
            finally:
                await services.aclose()

        return run_metered(settings, console, main, metrics_file)
    finally:
        services.close()


def run_metered(
    settings: Settings,
    console: Console,
    main: Callable[[], Coroutine[Any, Any, int]],
    metrics_file: Path | None,
) -> int:
    """Run a one-shot review with its metrics served on ``[monitoring] prometheus_port``
    meanwhile, and written to ``metrics_file`` (if any) at the end, whether the review worked
    or not: a cron job's monitoring sees failures too."""
    from sergas_tui.cli.common import err_console, metrics_served, warn

    with metrics_served(settings):
        try:
            return asyncio.run(main())
        finally:
            if metrics.dump_to(metrics_file, warn=warn):
                err_console.print(Text(f"Wrote the review's metrics to {metrics_file}"))


def export_brief_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    owner: str | None,
    out: Path,
) -> int:
    output_file(out, "--out", special_ok=True)
    services = open_services(settings, locations, workspace=workspace)
    try:
        email = owner_email(services, owner) if owner else services.current_user_email()
        if email is None:
            raise ConfigError("Pass --owner EMAIL (or set [zoho] user_email).", title="No owner")
        brief = current_brief(services, email)
        if brief is None:
            raise SergasError(
                f"There is no review of {email} in workspace {services.workspace!r} yet. Run "
                f"`{sergas_command(workspace, 'review', '--owner', email)}` first.",
                title="Nothing to export",
            )
        found = brief

        async def names() -> RecordNames:
            try:
                return await names_for_brief(services, found)
            finally:
                await services.aclose()

        text = render_brief(
            brief, user_templates=locations.templates_dir, names=asyncio.run(names())
        )
        console.print(Text(f"Wrote {write_text_file(out, text)}"))
        return 0
    finally:
        services.close()


def sergas_command(workspace: str | None, *args: str) -> str:
    """A command to suggest, quoted for a shell: `sergas review --owner 'a b'` (with the
    workspace option when the user chose one)."""
    words = ["sergas", *(["--workspace", workspace] if workspace else []), *args]
    return shlex.join(words)


def owner_email(services: Services, owner: str) -> str:
    """``--owner`` as given when it is an email; a name is refused, with the email of the owner
    so named when the workspace knows one (the demo org's users)."""
    if "@" in owner:
        return owner
    wanted = " ".join(owner.split()).casefold()
    known = {
        user.email: user.name
        for user in demo_users(services)
        if user.email and user.name and " ".join(user.name.split()).casefold() == wanted
    }
    if len(known) == 1:
        [(email, name)] = known.items()
        hint = f"{name} is {email}: pass --owner {shlex.quote(email)}"
    else:
        hint = "pass the email they sign in to Zoho CRM with, e.g. --owner name@example.com"
    raise ConfigError(
        f"--owner takes the owner's email, not a name ({owner!r}); {hint}. Nothing was written.",
        title="Bad arguments",
    )
