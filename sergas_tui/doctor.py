"""`sergas doctor`: what is configured, what is missing, what is reachable. Never prints secrets.

Why one module: ``sergas doctor`` is one report, and :func:`run_checks` is its table of
contents; each check below is a short function producing the rows of one section, in the order
they print. Reading the module top to bottom is reading the report. The parts that need
machinery of their own already live apart: the metrics summary (``doctor_metrics.py``) and the
team's workers (``team/status.py``).
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from sergas_tui import __version__
from sergas_tui.config import Settings, load_settings
from sergas_tui.demo import DemoStore
from sergas_tui.engine_choice import resolve_engine
from sergas_tui.errors import SergasError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SECRET_SPECS, SecretName, SecretStore
from sergas_tui.storage import Repository

if TYPE_CHECKING:
    from sergas_tui.audit.anchor import AnchorCheck
    from sergas_tui.audit.central.status import OutboxStatus

Status = Literal["ok", "warn", "fail", "info"]
PROBE_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    status: Status
    detail: str


def probe_tcp(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Open (and close) a TCP connection to the URL's host and port."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = parts.hostname
    if not host:
        return False, f"cannot find a host in {url!r}"
    default_port = 443 if parts.scheme in ("https", "wss") else 80
    if parts.scheme.startswith("postgres"):
        default_port = 5432
    port = parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"{host}:{port} reachable"
    except OSError as err:
        reason = err.strerror or type(err).__name__
        return False, f"{host}:{port} unreachable ({reason})"


def probe_postgres(dsn: str, password: str | None) -> tuple[bool, str]:
    """Log in to the central audit and read its schema version (a real login, not a ping)."""
    import psycopg

    from sergas_tui.audit.central.schema import CENTRAL_SCHEMA_VERSION, central_version

    try:
        with psycopg.connect(
            dsn, password=password, connect_timeout=int(PROBE_TIMEOUT_SECONDS)
        ) as conn:
            row = conn.execute("SELECT current_user, current_database()").fetchone()
            version = central_version(conn)
    except psycopg.Error as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return False, f"cannot connect: {first_line}"
    user, database = row if row else ("?", "?")
    if version is None:
        schema = "no Sergas schema yet (`sergas audit sync --migrate-only` as the owner)"
    elif version == CENTRAL_SCHEMA_VERSION:
        schema = f"schema v{version}"
    else:
        schema = f"schema v{version}, this Sergas uses v{CENTRAL_SCHEMA_VERSION}"
    return True, f"connected as {user} to database {database}; {schema}"


def _file_size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1_048_576:.1f} MB" if size >= 1_048_576 else f"{size / 1024:.0f} kB"


def run_checks(
    locations: Locations, secrets: SecretStore, workspace: str | None = None
) -> list[Check]:
    checks = [
        Check("sergas", "version", "info", __version__),
        Check("sergas", "config dir", "info", str(locations.config_dir)),
        Check("sergas", "data dir", "info", str(locations.data_dir)),
        Check("sergas", "log file", "info", str(locations.log_file)),
    ]
    try:
        settings = load_settings(locations)
    except SergasError as err:
        checks.append(Check("config", "configuration", "fail", err.message))
        return checks
    config_state = "present" if locations.config_file.exists() else "absent (defaults in use)"
    checks.append(Check("config", "file", "ok", f"{locations.config_file} {config_state}"))
    for note in settings.deprecations():
        checks.append(Check("config", "deprecated setting", "warn", note))
    checks += _workspace_checks(settings, locations, workspace or settings.workspace_name())
    checks += _secret_checks(settings, secrets)
    engine, why = resolve_engine(settings, secrets)
    checks.append(Check("engine", "engine", "info", f"{engine}: {why}"))
    checks += _service_checks(settings, secrets)
    checks += _rating_checks(settings, locations, workspace or settings.workspace_name())
    checks += _budget_checks(settings, locations, workspace or settings.workspace_name())
    from sergas_tui.team.status import worker_checks  # team mode: the workers and their queue

    checks += worker_checks(settings, secrets)
    from sergas_tui.doctor_metrics import metrics_checks

    checks += metrics_checks(settings, locations, workspace or settings.workspace_name())
    return checks


def _budget_checks(settings: Settings, locations: Locations, name: str) -> list[Check]:
    """The org's Zoho call budget, shared by every Sergas process of this machine."""
    from sergas_tui.crm.budget import demo_budget_file, read_budget, rest_budget_file
    from sergas_tui.crm.rest.gateway import zoho_host

    zoho = settings.zoho
    mode = zoho.resolved_mode()
    if mode == "demo":
        path = demo_budget_file(locations.data_dir, locations.demo_crm_file(name))
    elif mode == "rest" and zoho.client_id:
        path = rest_budget_file(locations.data_dir, zoho_host(zoho), zoho.client_id)
    else:
        return []  # over MCP the server's process keeps the budget
    limits = (
        f"this config allows {zoho.requests_per_minute} calls a minute and "
        f"{zoho.concurrent_requests} in flight"
    )
    state = read_budget(path)
    if state is None or state.members == 0:
        detail = (
            f"{limits}, counted together with every other Sergas process of this machine "
            f"that talks to the same org (none is running now; {path})"
        )
        return [Check("zoho", "call budget", "info", detail)]
    processes = "process" if state.members == 1 else "processes"
    detail = (
        f"shared by {state.members} running Sergas {processes} of this machine: "
        f"{state.per_minute} calls a minute (the strictest member's), "
        f"{state.last_minute} in the last minute, {state.in_flight} in flight now; {limits} "
        f"({path})"
    )
    return [Check("zoho", "call budget", "info", detail)]


def _rating_checks(settings: Settings, locations: Locations, name: str) -> list[Check]:
    """The review's Rating value against the org's Accounts picklist, from the workspace's
    metadata cache (no CRM call: the next review reads the metadata when it is a day old)."""
    from sergas_tui.agents.author.rules import AuthorPolicy, rating_writes
    from sergas_tui.agents.rating_guard import at_risk_rating_for, trusted_ratings
    from sergas_tui.crm.metadata_cache import FieldsCache, cached_state
    from sergas_tui.domain.metadata import ModuleFields

    group, label = "review", "at-risk rating"
    mode = settings.zoho.resolved_mode()
    demo = mode == "demo" or (mode == "mcp" and locations.demo_crm_file(name).exists())
    policy = AuthorPolicy(at_risk_rating=at_risk_rating_for(settings, demo=demo))
    if policy.at_risk_rating is None:
        detail = "[review] at_risk_rating is not set: no Rating updates are proposed."
        return [Check(group, label, "info", detail)]
    try:
        state = cached_state(FieldsCache(locations.zoho_metadata_dir(name)), "Accounts")
    except SergasError as err:
        return [Check(group, label, "warn", err.message)]
    failure = (
        f" The last read failed ({state.failed_at:%Y-%m-%d %H:%M} UTC): {state.failure}"
        if (state.failure and state.failed_at)
        else ""
    )
    if state.fields is None and not failure:
        detail = (
            f"'{policy.at_risk_rating}' is not checked yet: the next review reads the org's "
            "Accounts field metadata (scope ZohoCRM.settings.fields.READ) and proposes Rating "
            "updates only if the Rating picklist has it."
        )
        return [Check(group, label, "info", detail)]
    fields = state.fields or ModuleFields.unknown_for("Accounts", "it could not be read")
    decision = rating_writes(fields, policy, trusted=trusted_ratings(demo=demo))
    detail = " ".join(decision.notes)
    if fields.fetched_at is not None:
        detail += f" (Accounts field metadata as of {fields.fetched_at:%Y-%m-%d %H:%M} UTC.)"
    return [Check(group, label, "ok" if decision.ok and not failure else "warn", detail + failure)]


def _workspace_checks(settings: Settings, locations: Locations, name: str) -> list[Check]:
    group = "workspace"
    checks = [Check(group, "name", "info", name)]
    mode = settings.zoho.resolved_mode()
    if mode == "demo":
        path = locations.demo_crm_file(name)
        if not path.exists():
            checks.append(
                Check(group, "demo CRM", "warn", "not generated yet: run `sergas demo generate`")
            )
        else:
            try:
                store = DemoStore.open(path)
            except SergasError as err:
                checks.append(Check(group, "demo CRM", "fail", err.message))
            else:
                try:
                    info = store.meta()
                    counts = store.counts()
                finally:
                    store.close()
                detail = (
                    f"{path} ({_file_size(path)}): {counts.get('Accounts', 0):,} accounts, "
                    f"{info.owners} owners, seed {info.seed}, you are {info.current_user_email}"
                )
                checks.append(Check(group, "demo CRM", "ok", detail))
    db = locations.database_file(name)
    if not db.exists():
        checks.append(Check(group, "database", "info", f"{db} (created on first use)"))
    else:
        try:
            repo = Repository.open(db)
        except SergasError as err:
            checks.append(Check(group, "database", "fail", err.message))
        else:
            from sergas_tui.audit.anchor import check_anchor
            from sergas_tui.audit.central.status import outbox_status

            try:
                db_info = repo.info()
                outbox = outbox_status(repo)
                anchor = check_anchor(repo)
            finally:
                repo.close()
            detail = f"{db} ({_file_size(db)}), schema v{db_info.schema_version}"
            checks.append(Check(group, "database", "ok", detail))
            checks.append(_anchor_check(group, anchor))
            if settings.central.dsn:
                checks.append(_outbox_check(group, outbox))
    return checks


def _anchor_check(group: str, anchor: AnchorCheck) -> Check:
    """The audit log's end against its recorded head and checkpoint (docs/security.md)."""
    if not anchor.ok:
        return Check(
            group, "audit anchor", "fail", f"{anchor.summary()}; run `sergas audit verify`"
        )
    return Check(
        group, "audit anchor", "warn" if anchor.checkpoint_error else "ok", anchor.summary()
    )


def _outbox_check(group: str, outbox: OutboxStatus) -> Check:
    """Pending rows and the last central sync, from the local database."""
    last = "never" if outbox.last_synced_at is None else f"{outbox.last_synced_at:%Y-%m-%d %H:%M}"
    detail = (
        f"{outbox.pending_audit:,} audit rows and {outbox.pending_outcomes:,} outcomes pending; "
        f"last sync {last}"
    )
    if outbox.last_error:
        return Check(
            group, "central audit outbox", "warn", f"{detail}; last error: {outbox.last_error}"
        )
    return Check(group, "central audit outbox", "ok", detail)


def _needed_secrets(settings: Settings) -> set[SecretName]:
    needed: set[SecretName] = set()
    mode = settings.zoho.resolved_mode()
    if mode == "rest":
        needed |= {SecretName.ZOHO_REFRESH_TOKEN, SecretName.ZOHO_CLIENT_SECRET}
    zoho = settings.zoho
    if mode == "mcp" and zoho.mcp_endpoint and zoho.mcp_flavour != "zoho":
        needed.add(SecretName.ZOHO_MCP_TOKEN)
    if mode == "mcp" and zoho.mcp_flavour == "zoho" and not (zoho.mcp_endpoint or zoho.mcp_command):
        needed.add(SecretName.ZOHO_MCP_URL)
    if settings.anthropic.engine == "claude":
        needed.add(SecretName.ANTHROPIC_API_KEY)
    return needed


def _secret_checks(settings: Settings, secrets: SecretStore) -> list[Check]:
    checks: list[Check] = []
    problem = secrets.keyring_problem()
    if problem:
        checks.append(
            Check(
                "secrets",
                "keyring",
                "warn",
                f"{problem}; secrets are read from environment variables instead",
            )
        )
    needed = _needed_secrets(settings)
    for status in secrets.statuses():
        if status.source == "missing":
            level: Status = "fail" if status.name in needed else "info"
            spec = SECRET_SPECS[status.name]
            where = "" if problem else f"`sergas auth set {status.name.value}` or "
            detail = f"missing — {where}{' / '.join(spec.env_vars)}"
        else:
            level = "ok"
            detail = f"set (from {status.source}: {status.detail})"
        checks.append(Check("secrets", status.name.value, level, detail))
    return checks


def _service_checks(settings: Settings, secrets: SecretStore) -> list[Check]:
    group = "services"
    checks: list[Check] = []
    mode = settings.zoho.resolved_mode()
    if mode == "demo":
        checks.append(Check(group, "zoho", "ok", "built-in simulator (in-process, no network)"))
    elif mode == "rest":
        ok, detail = probe_tcp(settings.zoho.accounts_server())
        checks.append(Check(group, "zoho accounts server", "ok" if ok else "fail", detail))
    else:
        checks += _mcp_checks(settings, secrets)
        if settings.zoho.mcp_command:
            exe = settings.zoho.mcp_command[0]
            found = shutil.which(exe)
            checks.append(
                Check(
                    group,
                    "zoho mcp command",
                    "ok" if found else "fail",
                    f"{exe} found at {found}" if found else f"{exe} not found on PATH",
                )
            )
    if settings.anthropic.base_url and resolve_engine(settings, secrets)[0] == "claude":
        ok, detail = probe_tcp(settings.anthropic.base_url)
        checks.append(Check(group, "anthropic", "ok" if ok else "fail", detail))
    if settings.memory.endpoint:
        ok, detail = probe_tcp(settings.memory.endpoint)
        checks.append(Check(group, "memory endpoint", "ok" if ok else "fail", detail))
    else:
        checks.append(Check(group, "memory", "ok", f"{settings.memory.backend} backend"))
    if settings.central.dsn:
        password = secrets.get(SecretName.POSTGRES_PASSWORD)
        ok, detail = probe_postgres(
            settings.central.dsn,
            None if password is None else password.get_secret_value(),
        )
        checks.append(Check(group, "central audit (postgres)", "ok" if ok else "fail", detail))
        if ok:
            checks.append(_roles_check(group, settings, secrets))
    else:
        checks.append(
            Check(group, "central audit (postgres)", "info", "not configured (local audit only)")
        )
    return checks


def _roles_check(group: str, settings: Settings, secrets: SecretStore) -> Check:
    """Team mode's roles: how many people, and who this OS account is (or why nobody)."""
    from sergas_tui.audit.central.conn import target_from_settings
    from sergas_tui.audit.central.people import CentralPeopleStore
    from sergas_tui.domain.people import identify
    from sergas_tui.services import os_account

    label = "team roles"
    try:
        people = CentralPeopleStore(target_from_settings(settings.central, secrets)).all()
        me = identify(people, os_account())
    except SergasError as err:
        return Check(group, label, "warn", err.message)
    if me is None:
        return Check(
            group,
            label,
            "warn",
            "none yet: anyone on a team device may see and decide every owner's approvals "
            "(`sergas admin roles import` reads them from the CRM)",
        )
    managers = sum(1 for p in people if p.role == "manager")
    admins = sum(1 for p in people if p.role == "admin")
    return Check(
        group,
        label,
        "ok",
        f"{len(people)} people ({managers} managers, {admins} admins); you are {me.label()} "
        f"({me.role})",
    )


_FLAVOURS = {
    "auto": "auto: Sergas's own catalog (zoho_*) or Zoho's hosted server (ZohoCRM_*), told "
    "apart by the tools the server lists",
    "sergas": "sergas: Sergas's own MCP server (`sergas mcp zoho`, tools zoho_*)",
    "zoho": "zoho: Zoho's own hosted MCP server (tools ZohoCRM_*); Zoho does not know Sergas's "
    "approvals, so the approvals executor is the only gate before a write",
}


def _mcp_checks(settings: Settings, secrets: SecretStore) -> list[Check]:
    """The MCP flavour, the endpoint (never its key) and, for Zoho's hosted server, what its
    catalog lacks (a live ``tools/list``; no CRM call)."""
    from sergas_tui.crm.zoho_mcp import redact_url

    group = "services"
    zoho = settings.zoho
    checks = [Check(group, "zoho mcp flavour", "info", _FLAVOURS[zoho.mcp_flavour])]
    url: str | None = zoho.mcp_endpoint
    if url is None and zoho.mcp_flavour == "zoho":
        stored = secrets.get(SecretName.ZOHO_MCP_URL)
        url = stored.get_secret_value() if stored is not None else None
        if url is None and not zoho.mcp_command:
            checks.append(
                Check(
                    group,
                    "zoho mcp endpoint",
                    "fail",
                    "no URL: store the server's URL with `sergas auth set zoho_mcp_url`",
                )
            )
    if url is None:
        return checks
    shown = redact_url(url)
    ok, detail = probe_tcp(shown)
    checks.append(Check(group, "zoho mcp endpoint", "ok" if ok else "fail", detail))
    if ok and zoho.mcp_flavour == "zoho":
        checks += _zoho_catalog_checks(url, secrets)
    return checks


def _zoho_catalog_checks(url: str, secrets: SecretStore) -> list[Check]:
    import asyncio

    from sergas_tui.crm.zoho_mcp import probe_zoho_mcp

    group = "services"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # inside an event loop (not the CLI): leave the live probe out
        return []
    token = secrets.get(SecretName.ZOHO_MCP_TOKEN)
    try:
        probe = asyncio.run(
            probe_zoho_mcp(url, token.get_secret_value() if token else None, within=10.0)
        )
    except SergasError as err:
        return [Check(group, "zoho mcp catalog", "fail", err.message)]
    checks = [Check(group, "zoho mcp catalog", "ok", f"{probe.tools} tools, {probe.naming} names")]
    if not probe.degraded:
        checks.append(Check(group, "zoho mcp degraded", "ok", "nothing: every tool Sergas uses"))
    checks += [Check(group, "zoho mcp degraded", "warn", line) for line in probe.degraded]
    return checks
