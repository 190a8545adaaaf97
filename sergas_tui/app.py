"""The Textual app: built from injected services, holds no business logic."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from sergas_tui import __version__
from sergas_tui.config import Settings
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.services import Services

log = get_logger("sergas.app")


class SergasApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Sergas"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="app.quit_hard", show=False)]

    def __init__(self, settings: Settings, services: Services) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.sub_title = services.header_label()

    async def on_unmount(self) -> None:
        await self.services.aclose()

    def on_mount(self) -> None:
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        self.push_screen(PortfolioScreen(self.services))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error, source=event.worker.name)

    def report_error(self, error: BaseException, *, source: str) -> None:
        """The one place where a failure becomes a titled notification (never a crash)."""
        if isinstance(error, SergasError):
            title, message = error.title, error.message
        else:
            title, message = "Unexpected error", f"{type(error).__name__}: {error}"
        log.error("worker_failed", source=source, error=repr(error))
        self.notify(message, title=title, severity="error", timeout=10, markup=False)


def make_app(settings: Settings, services: Services) -> SergasApp:
    """Build the app; the CLI and the tests both come through here."""
    return SergasApp(settings, services)


__all__ = ["SergasApp", "__version__", "make_app"]
