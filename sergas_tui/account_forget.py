"""Forgetting one account: everything the workspace holds about it goes (right to erasure).

:func:`forget_account` removes, in this order:

1. **memory** — every backend the workspace has files for, whichever is configured now: the
   local memory (``memory.db``) and the Cognee data dir (``cognee/``: graph nodes and
   vectors), plus a shared memory server when ``[memory] endpoint`` is set;
2. **the workspace database** (one transaction, :mod:`sergas_tui.storage.erasure`): snapshots,
   recommendations, approvals, outcomes, signal mutes, approval grants, the team outbox, the
   sync mirror and cached CRM reads (stage histories, timelines), the stored briefs rewritten
   without it, and the audit rows about it erased (content replaced, hashes kept) with one
   chained ``account_erased`` event recording what was erased (:mod:`sergas_tui.audit.erasure`);
3. **files** — exported Markdown briefs (``briefs/``) that name it are rewritten without its
   items and with its other mentions replaced (the brief stays: it is the owner's, not the
   account's); portfolio cache files (``ui-cache/``) that name it are deleted (they are rebuilt
   on the next open); database backups from earlier upgrades (``*.bak-v*``) hold the whole
   workspace and are kept, and the report names them;
4. **deleted bytes** — the SQLite files are checkpointed (WAL emptied) and vacuumed, the Cognee
   vector tables rewritten without deleted rows and their old versions removed;
5. **logs** — mentions of its id or names in the log files (Sergas's log dir and Cognee's) are
   replaced by ``[erased]``;
6. **the central copy** (with ``[central] dsn``): the same erasure applied there through the
   owner role (:func:`sergas_tui.audit.erasure.apply_central_erasures`).

What names the account is decided by :class:`~sergas_tui.domain.mentions.Mentions`: its id,
and its names as whole words outside the longer names of the workspace's other accounts.

Forgetting holds the workspace alone from start to end
(:func:`~sergas_tui.storage.workspace_lock.exclusive_use`): with the app, a review or a server
using it, it refuses before changing anything, since compacting the files afterwards needs
every other reader gone and Cognee's old versions may be removed only while nobody writes.

A forget that stops part-way (a disk full while compacting, the process killed) is finished by
running the same command again: before changing anything it writes ``forget-pending.json`` in
the workspace (:class:`PendingForget`: the id, the names that mention it, the erasure's id and
whether the database step committed), and removes it once every step is done. A second run finds
the account through that record even though the database no longer names it, skips the steps
already done and does the rest; a forget of another account refuses until it is finished.

The account stays in the CRM: the next review reads it again unless it is deleted there too.

Why one module: the forget's steps run in a fixed order against one pending record; the order,
the record and the rewriting of files sit together so a reader can check that each step may run
again after an interruption and that none is skipped.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sergas_tui.audit.erasure import CentralErasureReport
from sergas_tui.domain import new_id
from sergas_tui.domain.mentions import ERASED_PLACEHOLDER, Mentions
from sergas_tui.errors import SergasError, WorkspaceError
from sergas_tui.storage.erasure import ErasureReport

if TYPE_CHECKING:
    from sergas_tui.services import Services

PENDING_FILE_NAME = "forget-pending.json"
"""The record of a forget not yet finished, in the workspace directory (:class:`PendingForget`)."""

BACKUP_GLOB = "*.bak-v*"
"""Database copies a schema upgrade kept (``sergas.db.bak-v7``, ``memory.db.bak-v2``...)."""


@dataclass
class ForgetReport:
    """What :func:`forget_account` removed, and what it could not reach."""

    account_id: str
    name: str
    memory_items: int = 0
    database: ErasureReport = field(default_factory=ErasureReport)
    files_deleted: list[Path] = field(default_factory=list)
    files_rewritten: list[Path] = field(default_factory=list)
    files_kept: list[Path] = field(default_factory=list)
    """Database backups that name the account and were left (they hold every account)."""
    logs_scrubbed: list[Path] = field(default_factory=list)
    central: CentralErasureReport | None = None
    central_error: SergasError | None = None
    """Why the central copy still holds the account (the local erasure is complete)."""
    notes: list[str] = field(default_factory=list)
    resumed: bool = False
    """The forget finished one that an earlier run began (its database step was then skipped
    when that run had committed it)."""


@dataclass(frozen=True)
class PendingForget:
    """A forget that began and has not finished: enough to finish it once the database no
    longer names the account (its names and the other accounts' names that shadow them)."""

    account_id: str
    name: str
    owner: str | None
    names: tuple[str, ...]
    shadows: tuple[str, ...]
    erasure_id: str
    database_done: bool = False

    @property
    def mentions(self) -> Mentions:
        return Mentions(account_id=self.account_id, names=self.names, shadows=self.shadows)

    def matches(self, text: str) -> bool:
        """Whether ``text`` (what a person typed) names this account: its id or one of its
        names, in any case."""
        wanted = text.strip().casefold()
        return wanted != "" and wanted in {
            self.account_id.casefold(),
            *(n.casefold() for n in self.names),
        }

    @staticmethod
    def path(services: Services) -> Path:
        return services.locations.workspace_dir(services.workspace) / PENDING_FILE_NAME

    @classmethod
    def read(cls, services: Services) -> PendingForget | None:
        """The workspace's unfinished forget, if any. A record that cannot be read is an error
        (guessing would leave the account half forgotten)."""
        path = cls.path(services)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise WorkspaceError(
                f"Could not read {path}, the record of an unfinished `sergas account forget`: "
                f"{err}."
            ) from err
        try:
            data = json.loads(text)
            return cls(
                account_id=str(data["account_id"]),
                name=str(data["name"]),
                owner=None if data.get("owner") is None else str(data["owner"]),
                names=tuple(str(n) for n in data["names"]),
                shadows=tuple(str(n) for n in data.get("shadows", [])),
                erasure_id=str(data["erasure_id"]),
                database_done=bool(data.get("database_done", False)),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise WorkspaceError(
                f"{path}, the record of an unfinished `sergas account forget`, is damaged "
                f"({err}). Restore it from a backup, or delete it and forget the account again "
                "by its id."
            ) from err

    def write(self, services: Services) -> None:
        """Store the record (a new file renamed over the old, synced, so a crash leaves the old
        record or the new one, never half of one)."""
        path = self.path(services)
        data = {
            "account_id": self.account_id,
            "name": self.name,
            "owner": self.owner,
            "names": list(self.names),
            "shadows": list(self.shadows),
            "erasure_id": self.erasure_id,
            "database_done": self.database_done,
        }
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as err:
            temporary.unlink(missing_ok=True)
            raise WorkspaceError(
                f"Could not write {path}, the record that lets an interrupted forget be "
                f"finished: {err}. Free some space and run the command again."
            ) from err

    def clear(self, services: Services) -> None:
        self.path(services).unlink(missing_ok=True)


def account_names(services: Services, account_id: str) -> list[str]:
    """Every name the workspace's snapshots knew the account by, newest first."""
    names: list[str] = []
    for snapshot in reversed(services.store.snapshots_for(account_id)):
        name = snapshot.data.get("Account_Name")
        if isinstance(name, str) and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def account_mentions(services: Services, account_id: str, name: str) -> Mentions:
    """What names the account: its id, ``name`` and every name its snapshots knew, shadowed by
    the names of the workspace's other accounts that contain one of them."""
    others = [
        str(snapshot.data.get("Account_Name") or "")
        for other, snapshot in services.store.latest_snapshots().items()
        if other != account_id
    ]
    return Mentions.of(account_id, [name, *account_names(services, account_id)], others)


def actor_of(services: Services) -> str:
    """Who forgets: the identified person in team mode, else this OS account."""
    identity = services.identity()
    return identity.email if identity is not None else getpass.getuser()


def _names_it(path: Path, mentions: Mentions) -> bool:
    try:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError:
        return False
    return mentions.names_it(text)


@dataclass(frozen=True)
class FilePlan:
    """What forgetting does to the workspace's files that name the account."""

    delete: list[Path]
    """Portfolio cache files (rebuilt on the next open)."""
    rewrite: list[Path]
    """Exported Markdown briefs: rewritten without the account (:func:`rewrite_brief`)."""
    keep: list[Path]
    """Database backups: they hold every account, so they are kept and named in the report."""


def workspace_files(services: Services, mentions: Mentions) -> FilePlan:
    """The workspace's exported briefs, cached portfolio rows and database backups that name
    the account, and what :func:`forget_account` does to each."""
    locations, name = services.locations, services.workspace

    def files(folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file() and _names_it(p, mentions))

    backups = sorted(locations.workspace_dir(name).glob(BACKUP_GLOB))
    return FilePlan(
        delete=files(locations.ui_cache_dir(name)),
        rewrite=files(locations.briefs_dir(name)),
        keep=[p for p in backups if _names_it(p, mentions)],
    )


_ITEM = re.compile(r"(?:[-*+]|\d+\.)\s")


def rewrite_brief(text: str, mentions: Mentions) -> str:
    """A Markdown brief without the account: each top-level list item whose first line names
    it goes with its indented lines, and every other mention is replaced by ``[erased]``
    (other accounts' items stay, whatever they say)."""
    out: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        top = not line[:1].isspace()
        if top and _ITEM.match(line):
            dropping = mentions.names_it(line)
        elif top and line.strip():
            dropping = False
        if dropping:
            continue
        out.append(mentions.replace(line))
    return "".join(out)


async def _forget_memory(services: Services, account_id: str, report: ForgetReport) -> None:
    from sergas_tui.memory.factory import cognee_dir, open_cognee
    from sergas_tui.memory.local import LocalMemory
    from sergas_tui.memory.schema import memory_path

    settings, locations, workspace = services.settings, services.locations, services.workspace
    local = memory_path(locations.database_file(workspace))
    if local.exists():
        store = LocalMemory(local, stale_after_days=settings.memory.stale_after_days)
        try:
            report.memory_items += await store.forget(account_id)
        finally:
            await store.close()
    root = cognee_dir(locations, workspace)
    if root.is_dir():
        from sergas_tui.memory.cognee.setup import cognee_available

        if not cognee_available():
            report.notes.append(
                f"The Cognee memory in {root} was not changed: Cognee is not installed "
                "(pip install 'sergas[cognee]'), so the account's memory there is still kept."
            )
        else:
            cognee = open_cognee(settings, locations, workspace, services.clock, pin=False)
            try:
                report.memory_items += await cognee.forget(account_id)
            finally:
                await cognee.close()
    if settings.memory.endpoint:
        report.memory_items += await services.memory().forget(account_id)
        report.notes.append(
            f"The shared memory server {settings.memory.endpoint} forgot the account; its own "
            "files are compacted by whoever runs it."
        )


def _compact_all(services: Services) -> None:
    from sergas_tui.memory.factory import cognee_dir
    from sergas_tui.memory.schema import memory_path
    from sergas_tui.storage.erasure import compact

    database = services.locations.database_file(services.workspace)
    compact(database)
    compact(memory_path(database))
    root = cognee_dir(services.locations, services.workspace)
    if root.is_dir():
        from sergas_tui.memory.cognee.setup import cognee_available

        if cognee_available():
            from sergas_tui.memory.cognee.files import compact_cognee

            # The workspace is held alone (forget_account): nobody may be reviewing now.
            compact_cognee(root, others=lambda: _other_users(services))


def log_files(services: Services) -> list[Path]:
    """Sergas's log files (the log dir: ``sergas.log`` and its rotations) and Cognee's."""
    from sergas_tui.memory.factory import cognee_dir

    found: list[Path] = []
    log_dir = services.locations.log_dir
    if log_dir.is_dir():
        found += sorted(p for p in log_dir.glob(services.locations.log_file.name + "*"))
    cognee_logs = cognee_dir(services.locations, services.workspace) / "logs"
    if cognee_logs.is_dir():
        found += sorted(p for p in cognee_logs.rglob("*") if p.is_file())
    return [p for p in found if p.is_file()]


def _other_users(services: Services) -> list[str]:
    from sergas_tui.storage.workspace_lock import other_users

    use = services.workspace_use
    workspace = services.locations.workspace_dir(services.workspace)
    return other_users(workspace, mine=use.path if use is not None else None)


def scrub_text_file(path: Path, mentions: Mentions) -> bool:
    """Replace every mention of the account in a text file by ``[erased]``, in place (the same
    file, so a process appending to it keeps appending to it). True when it changed."""
    return rewrite_text_file(path, mentions.replace)


def rewrite_text_file(path: Path, rewrite: Callable[[str], str]) -> bool:
    """Rewrite a text file in place with ``rewrite``; True when it changed."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    text = data.decode("utf-8", errors="surrogateescape")
    cleaned = rewrite(text)
    if cleaned == text:
        return False
    encoded = cleaned.encode("utf-8", errors="surrogateescape")
    with path.open("r+b") as handle:
        handle.write(encoded)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _delete(paths: Iterable[Path]) -> list[Path]:
    gone = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        gone.append(path)
    return gone


async def forget_account(
    services: Services, account_id: str, name: str, *, owner: str | None = None
) -> ForgetReport:
    """Forget the account everywhere the workspace holds it (see the module docstring).

    ``name`` is the name the person used for it; every name its snapshots knew is erased too.
    ``owner`` (its owner's e-mail) is kept in the pending record so a second run can check who
    may finish it. When the workspace holds an unfinished forget of this account, this finishes
    it. Raises :class:`~sergas_tui.errors.WorkspaceError`, before changing anything, while
    another process uses the workspace or while another account's forget is unfinished, and
    :class:`SergasError` when a local step fails (running it again finishes the work); a central
    step that fails leaves the local erasure complete and is reported in ``central_error``.
    """
    from sergas_tui.storage.workspace_lock import exclusive_use

    use = services.workspace_use
    with exclusive_use(
        services.locations.workspace_dir(services.workspace),
        f"forget {name}",
        mine=use.path if use is not None else None,
    ):
        return await _forget(services, account_id, name, owner)


def _begin(
    services: Services, account_id: str, name: str, owner: str | None
) -> tuple[PendingForget, bool]:
    """The pending record of this forget, and whether an earlier run began it: the unfinished
    one of this account, or a new one written before anything changes."""
    pending = PendingForget.read(services)
    if pending is not None:
        if pending.account_id != account_id:
            raise WorkspaceError(
                f"An earlier `sergas account forget` of {pending.name} ({pending.account_id}) did "
                f"not finish. Run `sergas account forget {pending.account_id}` to finish it "
                f"first; nothing was changed for {name}."
            )
        return pending, True
    mentions = account_mentions(services, account_id, name)
    pending = PendingForget(
        account_id=account_id,
        name=name,
        owner=owner,
        names=mentions.names,
        shadows=mentions.shadows,
        erasure_id=new_id(),
    )
    pending.write(services)
    return pending, False


def _finish_locally(
    services: Services, files: FilePlan, mentions: Mentions, report: ForgetReport
) -> None:
    """The steps after the database erasure: files, compaction, logs. Each can run again."""
    report.files_deleted = _delete(files.delete)
    report.files_rewritten = [
        p for p in files.rewrite if rewrite_text_file(p, lambda t: rewrite_brief(t, mentions))
    ]
    report.files_kept = files.keep
    _compact_all(services)
    report.logs_scrubbed = [p for p in log_files(services) if scrub_text_file(p, mentions)]


async def _forget(
    services: Services, account_id: str, name: str, owner: str | None
) -> ForgetReport:
    from sergas_tui.audit.erasure import apply_central_erasures, erase_account_locally

    pending, resumed = _begin(services, account_id, name, owner)
    mentions = pending.mentions
    report = ForgetReport(account_id=account_id, name=pending.name, resumed=resumed)
    files = workspace_files(services, mentions)
    await _forget_memory(services, account_id, report)
    # The erasure event carries the record's erasure id: when it is in the log, the database
    # step committed even if the run stopped before the record could say so.
    if not pending.database_done and services.store.has_audit_event(pending.erasure_id):
        pending = replace(pending, database_done=True)
        pending.write(services)
    if not pending.database_done:
        report.database = erase_account_locally(
            services.store,
            mentions,
            actor=actor_of(services),
            now=services.clock.now(),
            workspace=services.workspace,
            erasure_id=pending.erasure_id,
            central=services.central_audit_configured,
        )
        pending = replace(pending, database_done=True)
        pending.write(services)
    try:
        _finish_locally(services, files, mentions, report)
    except (SergasError, OSError) as err:
        reason = err.message if isinstance(err, SergasError) else str(err)
        raise WorkspaceError(
            f"{pending.name}'s records are erased from the workspace database, but forgetting "
            f"stopped before the files were cleaned: {reason} Run `sergas account forget "
            f"{account_id}` again to finish (the workspace keeps a record of what is left)."
        ) from err
    pending.clear(services)
    if services.central_audit_configured:
        from sergas_tui.audit.central.conn import target_from_settings

        try:
            target = target_from_settings(services.settings.central, services.secrets)
            report.central = apply_central_erasures(services.store, target)
        except SergasError as err:
            report.central_error = err
    return report


__all__ = [
    "ERASED_PLACEHOLDER",
    "FilePlan",
    "ForgetReport",
    "PendingForget",
    "account_mentions",
    "account_names",
    "forget_account",
    "log_files",
    "rewrite_brief",
    "rewrite_text_file",
    "scrub_text_file",
    "workspace_files",
]
