"""The approvals queue's dialogs: the reject reason (and "not useful" feedback), the bulk-approve
confirmation, the editor.

Each dismisses with what the person chose (``None`` when cancelled with escape); the queue
screen records the decision. While a dialog has focus, letters type into its inputs: none of
the queue's single-letter keys can fire underneath it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from sergas_tui.domain import Approval
from sergas_tui.viewmodels.approval_form import (
    FormField,
    form_fields,
    form_problems,
    payload_from_form,
)
from sergas_tui.viewmodels.approvals import TYPE_LABEL
from sergas_tui.widgets.text import clean, safe_text

CSS_PATH = Path(__file__).with_name("approvals.tcss")


@dataclass(frozen=True)
class Rejection:
    """What the reject dialog was told: the reason ('' for none) and the owner's feedback."""

    reason: str
    not_useful: bool = False


class RejectModal(ModalScreen[Rejection | None]):
    """Reject with an optional reason, optionally flagged "not useful" (later reviews show the
    owner less of that kind of item): the :class:`Rejection`, or None when cancelled."""

    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="approvals.modal.cancel"),
        Binding("ctrl+n", "toggle_not_useful", "Not useful", id="approvals.modal.not_useful"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="reject-dialog", classes="approvals-dialog"):
            yield Static(safe_text(f"Reject: {self.what}", limit=200), classes="dialog-title")
            yield Input(placeholder="Reason (optional)", id="reject-reason")
            yield Checkbox("Not useful (show less of this)", id="reject-not-useful")
            yield Static(
                "enter rejects · ctrl+n not useful · escape cancels",
                classes="dialog-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#reject-dialog").border_title = "Reject"

    def action_toggle_not_useful(self) -> None:
        box = self.query_one("#reject-not-useful", Checkbox)
        box.value = not box.value

    @on(Input.Submitted, "#reject-reason")
    def confirm(self, event: Input.Submitted) -> None:
        not_useful = self.query_one("#reject-not-useful", Checkbox).value
        self.dismiss(Rejection(event.value.strip(), not_useful))

    def action_cancel(self) -> None:
        self.dismiss(None)


class BulkApproveModal(ModalScreen[bool]):
    """Confirm approving every marked write; says how many, and how many the filter hides."""

    CSS_PATH = CSS_PATH
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="approvals.modal.cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-dialog", classes="approvals-dialog"):
            yield Static(self.question, id="bulk-question", classes="dialog-title", markup=False)
            yield Static(
                "Each write is recorded as approved by you and written to the CRM after the "
                "undo delay.",
                classes="dialog-hint",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Approve", id="bulk-confirm", variant="warning")
                yield Button("Cancel", id="bulk-cancel")

    def on_mount(self) -> None:
        self.query_one("#bulk-dialog").border_title = "Approve marked"
        self.query_one("#bulk-confirm", Button).focus()

    @on(Button.Pressed, "#bulk-confirm")
    def confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#bulk-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class AdjustModal(ModalScreen[dict[str, Any] | None]):
    """Edit the proposed write: one input per field; saving validates and shows errors inline.

    Dismisses with the edited payload (a dict for ``ApprovalService.adjust``), or None.
    """

    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="approvals.modal.save"),
        Binding("escape", "cancel", "Cancel", id="approvals.modal.cancel"),
    ]

    def __init__(self, approval: Approval, account_name: str) -> None:
        super().__init__()
        self.approval = approval
        self.account_name = account_name
        self.fields: list[FormField] = form_fields(approval)

    def compose(self) -> ComposeResult:
        with Vertical(id="adjust-dialog", classes="approvals-dialog"):
            kind = TYPE_LABEL.get(self.approval.action_type, self.approval.action_type)
            title = f"Edit the {kind} for {self.account_name}, then save to approve it"
            yield Static(safe_text(title, limit=200), classes="dialog-title")
            with VerticalScroll(id="adjust-form"):
                for index, entry in enumerate(self.fields):
                    label = Text(clean(entry.label, single_line=True), style="bold")
                    if entry.hint:
                        label.append(f"  {clean(entry.hint, single_line=True)}", style="dim")
                    yield Label(label, classes="field-label")
                    if entry.kind == "text":
                        yield TextArea(entry.value, id=f"field-{index}", classes="field-text")
                    else:
                        yield Input(entry.value, id=f"field-{index}", classes="field-line")
            yield Static("", id="adjust-errors", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="adjust-save", variant="primary")
                yield Button("Cancel", id="adjust-cancel")

    def on_mount(self) -> None:
        self.query_one("#adjust-dialog").border_title = "Adjust before approving"
        self.query_one("#adjust-dialog").border_subtitle = "ctrl+s saves · escape cancels"
        if self.fields:
            self.query_one("#field-0").focus()

    def values(self) -> dict[str, str]:
        """The form's current texts by payload field name."""
        found: dict[str, str] = {}
        for index, entry in enumerate(self.fields):
            widget = self.query_one(f"#field-{index}")
            if isinstance(widget, TextArea):
                found[entry.name] = widget.text
            elif isinstance(widget, Input):
                found[entry.name] = widget.value
        return found

    @on(Input.Submitted)
    @on(Button.Pressed, "#adjust-save")
    def action_save(self) -> None:
        values = self.values()
        problems = form_problems(self.approval, values)
        errors = self.query_one("#adjust-errors", Static)
        if problems:
            errors.update(Text("\n".join(clean(p) for p in problems)))
            errors.add_class("-shown")
            return
        errors.remove_class("-shown")
        self.dismiss(payload_from_form(self.approval, values))

    @on(Button.Pressed, "#adjust-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
