"""Config parsing: defaults, file, environment overrides, and the one-paragraph errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sergas_tui.config import Settings, default_config_text, load_settings
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations


def write_config(text: str) -> Locations:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True, exist_ok=True)
    locations.config_file.write_text(text, encoding="utf-8")
    return locations


def test_defaults_without_file() -> None:
    settings = load_settings(Locations.from_env())
    assert settings.zoho.resolved_mode() == "demo"
    assert settings.workspace_name() == "demo"
    assert settings.zoho.requests_per_minute == 120
    assert settings.zoho.concurrent_requests == 5
    assert settings.orchestrator.approval_timeout_hours == 72
    assert settings.auditing.retention_days == 730
    assert settings.signals.no_activity_warning_days == 14
    assert settings.signals.no_activity_critical_days == 30


def test_file_values_are_read() -> None:
    locations = write_config('[zoho]\ndata_centre = "eu"\nclient_id = "1000.X"\n')
    settings = load_settings(locations)
    assert settings.zoho.data_centre == "eu"
    assert settings.zoho.resolved_mode() == "rest"
    assert settings.zoho.accounts_server() == "https://accounts.zoho.eu"
    assert settings.workspace_name() == "default"


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    locations = write_config("[zoho]\nrequests_per_minute = 60\n")
    monkeypatch.setenv("SERGAS_ZOHO__REQUESTS_PER_MINUTE", "30")
    monkeypatch.setenv("SERGAS_SIGNALS__NO_ACTIVITY_WARNING_DAYS", "10")
    settings = load_settings(locations)
    assert settings.zoho.requests_per_minute == 30
    assert settings.signals.no_activity_warning_days == 10


@pytest.mark.parametrize(
    ("text", "expected_fragments"),
    [
        (
            '[zoho]\nrequests_per_minute = "fast"\n',
            ['[zoho] requests_per_minute = "fast"', "integer"],
        ),
        ('[zoho]\ndata_centre = "mars"\n', ["[zoho] data_centre", "'us'", "'eu'"]),
        ("[zoho]\nclinet_id = 1\n", ["[zoho] clinet_id", "no such setting"]),
        ("[nonsense]\nx = 1\n", ["[nonsense] x = 1 in", "no such section"]),
        ("[signals]\nno_activity_critical_days = 3\n", ["no_activity_critical_days"]),
        ('workspace = "../etc"\n', ["workspace", "not a valid workspace name"]),
        ("[orchestrator]\nmax_parallel_subagents = 0\n", ["max_parallel_subagents", "1"]),
    ],
)
def test_invalid_values_name_file_key_and_expectation(
    text: str, expected_fragments: list[str]
) -> None:
    locations = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_settings(locations)
    message = info.value.message
    assert str(locations.config_file) in message
    for fragment in expected_fragments:
        assert fragment in message
    assert "\n" not in message
    assert "{'" not in message  # TOML as the person wrote it, not a Python dict
    assert info.value.exit_code == 2


def test_invalid_toml_syntax() -> None:
    locations = write_config("[zoho\nmode = demo\n")
    with pytest.raises(ConfigError) as info:
        load_settings(locations)
    assert "not valid TOML" in info.value.message
    assert str(locations.config_file) in info.value.message


def test_not_utf8() -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_bytes(b"[zoho]\nuser_email = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(locations)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERGAS_ZOHO__CONCURRENT_REQUESTS", "lots")
    with pytest.raises(ConfigError) as info:
        load_settings(Locations.from_env())
    assert "environment variable SERGAS_ZOHO__CONCURRENT_REQUESTS" in info.value.message


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.mkdir()  # a directory where the file should be
    with pytest.raises(ConfigError, match="Cannot read"):
        load_settings(locations)


def test_default_config_text_is_valid_and_complete() -> None:
    text = default_config_text()
    assert tomllib.loads(text) == {
        name: {}
        for name in (
            "zoho",
            "anthropic",
            "memory",
            "orchestrator",
            "review",
            "central",
            "auditing",
            "approvals",
            "notifications",
            "monitoring",
            "signals",
            "ui",
        )
    }
    # Uncommenting every "# key = value" line gives a valid configuration too.
    lines = []
    for line in text.splitlines():
        if line.startswith("# ") and " = " in line and line[2:3].isalpha():
            candidate = line[2:].split("    # not set")[0]
            if candidate.split(" = ")[0].replace("_", "").isalnum():
                lines.append(candidate)
                continue
        lines.append(line)
    Settings(**tomllib.loads("\n".join(lines)))
    for section in (
        "zoho",
        "anthropic",
        "memory",
        "orchestrator",
        "central",
        "auditing",
        "monitoring",
    ):
        fields = Settings.model_fields[section].annotation.model_fields  # type: ignore[union-attr]
        for key, field in fields.items():
            if field.deprecated:  # still read, no longer offered
                assert f"# {key} =" not in text, key
            else:
                assert f"# {key} =" in text, key
