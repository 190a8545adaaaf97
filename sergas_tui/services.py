"""Services: built once, injected into the app and the CLI (``make_app(settings, services)``).

This is where configuration turns into running adapters, and nothing more: the workspace
database, the CRM (built by ``crm/factory.py``), the memory (``memory/factory.py``), the team's
central stores, secrets, and one clock that every one of them is given. What a ``Services``
opens on first use it closes (``aclose``, then ``close``). Tests build ``Services`` with their
own parts.

What was logic here lives with its subject: which engine runs (``engine_choice.py``), building
the review engine (``agents/factory.py``), the Rating policy (``agents/rating_guard.py``), what
a CRM-serving process serves (``crm/factory.py``), the review screen's account rows
(``viewmodels/owner_accounts.py``) and the header's wording (``viewmodels/shell.py``).

Why one module: :class:`Services` is the composition root, and what it builds is read together
with how it is cached and closed: each adapter is one field, opened on first use by one method
and closed by one of the two exit stacks (``aclose`` for the CRM gateway and a non-local
memory, ``close`` for the database, the local memory, the demo org, the simulator and the
workspace registration). Split into parts (say, team mode's central stores apart from the CRM
and the memory), each part would still reach into the same fields and stacks, and the closing
order, which matters (the database first, the workspace registration last), would no longer be
visible in one place. Opening a workspace (:func:`open_services`) stays beside it: it decides
which of those fields are filled.
"""

from __future__ import annotations

import threading
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sergas_tui import metrics
from sergas_tui.clock import Clock, SystemClock
from sergas_tui.config import Settings
from sergas_tui.demo import DemoInfo, DemoStore
from sergas_tui.engine_choice import Engine, resolve_engine
from sergas_tui.errors import WorkspaceError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretName, SecretStore
from sergas_tui.storage import SCHEMA_VERSION, Repository
from sergas_tui.storage.database import database_version
from sergas_tui.storage.workspace_lock import WorkspaceUse, exclusive_use, opening

if TYPE_CHECKING:  # the CRM stack (httpx, mcp, starlette) and psycopg load on first use
    from collections.abc import Mapping

    from pydantic import JsonValue

    from sergas_tui.agents.orchestrator import Orchestrator
    from sergas_tui.approvals.executor import Executor
    from sergas_tui.approvals.service import ApprovalService
    from sergas_tui.approvals.team import TeamRecords
    from sergas_tui.audit.central.grants import CentralGrantStore
    from sergas_tui.audit.central.people import CentralPeopleStore
    from sergas_tui.audit.central.status import SyncReport
    from sergas_tui.audit.retention import LocalPurgeReport
    from sergas_tui.crm.gateway import CrmReader
    from sergas_tui.crm.simulator import Simulator
    from sergas_tui.crm.writer import CrmGateway
    from sergas_tui.domain.people import Identity
    from sergas_tui.memory.local import LocalMemory
    from sergas_tui.memory.store import MemoryStore


def check_required_secrets(settings: Settings, secrets: SecretStore) -> None:
    """Fail early (SecretError, exit 2) when a configured service lacks its credential."""
    mode = settings.zoho.resolved_mode()
    if mode == "rest":
        purpose = f"Zoho REST access (client_id {settings.zoho.client_id!r})"
        secrets.require(SecretName.ZOHO_REFRESH_TOKEN, purpose)
        secrets.require(SecretName.ZOHO_CLIENT_SECRET, purpose)
    zoho = settings.zoho
    if mode == "mcp" and zoho.mcp_endpoint and zoho.mcp_flavour != "zoho":
        # Zoho's hosted server may take its URL key alone; ours always wants a bearer token.
        from sergas_tui.crm.zoho_mcp import redact_url

        secrets.require(
            SecretName.ZOHO_MCP_TOKEN, f"The Zoho MCP endpoint {redact_url(zoho.mcp_endpoint)}"
        )
    if (
        mode == "mcp"
        and zoho.mcp_flavour == "zoho"
        and not zoho.mcp_endpoint
        and not zoho.mcp_command
    ):
        secrets.require(SecretName.ZOHO_MCP_URL, "Zoho's hosted MCP server (mcp_flavour = 'zoho')")
    if settings.anthropic.engine == "claude":
        secrets.require(
            SecretName.ANTHROPIC_API_KEY,
            "The Claude engine, chosen by [anthropic] engine = 'claude' in the configuration,",
        )


@dataclass
class Services:
    """Everything the app and the CLI need, built once per process."""

    settings: Settings
    locations: Locations
    workspace: str
    store: Repository
    secrets: SecretStore
    clock: Clock = field(default_factory=SystemClock)
    demo: DemoStore | None = None
    simulator: Simulator | None = None
    demo_workspace: str | None = None
    """The workspace whose demo CRM this one serves or reads (default: itself)."""
    workspace_use: WorkspaceUse | None = None
    """This process's registration as a user of the workspace (released by :meth:`close`)."""
    _crm: CrmGateway | None = field(default=None, repr=False)
    _memory: MemoryStore | None = field(default=None, repr=False)
    _grants: CentralGrantStore | None = field(default=None, repr=False)
    _team: TeamRecords | None = field(default=None, repr=False)
    _people: CentralPeopleStore | None = field(default=None, repr=False)
    _identity: Identity | None = field(default=None, repr=False)
    _identified: bool = field(default=False, repr=False)
    _opened: ExitStack = field(init=False, default_factory=ExitStack, repr=False)
    """What was opened on first use and closes synchronously (the local memory)."""
    _opened_async: AsyncExitStack = field(init=False, default_factory=AsyncExitStack, repr=False)
    """What was opened on first use and closes on an event loop (CRM gateway, other memory)."""

    async def crm(self) -> CrmReader:
        """The CRM, read-only, for everything but the executor (built on first use; async for
        MCP sessions). Every call through it is recorded in the workspace's audit log."""
        from sergas_tui.crm.gateway import ReadOnlyCrm

        return ReadOnlyCrm(await self.crm_gateway())

    async def crm_gateway(self) -> CrmGateway:
        """The whole CRM backend, reads and writes: for the approvals executor (whose writes
        each name their approval) and for our MCP server (whose writes pass its gate)."""
        if (crm := self._crm) is None:
            from sergas_tui.audit.gateway import AuditedGateway
            from sergas_tui.crm.factory import open_crm, open_simulator
            from sergas_tui.crm.metadata_cache import FieldsCache, FieldsCaching

            demo_workspace = self.demo_workspace or self.workspace
            if self.settings.zoho.resolved_mode() == "demo" and self.simulator is None:
                self.simulator = open_simulator(self.locations, demo_workspace, self.clock)
            backend = await open_crm(
                self.settings,
                self.locations,
                self.secrets,
                self.clock,
                simulator=self.simulator,
                demo_workspace=demo_workspace,
                child_environment=self.child_environment,
            )
            if isinstance(backend, FieldsCaching):  # field metadata: once a day, on disk
                backend.use_fields_cache(
                    FieldsCache(self.locations.zoho_metadata_dir(self.workspace))
                )
            crm = AuditedGateway(backend, self.store, default_agent="sergas", clock=self.clock)
            self._crm = crm
            self._opened_async.push_async_callback(self._close_crm, crm)
        return crm

    def child_environment(self) -> dict[str, str]:
        """What a stdio MCP server started for this workspace must know: the same config,
        data and log locations, the same workspace, and every ``SERGAS_*`` override (the MCP
        SDK passes a child little more than PATH and HOME)."""
        import os

        env = {key: value for key, value in os.environ.items() if key.startswith("SERGAS_")}
        env |= {
            "SERGAS_CONFIG_DIR": str(self.locations.config_dir),
            "SERGAS_DATA_DIR": str(self.locations.data_dir),
            "SERGAS_LOG_DIR": str(self.locations.log_dir),
            "SERGAS_WORKSPACE": self.workspace,
        }
        passed = ("LANG", "LC_ALL", "TZ", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")
        for key in (*passed, "PYTHON_KEYRING_BACKEND", "PGPASSWORD", "ANTHROPIC_API_KEY"):
            if key in os.environ:  # the OS keyring is reached through the session bus
                env.setdefault(key, os.environ[key])
        return env

    async def orchestrator(self) -> Orchestrator:
        """The review orchestrator on the configured engine (see :func:`resolve_engine`), built
        by ``agents/factory.py``: the rules engine always, the Claude engine over it when
        configured (its CLI processes end with each run, even a cancelled one)."""
        from sergas_tui.agents.factory import claude_engine, rules_engine
        from sergas_tui.agents.orchestrator import Orchestrator
        from sergas_tui.agents.rating_guard import trusted_ratings
        from sergas_tui.agents.review_engine import ReviewEngine

        crm = await self.crm()
        rules = rules_engine(
            self.settings,
            self.locations,
            self.clock,
            crm=crm,
            repository=self.store,
            memory=self.memory(),
            at_risk_rating=self.at_risk_rating(),
            trusted_ratings=trusted_ratings(demo=self.is_demo),
        )
        engine: ReviewEngine = rules
        if self.engine()[0] == "claude":
            engine = claude_engine(
                self.settings,
                self.locations,
                self.clock,
                rules=rules,
                crm=crm,
                repository=self.store,
                api_key=self.secrets.get(SecretName.ANTHROPIC_API_KEY),
            )
        return Orchestrator(
            gateway=crm,
            repository=self.store,
            engine=engine,
            settings=self.settings,
            clock=self.clock,
            team=self.team_records(),
        )

    def memory(self) -> MemoryStore:
        """The workspace's memory, per ``[memory]``: local SQLite (``memory.db`` beside the
        workspace database), Cognee (``sergas[cognee]``) or a shared memory server."""
        if (memory := self._memory) is None:
            from sergas_tui.memory.factory import open_memory
            from sergas_tui.memory.local import LocalMemory

            memory = open_memory(
                self.settings, self.locations, self.workspace, self.clock, self.secrets
            )
            self._memory = memory
            if isinstance(memory, LocalMemory):  # a file beside the database: closed with it
                self._opened.callback(self._close_local_memory, memory)
            else:  # a Cognee store or a memory server's session: closed on an event loop
                self._opened_async.push_async_callback(self._close_memory, memory)
        return memory

    async def aclose(self) -> None:
        """Close what was opened on an event loop: the CRM gateway (its session or transport)
        and a memory other than the local file. Each is built afresh if asked for again."""
        opened, self._opened_async = self._opened_async, AsyncExitStack()
        await opened.aclose()

    async def _close_crm(self, crm: CrmGateway) -> None:
        if self._crm is crm:
            self._crm = None
        await crm.aclose()

    async def _close_memory(self, memory: MemoryStore) -> None:
        if self._memory is memory:
            self._memory = None
        await memory.close()

    def _close_local_memory(self, memory: LocalMemory) -> None:
        if self._memory is memory:
            self._memory = None
        memory.close_now()

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    @property
    def demo_info(self) -> DemoInfo | None:
        return None if self.demo is None else self.demo.meta()

    @property
    def central_audit_configured(self) -> bool:
        return bool(self.settings.central.dsn)

    def team_records(self) -> TeamRecords | None:
        """Team mode's central records of this workspace's approvals ([central] dsn set);
        None in local-only mode."""
        if not self.central_audit_configured:
            return None
        if self._team is None:
            import socket

            from sergas_tui.approvals.team import TeamRecords
            from sergas_tui.audit.central.conn import target_from_settings
            from sergas_tui.audit.central.records import CentralRecordStore

            central = self.settings.central
            store = CentralRecordStore(
                target_from_settings(central, self.secrets),
                # Two workspaces on one host (a server beside workers) are two devices.
                device=central.device or f"{socket.gethostname()}/{self.workspace}",
            )
            self._team = TeamRecords(self.store, store, clock=self.clock)
        return self._team

    def approval_service(
        self,
        *,
        identity: Identity | None = None,
        audit_context: Mapping[str, JsonValue] | None = None,
    ) -> ApprovalService:
        """The approvals service on this workspace: its memory, grants and team records, acting
        for ``identity`` (a command's or the app's person, a link's owner; None: a system job,
        or local-only mode) with ``audit_context`` on its decisions' audit rows."""
        from sergas_tui.approvals.service import ApprovalService

        return ApprovalService(
            self.store,
            clock=self.clock,
            memory=self.memory(),
            grants=self.grant_publisher(),
            team=self.team_records(),
            identity=identity,
            audit_context=audit_context,
        )

    async def executor(self) -> Executor:
        """The approvals executor on this workspace's CRM gateway (writes each approved action
        exactly once), with its memory, grants and team records."""
        from sergas_tui.approvals.executor import Executor

        return Executor(
            self.store,
            await self.crm_gateway(),
            clock=self.clock,
            memory=self.memory(),
            grants=self.grant_publisher(),
            team=self.team_records(),
        )

    def people(self) -> CentralPeopleStore | None:
        """Team mode's roles (who is an AE, a manager, an admin); None in local-only mode."""
        if not self.central_audit_configured:
            return None
        if self._people is None:
            from sergas_tui.audit.central.conn import target_from_settings
            from sergas_tui.audit.central.people import CentralPeopleStore

            self._people = CentralPeopleStore(
                target_from_settings(self.settings.central, self.secrets)
            )
        return self._people

    def identity(self) -> Identity | None:
        """Team mode: the person at the keyboard, from this OS account's mapping in the team's
        roles (blocking: reads the central database once). None in local-only mode, where the
        workspace is one person's, and in team mode before any roles exist: then nothing is
        restricted (`sergas doctor` warns).

        Raises :class:`IdentityError` when the account is mapped to nobody."""
        people = self.people()
        if people is None:
            return None
        if not self._identified:
            from sergas_tui.domain.people import identify

            self._identity = identify(people.all(), os_account())
            self._identified = True
        return self._identity

    def grant_publisher(self) -> CentralGrantStore | None:
        """Where approvals are published for Zoho MCP servers that verify tokens centrally
        (the central PostgreSQL, when configured); None in local-only mode."""
        if not self.central_audit_configured:
            return None
        if self._grants is None:
            from sergas_tui.audit.central.conn import target_from_settings
            from sergas_tui.audit.central.grants import CentralGrantStore

            target = target_from_settings(self.settings.central, self.secrets)
            self._grants = CentralGrantStore(target)
        return self._grants

    def sync_central_audit(self, stop: threading.Event | None = None) -> SyncReport:
        """Send the audit outbox to the central PostgreSQL (blocking: call from a thread)."""
        from sergas_tui.audit.central.conn import target_from_settings
        from sergas_tui.audit.central.sync import sync_once

        auditing = self.settings.auditing
        return sync_once(
            self.store,
            target_from_settings(self.settings.central, self.secrets),
            workspace=self.workspace,
            batch_size=auditing.sync_batch_size,
            stop=stop,
        )

    def audit_retention(self) -> LocalPurgeReport | None:
        """Purge local audit rows past ``[auditing] retention_days`` unless that already ran
        today (UTC); blocking: call from a thread. None when it did not run today."""
        from sergas_tui.audit.retention import purge_local_if_due

        return purge_local_if_due(
            self.store,
            retention_days=self.settings.auditing.retention_days,
            keep_unsynced=bool(self.settings.central.dsn),
            now=self.clock.now(),
        )

    def engine(self) -> tuple[Engine, str]:
        return resolve_engine(self.settings, self.secrets)

    def at_risk_rating(self) -> str | None:
        """The Rating value meaning "at risk": ``[review] at_risk_rating``, else the demo
        org's own "At Risk" on the demo CRM, else none (nothing proposed). Each review proposes
        it only if the org's Accounts Rating picklist has it (``agents/rating_guard.py``)."""
        from sergas_tui.agents.rating_guard import at_risk_rating_for

        return at_risk_rating_for(self.settings, demo=self.is_demo)

    def current_user_email(self) -> str | None:
        if self.demo is not None:
            return self.demo.meta().current_user_email
        return self.settings.zoho.user_email

    def owner_label(self) -> str:
        return f"owner {self.current_user_email() or 'unknown'}"

    def close(self) -> None:
        """Close the synchronous resources; call ``aclose()`` first when a gateway was used.

        In order, each even when an earlier one fails: the workspace database, the local
        memory, the demo org, the simulator (whoever set it), this process's registration."""
        with ExitStack() as closing:  # last in, first closed
            if self.workspace_use is not None:
                closing.callback(self.workspace_use.release)
            if self.simulator is not None:
                closing.callback(self._close_simulator, self.simulator)
            if self.demo is not None:
                closing.callback(self.demo.close)
            opened, self._opened = self._opened, ExitStack()
            closing.push(opened)
            closing.callback(self.store.close)

    def _close_simulator(self, simulator: Simulator) -> None:
        if self.simulator is simulator:
            self.simulator = None
        simulator.close()


def open_services(
    settings: Settings,
    locations: Locations,
    *,
    workspace: str | None = None,
    secrets: SecretStore | None = None,
    clock: Clock | None = None,
    serving: bool = False,
) -> Services:
    """Open the workspace. The demo org must exist (the CLI generates it on first run).

    ``serving``: for a process that serves the CRM to others (``sergas mcp zoho``). It serves
    the workspace's own CRM, never another MCP server (see :func:`served_settings`).
    """
    secrets = secrets or SecretStore()
    name = workspace or settings.workspace_name()
    demo_from: str | None = None
    monitoring = settings.monitoring
    metrics.configure(
        enabled=monitoring.metrics_enabled, cost_tracking=monitoring.cost_tracking_enabled
    )
    if serving:
        from sergas_tui.crm.factory import served_settings

        settings, demo_from = served_settings(settings, locations, name)
    check_required_secrets(settings, secrets)
    if (
        settings.zoho.resolved_mode() == "demo"
        and not locations.demo_crm_file(demo_from or name).exists()
    ):
        raise WorkspaceError(no_demo_workspace(locations, demo_from or name))
    # One process at a time registers and opens: one that starts while another creates or
    # upgrades the database waits for it, then finds the database current.
    with opening(locations.workspace_dir(name)):
        use = WorkspaceUse.register(locations.workspace_dir(name))
        try:
            return _open_registered(settings, locations, name, demo_from, secrets, clock, use)
        except BaseException:
            use.release()
            raise


def _open_registered(
    settings: Settings,
    locations: Locations,
    name: str,
    demo_from: str | None,
    secrets: SecretStore,
    clock: Clock | None,
    use: WorkspaceUse,
) -> Services:
    demo: DemoStore | None = None
    clock = clock or SystemClock()
    mode = settings.zoho.resolved_mode()
    if mode == "demo":
        demo = DemoStore.open(locations.demo_crm_file(demo_from or name))
    elif mode == "mcp" and locations.demo_crm_file(name).exists():
        # A stdio `sergas mcp zoho` serves this demo CRM; the app reads its meta (who "I" am).
        demo = DemoStore.open(locations.demo_crm_file(name))
    elif locations.demo_crm_file(name).exists():
        raise WorkspaceError(
            f"Workspace {name!r} holds a demo CRM, but Zoho is configured "
            f"(mode {mode!r}). Open it with `--workspace` and "
            "zoho.mode = 'demo', or pick another workspace name for your Zoho org."
        )
    database = locations.database_file(name)
    if database_version(database) < SCHEMA_VERSION and database.exists():
        # An upgrade rewrites the schema: not while another process has the database open.
        what = f"upgrade the workspace database to schema version {SCHEMA_VERSION}"
        with exclusive_use(locations.workspace_dir(name), what, mine=use.path):
            store = Repository.open(database, clock=clock)
    else:
        store = Repository.open(database, clock=clock)
    return Services(
        settings=settings,
        locations=locations,
        workspace=name,
        store=store,
        secrets=secrets,
        clock=clock,
        demo=demo,
        demo_workspace=demo_from,
        workspace_use=use,
    )


def no_demo_workspace(locations: Locations, name: str) -> str:
    """Why a demo workspace cannot open (it was never generated here), with the command that
    makes it and the workspaces there are (``-w`` may be a typo)."""
    others = [w for w in locations.workspaces() if locations.demo_crm_file(w).exists()]
    option = "" if name == "demo" else f"-w {name} "
    there = (
        f" Workspaces here: {', '.join(others)} (pick one with -w NAME)."
        if others
        else " There is no workspace here yet."
    )
    return (
        f"There is no demo workspace {name!r} (no demo CRM at "
        f"{locations.demo_crm_file(name)}). Create it with `sergas {option}demo generate`.{there}"
    )


def demo_workspace_missing(locations: Locations, workspace: str) -> bool:
    return not Path(locations.demo_crm_file(workspace)).exists()


def os_account() -> str:
    """The OS account this process runs as, by its user id (not ``LOGNAME``/``USER``, which
    anyone may set): who a team device acts for. Where there is no password database
    (Windows), the login name the OS reports."""
    import os

    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        import getpass

        try:
            return getpass.getuser()
        except OSError:  # no user name at all (some containers)
            return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
