"""`sergas export brief`: an owner's brief as Markdown (the body is in
:mod:`sergas_tui.cli.review_run`, imported when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sergas_tui.cli.common import body_arguments, state_of

export_app = typer.Typer(help="Export briefs.", no_args_is_help=True)


@export_app.command("brief")
def export_brief(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")],
    owner: Annotated[str | None, typer.Option("--owner", help="Owner email.")] = None,
) -> None:
    """Write an owner's brief to Markdown: the queue and statuses as they are now."""
    from sergas_tui.cli.review_run import export_brief_command

    state = state_of(ctx)
    code = export_brief_command(
        **body_arguments(state),
        owner=owner,
        out=out_file,
    )
    raise typer.Exit(code)
