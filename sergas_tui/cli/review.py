"""`sergas review`: a review run headless. Before it, the local audit retention; after it, the
central audit sync (both only warn when they fail). The run itself is in
:mod:`sergas_tui.cli.review_run`, imported when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sergas_tui.cli.audit_upkeep import retention_quietly, sync_quietly
from sergas_tui.cli.common import body_arguments, state_of
from sergas_tui.errors import ConfigError


def review(
    ctx: typer.Context,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Review this owner's accounts (email).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Review every owner's accounts.")] = False,
    engine: Annotated[
        str | None, typer.Option("--engine", help="rules (offline) or claude.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the owner brief(s) as JSON here.")
    ] = None,
    markdown_dir: Annotated[
        Path | None, typer.Option("--markdown", help="Write one Markdown brief per owner here.")
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Write the review's Prometheus metrics here at the end (textfile collector "
            "format; default [monitoring] metrics_file).",
        ),
    ] = None,
) -> None:
    """Run a review headless: sync, signals, memory, recommendations (pending approval), brief."""
    from sergas_tui.cli.review_run import review_command

    if engine is not None and engine not in ("rules", "claude"):
        raise ConfigError(f"--engine must be 'rules' or 'claude', not {engine!r}.")
    state = state_of(ctx)
    retention_quietly(state)
    code = review_command(
        **body_arguments(state),
        owner=owner,
        everyone=everyone,
        engine=engine,
        json_file=json_file,
        markdown_dir=markdown_dir,
        metrics_file=metrics_file,
    )
    sync_quietly(state)
    raise typer.Exit(code)
