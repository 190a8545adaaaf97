"""Draft texts for recommendations: sanitizing CRM text and rendering the Jinja2 templates.

Every draft (email, task, note, escalation reason) comes from a template in
``sergas_tui/agents/templates/``; a file of the same name in the user's templates dir
(:attr:`~sergas_tui.locations.Locations.templates_dir`) replaces the built-in one. Templates
render in a :class:`~jinja2.sandbox.SandboxedEnvironment` with ``StrictUndefined`` and no
autoescaping, and see only plain dicts of already-sanitized strings (never the models).
Every ``{{ ... }}`` output is sanitized once more by the environment's ``finalize`` hook, so a
user template cannot print raw CRM text by mistake.

Template shape: the first line ``# <text>`` is the headline (an email's subject, a task's
subject, a note's title); the rest is the body. The escalation template has no headline.

A user template that does not parse, fails a dry run with sample data, or lacks its headline
raises :class:`~sergas_tui.errors.ConfigError` naming the file. There is no silent fallback to
the built-in template: fix or delete the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from sergas_tui.errors import ConfigError

NAME_LIMIT = 80
"""Longest CRM name (account, contact, deal, title) passed to a template."""
SNIPPET_LIMIT = 200
"""Longest CRM text snippet (signal message, note excerpt, next step) passed to a template."""
HEADLINE_LIMIT = 160
BODY_LIMIT = 6000
MAX_TEMPLATE_BYTES = 64 * 1024

HEADLESS = frozenset({"escalation.manager.md.j2"})
"""Templates whose whole text is the body (no ``# headline`` line)."""

# CSI, OSC (to BEL or ST), DCS/SOS/PM/APC strings, two-character escapes and 8-bit CSI.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)
# C0/C1 controls, DEL, bidi embeddings/overrides/isolates/marks, zero-width space, BOM,
# line/paragraph separators. ZWJ/ZWNJ stay: scripts and emoji sequences need them.
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029"
    r"\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
_BLOCK_INVISIBLE = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029"
    r"\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
_BLANK_RUN = re.compile(r"\n{3,}")


def clean(value: object, limit: int = SNIPPET_LIMIT) -> str:
    """CRM text as one inert line: no escape sequences or control/bidi characters, whitespace
    collapsed, at most ``limit`` characters (an ellipsis marks a cut)."""
    if value is None:
        return ""
    text = str(value)
    text = text[: limit * 4 + 256]  # bounded work for megabyte notes
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        # Already inert (the common case): printable means no escape, control, bidi or
        # separator character and no whitespace but single inner spaces.
        return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
    text = _ANSI.sub(" ", text)
    text = _INVISIBLE.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def clean_name(value: object) -> str:
    """A CRM name for a draft (at most :data:`NAME_LIMIT` characters)."""
    return clean(value, NAME_LIMIT)


def clean_block(text: str, limit: int = BODY_LIMIT) -> str:
    """Rendered multi-line text: controls removed, line breaks kept, blank runs squeezed."""
    text = text[: limit * 2].replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    text = _BLOCK_INVISIBLE.sub(" ", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _BLANK_RUN.sub("\n\n", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _finalize(value: Any) -> Any:
    return "" if value is None else clean(value, SNIPPET_LIMIT)


def _money(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else clean(value, NAME_LIMIT)


@dataclass(frozen=True)
class Draft:
    """A rendered template: ``headline`` (may be empty for headless templates) and ``body``."""

    headline: str
    body: str


def _default_dir() -> Any:
    return resources.files("sergas_tui.agents").joinpath("templates")


def default_template_names() -> tuple[str, ...]:
    """Names of the built-in draft templates."""
    return tuple(sorted(p.name for p in _default_dir().iterdir() if p.name.endswith(".md.j2")))


class TemplateSet:
    """The draft templates in use: the built-in ones, each possibly replaced by the user's."""

    def __init__(self, sources: Mapping[str, str], origins: Mapping[str, str]) -> None:
        self._origins = dict(origins)
        self._env = SandboxedEnvironment(
            loader=jinja2.DictLoader(dict(sources)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(clean=clean_name, snippet=clean, money=_money)
        self._templates: dict[str, jinja2.Template] = {}
        for name in sources:
            self._templates[name] = self._guard(name, partial(self._env.get_template, name))

    @classmethod
    def load(cls, user_dir: Path | None = None) -> TemplateSet:
        """The built-in templates with any same-named files in ``user_dir`` replacing them.

        Raises ConfigError naming the file when a user template cannot be read, parsed or
        dry-rendered with sample data. Other files in ``user_dir`` are ignored.
        """
        base = _default_dir()
        sources: dict[str, str] = {}
        origins: dict[str, str] = {}
        for name in default_template_names():
            sources[name] = base.joinpath(name).read_text(encoding="utf-8")
            origins[name] = f"{name} (built-in)"
            override = user_dir / name if user_dir is not None else None
            if override is not None and override.is_file():
                sources[name] = _read_user_template(override)
                origins[name] = str(override)
        templates = cls(sources, origins)
        templates.check()
        return templates

    @property
    def overridden(self) -> tuple[str, ...]:
        """Names of the templates the user replaced."""
        return tuple(n for n, o in self._origins.items() if not o.endswith("(built-in)"))

    def origin(self, name: str) -> str:
        """Where a template comes from: the user's file path or ``<name> (built-in)``."""
        return self._origins[name]

    def render(self, name: str, context: Mapping[str, Any]) -> Draft:
        """Render ``name`` with ``context``; ConfigError naming the file if it fails."""
        template = self._templates.get(name)
        if template is None:
            raise ConfigError(f"There is no draft template named {name!r}.")
        text = self._guard(name, lambda: template.render(**context))
        return self._split(name, clean_block(text))

    def check(self) -> None:
        """Dry-run every template with sample data (with and without a deal and a contact)."""
        for name in self._templates:
            for ctx in sample_contexts(email=name.startswith("follow_up_email.")):
                self.render(name, ctx)

    def _split(self, name: str, text: str) -> Draft:
        if name in HEADLESS:
            return Draft(headline="", body=text)
        first, _, rest = text.partition("\n")
        if not first.startswith("# ") or not clean(first[2:], HEADLINE_LIMIT):
            raise ConfigError(
                f"The draft template {self._origins[name]} must start with a '# <subject>' "
                "line. Fix it or delete it to use the built-in template.",
                title="Broken draft template",
            )
        return Draft(headline=clean(first[2:], HEADLINE_LIMIT), body=rest.strip())

    def _guard(self, name: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (
            jinja2.TemplateError,
            TypeError,
            ValueError,
            ArithmeticError,
            RecursionError,
        ) as err:
            line = getattr(err, "lineno", None)
            at = f" (line {line})" if line else ""
            raise ConfigError(
                f"The draft template {self._origins.get(name, name)}{at} cannot be used: "
                f"{err}. Fix it or delete it to use the built-in template.",
                title="Broken draft template",
            ) from err


def _read_user_template(path: Path) -> str:
    try:
        data = path.read_bytes()
        if len(data) > MAX_TEMPLATE_BYTES:
            raise ConfigError(
                f"The draft template {path} is larger than {MAX_TEMPLATE_BYTES // 1024} KiB.",
                title="Broken draft template",
            )
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"The draft template {path} cannot be read: {err}.", title="Broken draft template"
        ) from err


def sample_contexts(*, email: bool) -> list[dict[str, Any]]:
    """Contexts a template must render with: every variable, deal and contact present or not."""
    signal = {"key": "stalled_in_stage", "severity": "high", "message": "Stalled.", "label": "x"}
    full: dict[str, Any] = {
        "account": {"id": "1", "name": "Sample Account", "industry": "Retail", "rating": ""},
        "owner": {"name": "Sample Owner", "first_name": "Sample", "email": "owner@x.test"},
        "contact": {
            "name": "Sample Contact",
            "first_name": "Sample",
            "title": "CFO",
            "role": "Executive Sponsor",
            "email": "contact@x.test",
        },
        "deal": {
            "name": "Sample Deal",
            "stage": "Negotiation/Review",
            "amount": 100000.0,
            "amount_text": "100,000",
            "closing_date": "2026-01-01",
            "next_step": "Send redlines",
            "type": "Renewal",
        },
        "signal": signal,
        "signals": [signal],
        "snippets": ["Sample note excerpt."],
        "memory": {
            "sentiment_trend": "declining",
            "relationship_strength": "weak",
            "commitments": ["Sample commitment."],
            "stale": False,
        },
        "reasons": ["Sample reason."],
        "next_steps": ["Sample step."],
        "priority": "high",
        "due_date": "2026-01-05",
        "today": "2026-01-01",
        "last_activity_days": 35,
    }
    contexts = [full, {**full, "deal": None, "last_activity_days": None}]
    if not email:
        contexts += [{**full, "contact": None}, {**full, "contact": None, "deal": None}]
    return contexts
