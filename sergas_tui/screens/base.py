"""The base of every Sergas screen: the app's API for screens, and worker-failure forwarding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.screen import Screen
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from sergas_tui.config import Settings
    from sergas_tui.services import Services
    from sergas_tui.viewmodels.data_loop import DataLoop
    from sergas_tui.viewmodels.view_cache import ViewCache


class ShellApi(Protocol):
    """What screens may ask of the app (``SergasApp`` implements it)."""

    settings: Settings
    services: Services
    data: DataLoop
    """Where screens run heavy reads off the app's event loop."""
    views: ViewCache
    """View models kept between visits (an account's detail), drawn while fresh ones load."""
    last_input: float
    """``time.monotonic()`` of the user's latest key or click: background refreshes that
    compete with the keys for the interpreter wait until the user rests."""
    changes: int
    """How many times something in the app changed the workspace (a review ended, a decision
    was made): a screen showing stored facts reloads when it differs from its last load."""

    def report_error(self, error: BaseException, *, source: str) -> None:
        """Turn a failure into a titled notification (never a crash)."""

    def open_account(self, account_id: str) -> None:
        """Push the account detail screen for ``account_id``."""

    def start_review(self, account_ids: Sequence[str] | None = None) -> None:
        """Switch to the review screen and review the current owner (or just these accounts)."""

    def refresh_status(self) -> None:
        """Recompute the header (freshness, pending approvals) after something changed."""

    def export_brief(self) -> None:
        """Write the current owner's latest brief to Markdown and show the path."""

    def actor(self) -> str:
        """Who is deciding: recorded on every approval decision."""


class SergasScreen(Screen[Any]):
    """Worker state changes do not bubble, so each screen forwards failures to the app."""

    @property
    def shell(self) -> ShellApi:
        return cast("ShellApi", self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.shell.report_error(event.worker.error, source=event.worker.name)
