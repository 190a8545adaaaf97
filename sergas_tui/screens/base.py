"""The base of every Sergas screen: failed workers go to the app's one error reporter."""

from __future__ import annotations

from typing import Any, Protocol

from textual.screen import Screen
from textual.worker import Worker, WorkerState


class ErrorReporter(Protocol):
    def report_error(self, error: BaseException, *, source: str) -> None: ...


class SergasScreen(Screen[Any]):
    """Worker state changes do not bubble, so each screen forwards failures to the app."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            reporter: ErrorReporter = self.app  # type: ignore[assignment]
            reporter.report_error(event.worker.error, source=event.worker.name)
