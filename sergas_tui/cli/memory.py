"""`sergas memory search|forget|ingest|reindex|stats`: the workspace's account memory."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from sergas_tui.cli.common import out, state_of
from sergas_tui.widgets.text import clean

if TYPE_CHECKING:
    from sergas_tui.memory.store import MemoryStore

memory_app = typer.Typer(help="The workspace's account memory.", no_args_is_help=True)


def _with_memory(
    ctx: typer.Context, use: Callable[[MemoryStore], Coroutine[Any, Any, None]]
) -> None:
    import asyncio

    from sergas_tui.services import open_services

    state = state_of(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> None:
        try:
            await use(services.memory())
        finally:
            await services.aclose()

    try:
        asyncio.run(run())
    finally:
        services.close()


@memory_app.command("search")
def memory_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Ranked full-text search over notes, key events, commitments and recommendations."""
    from rich.table import Table

    async def use(memory: MemoryStore) -> None:
        hits = await memory.search(query, account_id=account, limit=limit)
        table = Table("score", "account", "kind", "date", "what")
        table.columns[1].no_wrap = True
        table.columns[1].min_width = 19
        for hit in hits:
            table.add_row(
                Text(f"{hit.score:.2f}"),
                Text(hit.account_id),
                Text(hit.kind),
                Text(str(hit.date or "")),
                Text(clean(f"{hit.title}: {hit.snippet}", single_line=True, limit=120)),
            )
        out.print(table if hits else Text("No matches."))

    _with_memory(ctx, use)


@memory_app.command("forget")
def memory_forget(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The Zoho account id to forget.")],
) -> None:
    """Remove everything memory holds about one account (right to be forgotten)."""

    async def use(memory: MemoryStore) -> None:
        removed = await memory.forget(account_id)
        out.print(f"Forgot account {account_id}: {removed} items removed.", markup=False)

    _with_memory(ctx, use)


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

    async def use(memory: MemoryStore) -> None:
        table = Table("what", "count")
        for key, value in (await memory.stats()).items():
            table.add_row(Text(str(key)), Text(str(value)))
        out.print(table)

    _with_memory(ctx, use)
