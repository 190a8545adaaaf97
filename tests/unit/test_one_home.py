"""Each rule has one home: Zoho's picklists in domain/picklists.py, the approval status groups
in domain/approval.py, every SergasError in errors.py.

The checks read the package's source (AST), so a second definition fails here before a
reviewer has to find it.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import sergas_tui
from sergas_tui import errors
from sergas_tui.domain import approval, picklists

PACKAGE = Path(sergas_tui.__file__).parent
PICKLISTS: dict[str, set[str]] = {
    "task priorities": set(picklists.TASK_PRIORITIES),
    "task statuses": set(picklists.TASK_STATUSES),
    "deal stages": {*picklists.DEAL_STAGES, *picklists.CLOSED_STAGES},
    "ratings": set(picklists.RATINGS),
}
STATUS_GROUPS: dict[str, set[approval.ApprovalStatus]] = {
    "DECIDABLE": set(approval.DECIDABLE),
    "UNDOABLE": set(approval.UNDOABLE),
    "EXECUTABLE": set(approval.EXECUTABLE),
    "APPROVED_STATUSES": set(approval.APPROVED_STATUSES),
    "OPEN": set(approval.OPEN),
}


@functools.cache
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    return tuple(
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    )


def _collections(tree: ast.Module) -> Iterator[ast.Tuple | ast.List | ast.Set]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            yield node


def _strings(node: ast.Tuple | ast.List | ast.Set) -> list[str] | None:
    values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    strings = [v for v in values if isinstance(v, str)]
    return strings if len(strings) == len(node.elts) else None


def _statuses(node: ast.Tuple | ast.List | ast.Set) -> set[approval.ApprovalStatus] | None:
    names = set()
    for e in node.elts:
        if not (isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name)):
            return None
        if e.value.id not in ("_S", "ApprovalStatus"):
            return None
        names.add(e.attr)
    return {approval.ApprovalStatus[n] for n in names}


def test_every_picklist_is_listed_once() -> None:
    """No literal of two or more values of one of Zoho's picklists outside domain/picklists.py
    (a selection goes through ``picklist_values``, which checks it against the one list)."""
    found = []
    for name, tree in _modules():
        if name == "domain/picklists.py":
            continue
        for node in _collections(tree):
            values = _strings(node)
            if not values or len(values) < 2:
                continue
            for picklist, known in PICKLISTS.items():
                if set(values) <= known:
                    found.append(f"{name}:{node.lineno} repeats the {picklist}: {values}")
    assert found == []


def test_every_approval_status_group_is_defined_once() -> None:
    """No literal set of approval statuses equal to one of domain/approval.py's groups outside
    it."""
    found = []
    for name, tree in _modules():
        if name == "domain/approval.py":
            continue
        for node in _collections(tree):
            statuses = _statuses(node)
            if not statuses:
                continue
            for group, members in STATUS_GROUPS.items():
                if statuses == members:
                    found.append(f"{name}:{node.lineno} repeats approval.{group}")
    assert found == []


def test_the_checks_see_what_they_look_for() -> None:
    tree = ast.parse('P = ("Highest", "Lowest")\nS = frozenset({_S.PENDING, _S.CONFLICT})')
    picks = [_strings(n) for n in _collections(tree)]
    assert ["Highest", "Lowest"] in picks
    assert any(_statuses(n) == STATUS_GROUPS["DECIDABLE"] for n in _collections(tree))


def test_picklist_values_refuses_a_value_zoho_does_not_have() -> None:
    assert picklists.picklist_values(picklists.RATINGS, "Active") == ("Active",)
    with pytest.raises(ValueError, match="Hot"):
        picklists.picklist_values(picklists.RATINGS, "Active", "Hot")


def _defined_errors() -> Iterator[tuple[str, str]]:
    """(module, class) for each class statement whose bases name an error of errors.py."""
    ours = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.SergasError)
    }
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                if bases & ours:
                    yield name, node.name


def test_every_sergas_error_lives_in_errors_py() -> None:
    elsewhere = [
        f"{module}: {cls}"
        for module, cls in _defined_errors()
        if module != "errors.py" and not hasattr(errors, cls)
    ]
    assert elsewhere == []


def test_the_error_check_sees_a_subclass_elsewhere() -> None:
    assert ("errors.py", "ApprovalRefusedError") in set(_defined_errors())
