"""Markdown export of an owner brief, from a Jinja2 template the user can override.

The default template is ``briefs/templates/brief.md.j2``; a file of the same name in the user's
templates dir (``sergas config path``'s folder, ``templates/``) replaces it. CRM text is escaped
for Markdown and stripped of control characters, so a note cannot inject links, HTML or
terminal escapes into the export.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from sergas_tui.domain import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    OwnerBrief,
    Recommendation,
    UpdateAccountAction,
)
from sergas_tui.errors import ConfigError

TEMPLATE_NAME = "brief.md.j2"
DEFAULT_DIR = Path(__file__).with_name("templates")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Enough to keep CRM text from becoming emphasis, code, links, images, HTML or table cells;
# the values are always inline, so line-start markers (#, -, 1.) cannot take effect.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def md(value: Any, limit: int = 2000) -> str:
    """CRM text as inert Markdown: one line, no control characters, specials escaped."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def mdval(value: Any) -> str:
    """A field value: numbers with thousands separators, empty as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return md(value, limit=200)


def action(rec: Recommendation) -> str:
    """The exact write (or draft) a recommendation proposes, as Markdown."""
    a = rec.suggested_action
    if isinstance(a, FollowUpEmailAction):
        lines = [f"- Email to: {mdval(a.recipient)}", f"- Subject: {md(a.subject)}"]
        lines += ["- Draft:", "", *[f"  > {md(line)}" for line in a.draft_body.splitlines()]]
        lines += ["", *[f"- Next step: {md(step)}" for step in a.next_steps]]
        return "\n".join(lines)
    if isinstance(a, CreateTaskAction):
        return "\n".join(
            [
                f"- Create task: {md(a.subject)}",
                f"- Due: {mdval(a.due_date)} · priority {mdval(a.priority)}",
                f"- Description: {mdval(a.description)}",
            ]
        )
    if isinstance(a, AddNoteAction):
        return f"- Add note: **{md(a.title)}** — {md(a.content)}"
    if isinstance(a, UpdateAccountAction):
        return "\n".join(
            f"- Update {md(c.field)}: {mdval(c.old)} → {mdval(c.new)}" for c in a.field_changes
        )
    if isinstance(a, EscalationAction):
        return f"- Escalate to {md(a.escalate_to)}: {md(a.reason)}"
    return ""


def _environment(user_dir: Path | None) -> SandboxedEnvironment:
    search = [str(user_dir)] if user_dir is not None else []
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([*search, str(DEFAULT_DIR)]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, mdval=mdval, action=action)
    return env


def render_brief(brief: OwnerBrief, *, user_templates: Path | None = None) -> str:
    """The brief as Markdown; ConfigError naming the template if a user template is broken."""
    env = _environment(user_templates)
    recs: dict[str, list[Recommendation]] = {}
    by_id = {r.id: r for r in brief.recommendations}
    for account in brief.accounts or []:
        recs[account.account_id] = [by_id[i] for i in account.recommendation_ids if i in by_id]
    try:
        template = env.get_template(TEMPLATE_NAME)
        return template.render(brief=brief, accounts=brief.accounts or [], recs=recs)
    except jinja2.TemplateError as err:
        where = getattr(err, "filename", None) or TEMPLATE_NAME
        line = getattr(err, "lineno", None)
        at = f" line {line}" if line else ""
        raise ConfigError(
            f"The brief template {where}{at} cannot be used: {err}. Fix it or delete it to use "
            "the built-in template."
        ) from err


def write_brief(brief: OwnerBrief, path: Path, *, user_templates: Path | None = None) -> Path:
    text = render_brief(brief, user_templates=user_templates)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
