"""The workspace database's connections and transactions, under every repository method.

:class:`Transactions` is the base of :class:`~sergas_tui.storage.repository.Repository`: it owns
the writer connection and the pool of read connections, and the two ways in to them that every
query module uses, ``_read`` and ``_write``. Textual thread workers and the review call the
repository concurrently:

- *writes* go through one writer connection behind one lock; each write method is its own
  ``BEGIN IMMEDIATE`` transaction, and a write made inside another write of the same thread (a
  unit of a :class:`~sergas_tui.storage.writer.WriteBatch`) is a savepoint of it;
- *reads* run on connections of their own (WAL lets them proceed while a write is under way),
  taken from a small pool, one thread at a time per connection; a read made inside a write of
  the same thread uses the writer connection, so it sees that write's own rows.

A batch's units run through ``_run_unit`` and are committed in chunks by ``_commit_chunk``: a
commit only ever holds whole units, and any other write commits the open chunk first. SQLite
errors leave as :class:`StorageError` (or :class:`DatabaseCorruptError` when the file turns out
to be damaged).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.errors import StorageError
from sergas_tui.storage.database import DEFAULT_BUSY_TIMEOUT_MS, corrupt_error, is_corruption

if TYPE_CHECKING:
    from sergas_tui.storage.writer import WriteBatch

T = TypeVar("T")

MAX_IDLE_READERS = 8
"""Read connections kept open between reads; more may exist while many threads read at once."""


class Transactions:
    """One workspace database's connections: one writer behind a lock, a pool of readers."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ):
        self._conn = connection
        """The writer connection (every write; reads inside a write)."""
        self._path = path
        self._clock: Clock = clock or SystemClock()
        """The time source of the rows this repository stamps (the services' one clock)."""
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        """Held for the whole of a write (and of a batch unit): one writer at a time."""
        self._depth = 0
        """How deep the thread holding ``_lock`` is in writes (0: none under way)."""
        self._writer_thread: int | None = None
        """The thread whose write is under way (its reads use the writer connection)."""
        self._chunk_units = 0
        """Units applied in the open chunk transaction (see :meth:`_run_unit`)."""
        self._chunk_started = 0.0
        self._idle: list[sqlite3.Connection] = []
        self._readers: set[sqlite3.Connection] = set()
        self._pool_lock = threading.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Commit an open chunk, close every connection; further calls raise
        :class:`StorageError`."""
        with self._lock:
            if self._closed:
                return
            lost: sqlite3.Error | None = None
            try:
                if self._depth == 0 and self._conn.in_transaction:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                lost = err  # closing rolls the chunk back
            finally:
                self._closed = True
                with self._pool_lock:
                    readers, self._readers, self._idle = self._readers, set(), []
                for reader in readers:
                    reader.close()
                self._conn.close()
            if lost is not None:
                raise StorageError(
                    f"Could not commit the last writes to {self._path}: {lost}."
                ) from lost

    # -- plumbing ---------------------------------------------------------------------------

    def _closed_error(self) -> sqlite3.ProgrammingError:
        return sqlite3.ProgrammingError("the database is closed")

    def _checkout(self) -> sqlite3.Connection:
        """A read connection for this thread's use until :meth:`_checkin`."""
        with self._pool_lock:
            if self._closed:
                raise self._closed_error()
            if self._idle:
                return self._idle.pop()
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,  # one thread at a time; closed by whoever closes the repo
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        with self._pool_lock:
            if self._closed:
                conn.close()
                raise self._closed_error()
            self._readers.add(conn)
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        with self._pool_lock:
            if conn not in self._readers:  # closed meanwhile
                return
            if len(self._idle) < MAX_IDLE_READERS:
                self._idle.append(conn)
                return
            self._readers.discard(conn)
        conn.close()

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._errors(action):
            if self._writer_thread == threading.get_ident():
                # Inside this thread's own write: read what it wrote so far.
                with self._lock:
                    yield self._conn
                return
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._checkin(conn)

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors(action):
            if self._closed:
                raise self._closed_error()
            conn = self._conn
            if self._depth > 0:  # inside a write of this thread: a savepoint of it
                savepoint = f"write_{self._depth}"
                conn.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield conn
                    conn.execute(f"RELEASE {savepoint}")
                except BaseException:
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
                    raise
                finally:
                    self._depth -= 1
                return
            self._commit_chunk_locked()  # a batch's open chunk holds whole units: keep them
            conn.execute("BEGIN IMMEDIATE")
            self._enter_write()
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._leave_write()

    def _enter_write(self) -> None:
        self._depth = 1
        self._writer_thread = threading.get_ident()

    def _leave_write(self) -> None:
        self._depth = 0
        self._writer_thread = None

    def _commit_chunk_locked(self) -> None:
        """Commit the batch's open chunk, if any (the caller holds ``_lock``)."""
        if self._conn.in_transaction and self._depth == 0:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._chunk_units = 0

    def _run_unit(self, fn: Callable[[], T]) -> T:
        """Apply ``fn`` (which calls this repository's methods) as one unit of the open chunk
        transaction, starting one when none is open: all of the unit's writes, or none of them.
        The chunk stays open for the next unit until :meth:`_commit_chunk` (see
        :class:`~sergas_tui.storage.writer.WriteBatch`)."""
        with self._lock:
            with self._errors("start a batch of writes"):
                if self._closed:
                    raise self._closed_error()
                conn = self._conn
                if not conn.in_transaction:
                    conn.execute("BEGIN IMMEDIATE")
                    self._chunk_units = 0
                    self._chunk_started = time.monotonic()
                conn.execute("SAVEPOINT unit")
            self._enter_write()
            try:
                result = fn()
            except BaseException:
                with self._errors("undo a unit of writes"):
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                raise
            finally:
                self._leave_write()
            with self._errors("finish a unit of writes"):
                conn.execute("RELEASE unit")
            self._chunk_units += 1
            return result

    def _chunk_state(self) -> tuple[int, float]:
        """(units in the open chunk, seconds since it began); (0, 0.0) when none is open."""
        with self._lock:
            if self._closed or not self._conn.in_transaction or self._chunk_units == 0:
                return 0, 0.0
            return self._chunk_units, time.monotonic() - self._chunk_started

    def _commit_chunk(self) -> None:
        """Commit the open chunk (whole units only), if any."""
        with self._lock, self._errors("commit a batch of writes"):
            if not self._closed:
                self._commit_chunk_locked()

    def write_batch(self, *, chunk: int = 64, max_delay: float = 1.0) -> WriteBatch:
        """A writer thread applying units of work in chunked transactions (see
        :class:`~sergas_tui.storage.writer.WriteBatch`); close it when done."""
        from sergas_tui.storage.writer import WriteBatch

        return WriteBatch(self, chunk=chunk, max_delay=max_delay)

    def reading(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """A connection for reads (for sibling stores): a read connection of this thread's
        own, or the writer connection inside this thread's write."""
        return self._read(action)

    def writing(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (a savepoint inside a write of this thread), on
        the writer connection (for sibling stores)."""
        return self._write(action)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            if is_corruption(err):
                raise corrupt_error(self._path, str(err)) from err
            raise StorageError(f"Could not {action} in {self._path}: {err}.") from err
