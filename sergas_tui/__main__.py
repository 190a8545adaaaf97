"""`python -m sergas_tui` runs the CLI."""

from sergas_tui.cli import main

main()
