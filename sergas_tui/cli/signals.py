"""`sergas signals ...`: snooze, dismiss and unmute an account's risk signals without the TUI.

A muted signal stays out of every review until its date passes or someone unmutes it, so the
same recommendation stops coming back. Each change names its person (the OS user unless `--as`
says otherwise) and a reason, and is written to the audit log with it. Accounts are named by id
or by an unambiguous part of their name; signals by key (`no_activity_critical`) or title.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from sergas_tui.cli.common import State, out, state_of
from sergas_tui.domain.mutes import (
    MAX_SNOOZE_DAYS,
    MuteError,
    MuteKind,
    check_signal_key,
    day_of,
    parse_until,
    signal_label,
)

if TYPE_CHECKING:
    from sergas_tui.domain.mutes import SignalMute
    from sergas_tui.domain.names import RecordNames
    from sergas_tui.services import Services

signals_app = typer.Typer(
    help="Snooze or dismiss an account's risk signals (they stay out of reviews meanwhile).",
    no_args_is_help=True,
)

_AS_HELP = "Who does it (recorded in the audit log); default: your OS user name."
_ACCOUNT_HELP = "The account: its id, or enough of its name to name one account."
_SIGNAL_HELP = "The signal: its key (no_activity_critical, stalled_in_stage…) or its title."
_REASON_HELP = "Why (required; recorded and shown with the mute)."
INDENT = 10
"""Where a listed mute's second line starts (under the account name, after the id)."""


@contextmanager
def _titled(title: str) -> Iterator[None]:
    """This command's title on its errors (a MuteError's own title names snooze and dismiss)."""
    try:
        yield
    except MuteError as err:
        if err.title == MuteError.title:
            err.title = title
        raise


def _services(state: State) -> Services:
    from sergas_tui.services import open_services

    return open_services(state.settings(), state.locations, workspace=state.workspace)


def _actor(actor: str | None) -> str:
    from sergas_tui.cli.approvals_run import default_actor

    return (actor or "").strip() or default_actor()


def _names(services: Services) -> RecordNames:
    from sergas_tui.viewmodels.names import load_names

    return load_names(services)


def _print(console: Console, line: str, *, indent: int = 0) -> None:
    """One line of plain text (control characters removed), folded at the console's width."""
    from sergas_tui.approvals.cli_support import one_line
    from sergas_tui.cli.approvals_run import fold

    for part in fold(" " * indent + one_line(line), console):
        console.print(part, soft_wrap=True)


# -- list ---------------------------------------------------------------------------------------


def mute_lines(mutes: list[SignalMute], names: RecordNames, services: Services) -> list[str]:
    """Two lines per mute: ``id  Account · Signal``, then its state, reason, who and when."""
    from sergas_tui.domain.mutes import describe

    now = services.clock.now()
    lines: list[str] = []
    for mute in mutes:
        reason = " ".join(mute.reason.split())
        who = f"by {names.user(mute.created_by)}, {mute.created_at:%Y-%m-%d}"
        if mute.lifted_by is not None and mute.lifted_at is not None and mute.lifted_at <= now:
            who += f"; lifted by {names.user(mute.lifted_by)}"
        lines.append(
            f"{mute.id[:8]}  {names.account_name(mute.account_id)} · "
            f"{signal_label(mute.signal_key)}"
        )
        lines.append(f"{describe(mute, now)} — {reason} ({who})")
    return lines


def list_command(
    state: State, console: Console, *, account: str | None, owner: str | None, everything: bool
) -> int:
    from sergas_tui.storage.mutes import list_mutes
    from sergas_tui.viewmodels.mutes import find_account

    services = _services(state)
    try:
        account_id = None
        where = ""
        if account is not None:
            account_id, name, _owner = find_account(services, account)
            where = f" on {name}"
        mutes = list_mutes(
            services.store,
            now=services.clock.now(),
            active_only=not everything,
            account_id=account_id,
            owner_email=owner,
        )
        if not mutes:
            kind = "snoozed or dismissed" if not everything else "ever snoozed or dismissed"
            _print(
                console,
                f"No signal is {kind}{where}. `sergas signals snooze ACCOUNT SIGNAL` mutes one.",
            )
            return 0
        noun = "mute" if len(mutes) == 1 else "mutes"
        head = f"{len(mutes)} {noun}{where}" + (
            " (in force, ended or lifted)" if everything else " in force"
        )
        console.print(Text(head, style="bold"))
        lines = mute_lines(mutes, _names(services), services)
        for index, line in enumerate(lines):
            _print(console, line, indent=0 if index % 2 == 0 else INDENT)
        return 0
    finally:
        services.close()


# -- snooze, dismiss, unmute --------------------------------------------------------------------


def until_of(until: str | None, days: int | None, today: date, kind: MuteKind) -> date | None:
    """The last muted day from ``--until`` or ``--days`` (one of them for a snooze)."""
    if until is not None and days is not None:
        raise MuteError("Give --until or --days, not both. Nothing was changed.")
    if days is not None:
        if days < 0:
            raise MuteError(f"--days must be 0 or more, not {days}. Nothing was changed.")
        return today + timedelta(days=days)
    if until is not None:
        return parse_until(until)
    if kind == "snooze":
        raise MuteError(
            "Say how long: --until YYYY-MM-DD (the last quiet day) or --days N (up to "
            f"{MAX_SNOOZE_DAYS}). Nothing was changed."
        )
    return None


def mute_command(
    state: State,
    console: Console,
    *,
    kind: MuteKind,
    account: str,
    signal: str,
    reason: str,
    until: str | None,
    days: int | None,
    actor: str | None,
) -> int:
    from sergas_tui.viewmodels.mutes import MuteRequest, find_account, save_mute

    key = check_signal_key(signal)
    services = _services(state)
    try:
        account_id, name, owner = find_account(services, account)
        last_day = until_of(until, days, day_of(services.clock.now()), kind)
        request = MuteRequest(key, kind, " ".join(reason.split()), last_day)
        mute = save_mute(services, account_id, request, actor=_actor(actor), owner_email=owner)
        label = signal_label(key)
        if kind == "snooze":
            what = f"Snoozed {label!r} on {name} until {mute.until} (the end of that day, UTC)"
        elif mute.until is not None:
            what = f"Dismissed {label!r} on {name} until {mute.until}"
        else:
            what = f"Dismissed {label!r} on {name} until you unmute it"
        _print(
            console,
            f"{what}; id {mute.id[:8]}. Reviews leave it out meanwhile; "
            f"`sergas signals unmute {mute.id[:8]}` brings it back.",
        )
        return 0
    finally:
        services.close()


def unmute_command(
    state: State, console: Console, *, target: str, signal: str | None, actor: str | None
) -> int:
    from sergas_tui.storage.mutes import lift_signal
    from sergas_tui.viewmodels.mutes import find_account, find_mute, unmute

    key = check_signal_key(signal) if signal is not None else None
    services = _services(state)
    try:
        who = _actor(actor)
        if key is None:
            try:
                mute = find_mute(services, target)
            except MuteError as err:
                raise _signal_missing(services, target) or err from None
            lifted = [unmute(services, mute.id, actor=who)]
        else:
            account_id, _name, _owner = find_account(services, target)
            lifted = lift_signal(
                services.store, account_id, key, actor=who, now=services.clock.now()
            )
        names = _names(services)
        for mute in lifted:
            _print(
                console,
                f"Unmuted {signal_label(mute.signal_key)!r} on "
                f"{names.account_name(mute.account_id)}: the next review counts it again.",
            )
        return 0
    finally:
        services.close()


def _signal_missing(services: Services, target: str) -> MuteError | None:
    """When ``target`` names an account rather than a mute: the error saying SIGNAL is missing,
    with the account's mutes in force (None when it names no account either)."""
    from sergas_tui.viewmodels.mutes import account_mutes, find_account

    try:
        account_id, name, _owner = find_account(services, target)
    except MuteError:
        return None
    mutes = account_mutes(services, account_id)
    if not mutes:
        return MuteError(
            "`sergas signals unmute` takes a mute id, or an account and a SIGNAL; "
            f"{name} is an account and has no snoozed or dismissed signal, so there is nothing "
            "to unmute. Nothing was changed."
        )
    listed = "; ".join(
        f"{m.signal_key} ({signal_label(m.signal_key)!r}, mute {m.id[:8]})" for m in mutes
    )
    command = shlex.join(["sergas", "signals", "unmute", name, mutes[0].signal_key])
    return MuteError(
        f"{name} is an account: give the SIGNAL to unmute after it, e.g. `{command}`, or a "
        f"mute id alone. Its muted signals: {listed}. Nothing was changed."
    )


# -- the Typer commands -------------------------------------------------------------------------


@signals_app.command("list")
def signals_list(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help=_ACCOUNT_HELP)] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only mutes of this owner's accounts (email).")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also mutes that ended or were lifted.")
    ] = False,
) -> None:
    """List snoozed and dismissed signals, with why and who."""
    state = state_of(ctx)
    with _titled("Signal mutes"):
        code = list_command(state, out, account=account, owner=owner, everything=everything)
    raise typer.Exit(code)


@signals_app.command("snooze")
def signals_snooze(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    signal: Annotated[str, typer.Argument(help=_SIGNAL_HELP)],
    reason: Annotated[str, typer.Option("--reason", help=_REASON_HELP)],
    until: Annotated[
        str | None, typer.Option("--until", help="The last quiet day, YYYY-MM-DD (UTC).")
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Quiet for N more days.")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Snooze a signal until a date (say, the customer is on holiday)."""
    with _titled("Snooze"):
        code = mute_command(
            state_of(ctx),
            out,
            kind="snooze",
            account=account,
            signal=signal,
            reason=reason,
            until=until,
            days=days,
            actor=actor,
        )
    raise typer.Exit(code)


@signals_app.command("dismiss")
def signals_dismiss(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    signal: Annotated[str, typer.Argument(help=_SIGNAL_HELP)],
    reason: Annotated[str, typer.Option("--reason", help=_REASON_HELP)],
    until: Annotated[
        str | None,
        typer.Option("--until", help="The last quiet day, YYYY-MM-DD; default: until unmuted."),
    ] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Dismiss a signal until you unmute it (it does not apply)."""
    with _titled("Dismiss"):
        code = mute_command(
            state_of(ctx),
            out,
            kind="dismiss",
            account=account,
            signal=signal,
            reason=reason,
            until=until,
            days=None,
            actor=actor,
        )
    raise typer.Exit(code)


@signals_app.command("unmute")
def signals_unmute(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="The account (then SIGNAL), or a mute id from the list.")
    ],
    signal: Annotated[str | None, typer.Argument(help=_SIGNAL_HELP)] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Unmute a signal: the next review counts it again."""
    with _titled("Unmute"):
        code = unmute_command(state_of(ctx), out, target=target, signal=signal, actor=actor)
    raise typer.Exit(code)
