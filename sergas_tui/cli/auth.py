"""`sergas auth set|generate|clear|status`: the secrets in the OS keyring (never printed, except
a generated MCP server token when asked)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from sergas_tui.cli.common import err_console, out
from sergas_tui.errors import SecretError

auth_app = typer.Typer(help="Store credentials in the OS keyring.", no_args_is_help=True)


SECRET_NAMES = (
    "zoho_refresh_token",
    "zoho_client_secret",
    "anthropic_api_key",
    "postgres_password",
    "zoho_mcp_token",
    "mcp_server_token",
    "zoho_mcp_url",
    "smtp_password",
    "notify_webhook_url",
)
"""The values of ``secrets.SecretName``, for help texts (a test keeps them in step)."""


_NAMES_HELP = ", ".join(SECRET_NAMES)


@auth_app.command("set")
def auth_set(
    name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")],
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from standard input.")
    ] = False,
) -> None:
    """Store a secret in the OS keyring (prompted without echo, or from --stdin)."""
    from sergas_tui.secrets import SecretStore, parse_secret_name

    secret = parse_secret_name(name)
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(f"{secret.value}", hide_input=True)
    SecretStore().set(secret, value)
    out.print(f"Stored {secret.value} in the OS keyring.", markup=False)


@auth_app.command("generate")
def auth_generate(
    name: Annotated[str, typer.Argument(help="The secret to make: mcp_server_token.")],
    show: Annotated[
        bool,
        typer.Option(
            "--show",
            help="Also print the new token on standard output (the only output there), for "
            "your clients.",
        ),
    ] = False,
    no_store: Annotated[
        bool,
        typer.Option(
            "--no-store",
            help="Do not store it in the keyring; print it only (implies --show), e.g. for "
            "SERGAS_MCP_SERVER_TOKEN on a machine without a keyring.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a good token already in the keyring."),
    ] = False,
) -> None:
    """Make a random MCP server bearer token (43 characters) and store it in the OS keyring.

    The token is never printed unless --show (or --no-store) asks for it.
    """
    from sergas_tui.secrets import (
        GENERATE_COMMAND,
        KEYRING_SERVICE,
        SECRET_SPECS,
        SecretName,
        SecretStore,
        new_server_token,
        parse_secret_name,
        server_token_problem,
    )

    secret = parse_secret_name(name)
    if secret != SecretName.MCP_SERVER_TOKEN:
        raise SecretError(
            f"Sergas generates only mcp_server_token; {secret.value} is issued elsewhere "
            f"— {SECRET_SPECS[secret].description[:1].lower()}"
            f"{SECRET_SPECS[secret].description[1:]}. Store it with `sergas auth set "
            f"{secret.value}`.",
            title="Cannot generate this secret",
        )
    token = new_server_token()
    if not no_store:
        store = SecretStore()
        if (problem := store.keyring_problem()) is not None:
            raise SecretError(
                f"No usable OS keyring ({problem}), so the token cannot be stored. Run "
                f"`{GENERATE_COMMAND} --no-store` and put the printed token in "
                "SERGAS_MCP_SERVER_TOKEN instead.",
                title="No keyring",
            )
        current = store.get(secret) if store.has_in_keyring(secret) else None
        if (
            current is not None
            and server_token_problem(current.get_secret_value()) is None
            and not force
        ):
            raise SecretError(
                "The OS keyring already holds a good mcp_server_token; it was left unchanged "
                "(clients using it would be locked out). Pass --force to replace it.",
                title="Token exists",
            )
        store.set(secret, token)
        notice = (
            f"Stored a new random mcp_server_token ({len(token)} characters) in the OS keyring "
            f"(service '{KEYRING_SERVICE}', entry '{secret.value}'); `sergas mcp zoho --http` "
            "and `sergas mcp memory --http` use it. "
        )
        if store.environ.get("SERGAS_MCP_SERVER_TOKEN"):
            notice += "SERGAS_MCP_SERVER_TOKEN is also set; the keyring's token wins. "
        if show:
            notice += "The token is printed on standard output for your clients."
        else:
            notice += (
                "Clients on other machines need the same token: read it with your keyring "
                f"tool (`keyring get {KEYRING_SERVICE} {secret.value}`), or run "
                f"`{GENERATE_COMMAND} --force --show` to replace it and print the new one."
            )
        err_console.print(notice, markup=False, soft_wrap=True)
    if show or no_store:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()


@auth_app.command("clear")
def auth_clear(name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")]) -> None:
    """Remove a secret from the OS keyring."""
    from sergas_tui.secrets import SecretStore, parse_secret_name

    secret = parse_secret_name(name)
    removed = SecretStore().clear(secret)
    message = "Removed" if removed else "Nothing to remove for"
    out.print(f"{message} {secret.value} in the OS keyring.", markup=False)


@auth_app.command("status")
def auth_status() -> None:
    """Show which secrets are set and where from (never their values)."""
    from rich.table import Table

    from sergas_tui.secrets import SecretStore

    store = SecretStore()
    table = Table("secret", "state", "source")
    for status in store.statuses():
        state = "missing" if status.source == "missing" else "set"
        table.add_row(Text(status.name.value), Text(state), Text(status.detail))
    out.print(table)
