"""The :class:`Settings` model and reading it: the TOML file, then ``SERGAS_*`` environment
variables over it; a validation error becomes one :class:`ConfigError` paragraph naming where
each bad value came from."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sergas_tui.config.sections import (
    AnthropicSettings,
    ApprovalSettings,
    AuditingSettings,
    CentralSettings,
    MemorySettings,
    MonitoringSettings,
    NotificationSettings,
    OrchestratorSettings,
    ReviewSettings,
    SignalSettings,
    UiSettings,
    ZohoSettings,
)
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations, validate_workspace_name

ENV_PREFIX = "SERGAS_"
ENV_NESTED_DELIMITER = "__"


class Settings(BaseSettings):
    """Everything configurable. Build with ``load_settings``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    workspace: str | None = None
    """Workspace to open; default 'demo' on the demo CRM, otherwise 'default'."""
    zoho: ZohoSettings = Field(default_factory=ZohoSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    orchestrator: OrchestratorSettings = Field(default_factory=OrchestratorSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    central: CentralSettings = Field(default_factory=CentralSettings)
    auditing: AuditingSettings = Field(default_factory=AuditingSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    signals: SignalSettings = Field(default_factory=SignalSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @field_validator("workspace")
    @classmethod
    def _workspace_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_workspace_name(value)
        except Exception as err:
            raise ValueError(str(err)) from err

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment wins over the file.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _central_from_old_key(self) -> Settings:
        """``[auditing] postgres_dsn`` (before ``[central]``) still works when ``[central] dsn``
        is unset; :meth:`deprecations` says so."""
        old = self.auditing.__dict__.get("postgres_dsn")
        if old and not self.central.dsn:
            self.central.__dict__["dsn"] = old
        return self

    def deprecations(self) -> list[str]:
        """One sentence per deprecated setting in use, saying what to write instead."""
        notes = []
        old = self.auditing.__dict__.get("postgres_dsn")
        if old:
            if old == self.central.dsn:
                notes.append(
                    "[auditing] postgres_dsn is deprecated: move it to [central] dsn (the same "
                    "value); it still works for now."
                )
            else:
                notes.append(
                    "[auditing] postgres_dsn is deprecated and ignored because [central] dsn is "
                    "set: remove it from the config file."
                )
        if self.anthropic.__dict__.get("temperature") is not None:
            notes.append(
                "[anthropic] temperature is deprecated and has no effect: the Claude Code CLI "
                "that runs the Claude engine offers no temperature option or setting (it "
                "decides the sampling temperature itself). Remove it from the config file."
            )
        return notes

    def workspace_name(self) -> str:
        if self.workspace:
            return self.workspace
        return "demo" if self.zoho.resolved_mode() == "demo" else "default"


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file; a missing file is an empty config."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigError(f"Cannot read the configuration file {path}: {err.strerror}.") from err
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"The configuration file {path} is not valid UTF-8 text (byte {err.start}). "
            "Save it as UTF-8, or move it aside and run `sergas config init`."
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"The configuration file {path} is not valid TOML: {err}. Fix that line, or move the "
            "file aside and run `sergas config init` to write a fresh commented default."
        ) from err


def load_settings(locations: Locations, *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the config file, apply ``SERGAS_*`` overrides, validate; ConfigError if invalid."""
    path = locations.config_file
    data = read_config_file(path)
    if overrides:
        data = {**data, **overrides}
    try:
        return Settings(**data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, path, data, os.environ)) from err


def _lookup(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> bool:
    node: Any = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return False
    return True


def _expected(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden":
        return "no such setting (check the spelling; `sergas config init --print` lists them)"
    if kind == "literal_error":
        ctx = error.get("ctx") or {}
        return f"one of {ctx.get('expected', 'the allowed values')}"
    text = str(error.get("msg", "a valid value")).rstrip(".")
    for prefix in ("Input should be ", "Value error, "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text[:1].lower() + text[1:]


def describe_validation_error(
    err: ValidationError, path: Path, data: Mapping[str, Any], environ: Mapping[str, str]
) -> str:
    """One paragraph naming where each bad value came from, the key and what was expected."""
    parts: list[str] = []
    from_environment = False
    for error in err.errors():
        loc = tuple(error["loc"])
        env_name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in loc).upper()
        value = error.get("input")
        shown = _toml_text(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        if env_name in environ and not _lookup(data, loc):
            from_environment = True
            parts.append(f"environment variable {env_name} = {shown}: expected {_expected(error)}")
            continue
        section = ".".join(str(p) for p in loc[:-1])
        key = str(loc[-1]) if loc else "?"
        if not section and isinstance(value, Mapping):  # a whole [section] of the file
            held = f" {shown[1:-1].strip()}" if value else ""
            expected = _expected(error).replace("no such setting", "no such section", 1)
            parts.append(f"[{key}]{held} in {path}: expected {expected}")
            continue
        where = f"[{section}] {key}" if section else key
        parts.append(f"{where} = {shown} in {path}: expected {_expected(error)}")
    noun = "setting is" if len(parts) == 1 else "settings are"
    fix = "Edit the file (`sergas config path` shows it)" + (
        " or fix the variable" if from_environment else ""
    )
    return (
        f"Invalid configuration ({len(parts)} {noun} wrong): "
        + "; ".join(parts)
        + (f". {fix}, then try again.")
    )


def _toml_text(value: Any) -> str:
    """A value as a TOML file spells it (``"text"``, ``true``, ``[1, 2]``, ``{ x = 1 }``), for
    error messages: a person wrote TOML, not Python."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {_toml_text(v)}" for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    return str(value)
