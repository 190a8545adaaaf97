"""No module of ``sergas_tui`` over :data:`MAX_LINES` lines without a reason written at its top.

A module may be longer when its docstring holds a paragraph starting with :data:`MARKER`
(``Why one module:``) that says what single thing it holds and why splitting it would scatter
that thing. Lines are counted as ``wc -l`` counts them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sergas_tui

PACKAGE = Path(sergas_tui.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 450
MARKER = "Why one module:"
MIN_REASON_WORDS = 25
"""A reason is a sentence or two, not the marker alone."""


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def _reason(path: Path) -> str | None:
    """The paragraph of the module docstring that starts with :data:`MARKER`, if any."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if docstring is None:
        return None
    paragraph: list[str] = []
    for line in docstring.splitlines():
        if paragraph:
            if not line.strip():
                break
            paragraph.append(line.strip())
        elif line.lstrip().startswith(MARKER):
            paragraph.append(line.strip())
    return " ".join(paragraph) or None


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _over_without_reason() -> dict[str, int]:
    found = {}
    for path in _modules():
        lines = _lines(path)
        if lines > MAX_LINES and _reason(path) is None:
            found[_relative(path)] = lines
    return found


def test_every_long_module_says_why_it_is_one() -> None:
    assert _over_without_reason() == {}, (
        f"over {MAX_LINES} lines: split each along a real seam, or write a paragraph starting "
        f"with {MARKER!r} in its module docstring saying why it is one module"
    )


def test_every_reason_says_something() -> None:
    short = {}
    for path in _modules():
        reason = _reason(path)
        if reason is not None and len(reason.split()) - len(MARKER.split()) < MIN_REASON_WORDS:
            short[_relative(path)] = reason
    assert short == {}, (
        f"a reason says what single thing the module holds and why (at least {MIN_REASON_WORDS} "
        "words)"
    )
