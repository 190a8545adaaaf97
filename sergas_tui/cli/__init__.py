"""The `sergas` command line (Typer). With no command it opens the TUI.

The console script is :func:`sergas_tui.cli.main.main`.
"""
