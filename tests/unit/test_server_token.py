"""Bearer tokens of our MCP servers (defect 5): at least 32 random characters, refused at server
start otherwise; `sergas auth generate mcp_server_token` makes and stores a good one."""

from __future__ import annotations

import contextlib
import io
import secrets

import pytest
from mcp.server import Server

from sergas_tui.cli.main import main
from sergas_tui.errors import SecretError
from sergas_tui.mcp_transport import run_http
from sergas_tui.secrets import (
    SecretName,
    SecretStore,
    new_server_token,
    server_token_problem,
)
from tests.fakes.keyring_backend import MemoryKeyring


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("x", "is only 1 character long"),
        ("a" * 31, "is only 31 characters long"),
        ("a" * 64, "not random enough"),
        ("ab" * 20, "not random enough"),
        ("0123456789abcdef" * 2, "not random enough"),
        ("password-password-password-12345", "not random enough"),
        ("with spaces but long enough to pass 32 chars", "characters other than"),
        ("tökén-" * 8, "characters other than"),
        (new_server_token(), None),
        (secrets.token_hex(16), None),
        ("team-server-token-0123456789abcdef", None),
    ],
)
def test_server_token_rules(token: str, problem: str | None) -> None:
    found = server_token_problem(token)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_random_hex_and_base64_tokens_always_pass() -> None:
    for _ in range(2000):
        assert server_token_problem(secrets.token_hex(16)) is None
        assert server_token_problem(secrets.token_urlsafe(24)) is None


def test_a_weak_token_from_the_environment_is_refused_naming_the_fix() -> None:
    store = SecretStore(environ={"SERGAS_MCP_SERVER_TOKEN": "x"})
    with pytest.raises(SecretError) as info:
        store.require(SecretName.MCP_SERVER_TOKEN, "Serving the Zoho MCP server over HTTP")
    message = info.value.message
    assert info.value.exit_code == 2
    assert "from SERGAS_MCP_SERVER_TOKEN" in message
    assert "at least 32 random characters" in message
    assert "sergas auth generate mcp_server_token" in message
    assert "\n" not in message
    assert "'x'" not in message  # the value itself is never repeated


def test_a_missing_token_names_the_generate_command() -> None:
    with pytest.raises(SecretError, match="sergas auth generate mcp_server_token"):
        SecretStore(environ={}).require(SecretName.MCP_SERVER_TOKEN, "Serving")


def test_auth_set_refuses_a_weak_server_token() -> None:
    with pytest.raises(SecretError, match="at least 32 random characters"):
        SecretStore(environ={}).set(SecretName.MCP_SERVER_TOKEN, "short")


async def test_run_http_refuses_a_weak_token_before_listening() -> None:
    server: Server[object] = Server("t")
    ready: list[str] = []
    with pytest.raises(SecretError, match="auth generate mcp_server_token"):
        await run_http(server, "127.0.0.1", 1, bearer_token="x", ready=ready.append)
    assert ready == []


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_generate_stores_a_good_token_and_prints_it_only_when_asked(
    memory_keyring: MemoryKeyring,
) -> None:
    code, out, err = run("auth", "generate", "mcp_server_token")
    assert code == 0, err
    assert out == ""
    stored = SecretStore(environ={}).get(SecretName.MCP_SERVER_TOKEN)
    assert stored is not None
    token = stored.get_secret_value()
    assert server_token_problem(token) is None
    assert token not in err
    text = " ".join(err.split())
    assert "Stored a new random mcp_server_token (43 characters) in the OS keyring" in text
    assert "service 'sergas'" in text

    # A good token is not replaced by accident...
    code, _, err = run("auth", "generate", "mcp_server_token")
    assert code == 2
    assert "--force" in err
    assert SecretStore(environ={}).get(SecretName.MCP_SERVER_TOKEN) == stored

    # ... but on purpose, and --show prints the new one (alone) on stdout.
    code, out, err = run("auth", "generate", "mcp_server_token", "--force", "--show")
    assert code == 0, err
    printed = out.strip()
    assert printed != token
    again = SecretStore(environ={}).get(SecretName.MCP_SERVER_TOKEN)
    assert again is not None
    assert again.get_secret_value() == printed


def test_generate_replaces_a_weak_token_without_force(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("sergas", "mcp_server_token", "weak")
    code, _, err = run("auth", "generate", "mcp_server_token")
    assert code == 0, err
    stored = SecretStore(environ={}).get(SecretName.MCP_SERVER_TOKEN)
    assert stored is not None
    assert server_token_problem(stored.get_secret_value()) is None


def test_generate_no_store_prints_without_touching_the_keyring(
    memory_keyring: MemoryKeyring,
) -> None:
    code, out, _ = run("auth", "generate", "mcp_server_token", "--no-store")
    assert code == 0
    assert server_token_problem(out.strip()) is None
    assert SecretStore(environ={}).get(SecretName.MCP_SERVER_TOKEN) is None


def test_generate_refuses_secrets_that_come_from_elsewhere() -> None:
    code, out, err = run("auth", "generate", "zoho_refresh_token")
    assert code == 2
    assert out == ""
    assert "sergas auth set zoho_refresh_token" in err


@pytest.mark.parametrize("value", ["abc\udcff", "line\x1b[31m", "tab\tbed"])
def test_auth_set_refuses_values_that_are_not_text(value: str) -> None:
    with pytest.raises(SecretError, match="nothing was stored"):
        SecretStore(environ={}).set(SecretName.ANTHROPIC_API_KEY, value)
