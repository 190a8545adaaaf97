"""`sergas memory search|forget|ingest|reindex|stats`: the workspace's account memory.

ACCOUNT (`forget`, `search --account`) is the account's id or enough of its name to name one
account, as `sergas signals` and `sergas account` take it; an id that only memory still holds
(its account gone from the workspace) names that account too. Accounts show by name, from the
workspace's snapshots or, for those only memory holds, from memory (no CRM call).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from sergas_tui.cli.common import confirmed, out, state_of
from sergas_tui.errors import UnknownAccountError
from sergas_tui.widgets.text import clean

if TYPE_CHECKING:
    from sergas_tui.memory.store import MemoryStore
    from sergas_tui.services import Services

memory_app = typer.Typer(help="The workspace's account memory.", no_args_is_help=True)

_ACCOUNT_HELP = "The account: its id, or enough of its name to name one account."


def _with_memory(
    ctx: typer.Context, use: Callable[[Services, MemoryStore], Coroutine[Any, Any, None]]
) -> None:
    import asyncio

    from sergas_tui.services import open_services

    state = state_of(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> None:
        try:
            await use(services, services.memory())
        finally:
            await services.aclose()

    try:
        asyncio.run(run())
    finally:
        services.close()


async def _remembered(services: Services, memory: MemoryStore, account_id: str) -> str | None:
    """The account's name as memory holds it (empty when it holds none); None when memory
    knows no account ``account_id``."""
    now = services.clock.now()
    found = await memory.history(account_id, since=now, until=now)
    return None if found is None else (found.account_name or "").strip()


async def _account_of(services: Services, memory: MemoryStore, text: str) -> tuple[str, str]:
    """(id, name) of the one account ``text`` names: in the workspace (its id, or enough of
    its name), else an id memory still holds. :class:`UnknownAccountError` otherwise, listing
    the accounts a name matches when it matches several."""
    from sergas_tui.domain.mutes import MuteError
    from sergas_tui.domain.names import short_id
    from sergas_tui.viewmodels.mutes import find_account

    try:
        account_id, name, _owner = find_account(services, text)
    except MuteError as err:
        wanted = text.strip()
        remembered = await _remembered(services, memory, wanted) if wanted else None
        if remembered is None:
            raise UnknownAccountError(err.message) from err
        return wanted, remembered or f"Account {short_id(wanted)}"
    return account_id, name


async def _account_labels(
    services: Services, memory: MemoryStore, account_ids: Iterable[str]
) -> dict[str, str]:
    """``Name (…7306)`` per account: the workspace's name, else memory's (no CRM call);
    ``Account …7306`` when neither names it."""
    from sergas_tui.domain.names import short_id
    from sergas_tui.viewmodels.names import load_names

    wanted = list(dict.fromkeys(account_ids))
    if not wanted:
        return {}
    names = load_names(services)
    labels: dict[str, str] = {}
    for account_id in wanted:
        name = names.name("Accounts", account_id) or await _remembered(services, memory, account_id)
        labels[account_id] = (
            f"{name} ({short_id(account_id)})" if name else names.account(account_id)
        )
    return labels


@memory_app.command("search")
def memory_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    account: Annotated[
        str | None,
        typer.Option(help="Only this account: its id, or enough of its name to name one account."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Ranked full-text search over notes, key events, commitments and recommendations."""
    from rich.table import Table

    async def use(services: Services, memory: MemoryStore) -> None:
        account_id, where = None, ""
        if account is not None:
            account_id, name = await _account_of(services, memory, account)
            where = f" in what memory holds about {name} ({account_id})"
        hits = await memory.search(query, account_id=account_id, limit=limit)
        if not hits:
            out.print(Text(clean(f"No matches{where}.", single_line=True)), soft_wrap=True)
            return
        labels = await _account_labels(services, memory, (hit.account_id for hit in hits))
        table = Table("score", "account", "kind", "date", "what")
        table.columns[1].min_width = 16
        for hit in hits:
            table.add_row(
                Text(f"{hit.score:.2f}"),
                Text(clean(labels[hit.account_id], single_line=True)),
                Text(hit.kind),
                Text(str(hit.date or "")),
                Text(clean(f"{hit.title}: {hit.snippet}", single_line=True, limit=120)),
            )
        out.print(table)

    _with_memory(ctx, use)


@memory_app.command("forget")
def memory_forget(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove everything memory holds about one account (right to be forgotten).

    Only memory: the account's records, briefs and audit rows stay (`sergas account forget`
    removes those too). Asks first (part of a name is enough to find an account), unless
    --yes."""

    async def use(services: Services, memory: MemoryStore) -> None:
        account_id, name = await _account_of(services, memory, account)
        if not yes:
            _confirm_forget(name, account_id)
        removed = await memory.forget(account_id)
        said = (
            f"Forgot {name} ({account_id}) from memory: {removed} "
            f"{'item' if removed == 1 else 'items'} removed."
            if removed
            else f"Memory held nothing about {name} ({account_id}); nothing was removed."
        )
        out.print(Text(clean(said, single_line=True)), soft_wrap=True)

    _with_memory(ctx, use)


def _confirm_forget(name: str, account_id: str) -> None:
    """Ask before forgetting (refused without a terminal, see :func:`confirmed`)."""
    if not confirmed(
        f"Forget everything memory holds about {name} ({account_id})?",
        what=f"Forgetting what memory holds about {name} ({account_id})",
        unchanged="Nothing was removed.",
    ):
        out.print(Text("Nothing was removed."))
        raise typer.Exit(1)


@memory_app.command("ingest")
def memory_ingest(ctx: typer.Context) -> None:
    """Backfill memory from a full sync of every account (Cognee: the local memory file first)."""
    import asyncio

    from rich.progress import Progress

    from sergas_tui.agents.scout import DataScout
    from sergas_tui.memory.factory import ingest_workspace
    from sergas_tui.memory.schema import memory_path
    from sergas_tui.services import open_services

    state = state_of(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> None:
        try:
            crm = await services.crm()
            batch = await crm.sync(modified_since=None)
            scout = DataScout(crm, services.store, services.settings.signals, services.clock)
            facts = await scout.scout(batch, previous={}, stage_history_budget=0)
            memory = services.memory()
            with Progress(console=out, transient=True) as bar:
                task = bar.add_task("Ingesting accounts", total=len(facts))
                report = await ingest_workspace(
                    memory,
                    facts,
                    local_file=memory_path(state.locations.database_file(services.workspace)),
                    progress=lambda n: bar.advance(task, n),
                )
            out.print(
                f"Ingested {report.accounts} accounts in {report.seconds:.1f} s.", markup=False
            )
        finally:
            await services.aclose()

    try:
        asyncio.run(run())
    finally:
        services.close()


@memory_app.command("reindex")
def memory_reindex(ctx: typer.Context) -> None:
    """Re-embed Cognee memory with the configured embedder (after changing it)."""
    import asyncio

    from sergas_tui.clock import SystemClock
    from sergas_tui.memory.factory import reindex

    state = state_of(ctx)
    settings = state.settings()
    if settings.memory.backend != "cognee" or settings.memory.endpoint:
        out.print(
            "Nothing to re-embed: only the Cognee backend ([memory] backend = 'cognee') stores "
            "embeddings in this workspace.",
            markup=False,
        )
        return
    workspace = state.workspace_name(settings)
    count = asyncio.run(reindex(settings, state.locations, workspace, SystemClock()))
    out.print(f"Re-embedded {count} memory items.", markup=False)


@memory_app.command("stats")
def memory_stats(ctx: typer.Context) -> None:
    """What memory holds: items per kind and the newest ingest."""
    from rich.table import Table

    async def use(_services: Services, memory: MemoryStore) -> None:
        table = Table("what", "count")
        for key, value in (await memory.stats()).items():
            table.add_row(Text(str(key)), Text(str(value)))
        out.print(table)

    _with_memory(ctx, use)
