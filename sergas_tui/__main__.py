"""`python -m sergas_tui` runs the CLI."""

from sergas_tui.cli.main import main

main()
