"""``[anthropic]`` settings: model routing and the deprecated ``temperature``.

``temperature`` has no effect: the Claude Code CLI the engine runs takes no sampling temperature
(it omits it while extended thinking is on and sends its own otherwise), so a config file that
still sets it is accepted, told so by ``Settings.deprecations()``, and the generated config no
longer offers it.
"""

from __future__ import annotations

import tomllib
import warnings

import pytest
from pydantic import SecretStr

from sergas_tui.agents.claude.options import ClaudeConfig
from sergas_tui.config import default_config_text, load_settings
from sergas_tui.locations import Locations


def test_temperature_in_a_config_file_is_accepted_and_reported_as_without_effect() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading our own deprecated field must not warn
        settings = load_settings(_write("[anthropic]\ntemperature = 0.2\n"))
        notes = settings.deprecations()
    assert len(notes) == 1
    assert "[anthropic] temperature is deprecated and has no effect" in notes[0]
    assert "CLI" in notes[0]
    assert "Remove it" in notes[0]


def test_temperature_from_the_environment_is_reported_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERGAS_ANTHROPIC__TEMPERATURE", "0.5")
    notes = load_settings(Locations.from_env()).deprecations()
    assert any(n.startswith("[anthropic] temperature is deprecated") for n in notes)


def test_temperature_unset_is_not_reported() -> None:
    settings = load_settings(_write('[anthropic]\nmodel = "claude-sonnet-4-5"\n'))
    assert settings.deprecations() == []


def test_temperature_out_of_range_is_still_an_error() -> None:
    from sergas_tui.errors import ConfigError

    with pytest.raises(ConfigError, match="temperature"):
        load_settings(_write("[anthropic]\ntemperature = 3\n"))


def test_generated_config_offers_model_simple_but_not_temperature() -> None:
    text = default_config_text()
    tomllib.loads(text)
    anthropic = text.split("[anthropic]", 1)[1].split("\n[", 1)[0]
    assert "temperature" not in anthropic
    assert '# model_simple = "claude-haiku-4-5"    # not set by default' in anthropic


def test_claude_config_takes_model_simple() -> None:
    routed = load_settings(_write('[anthropic]\nmodel_simple = "claude-haiku-4-5"\n'))
    config = ClaudeConfig.from_settings(routed, api_key=SecretStr("k"), prompts_dir=None)
    assert config.models == ("claude-sonnet-4-5", "claude-haiku-4-5")
    plain = ClaudeConfig.from_settings(
        load_settings(_write("")), api_key=SecretStr("k"), prompts_dir=None
    )
    assert plain.model_simple is None
    assert plain.models == ("claude-sonnet-4-5",)


def test_model_simple_equal_to_model_is_one_model() -> None:
    config = ClaudeConfig(model="m", model_simple="m")
    assert config.models == ("m",)


def _write(text: str) -> Locations:
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True, exist_ok=True)
    locations.config_file.write_text(text, encoding="utf-8")
    return locations
