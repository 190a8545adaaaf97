"""The CLI as a user runs it: subprocesses for exit codes and output, in-process for speed."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from sergas_tui import __version__
from sergas_tui.cli.main import main
from sergas_tui.locations import Locations
from tests.helpers.cli import assert_one_paragraph_error, run_cli

SMALL = ["--accounts", "60", "--owners", "3", "--seed", "11"]


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sergas {__version__}"


def test_bad_config_is_one_paragraph_exit_2() -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text("[zoho]\nconcurrent_requests = 99\n")
    result = run_cli("config", "show")  # `doctor` reports it as a failed check instead
    assert_one_paragraph_error(
        result, "Configuration error", str(locations.config_file), "concurrent_requests", "25"
    )


def test_missing_secret_is_one_paragraph_exit_2() -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text('[zoho]\nclient_id = "1000.ABC"\n')
    result = run_cli()  # opening the app needs the Zoho credentials
    assert_one_paragraph_error(
        result, "Missing secret", "sergas auth set zoho_refresh_token", "SERGAS_ZOHO_REFRESH_TOKEN"
    )


def test_corrupt_demo_crm_is_one_paragraph_exit_2_and_untouched() -> None:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    result = run_cli()
    assert_one_paragraph_error(result, str(path))
    assert path.read_bytes() == garbage


def test_corrupt_workspace_database_is_one_paragraph_exit_2_and_untouched() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    locations = Locations.from_env()
    db = locations.database_file("demo")
    garbage = b"SQLite format 3\x00" + os.urandom(4096)
    db.write_bytes(garbage)
    result = run_cli()
    assert_one_paragraph_error(result, str(db))
    assert db.read_bytes() == garbage


def test_demo_generate_then_doctor_reports_the_workspace() -> None:
    generated = run_cli("demo", "generate", *SMALL)
    assert generated.returncode == 0, generated.stderr
    assert "60 accounts" in generated.stdout
    again = run_cli("demo", "generate", *SMALL)
    assert again.returncode == 2
    assert "left unchanged" in again.stderr
    doctor = run_cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "60 accounts" in doctor.stdout
    assert "3 owners" in doctor.stdout
    assert "rules" in doctor.stdout
    assert "anthropic_api_key" in doctor.stdout


def test_doctor_fails_on_missing_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text(
        '[zoho]\nclient_id = "1000.ABC"\naccounts_url = "http://127.0.0.1:9"\n'
    )
    result = run_cli("doctor")
    assert result.returncode == 1
    assert "zoho_refresh_token" in result.stdout
    assert "missing" in result.stdout
    assert "unreachable" in result.stdout


@pytest.mark.postgres
def test_doctor_logs_in_to_postgres(postgres_dsn: str) -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text(f'[central]\ndsn = "{postgres_dsn}"\n')
    result = run_cli("doctor")
    assert "connected as" in result.stdout, result.stdout
    assert "deprecated" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_the_old_central_key_still_works_and_says_where_to_move(postgres_dsn: str) -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text(f'[auditing]\npostgres_dsn = "{postgres_dsn}"\n')
    result = run_cli("doctor")
    assert "connected as" in result.stdout, result.stdout
    flat = " ".join((result.stdout + result.stderr).split())
    assert "[auditing] postgres_dsn is deprecated: move it to [central] dsn" in flat
    assert "Warning: [auditing] postgres_dsn is deprecated" in " ".join(result.stderr.split())
    init = run_cli("config", "init", "--print")
    assert "[central]" in init.stdout
    assert "postgres_dsn" not in init.stdout


def test_doctor_reports_unreachable_postgres() -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text('[central]\ndsn = "postgresql://nobody@127.0.0.1:9/none"\n')
    result = run_cli("doctor")
    assert result.returncode == 1
    assert "cannot connect" in result.stdout


def test_config_path_and_init(capsys: pytest.CaptureFixture[str]) -> None:
    locations = Locations.from_env()
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(locations.config_file)
    assert main(["config", "init"]) == 0
    assert locations.config_file.read_text().startswith("# Sergas configuration")
    assert main(["config", "init"]) == 1
    assert "left unchanged" in " ".join(capsys.readouterr().err.split())
    locations.config_file.write_text("# mine\n")
    assert main(["config", "init", "--force"]) == 0
    assert locations.config_file.read_text().startswith("# Sergas configuration")


def test_auth_set_status_clear_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-test-value\n"))
    assert main(["auth", "set", "anthropic_api_key", "--stdin"]) == 0
    assert main(["auth", "status"]) == 0
    output = capsys.readouterr().out
    assert "anthropic_api_key" in output
    assert "sk-test-value" not in output
    assert main(["auth", "clear", "anthropic_api_key"]) == 0
    assert main(["auth", "set", "no_such_secret", "--stdin"]) == 2


def test_auth_set_without_keyring_explains_env_fallback() -> None:
    result = run_cli("auth", "set", "anthropic_api_key", "--stdin", stdin="x\n")
    assert_one_paragraph_error(result, "No usable OS keyring", "ANTHROPIC_API_KEY")


def test_invalid_workspace_name() -> None:
    result = run_cli("--workspace", "../../etc", "doctor")
    assert_one_paragraph_error(result, "not a valid workspace name")


def test_log_file_is_json_lines(tmp_path: Path) -> None:
    assert run_cli("config", "path").returncode == 0
    log_file = Locations.from_env().log_file
    import json

    lines = log_file.read_text().splitlines()
    assert lines
    assert all(json.loads(line)["event"] for line in lines)
