"""`sergas config path|init|show`: where the configuration file is, a commented default, and
the effective settings."""

from __future__ import annotations

from typing import Annotated

import typer

from sergas_tui.cli.common import out, state_of
from sergas_tui.errors import SergasError

config_app = typer.Typer(help="Show or create the configuration file.", no_args_is_help=True)


@config_app.command("path")
def config_path(ctx: typer.Context) -> None:
    """Print where the configuration file is (it need not exist)."""
    out.print(str(state_of(ctx).locations.config_file), markup=False, soft_wrap=True)


@config_app.command("init")
def config_init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the default instead of writing it.")
    ] = False,
) -> None:
    """Write a commented default configuration covering every setting."""
    from sergas_tui.config import default_config_text

    text = default_config_text()
    if print_only:
        out.print(text, markup=False, end="")
        return
    path = state_of(ctx).locations.config_file
    if path.exists() and not force:
        raise SergasError(
            f"{path} already exists; it was left unchanged. Use --force to replace it with the "
            "default, or --print to see the default.",
            title="Configuration exists",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    out.print(f"Wrote {path}", markup=False)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration (file + environment) as JSON; passwords, keys and
    tokens written inside a DSN or URL are masked."""
    from sergas_tui.config import settings_for_display

    settings = state_of(ctx).settings()
    out.print_json(data=settings_for_display(settings))
