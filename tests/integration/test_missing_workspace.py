"""A command on a workspace that was never generated (a typo in -w) says so, names the
command that creates it and the workspaces there are, and leaves nothing behind."""

from __future__ import annotations

from sergas_tui.locations import Locations
from tests.helpers.cli import assert_one_paragraph_error, run_cli


def test_a_mistyped_workspace_is_named_with_the_ones_there_are() -> None:
    assert run_cli("demo", "generate", "--accounts", "30", "--owners", "1").returncode == 0
    for args in (("approvals", "list"), ("review",), ("audit", "verify")):
        refused = run_cli("-w", "nope", *args)
        assert_one_paragraph_error(
            refused,
            "There is no demo workspace 'nope'",
            "`sergas -w nope demo generate`",
            "Workspaces here: demo",
        )
    assert Locations.from_env().workspaces() == ["demo"]  # no stray folder


def test_the_first_command_on_a_new_machine_says_how_to_start() -> None:
    refused = run_cli("approvals", "list")
    assert_one_paragraph_error(refused, "`sergas demo generate`", "There is no workspace here yet.")
    assert Locations.from_env().workspaces() == []
