"""Command palette (ctrl+p) providers, one per area: views, accounts, review, approvals, audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from sergas_tui.widgets.text import clean

if TYPE_CHECKING:
    from sergas_tui.screens.base import ShellApi

Command = tuple[str, str, Callable[[], Awaitable[None]]]
"""(palette text, help line, what it does)."""


def highlight(matcher: Matcher, text: str) -> Content:
    """``text`` with the matched letters styled — as plain text.

    Textual's ``Matcher.highlight`` parses its candidate as markup, so an account named
    "Square [bold]Bracket[/bold] Media" would lose its brackets; this never does.
    """
    content = Content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class _AreaProvider(Provider):
    """Fixed commands of one area; subclasses list them in ``commands()``."""

    @property
    def sergas(self) -> ShellApi:
        return cast("ShellApi", self.app)

    async def _in_mode(self, mode: str, action: str | None = None) -> None:
        app = self.app
        if app.current_mode != mode:
            await app.switch_mode(mode)
        if action is not None:
            await app.screen.run_action(action)

    def commands(self) -> list[Command]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for text, help_text, run in self.commands():
            yield DiscoveryHit(text, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, run in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, highlight(matcher, text), run, help=help_text)


class ViewCommands(_AreaProvider):
    def commands(self) -> list[Command]:
        go = self._in_mode
        return [
            ("view: portfolio", "Your accounts by risk (1)", partial(go, "portfolio")),
            ("view: review", "The review run and its lanes (2)", partial(go, "review")),
            (
                "view: approvals",
                "Proposed CRM writes waiting for you (3)",
                partial(go, "approvals"),
            ),
            ("view: audit", "Everything Sergas did, hash-chained (4)", partial(go, "audit")),
            ("brief: export to Markdown", "Write your latest brief (x)", self._export),
        ]

    async def _export(self) -> None:
        self.sergas.export_brief()


class ReviewCommands(_AreaProvider):
    def commands(self) -> list[Command]:
        return [
            ("review: run my accounts", "Review the current owner's accounts (r)", self._run),
            (
                "review: cancel",
                "Stop the running review (escape)",
                partial(self._in_mode, "review", "cancel"),
            ),
        ]

    async def _run(self) -> None:
        self.sergas.start_review(None)


class ApprovalCommands(_AreaProvider):
    def commands(self) -> list[Command]:
        go = self._in_mode
        return [
            ("approval: open queue", "Proposed writes by priority (3)", partial(go, "approvals")),
            (
                "approval: approve marked",
                "Approve every marked write, after a confirmation (A)",
                partial(go, "approvals", "approve_marked"),
            ),
        ]


class AuditCommands(_AreaProvider):
    def commands(self) -> list[Command]:
        return [
            (
                "audit: verify hash chain",
                "Check that no audit row was edited, deleted or reordered (v)",
                partial(self._in_mode, "audit", "verify"),
            ),
        ]


class AccountCommands(Provider):
    """`account: open …` for the current owner's accounts (names read once per palette)."""

    async def startup(self) -> None:
        app = cast("ShellApi", self.app)
        self._accounts: list[tuple[str, str]] = []
        owner = app.services.current_user_email()
        try:
            crm = await app.services.crm()
            accounts = await crm.get_accounts(owner)
        except Exception as err:  # the palette must open even when the CRM is down
            app.report_error(err, source="palette.accounts")
            return
        self._accounts = [(a.id, clean(a.name or a.id, single_line=True)) for a in accounts]

    async def search(self, query: str) -> Hits:
        app = cast("ShellApi", self.app)
        matcher = self.matcher(query)
        for account_id, name in self._accounts:
            text = f"account: open {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, text),
                    partial(app.open_account, account_id),
                    help="Account detail",
                )


SERGAS_COMMANDS = {ViewCommands, AccountCommands, ReviewCommands, ApprovalCommands, AuditCommands}
