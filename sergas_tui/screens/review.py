"""Review run screen: a lane per subagent streaming live, progress, failures and the outcome.

``r`` reviews the current owner (or the accounts marked in the portfolio, through
``app.start_review(ids)``) in an async worker that posts one message per orchestrator event;
``escape`` cancels the worker, and what was reviewed before that is kept. What the lanes say
comes from ``viewmodels.review.ReviewProgress``; this screen only places it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from sergas_tui.agents.events import ReviewEvent
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.owner_accounts import owner_accounts
from sergas_tui.viewmodels.review import LANES, LaneLine, ReviewProgress, idle_text
from sergas_tui.widgets.agent_lane import AgentLane
from sergas_tui.widgets.footer import ShellFooter
from sergas_tui.widgets.header import ShellHeader
from sergas_tui.widgets.text import safe_text

REVIEW_GROUP = "review"
TICK_SECONDS = 1.0


class ReviewScreen(SergasScreen):
    CSS_PATH = Path(__file__).with_name("review.tcss")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("r", "run", "Review", id="review.run"),
        Binding("escape", "cancel", "Cancel run", id="review.cancel", key_display="esc"),
        Binding("c", "clear", "Clear lanes", id="review.clear"),
    ]

    @dataclass
    class Progressed(Message):
        """The orchestrator reported one step of the run."""

        event: ReviewEvent

    @dataclass
    class Counted(Message):
        """How many accounts ``r`` would review (``None`` when the CRM could not say)."""

        accounts: int | None

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.progress = ReviewProgress(engine=services.engine()[0])
        self.account_ids: tuple[str, ...] | None = None
        """The accounts the current (or last) run was limited to; ``None`` for all."""
        self._accounts: int | None = None
        self._deferred: list[Sequence[str] | None] = []
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield ShellHeader("Review")
        with Horizontal(id="review-progress"):
            yield ProgressBar(total=None, show_eta=False, id="review-bar")
            yield Static("", id="review-status", markup=False)
        yield Static("", id="review-activity", markup=False)
        yield Static("", id="review-idle", markup=False)
        with Horizontal(id="review-lanes"):
            for lane, title in LANES:
                yield AgentLane(title, id=f"lane-{lane}")
        yield AgentLane("Failed accounts", id="review-failures")
        yield Static("", id="review-summary", markup=False)
        yield ShellFooter()

    def on_mount(self) -> None:
        self._show_state()
        self.count_accounts()
        for account_ids in self._deferred:
            self._begin(account_ids)
        self._deferred.clear()

    # -- the API the app uses -------------------------------------------------------------------

    def start(self, account_ids: Sequence[str] | None = None) -> None:
        """Begin a review of the current owner (or just ``account_ids``)."""
        if not self.is_mounted:  # the app switched to this mode a moment ago
            self._deferred.append(account_ids)
            return
        self._begin(account_ids)

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.progress.running
        if action == "clear":
            return self.progress.state not in ("idle", "running")
        return True

    def action_run(self) -> None:
        self._begin(None)

    def action_cancel(self) -> None:
        """Stop the run; accounts already reviewed keep their proposals."""
        if self.progress.running:
            self.workers.cancel_group(self, REVIEW_GROUP)

    def action_clear(self) -> None:
        if self.progress.running:
            return
        self.progress = ReviewProgress(engine=self.progress.engine)
        self.account_ids = None
        for lane in self.query(AgentLane):
            lane.reset()
        self._show_state()

    # -- running ------------------------------------------------------------------------------

    def _begin(self, account_ids: Sequence[str] | None) -> None:
        if self.progress.running:
            self.notify(
                "A review is already running; press escape to cancel it first.",
                title="Review running",
                severity="warning",
                markup=False,
            )
            return
        owner = self.services.current_user_email()
        if owner is None:
            self.shell.report_error(
                ConfigError(idle_text(None, None), title="Who are you?"), source="review"
            )
            return
        self.progress = ReviewProgress(engine=self.progress.engine)
        self.progress.begin(owner, self.services.clock.now())
        self.account_ids = None if account_ids is None else tuple(account_ids)
        for lane in self.query(AgentLane):
            lane.reset()
        self._ticker = self.set_interval(TICK_SECONDS, self._show_status)
        self._show_state()
        self.run_review(owner, self.account_ids)

    @work(exclusive=True, group=REVIEW_GROUP, exit_on_error=False)
    async def run_review(self, owner: str, account_ids: tuple[str, ...] | None) -> None:
        orchestrator = await self.services.orchestrator()
        async for event in orchestrator.review(owner, account_ids=account_ids):
            self.post_message(self.Progressed(event))

    @work(exclusive=True, group="review-count", exit_on_error=False)
    async def count_accounts(self) -> None:
        if self.services.current_user_email() is None:
            return
        try:
            rows = await owner_accounts(self.services)
        except SergasError:  # only the idle hint needs it; the portfolio reports CRM trouble
            self.post_message(self.Counted(None))
            return
        self.post_message(self.Counted(len(rows)))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        self._accounts = message.accounts
        self._show_idle()

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        lines = self.progress.apply(message.event, self.services.clock.now())
        self._write(lines)
        self._show_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Textual also runs SergasScreen's handler (it reports failures): no super() call.
        if event.worker.group != REVIEW_GROUP or not event.worker.is_finished:
            return
        now = self.services.clock.now()
        if event.state is WorkerState.CANCELLED:
            self._write(self.progress.cancel(now))
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            message = error.message if isinstance(error, SergasError) else repr(error)
            self._write(self.progress.fail(message, now))
        self.progress.end(now)
        self._run_ended()

    def _run_ended(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self._show_state()
        self.shell.refresh_status()

    # -- showing ------------------------------------------------------------------------------

    def _write(self, lines: list[LaneLine]) -> None:
        for line in lines:
            self.query_one(f"#lane-{line.lane}", AgentLane).add(line.text, line.tone)
        failures = self.query_one("#review-failures", AgentLane)
        for failure in self.progress.failures[len(failures.entries) :]:
            failures.add(failure.text, "error")
        self.set_class(bool(self.progress.failures), "-has-failures")

    def _show_state(self) -> None:
        state = self.progress.state
        for name in ("idle", "running", "finished", "cancelled", "failed"):
            self.set_class(state == name, f"-{name}")
        self.set_class(bool(self.progress.failures), "-has-failures")
        summary = self.query_one("#review-summary", Static)
        now = self.services.clock.now()
        text = self.progress.summary_text(now)
        step = self.progress.next_step_text()
        summary.update(safe_text("\n".join(p for p in (text, step) if p), single_line=False))
        self._show_status()
        self._show_idle()
        self.refresh_bindings()

    def _show_idle(self) -> None:
        owner = self.services.current_user_email()
        self.query_one("#review-idle", Static).update(idle_text(self._accounts, owner))

    def _show_status(self) -> None:
        progress = self.progress
        now = self.services.clock.now()
        self.query_one("#review-status", Static).update(progress.status_text(now))
        activity = " · ".join(p for p in (progress.note, progress.cost_text()) if p)
        self.query_one("#review-activity", Static).update(safe_text(activity))
        bar = self.query_one("#review-bar", ProgressBar)
        if progress.total is None:
            bar.update(total=None)
        elif progress.total == 0:
            bar.update(total=1, progress=1)
        else:
            bar.update(total=progress.total, progress=progress.done)
