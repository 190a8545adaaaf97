"""The files and words a person hands the command line: checked before any work is done.

- :func:`check_arguments`: every argument must be text (UTF-8); a name with undecodable bytes
  is refused at once instead of failing deep inside a command.
- :func:`output_file` / :func:`output_dir`: an ``--out``/``--json``/``--markdown`` target is
  checked before the work that produces it (a whole review must not run for a brief that cannot
  be written). Nothing is created outside what was asked for: a file's directory must exist,
  and ``--markdown DIR`` creates ``DIR`` only, when its parent exists.
- :func:`write_text_file`: writes a checked file atomically (a temporary file, then rename).
- :func:`read_json_file`: a JSON file a person wrote (an adjusted payload), bounded in size and
  depth, with one-sentence errors for a missing file, bytes that are not UTF-8 and bad JSON.

Every refusal is a :class:`UserInputError` (exit code 2) that names the path and what to do.
It lives at the package root with ``errors`` and ``config`` so that every CLI module can use it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sergas_tui.errors import UserInputError as UserInputError

MAX_JSON_BYTES = 1_000_000
"""The largest JSON file :func:`read_json_file` reads (an action payload is a few kilobytes;
Zoho's largest text field takes 32,000 characters)."""

MAX_JSON_DEPTH = 32
"""How deeply :func:`read_json_file` lets arrays and objects nest."""


SHOWN_CHARS = 120
"""How much of a name a message repeats."""


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _shown(value: str | Path) -> str:
    """A name as a message may print it: controls and undecodable bytes escaped, long ones cut."""
    text = os.fspath(value)
    if not text.isprintable() or not _is_text(text):
        raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in raw)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def check_arguments(args: Sequence[str]) -> None:
    """Refuse an argument that is not text: bytes that are not UTF-8 reach Python as lone
    surrogates (and a NUL cannot be part of a name), which no database, file name or terminal
    takes."""
    for arg in args:
        if not _is_text(arg):
            raise UserInputError(
                f"The argument '{_shown(arg)}' contains bytes that are not UTF-8 text; Sergas "
                "takes names, ids, paths and texts as UTF-8. Nothing was done.",
                title="Argument is not text",
            )


def _reason(err: OSError) -> str:
    return (err.strerror or type(err).__name__).lower()


def _mode(path: Path, option: str) -> int | None:
    """``path``'s file mode, or None when nothing is there."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise UserInputError(
            f"Cannot use {option} {_shown(path)}: {_reason(err)}.", title="Cannot use the path"
        ) from err


def _probe(directory: Path, target: Path, option: str) -> None:
    """Create (and remove) a temporary file in ``directory``: can we write there?"""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".sergas-probe-"):
            pass
    except OSError as err:
        raise UserInputError(
            f"Cannot write {option} {_shown(target)}: the directory {_shown(directory)} does "
            f"not accept new files ({_reason(err)}). Choose a writable place; nothing was "
            "written.",
            title="Cannot write there",
        ) from err


def output_file(
    path: Path, option: str = "--out", *, special_ok: bool = False, example: str = "brief.md"
) -> Path:
    """Check that ``path`` can be written as a file, before any work; returns it. ``example``
    is the file name an error suggests (its extension the format the command writes).

    Its directory must exist (nothing is created) and accept files; ``path`` itself must not be
    a directory, nor — unless ``special_ok`` (a stream such as ``/dev/stdout``) — anything but
    a regular file.
    """
    text = os.fspath(path)
    if not text or text.endswith(os.sep) or path.name in ("", ".", ".."):
        raise UserInputError(
            f"{option} {_shown(text or '(empty)')} names a directory, not a file; give a file "
            f"name, e.g. {option} {_shown(path / example) if text else example}.",
            title="Not a file name",
        )
    mode = _mode(path, option)
    if mode is not None and stat.S_ISDIR(mode):
        raise UserInputError(
            f"{option} {_shown(path)} is a directory; give a file name inside it, e.g. "
            f"{option} {_shown(path / example)}.",
            title="Not a file name",
        )
    if mode is not None and not stat.S_ISREG(mode) and not special_ok:
        raise UserInputError(
            f"{option} {_shown(path)} is not a regular file; give a file name.",
            title="Not a file name",
        )
    parent = path.parent
    parent_mode = _mode(parent, option)
    if parent_mode is None or not stat.S_ISDIR(parent_mode):
        raise UserInputError(
            f"Cannot write {option} {_shown(path)}: the directory {_shown(parent)} does not "
            "exist. Create it first (Sergas creates no directories you did not ask for) or "
            "choose another place; nothing was written.",
            title="No such directory",
        )
    if mode is None or stat.S_ISREG(mode):
        _probe(parent, path, option)
    return path


def output_dir(path: Path, option: str = "--markdown") -> Path:
    """Check that files can be written in directory ``path``, before any work; returns it.

    An existing directory must accept files; a missing one is created later (by the writer)
    only when its parent exists and accepts files.
    """
    text = os.fspath(path)
    if not text:
        raise UserInputError(f"{option} needs a directory name.", title="Not a directory")
    mode = _mode(path, option)
    if mode is not None and stat.S_ISDIR(mode):
        _probe(path, path, option)
        return path
    if mode is not None:
        raise UserInputError(
            f"{option} {_shown(path)} is a file, not a directory; give a directory name.",
            title="Not a directory",
        )
    parent = path.parent
    parent_mode = _mode(parent, option)
    if parent_mode is None or not stat.S_ISDIR(parent_mode):
        raise UserInputError(
            f"Cannot write {option} {_shown(path)}: neither it nor its parent {_shown(parent)} "
            "exists. Create the directory first or choose another place; nothing was written.",
            title="No such directory",
        )
    _probe(parent, path, option)
    return path


def make_output_dir(path: Path, option: str = "--markdown") -> bool:
    """Create the directory ``path`` (checked with :func:`output_dir`; its parent exists) when
    it is missing; True when it was created, so the caller can say so."""
    try:
        if path.is_dir():
            return False
        path.mkdir()
    except OSError as err:
        raise writing_failed(path, err, option) from err
    return True


def writing_failed(path: Path, err: OSError, option: str = "--out") -> UserInputError:
    """The error for a write that failed after the checks (disk full, removed directory...)."""
    return UserInputError(
        f"Could not write {option} {_shown(path)}: {_reason(err)}.", title="Cannot write there"
    )


def write_text_file(path: Path, text: str, option: str = "--out") -> Path:
    """Write ``text`` to ``path`` (checked with :func:`output_file`): atomically for a regular
    file, straight into a stream such as ``/dev/stdout``."""
    try:
        if path.exists() and not path.is_file():
            with path.open("w", encoding="utf-8") as handle:
                handle.write(text)
            return path
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise writing_failed(path, err, option) from err
    return path


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (iterative: a hostile file cannot exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json_file(path: Path, what: str = "file") -> Any:
    """The JSON value in ``path``: a UTF-8 file of at most :data:`MAX_JSON_BYTES` bytes whose
    arrays and objects nest at most :data:`MAX_JSON_DEPTH` deep (no NaN or Infinity)."""
    shown = _shown(path)
    try:
        if path.is_dir():
            raise UserInputError(f"The {what} {shown} is a directory; give a JSON file.")
        with path.open("rb") as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
    except OSError as err:
        raise UserInputError(f"Cannot read the {what} {shown}: {_reason(err)}.") from err
    if len(data) > MAX_JSON_BYTES:
        raise UserInputError(
            f"The {what} {shown} is larger than {MAX_JSON_BYTES:,} bytes; Sergas reads at most "
            "that much JSON here."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserInputError(
            f"The {what} {shown} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8 JSON."
        ) from None
    too_deep = (
        f"The {what} {shown} nests arrays or objects too deeply (more than {MAX_JSON_DEPTH} "
        "levels); an action payload is one flat object."
    )
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UserInputError(too_deep) from None
    except json.JSONDecodeError as err:
        raise UserInputError(
            f"The {what} {shown} is not valid JSON: {err.msg} at line {err.lineno}, column "
            f"{err.colno}."
        ) from None
    except ValueError as err:  # NaN, Infinity
        raise UserInputError(f"The {what} {shown} is not valid JSON: {err}.") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise UserInputError(too_deep)
    return value


__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "UserInputError",
    "check_arguments",
    "make_output_dir",
    "output_dir",
    "output_file",
    "read_json_file",
    "write_text_file",
    "writing_failed",
]
