"""`sergas approvals list|more|pull|show|approve|reject|adjust|undo|execute`: proposed CRM
writes decided without the TUI. The bodies are in :mod:`sergas_tui.cli.approvals_run` and
:mod:`sergas_tui.cli.queue_run`, imported when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sergas_tui.cli.common import body_arguments, state_of

approvals_app = typer.Typer(
    help="Decide proposed CRM writes without the TUI.", no_args_is_help=True
)


_AS_HELP = (
    "Who decides (recorded in the audit log); default: your OS user name. In team mode the "
    "decider is the person your OS account maps to, and another name is refused."
)


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Owner email (default: you).")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every owner's approvals.")] = False,
) -> None:
    """Pending approvals, with their ids."""
    from sergas_tui.cli.approvals_run import list_command

    state = state_of(ctx)
    raise typer.Exit(
        list_command(
            **body_arguments(state),
            owner=owner,
            show_all_owners=everyone,
        )
    )


@approvals_app.command("more")
def approvals_more(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Owner email (default: you).")] = None,
) -> None:
    """What waits beyond today's budget ("more, lower priority"), best first."""
    from sergas_tui.cli.queue_run import more_command

    state = state_of(ctx)
    raise typer.Exit(more_command(**body_arguments(state), owner=owner))


@approvals_app.command("pull")
def approvals_pull(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(help="The id (or its first 8 characters) from `more`.")],
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Take an item from "more, lower priority" into your approvals queue now."""
    from sergas_tui.cli.queue_run import pull_command

    state = state_of(ctx)
    raise typer.Exit(pull_command(**body_arguments(state), ident=ident, actor=actor))


@approvals_app.command("show")
def approvals_show(ctx: typer.Context, ident: Annotated[str, typer.Argument()]) -> None:
    """The exact write an approval would make."""
    from sergas_tui.cli.approvals_run import show_command

    state = state_of(ctx)
    raise typer.Exit(show_command(**body_arguments(state), ident=ident))


def _decide(
    ctx: typer.Context,
    ident: str,
    decision: str,
    actor: str | None,
    reason: str | None,
    payload: Path | None = None,
    execute: bool = True,
    not_useful: bool = False,
) -> None:
    from sergas_tui.cli.approvals_run import decide_command

    state = state_of(ctx)
    raise typer.Exit(
        decide_command(
            **body_arguments(state),
            ident=ident,
            decision=decision,
            given_actor=actor,
            reason=reason,
            payload_file=payload,
            execute=execute,
            not_useful=not_useful,
        )
    )


@approvals_app.command("approve")
def approvals_approve(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    execute: Annotated[bool, typer.Option(help="Write to the CRM right away.")] = True,
) -> None:
    """Approve, then write it to the CRM exactly once."""
    _decide(ctx, ident, "approve", actor, reason, execute=execute)


@approvals_app.command("reject")
def approvals_reject(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    not_useful: Annotated[
        bool,
        typer.Option(
            "--not-useful",
            help="Not worth your time: later reviews show you less of this kind of item.",
        ),
    ] = False,
) -> None:
    """Reject: nothing is written."""
    _decide(ctx, ident, "reject", actor, reason, not_useful=not_useful)


@approvals_app.command("adjust")
def approvals_adjust(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    payload: Annotated[Path, typer.Option("--payload", help="JSON file with the edited action.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    execute: Annotated[bool, typer.Option(help="Write to the CRM right away.")] = True,
) -> None:
    """Approve with edits (validated against the action type), then write it."""
    _decide(ctx, ident, "adjust", actor, reason, payload, execute)


@approvals_app.command("undo")
def approvals_undo(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Undo a decision that has not been executed yet."""
    _decide(ctx, ident, "undo", actor, None)


@approvals_app.command("execute")
def approvals_execute(ctx: typer.Context) -> None:
    """Finish interrupted writes and write every approved action not yet written."""
    from sergas_tui.cli.approvals_run import execute_command

    state = state_of(ctx)
    raise typer.Exit(
        execute_command(
            **body_arguments(state),
        )
    )
