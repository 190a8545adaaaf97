"""Who holds a claim on an approval grant, and whether that holder is known to have stopped.

A claim (:mod:`.approval_gate`) names its attempt in ``claimed_by``:
``<server>|<machine>|<pid>|<run>|<n>`` — the server, the machine (host name and PID namespace),
the process, a random id of the process's run and a counter. This process keeps the attempts
it has under way in a process-wide registry (:func:`begin`, :func:`end`), so every gate in the
process agrees on them. :func:`stopped` is True only when the holder certainly writes no more:

- an attempt of this process that has ended (not under way any more);
- an attempt of an earlier process that had this process's PID (it has ended: we hold the PID);
- an attempt of a process on this machine that no longer runs (a zombie counts as ended).

Anything else — another machine, a claim in another format, a PID that runs (perhaps reused)
— is not known to have stopped; such a claim is only taken over after its lease.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from pathlib import Path
from uuid import uuid4

_RUN = uuid4().hex[:12]
_COUNTER = itertools.count(1)
_ACTIVE: set[str] = set()
_LOCK = threading.Lock()
_SEP = "|"


def machine() -> str:
    """This machine as claims name it: the host name and, where there is one, the PID
    namespace (two containers may share a host name, never a namespace)."""
    name = socket.gethostname().replace(_SEP, "_")
    try:
        return f"{name}~pidns{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def begin(server: str) -> str:
    """A new attempt's ``claimed_by``, registered as under way until :func:`end`."""
    attempt = _SEP.join(
        (server.replace(_SEP, "_"), machine(), str(os.getpid()), _RUN, str(next(_COUNTER)))
    )
    with _LOCK:
        _ACTIVE.add(attempt)
    return attempt


def end(attempt: str) -> None:
    """The attempt is over (its write answered, failed or was given up)."""
    with _LOCK:
        _ACTIVE.discard(attempt)


def under_way(attempt: str) -> bool:
    with _LOCK:
        return attempt in _ACTIVE


def process_gone(pid: int) -> bool:
    """True only when no process ``pid`` runs on this machine (a zombie counts as gone).
    Where that cannot be told (not POSIX), False."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it runs, as another user
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] in ("Z", "X")


def stopped(claimed_by: str | None) -> bool:
    """Whether the holder of a claim certainly writes no more (see the module docstring)."""
    parts = (claimed_by or "").split(_SEP)
    if len(parts) != 5 or not parts[2].isdigit():
        return False
    _, where, pid_text, run, _ = parts
    if where != machine():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return run != _RUN or not under_way(claimed_by or "")
    return process_gone(pid)


__all__ = ["begin", "end", "machine", "process_gone", "stopped", "under_way"]
