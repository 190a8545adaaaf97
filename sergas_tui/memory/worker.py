"""The memory process: a review's memory work on the machine's other core.

A review's memory work (storing each account's rows, recalling its history, recording each
recommendation) is SQLite work that, in the review's own process, shares one interpreter lock
with everything else the review does: a worker thread only adds hand-offs (measured slower).
For a large review :class:`~sergas_tui.memory.local.LocalMemory` therefore hands its batch to
a child process, ``python -m sergas_tui.memory.worker PATH``, which opens the same memory file
and runs the operations of :mod:`sergas_tui.memory.memory_file` one at a time, in the order
they were asked, so each account's recall still sees its own ingest and every read the writes
before it. The review's process derives the rows and builds nothing from SQL itself.

Protocol, over the child's stdin and stdout: frames of a 4-byte big-endian length and a pickle.
The child first answers ``("ready",)`` (or ``("error", message, title)`` when it cannot open the
file), then one answer per request ``(name, args)``: ``("ok", result)``, ``("error", message,
title)`` for a :class:`~sergas_tui.errors.StorageError`, ``("bug", text)`` for anything else.
End of input ends the child: it commits what its batch holds (every write in it is whole, a
savepoint released) and exits; so does the death of the review's process, whose pipe closes.
The child ignores SIGINT (a Ctrl-C meant for the review reaches the whole process group).
Only the review's own process writes to the child, and it reads only what the child answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import struct
import sys
from collections import deque
from pathlib import Path
from typing import IO, Any, cast

from sergas_tui.errors import StorageError

_LENGTH = struct.Struct(">I")
_DRAIN_ABOVE = 1 << 20
"""Bytes buffered towards the child beyond which a request waits for the pipe to drain."""
_STDERR_KEPT = 4_000
"""Characters of the child's error output kept for the message when it dies."""
STOP_TIMEOUT = 60.0
"""Seconds to wait for the child to commit and exit once its input is closed."""


def _frame(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


# -- the child -----------------------------------------------------------------------------


def _read_frame(stream: IO[bytes]) -> object | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    request: object = pickle.loads(body)  # frames come only from the parent, over its pipe
    return request


def serve(path: Path, source: IO[bytes], sink: IO[bytes]) -> int:
    """Answer requests from ``source`` on ``sink`` until end of input; the exit code."""
    from sergas_tui.memory.memory_file import OPERATIONS, MemoryFile

    def send(value: object) -> None:
        sink.write(_frame(value))
        sink.flush()

    try:
        file = MemoryFile(path)
    except StorageError as err:
        send(("error", err.message, err.title))
        return 1
    try:
        send(("ready",))
        while (request := _read_frame(source)) is not None:
            name, args = cast("tuple[str, tuple[Any, ...]]", request)
            op = OPERATIONS.get(name)
            try:
                if op is None:
                    raise LookupError(f"no memory operation {name!r}")
                send(("ok", file.call(op, *args)))
            except StorageError as err:
                send(("error", err.message, err.title))
            except Exception as err:  # a bug: say which, keep serving
                send(("bug", f"{name}: {err!r}"))
    finally:
        file.close()  # commits what the batch holds
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m sergas_tui.memory.worker MEMORY_FILE\n")
        return 2
    # Ctrl-C in the terminal reaches the whole process group: the review's process decides
    # when this one stops (end of input), so a cancelled review still commits what it wrote.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the pipe
    return serve(Path(args[0]), source, sink)


# -- the review's side ---------------------------------------------------------------------


class MemoryProcess:
    """The review's handle on a running memory process (see the module)."""

    def __init__(self, path: Path, process: asyncio.subprocess.Process) -> None:
        self.path = path
        self._process = process
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._failure: StorageError | None = None
        self._stderr = ""
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, path: Path) -> MemoryProcess:
        """Start the process for the memory file at ``path`` (it opens the file meanwhile)."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sergas_tui.memory.worker",
                str(path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        except OSError as err:
            raise StorageError(
                f"Cannot start the memory process for {path}: {err.strerror or err}.",
                title="Memory error",
            ) from err
        return cls(path, process)

    @property
    def alive(self) -> bool:
        return self._failure is None and not self._reader.done()

    async def call(self, name: str, *args: Any) -> Any:
        """Run the operation ``name`` with ``args`` in the process; its result."""
        if self._failure is not None:
            raise self._failure
        stdin = self._process.stdin
        assert stdin is not None
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(answer)
        stdin.write(_frame((name, args)))
        transport = stdin.transport
        if (
            isinstance(transport, asyncio.WriteTransport)
            and transport.get_write_buffer_size() > _DRAIN_ABOVE
        ):
            await stdin.drain()
        return await answer

    async def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            greeting = await self._frame(stdout)
            if greeting[0] == "error":  # it could not open the file
                self._fail(StorageError(greeting[1], title=greeting[2]))
                await self._ended()
                return
            while True:
                answer = await self._frame(stdout)
                waiter = self._pending.popleft() if self._pending else None
                if waiter is None or waiter.done():  # its caller was cancelled
                    continue
                kind = answer[0]
                if kind == "ok":
                    waiter.set_result(answer[1])
                elif kind == "error":
                    waiter.set_exception(StorageError(answer[1], title=answer[2]))
                else:
                    waiter.set_exception(
                        StorageError(f"The memory process failed: {answer[1]}", "Memory error")
                    )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._fail(await self._ended())

    @staticmethod
    async def _frame(stdout: asyncio.StreamReader) -> tuple[Any, ...]:
        (size,) = _LENGTH.unpack(await stdout.readexactly(_LENGTH.size))
        answer: tuple[Any, ...] = pickle.loads(await stdout.readexactly(size))  # our own child
        return answer

    async def _ended(self) -> StorageError:
        """Why the process stopped answering (its exit code and the end of its errors)."""
        stderr = self._process.stderr
        if stderr is not None:
            with contextlib.suppress(Exception):
                self._stderr = (await stderr.read()).decode(errors="replace")[-_STDERR_KEPT:]
        code = await self._process.wait()
        detail = self._stderr.strip().splitlines()[-1:] if self._stderr.strip() else []
        return StorageError(
            f"The memory process for {self.path} stopped (exit code {code})"
            + (f": {detail[0]}" if detail else "")
            + ". What it had not committed is lost; the next review stores it again.",
            title="Memory error",
        )

    def _fail(self, error: StorageError) -> None:
        self._failure = error
        while self._pending:
            waiter = self._pending.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    async def stop(self) -> None:
        """End the process's input, so it commits and exits; wait for that. A process that
        ends badly here (its last commit failed) raises; one that had already died does not
        again (each call meanwhile said so)."""
        died_before = self._failure is not None
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(ConnectionError):
                await stdin.drain()
            stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), STOP_TIMEOUT)
        except TimeoutError:
            self.kill()
            await asyncio.shield(self._reader)
        code = self._process.returncode
        if code not in (0, None) and not died_before:
            raise StorageError(
                f"The memory process for {self.path} ended with exit code {code}: "
                f"{self._stderr.strip()[-500:] or 'no message'}",
                title="Memory error",
            )

    def close_input(self) -> None:
        """End the process's input without waiting: it commits what it received and exits."""
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            # (with its event loop closed, the pipe closes when this process ends)
            with contextlib.suppress(RuntimeError):
                stdin.close()

    def kill(self) -> None:
        """Stop the process at once (what it had not committed is lost)."""
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()

    async def abort(self) -> None:
        """Kill the process and wait until it is gone (nothing raised)."""
        self.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._reader), STOP_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main())
