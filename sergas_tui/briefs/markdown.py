"""Markdown export of an owner brief, from a Jinja2 template the user can override.

The default template is ``briefs/templates/brief.md.j2``; a file of the same name in the user's
templates dir (``sergas config path``'s folder, ``templates/``) replaces it. CRM text is escaped
for Markdown and stripped of control characters, so a note cannot inject links, HTML or
terminal escapes into the export.

Records and people are named through a :class:`~sergas_tui.domain.names.RecordNames` (built by
the caller from the workspace's snapshots): recipients and escalation targets by name, amounts
with their currency, evidence and changes in words, and links to the records in Zoho's web UI
(none for the demo org). Filters a template can use besides ``md``/``mdval``/``action``:
``evidence`` (a recommendation or a list of refs → items with ``text`` and ``url``), ``mdlink``
(an item → ``[text](url)``), ``change_text`` (a change and its account id), ``money``
(an amount and its account id), ``user`` (an owner's e-mail), ``zoho_url`` (an account id →
its page, or an empty string), ``when`` (a time → ``2026-12-06 14:02``) and ``plural``
(``3 | plural("account")``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from sergas_tui.briefs.compile import as_current
from sergas_tui.briefs.sections import brief_sections
from sergas_tui.briefs.wording import change_words
from sergas_tui.domain import (
    AddNoteAction,
    Change,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    OwnerBrief,
    Recommendation,
    UpdateAccountAction,
)
from sergas_tui.domain.evidence import EvidenceItem, describe_evidence, field_label
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.write_summary import also_lines
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


def _amount(names: RecordNames, account_id: str | None, field: str, value: Any) -> str:
    if is_amount_field(field) and isinstance(value, int | float) and not isinstance(value, bool):
        return md(names.money(value, "Accounts", account_id))
    return mdval(value)


def action(rec: Recommendation, names: RecordNames | None = None, owner: str | None = None) -> str:
    """The exact write (or draft) a recommendation proposes, as Markdown, then the further
    writes of the same decision (``also``), one line each."""
    names = names or RecordNames()
    main = _main_action(rec, names, owner)
    also = also_lines(rec.also, names, rec.account_id, owner)
    if not also:
        return main
    return "\n".join([main, *(f"- Also: {md(line)}" for line in also)])


def _main_action(rec: Recommendation, names: RecordNames, owner: str | None) -> str:
    a = rec.suggested_action
    account = rec.account_id
    if isinstance(a, FollowUpEmailAction):
        to = names.recipient(a.recipient, account) if a.recipient else None
        lines = [f"- Email to: {mdval(to)}", f"- Subject: {md(a.subject)}"]
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
            f"- Update {md(field_label(c.field))} ({md(c.field)}): "
            f"{_amount(names, account, c.field, c.old)} → {_amount(names, account, c.field, c.new)}"
            for c in a.field_changes
        )
    if isinstance(a, EscalationAction):
        return f"- Escalate to {md(names.person(a.escalate_to, owner))}: {md(a.reason)}"
    return ""


def evidence(value: Any, names: RecordNames | None = None) -> list[EvidenceItem]:
    """A recommendation's (or a list of references') evidence in words, with links."""
    refs = value.data_references if isinstance(value, Recommendation) else value
    texts = [str(r) for r in refs or []]
    return describe_evidence(texts, names or RecordNames())


def mdlink(item: EvidenceItem) -> str:
    """``[Deal 'X' · Stage now Y](https://crm.zoho.com/…)``, or the escaped text alone."""
    text = md(item.text, limit=300)
    return f"[{text}](<{item.url}>)" if item.url else text


def change_text(change: Change, account_id: str, names: RecordNames | None = None) -> str:
    """A change found by the review: ``Deal 'X' · Closing date 2026-12-20 → 2027-01-30``."""
    return md(change_words(change, account_id, names or RecordNames()))


def when(moment: datetime | None) -> str:
    """``2026-12-06 14:02`` (UTC), or a dash."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "—"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 account``, ``3 accounts``."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def _environment(
    user_dir: Path | None, names: RecordNames, owner: str | None = None
) -> SandboxedEnvironment:
    search = [str(user_dir)] if user_dir is not None else []
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([*search, str(DEFAULT_DIR)]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md,
        mdval=mdval,
        action=lambda rec: action(rec, names, owner),
        evidence=lambda value: evidence(value, names),
        mdlink=mdlink,
        change_text=lambda change, account_id: change_text(change, account_id, names),
        money=lambda amount, account_id=None: md(names.money(amount, "Accounts", account_id)),
        user=lambda email: md(names.user(email)),
        zoho_url=lambda account_id: names.url("Accounts", str(account_id)) or "",
        when=when,
        plural=plural,
    )
    return env


def render_brief(
    brief: OwnerBrief, *, user_templates: Path | None = None, names: RecordNames | None = None
) -> str:
    """The brief as Markdown; ConfigError naming the template if a user template is broken.

    ``brief`` is normally the owner's :class:`CurrentBrief` (see :mod:`.current`); a run's
    brief is shown the same way (:func:`as_current`). ``names`` (the workspace's, see
    :mod:`sergas_tui.viewmodels.names`) turns ids into names; without it only the names the
    brief itself carries are known. Besides ``brief``, the template gets ``counts`` (the
    header's numbers), ``s`` (the sections in words, :mod:`.sections`) and, as before,
    ``accounts`` and ``recs`` (each account's open recommendations).
    """
    current = as_current(brief)
    names = names or names_from_brief(current)
    for group in current.changes or []:
        names.add_changes(group.account_id, group.changes)
    env = _environment(user_templates, names, current.owner_email)
    recs: dict[str, list[Recommendation]] = {}
    by_id = {r.id: r for r in current.recommendations}
    for account in current.accounts or []:
        recs[account.account_id] = [by_id[i] for i in account.recommendation_ids if i in by_id]
    try:
        template = env.get_template(TEMPLATE_NAME)
        return template.render(
            brief=current,
            counts=current.counts,
            s=brief_sections(current, names),
            accounts=current.accounts or [],
            recs=recs,
        )
    except jinja2.TemplateError as err:
        where = getattr(err, "filename", None) or TEMPLATE_NAME
        line = getattr(err, "lineno", None)
        at = f" line {line}" if line else ""
        raise ConfigError(
            f"The brief template {where}{at} cannot be used: {err}. Fix it or delete it to use "
            "the built-in template."
        ) from err


def names_from_brief(brief: OwnerBrief) -> RecordNames:
    """Names known from the brief alone: its accounts and the changes it found."""
    names = RecordNames()
    for account in brief.accounts or []:
        names.add_snapshot(account.account_id, {"Account_Name": account.account_name})
    for group in brief.changes or []:
        names.add_changes(group.account_id, group.changes)
    return names


def write_brief(
    brief: OwnerBrief,
    path: Path,
    *,
    user_templates: Path | None = None,
    names: RecordNames | None = None,
) -> Path:
    text = render_brief(brief, user_templates=user_templates, names=names)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
