"""Settings written for people: the commented default file (``sergas config init``) and the
settings shown with every secret inside a DSN, URL or command masked (``sergas config show``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sergas_tui.config.settings import Settings

SECTION_TITLES: dict[str, str] = {
    "zoho": "Zoho CRM: how to reach your org. With nothing set, Sergas runs on the demo CRM.",
    "anthropic": "Claude: the engine that runs the subagents. The API key goes in the keyring.",
    "memory": "Memory: account history, prior recommendations and their outcomes.",
    "orchestrator": "Orchestrator: how reviews run.",
    "review": "Review: how much lands in each owner's approval queue per day.",
    "central": "Central: the team's PostgreSQL (audit copy, shared approvals); unset = local.",
    "auditing": "Auditing: the local audit log and its sync to the central PostgreSQL.",
    "approvals": "Approvals: escalation of undecided items (team mode).",
    "notifications": "Notifications: digests by e-mail and webhook, approval links (team mode).",
    "monitoring": "Monitoring: run metrics and cost tracking.",
    "signals": "Risk signals: thresholds of the deterministic signal catalog.",
    "ui": "Terminal UI.",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _comment(text: str, indent: str = "# ") -> list[str]:
    return [indent + line.strip() for line in text.strip().splitlines() if line.strip()]


def default_config_text() -> str:
    """A commented config file listing every setting with its default and meaning."""
    lines = [
        "# Sergas configuration. Every setting is shown commented out with its default;",
        "# uncomment a line to change it. Environment variables override this file:",
        "# SERGAS_<SECTION>__<KEY>, e.g. SERGAS_ZOHO__DATA_CENTRE=eu.",
        "# Secrets (Zoho refresh token and client secret, Anthropic key, Postgres password)",
        "# never go here: `sergas auth set NAME` stores them in the OS keyring.",
        "",
        *_comment(Settings.model_fields["workspace"].description or ""),
        '# workspace = "demo"',
    ]
    for name, title in SECTION_TITLES.items():
        section = getattr(Settings.model_construct(), name)
        lines += ["", f"# {title}", f"[{name}]"]
        for key, field in type(section).model_fields.items():
            if field.deprecated:
                continue  # still read, no longer offered
            lines += _comment(field.description or "")
            value = getattr(section, key)
            if value is None:
                example = field.examples[0] if field.examples else ""
                lines.append(f"# {key} = {_toml_value(example)}    # not set by default")
            else:
                lines.append(f"# {key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


# -- showing settings -------------------------------------------------------------------------

MASK = "***"
"""What a secret inside a displayed setting becomes."""

_SECRET_PARAM = re.compile(
    r"(?i)^(?:ssl)?(?:password|passwd|pwd|pass|secret|token|key|apikey|api_key|access_token|"
    r"auth|authorization|signature|sig|client_secret|refresh_token)$"
)
_KEYWORD_PASSWORD = re.compile(r"(?i)\b((?:ssl)?password)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)")
_KEY_SEGMENT = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-.~]{16,}")
"""A URL path segment that looks like a key (long, letters and digits): Zoho's hosted MCP
endpoints carry theirs in the path."""


def _mask_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        name, sep, value = item.partition("=")
        parts.append(f"{name}{sep}{MASK}" if sep and value and _SECRET_PARAM.match(name) else item)
    return "&".join(parts)


def mask_secrets(text: str) -> str:
    """``text`` as it may be displayed: a password in a URL's user info (``user:***@host``),
    secret-looking query parameters (``?password=***``, ``key=***``, ``token=***``...), key-like
    path segments and libpq ``password=...`` keywords are masked; the rest stays readable."""
    if "://" not in text:
        return _KEYWORD_PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    try:
        parts = urlsplit(text.strip())
        password = parts.password
    except ValueError:
        return MASK
    netloc = parts.netloc
    if password:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{hostport}"
    path = "/".join(MASK if _KEY_SEGMENT.fullmatch(seg) else seg for seg in parts.path.split("/"))
    query = _mask_query(parts.query) if parts.query else parts.query
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def settings_for_display(settings: Settings) -> dict[str, Any]:
    """The settings as JSON values for `sergas config show` (or any other display), with every
    secret written inside a DSN, URL or command masked by :func:`mask_secrets`."""
    shown: dict[str, Any] = _masked(settings.model_dump(mode="json"))
    return shown
