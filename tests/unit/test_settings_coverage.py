"""No setting that does nothing: every key of the settings model is read by the package's code.

The scan is static (Python's ``ast`` over ``sergas_tui/``): a key counts as read where an
attribute of that name is taken from its section — ``settings.zoho.mode``, or through a name
bound to the section (``zoho = settings.zoho``; a parameter annotated ``ZohoSettings``;
``self._settings = settings`` of such a parameter) — or where a method of the section's own
class reads ``self.<key>``. A deprecated key need not be read, but `Settings.deprecations()`
must name it when it is set.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sergas_tui.config import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "sergas_tui"


def section_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out[name] = kind
    return out


def _aliases(tree: ast.AST, sections: Mapping[str, type[BaseModel]]) -> dict[str, str]:
    """Names (variables, parameters, attributes) bound to a section, by section."""
    by_class = {model.__name__: name for name, model in sections.items()}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotation = ast.unparse(node.annotation)
            for cls, owner in by_class.items():
                if cls in annotation:
                    aliases[node.arg] = owner
    changed = True
    while changed:  # x = settings.zoho; y = x; self._z = y …
        changed = False
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            value = node.value
            section: str | None = None
            if isinstance(value, ast.Attribute) and value.attr in sections:
                section = value.attr
            elif isinstance(value, ast.Name | ast.Attribute):
                section = aliases.get(value.id if isinstance(value, ast.Name) else value.attr)
            if section is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
                if name and aliases.get(name) != section:
                    aliases[name] = section
                    changed = True
    return aliases


def keys_read(
    sources: Iterable[str], sections: Mapping[str, type[BaseModel]]
) -> set[tuple[str, str]]:
    by_class = {model.__name__: name for name, model in sections.items()}
    read: set[tuple[str, str]] = set()
    for source in sources:
        tree = ast.parse(source)
        aliases = _aliases(tree, sections)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in by_class:
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Attribute)
                        and isinstance(inner.value, ast.Name)
                        and inner.value.id == "self"
                    ):
                        read.add((by_class[node.name], inner.attr))
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            section: str | None = None
            if isinstance(owner, ast.Attribute):
                section = owner.attr if owner.attr in sections else aliases.get(owner.attr)
            elif isinstance(owner, ast.Name):
                section = aliases.get(owner.id)
            if section is not None and node.attr in sections[section].model_fields:
                read.add((section, node.attr))
    return read


def unread(sources: Iterable[str], sections: Mapping[str, type[BaseModel]]) -> list[str]:
    read = keys_read(sources, sections)
    return [
        f"[{section}] {key}"
        for section, model in sections.items()
        for key, field in model.model_fields.items()
        if (section, key) not in read and not field.deprecated
    ]


def test_every_setting_is_read_by_the_code() -> None:
    sources = [path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")]
    assert unread(sources, section_models()) == [], (
        "settings no code reads: make them work or deprecate them (Field(deprecated=True) "
        "and a note in Settings.deprecations())"
    )
    top = set(Settings.model_fields) - set(section_models())
    assert top == {"workspace"}
    assert any("settings.workspace" in source for source in sources)


def test_every_deprecated_setting_is_named_when_set() -> None:
    values: dict[str, Any] = {"auditing": {"postgres_dsn": "postgresql://x@127.0.0.1/db"}}
    values["anthropic"] = {"temperature": 0.2}
    deprecated = [
        (section, key)
        for section, model in section_models().items()
        for key, field in model.model_fields.items()
        if field.deprecated
    ]
    assert {(s, k) for s, k in deprecated} == {
        ("auditing", "postgres_dsn"),
        ("anthropic", "temperature"),
    }
    notes = " ".join(Settings(**values).deprecations())
    for section, key in deprecated:
        assert f"[{section}] {key}" in notes


class _Demo(BaseModel):
    used: int = 1
    aliased: int = 2
    through_param: int = 3
    forgotten: int = 4


def test_the_scan_finds_a_key_nobody_reads() -> None:
    """The check itself can fail: a key read by no code is reported, the others are not."""
    sections = {"demo": _Demo}
    source = (
        "def f(settings, d: _Demo):\n"
        "    x = settings.demo.used\n"
        "    demo = settings.demo\n"
        "    y = demo.aliased\n"
        "    self_ = d\n"
        "    return self_.through_param\n"
    )
    assert unread([source], sections) == ["[demo] forgotten"]
