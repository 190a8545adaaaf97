"""The Textual app: built from injected services, holds no business logic.

Four modes, each its own screen stack: portfolio (with account detail pushed on top), review,
approvals and audit. Screens reach the app through ``screens.base.ShellApi``.
"""

from __future__ import annotations

import asyncio
import gc
import getpass
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from sergas_tui import __version__
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.screens.commands import SERGAS_COMMANDS
from sergas_tui.screens.help import HelpScreen, bindings_of
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.viewmodels.data_loop import DataLoop
from sergas_tui.viewmodels.shell import ShellStatus, header_label, shell_status
from sergas_tui.viewmodels.view_cache import ViewCache

if TYPE_CHECKING:
    from textual.screen import Screen

    from sergas_tui.config import Settings
    from sergas_tui.screens.account import AccountScreen
    from sergas_tui.services import Services

log = get_logger("sergas.app")

STATUS_REFRESH_SECONDS = 30.0
ACCOUNT_SCREEN = "account"
"""The name the account screen is installed under: kept between visits and reused."""


class SergasApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Sergas"
    COMMANDS = App.COMMANDS | SERGAS_COMMANDS
    BINDINGS = [
        Binding("1", "go('portfolio')", "Portfolio", id="app.portfolio"),
        Binding("2", "go('review')", "Review", id="app.review"),
        Binding("3", "go('approvals')", "Approvals", id="app.approvals"),
        Binding("4", "go('audit')", "Audit", id="app.audit"),
        Binding("x", "export_brief", "Export brief", id="app.export"),
        Binding("question_mark,f1", "help", "Help", id="app.help", key_display="?"),
        Binding("q", "quit", "Quit", id="app.quit", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit_hard", show=False),
    ]

    status: reactive[ShellStatus | None] = reactive(None)

    def __init__(self, settings: Settings, services: Services) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.data = DataLoop(services)
        self.views = ViewCache()
        self.changes = 0
        self.last_input = 0.0
        self._account_screen: AccountScreen | None = None
        self._stop_sync = threading.Event()
        self._sync_error: str | None = None
        self.sub_title = header_label(services, ask_keyring=False)
        if settings.ui.keymap:
            self.set_keymap(dict(settings.ui.keymap))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_input = time.monotonic()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        gc.unfreeze()  # what freeze_heap kept aside may be collected again (tests run many apps)
        self._stop_sync.set()
        await asyncio.to_thread(self.data.close)
        await self.services.aclose()

    def on_mount(self) -> None:
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        else:
            self.notify(
                f"There is no theme {self.settings.ui.theme!r}; using {self.theme!r}. "
                "Pick one with ctrl+p → theme.",
                title="Unknown theme",
                severity="warning",
                markup=False,
            )
        services = self.services
        self.add_mode("portfolio", lambda: PortfolioScreen(services))
        self.add_mode("review", lambda: _review_screen(services))
        self.add_mode("approvals", lambda: _approvals_screen(services))
        self.add_mode("audit", lambda: _audit_screen(services))
        self.switch_mode("portfolio")
        self.call_after_refresh(freeze_heap)
        if self.settings.ui.keymap:
            self._check_keymap()
        if self.sub_title.endswith("…"):  # the keyring decides the engine: ask it off the start
            self.run_worker(self._label_engine(), name="engine label", exit_on_error=False)
        self._load_status()
        self.set_interval(STATUS_REFRESH_SECONDS, self._load_status)
        if services.central_audit_configured:
            self.sync_audit()
            self.set_interval(self.settings.auditing.sync_interval_seconds, self.sync_audit)
        self._audit_retention()

    async def _label_engine(self) -> None:
        self.sub_title = await asyncio.to_thread(header_label, self.services)

    # -- the API screens use (ShellApi) -----------------------------------------------------------

    def report_error(self, error: BaseException, *, source: str) -> None:
        """The one place where a failure becomes a titled notification (never a crash)."""
        if isinstance(error, SergasError):
            title, message = error.title, error.message
        else:
            title, message = "Unexpected error", f"{type(error).__name__}: {error}"
        log.error("worker_failed", source=source, error=repr(error))
        self.notify(message, title=title, severity="error", timeout=10, markup=False)

    def open_account(self, account_id: str) -> None:
        """Push the account screen: the one kept installed when it is free (not in any mode's
        stack), redrawn for ``account_id``; a new one otherwise."""
        from sergas_tui.screens.account import AccountScreen

        kept = self._account_screen
        if kept is not None and kept.is_mounted and not self._stacked(kept):
            kept.show_account(account_id)
            self.push_screen(kept)
            return
        screen = AccountScreen(self.services, account_id)
        if kept is None:
            self.install_screen(screen, name=ACCOUNT_SCREEN)
            self._account_screen = screen
            self.call_after_refresh(freeze_heap)
        self.push_screen(screen)

    def _stacked(self, screen: Screen[Any]) -> bool:
        return any(screen in stack for stack in self._screen_stacks.values())

    def start_review(self, account_ids: Sequence[str] | None = None) -> None:
        from sergas_tui.screens.review import ReviewScreen

        self.switch_mode("review")
        screen = self.screen
        if isinstance(screen, ReviewScreen):
            screen.start(account_ids)

    def refresh_status(self) -> None:
        self.changes += 1
        self._load_status()

    def export_brief(self) -> None:
        self._export_brief()

    def actor(self) -> str:
        email = self.services.current_user_email()
        if email:
            return email
        try:
            return getpass.getuser()
        except Exception:  # no user name on some containers
            return "unknown"

    # -- actions ------------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if self.current_mode != mode:
            first = mode not in self._screen_stacks
            self.switch_mode(mode)
            if first:  # its modules and widgets were just built, for the whole session
                self.call_after_refresh(freeze_heap)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(bindings_of(self.screen), title=self.screen.title or ""))

    def action_export_brief(self) -> None:
        self.export_brief()

    # -- workers ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="shell-status", exit_on_error=False)
    def _load_status(self) -> None:
        status = shell_status(self.services)
        self.call_from_thread(setattr, self, "status", status)

    def sync_audit(self) -> None:
        """Send new audit rows to the central database in the background."""
        if not any(w.group == "audit-sync" and w.is_running for w in self.workers):
            self._sync_audit()

    @work(thread=True, group="audit-sync", exit_on_error=False)
    def _sync_audit(self) -> None:
        try:
            self.services.sync_central_audit(stop=self._stop_sync)
        except SergasError as err:
            # The rows stay in the outbox and the header says the sync is failing; a new kind
            # of failure is worth one notification, the same one every minute is not.
            if err.message != self._sync_error:
                self._sync_error = err.message
                self.call_from_thread(
                    self.notify,
                    f"{err.message} Audit rows are kept locally and sent when it works again.",
                    title=err.title,
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
        else:
            self._sync_error = None
        finally:
            if not self._stop_sync.is_set():
                self.call_from_thread(self._load_status)

    @work(thread=True, group="audit-retention", exit_on_error=False)
    def _audit_retention(self) -> None:
        """The local audit's retention ([auditing] retention_days), at most once a day, off the
        first paint; a failure is a warning, the app goes on."""
        try:
            report = self.services.audit_retention()
        except SergasError as err:
            self.call_from_thread(
                self.notify,
                f"The local audit's retention did not run: {err.message}",
                title=err.title,
                severity="warning",
                markup=False,
            )
            return
        if report is not None and report.rows_deleted:
            self.call_from_thread(
                self.notify,
                f"Purged {report.rows_deleted:,} audit rows older than "
                f"{report.cutoff:%Y-%m-%d} ([auditing] retention_days).",
                title="Audit retention",
                markup=False,
            )

    @work(thread=True, group="keymap", exit_on_error=False)
    def _check_keymap(self) -> None:
        """Warn about `[ui] keymap` ids no binding has (a typo would otherwise do nothing)."""
        unknown = sorted(set(self.settings.ui.keymap) - known_binding_ids())
        if unknown:
            self.call_from_thread(
                self.notify,
                f"[ui] keymap names binding ids that do not exist: {', '.join(unknown)}. "
                "Press ? on a screen to see its binding ids.",
                title="Unknown key bindings",
                severity="warning",
                timeout=15,
                markup=False,
            )

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export_brief(self) -> None:
        from sergas_tui.viewmodels.brief import export_current_brief

        path = export_current_brief(self.services)
        self.call_from_thread(
            self.notify, str(path), title="Brief exported", timeout=10, markup=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error, source=event.worker.name)


def freeze_heap() -> None:
    """Keep what exists now out of the cyclic garbage collector's full passes.

    A full pass walks every tracked object: with Textual, the CRM and storage modules and
    thousands of rows loaded that is 100–300 ms, and it lands on whatever key is being handled
    (the filter's or a view switch's worst times). Called a bounded number of times — after
    the first paint, after each mode's and the account screen's first build — when the heap
    is mostly modules, classes and screens that live as long as the app; objects freed later
    by reference counting are still freed.
    """
    gc.freeze()


def known_binding_ids() -> set[str]:
    """Every binding id of the app, its screens and widgets (imports all screens: call it off
    the start-up path)."""
    import importlib
    import pkgutil

    from textual.dom import DOMNode

    from sergas_tui import screens, widgets

    for package in (screens, widgets):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
    ids: set[str] = set()
    pending: list[type[DOMNode]] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("sergas_tui"):
            for binding in cls.BINDINGS:
                if isinstance(binding, Binding) and binding.id:
                    ids.add(binding.id)
    return ids


# Screens other than the portfolio are imported when first shown: start-up stays fast.


def _review_screen(services: Services) -> Screen[Any]:
    from sergas_tui.screens.review import ReviewScreen

    return ReviewScreen(services)


def _approvals_screen(services: Services) -> Screen[Any]:
    from sergas_tui.screens.approvals import ApprovalsScreen

    return ApprovalsScreen(services)


def _audit_screen(services: Services) -> Screen[Any]:
    from sergas_tui.screens.audit import AuditScreen

    return AuditScreen(services)


def make_app(settings: Settings, services: Services) -> SergasApp:
    """Build the app; the CLI and the tests both come through here."""
    return SergasApp(settings, services)


__all__ = ["SergasApp", "__version__", "make_app"]
