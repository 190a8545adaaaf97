"""The account screen's dialogs: snooze or dismiss one of its signals, and unmute one.

Each dismisses with what the person chose (``None`` when cancelled with escape); the account
screen stores it in a worker. The snooze dialog checks its fields as it saves and says what is
wrong under them, so bad input never leaves the dialog. While a dialog has focus, letters type
into its inputs: none of the account screen's keys can fire underneath it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, RadioButton, RadioSet, Select, Static
from textual.widgets.option_list import Option

from sergas_tui.domain.mutes import MuteKind
from sergas_tui.viewmodels.mutes import (
    MutedRow,
    MuteRequest,
    SignalChoice,
    form_problems,
    request_from_form,
)
from sergas_tui.widgets.text import clean, safe_text

CSS_PATH = Path(__file__).with_name("signals.tcss")
CHOICE_LIMIT = 70
"""Characters of a signal's message shown in the picker."""


class SnoozeSignalModal(ModalScreen[MuteRequest | None]):
    """Pick a signal, snooze it until a date or dismiss it, and say why."""

    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="account.modal.save"),
        Binding("escape", "cancel", "Cancel", id="account.modal.cancel"),
    ]

    def __init__(
        self, account_name: str, choices: list[SignalChoice], default_until: date, today: date
    ) -> None:
        super().__init__()
        self.account_name = account_name
        self.choices = choices
        self.default_until = default_until
        self.today = today

    def compose(self) -> ComposeResult:
        with Vertical(id="snooze-dialog", classes="signals-dialog"):
            title = f"Keep a signal of {self.account_name} out of reviews"
            yield Static(safe_text(title, limit=200), classes="dialog-title")
            with Horizontal(classes="field-row"):
                yield Label("Signal", classes="field-label")
                yield Select(
                    [(c.label, c.key) for c in self.choices],
                    value=self.choices[0].key,
                    allow_blank=False,
                    compact=True,
                    id="mute-signal",
                )
            yield Static(self._said(self.choices[0].key), id="mute-said", classes="field-hint")
            with Horizontal(classes="field-row"):
                yield Label("Mute", classes="field-label")
                with RadioSet(id="mute-kind", compact=True):
                    yield RadioButton("Snooze until the date", value=True, id="kind-snooze")
                    yield RadioButton("Dismiss until unmuted", id="kind-dismiss")
            with Horizontal(classes="field-row"):
                yield Label("Until", classes="field-label")
                yield Input(self.default_until.isoformat(), compact=True, id="mute-until")
            yield Static("the last quiet day, YYYY-MM-DD (UTC)", classes="field-hint", markup=False)
            with Horizontal(classes="field-row"):
                yield Label("Reason", classes="field-label")
                yield Input(
                    placeholder="required, e.g. customer on holiday until January",
                    compact=True,
                    id="mute-reason",
                )
            yield Static("", id="mute-errors", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="mute-save", variant="primary", compact=True)
                yield Button("Cancel", id="mute-cancel", compact=True)

    def _said(self, key: object) -> Text:
        """What the review said about the chosen signal, on one line."""
        message = next((c.message for c in self.choices if c.key == key), "")
        return safe_text(message, style="dim", limit=CHOICE_LIMIT)

    @on(Select.Changed, "#mute-signal")
    def _signal_changed(self, event: Select.Changed) -> None:
        self.query_one("#mute-said", Static).update(self._said(event.value))

    def on_mount(self) -> None:
        dialog = self.query_one("#snooze-dialog")
        dialog.border_title = "Snooze or dismiss"
        dialog.border_subtitle = "ctrl+s saves · escape cancels"
        self.query_one("#mute-reason", Input).focus()

    @property
    def kind(self) -> MuteKind:
        dismiss = self.query_one("#kind-dismiss", RadioButton)
        return "dismiss" if dismiss.value else "snooze"

    def signal_key(self) -> str:
        value = self.query_one("#mute-signal", Select).value
        return value if isinstance(value, str) else self.choices[0].key

    @on(RadioSet.Changed, "#mute-kind")
    def _kind_changed(self) -> None:
        """A dismissal is for good unless a date is given; a snooze needs one."""
        until = self.query_one("#mute-until", Input)
        default = self.default_until.isoformat()
        if self.kind == "dismiss" and until.value.strip() == default:
            until.value = ""
            until.placeholder = "empty: until unmuted"
        elif self.kind == "snooze" and not until.value.strip():
            until.value = default

    @on(Input.Submitted)
    @on(Button.Pressed, "#mute-save")
    def action_save(self) -> None:
        reason = self.query_one("#mute-reason", Input).value
        until = self.query_one("#mute-until", Input).value
        problems = form_problems(self.kind, reason, until, self.today)
        errors = self.query_one("#mute-errors", Static)
        if problems:
            errors.update(Text("\n".join(clean(p) for p in problems)))
            errors.add_class("-shown")
            return
        errors.remove_class("-shown")
        self.dismiss(request_from_form(self.signal_key(), self.kind, reason, until, self.today))

    @on(Button.Pressed, "#mute-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class UnmuteSignalModal(ModalScreen[str | None]):
    """Pick one of the account's snoozed or dismissed signals to count again: its mute id."""

    CSS_PATH = CSS_PATH
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="account.modal.cancel")]

    def __init__(self, account_name: str, muted: list[MutedRow]) -> None:
        super().__init__()
        self.account_name = account_name
        self.muted = muted

    def compose(self) -> ComposeResult:
        with Vertical(id="unmute-dialog", classes="signals-dialog"):
            title = f"Count a signal of {self.account_name} again"
            yield Static(safe_text(title, limit=200), classes="dialog-title")
            yield OptionList(
                *(
                    Option(
                        Text.assemble((row.label, "bold"), "\n  ", safe_text(row.text)),
                        id=row.mute_id,
                    )
                    for row in self.muted
                ),
                id="unmute-list",
            )
            yield Static(
                "enter unmutes (the next review counts it again) · escape cancels",
                classes="dialog-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#unmute-dialog").border_title = "Unmute"
        self.query_one("#unmute-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#unmute-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
