"""The `sergas` command line (Typer). With no command it opens the TUI.

The console script is :func:`sergas_tui.cli.main.main`. The modules, top to bottom (the
import-linter contract "Inside the CLI" in pyproject.toml keeps the order):

- ``main``: the root app; it adds every command group and top-level command, in one place.
- One module per command group (``config``, ``auth``, ``demo``, ``mcp``, ``export``,
  ``memory``, ``approvals``, ``audit``, ``notify``, ``account``, ``admin``, ``signals``) and per
  top-level command (``tui`` for `sergas` alone, ``doctor``, ``review``, ``worker`` with
  `schedule`; `serve` is in ``notify``). None imports another.
- ``queue_run``, ``review_run``, ``approvals_run``: the bodies of the longer commands, imported
  only when their command runs; ``audit_upkeep``: what `review` and `audit` share.
- ``common``: consoles, per-run state, the demo workspace's generation.

Importing this package imports none of them.
"""
