"""A configuration file that does not load still lets a person find it (`sergas config path`),
replace it (`sergas config init --force`) and diagnose it (`sergas doctor`), the commands its
error message points to; every other command stops on it with one paragraph and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sergas_tui.config import default_config_text
from sergas_tui.locations import Locations
from tests.helpers.cli import assert_one_paragraph_error, run_cli

BROKEN = {
    "invalid TOML": ('workspace = "demo\n', ["is not valid TOML", "line 1", "sergas config init"]),
    "invalid value": (
        '[zoho]\nconcurrent_requests = "many"\n',
        ['[zoho] concurrent_requests = "many"', "sergas config path"],
    ),
    "unknown section": (
        '[zoho_crm]\nmode = "demo"\n',
        ['[zoho_crm] mode = "demo" in', "no such section", "sergas config path"],
    ),
}
"""What the file holds → what the error says about it (the same words wherever it shows)."""


@pytest.fixture(params=sorted(BROKEN))
def broken(request: pytest.FixtureRequest) -> tuple[Path, str, list[str]]:
    """The configuration file written with one of :data:`BROKEN`: its path, text, fragments."""
    text, fragments = BROKEN[request.param]
    path = Locations.from_env().config_file
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path, text, fragments


def _words(text: str) -> str:
    return " ".join(text.split())


def test_config_path_prints_the_path_whatever_the_file_holds(
    broken: tuple[Path, str, list[str]],
) -> None:
    path, text, _fragments = broken
    result = run_cli("config", "path")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path)
    assert result.stderr == ""
    assert path.read_text(encoding="utf-8") == text


def test_config_init_refuses_without_force_and_names_it(
    broken: tuple[Path, str, list[str]],
) -> None:
    path, text, _fragments = broken
    result = run_cli("config", "init")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "left unchanged" in _words(result.stderr)
    assert "--force" in result.stderr
    assert path.read_text(encoding="utf-8") == text


def test_config_init_force_replaces_the_broken_file(broken: tuple[Path, str, list[str]]) -> None:
    path, _text, _fragments = broken
    result = run_cli("config", "init", "--force")
    assert result.returncode == 0, result.stderr
    assert path.read_text(encoding="utf-8") == default_config_text()
    shown = run_cli("config", "show")  # the fresh default loads
    assert shown.returncode == 0, shown.stderr


def test_doctor_reports_the_configuration_as_failed_with_exit_1(
    broken: tuple[Path, str, list[str]],
) -> None:
    _path, _text, fragments = broken
    result = run_cli("doctor")
    assert result.returncode == 1, result
    assert result.stderr == ""
    assert "Traceback" not in result.stdout
    report = _words(result.stdout)
    assert "fail configuration" in report, report
    for fragment in fragments:
        assert fragment in report, report


def test_other_commands_stop_on_it_with_one_paragraph(
    broken: tuple[Path, str, list[str]],
) -> None:
    path, text, fragments = broken
    for args in (["config", "show"], ["demo", "generate", "--accounts", "5", "--owners", "1"]):
        result = run_cli(*args)
        assert_one_paragraph_error(result, "Configuration error", str(path), *fragments)
    assert path.read_text(encoding="utf-8") == text
    assert not Locations.from_env().demo_crm_file("demo").exists()


def test_the_invalid_toml_advice_works() -> None:
    """Moving the file aside and running `sergas config init`, as the error says."""
    path = Locations.from_env().config_file
    path.parent.mkdir(parents=True)
    path.write_text('workspace = "demo\n', encoding="utf-8")
    path.rename(path.with_name("config.toml.broken"))
    result = run_cli("config", "init")
    assert result.returncode == 0, result.stderr
    assert run_cli("doctor").returncode == 0


def test_an_invalid_environment_variable_does_not_block_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERGAS_ZOHO__CONCURRENT_REQUESTS", "many")
    path = Locations.from_env().config_file
    assert run_cli("config", "path").stdout.strip() == str(path)
    assert run_cli("config", "init").returncode == 0
    doctor = run_cli("doctor")
    assert doctor.returncode == 1, doctor
    assert "SERGAS_ZOHO__CONCURRENT_REQUESTS" in _words(doctor.stdout)
    assert_one_paragraph_error(run_cli("config", "show"), "SERGAS_ZOHO__CONCURRENT_REQUESTS")
