"""Configuration: a TOML file in the config dir, overridden by ``SERGAS_*`` environment variables.

Sections follow the founding design's environment configuration, trimmed to what a local app
uses. Secrets never live here: they are in the OS keyring (see ``secrets.py``). Nested keys are
overridden from the environment with a double underscore, e.g. ``SERGAS_ZOHO__DATA_CENTRE=eu``.

An invalid file is reported once, naming the file, the key and what was expected
(``ConfigError``, exit code 2). `sergas config path` and `sergas config init --force` work
whatever the file holds, and `sergas doctor` reports the error as a failed check, so the advice
in the error can be followed.

The package holds the section models (:mod:`~sergas_tui.config.sections`), the
:class:`Settings` model and its loading (:mod:`~sergas_tui.config.settings`), and the text
written for people (:mod:`~sergas_tui.config.display`); what other modules use is exported
here.
"""

from __future__ import annotations

from sergas_tui.config.display import default_config_text, mask_secrets, settings_for_display
from sergas_tui.config.sections import (
    ZOHO_ACCOUNTS_SERVERS,
    ZOHO_API_DOMAINS,
    AnthropicSettings,
    ApprovalSettings,
    AuditingSettings,
    CentralSettings,
    DataCentre,
    EngineChoice,
    LogLevel,
    McpFlavour,
    MemoryBackend,
    MemorySettings,
    MonitoringSettings,
    NotificationSettings,
    OrchestratorSettings,
    ReviewSettings,
    Section,
    SignalSettings,
    UiSettings,
    ZohoMode,
    ZohoSettings,
)
from sergas_tui.config.settings import (
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    Settings,
    describe_validation_error,
    load_settings,
    read_config_file,
)

__all__ = [
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "ZOHO_ACCOUNTS_SERVERS",
    "ZOHO_API_DOMAINS",
    "AnthropicSettings",
    "ApprovalSettings",
    "AuditingSettings",
    "CentralSettings",
    "DataCentre",
    "EngineChoice",
    "LogLevel",
    "McpFlavour",
    "MemoryBackend",
    "MemorySettings",
    "MonitoringSettings",
    "NotificationSettings",
    "OrchestratorSettings",
    "ReviewSettings",
    "Section",
    "Settings",
    "SignalSettings",
    "UiSettings",
    "ZohoMode",
    "ZohoSettings",
    "default_config_text",
    "describe_validation_error",
    "load_settings",
    "mask_secrets",
    "read_config_file",
    "settings_for_display",
]
