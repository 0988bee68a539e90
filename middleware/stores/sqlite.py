"""One SQLite helper for every file-backed store (budget ledger, cache, rate limit, keys).

:func:`sqlite_file` gives the process's one :class:`SQLiteFile` for a path: a connection
opened lazily in WAL mode with ``synchronous=NORMAL``, re-opened after a fork (a connection
never crosses processes), guarded by one re-entrant lock that every store on the file
shares. :meth:`SQLiteFile.transaction` is ``BEGIN IMMEDIATE`` ... ``COMMIT``, so the
check-and-update of a reservation or a rate-limit log is atomic across processes. From async
code the stores' calls on one file run on that file's one thread (:attr:`SQLiteFile.executor`):
they take the lock in turn anyway, and one thread takes them in turn without waking — and
switching the GIL among — a pool of threads that would wait on each other.

Failures are typed and truthful: every ``sqlite3`` or OS error leaves as
:class:`~insightforge.errors.StoreUnavailable` with SQLite's own words (``database or disk is
full``), never masked by a failed rollback (SQLite rolls a full-disk transaction back itself,
and a ``ROLLBACK`` then fails with "no transaction is active"). After an error the
connection is dropped, so a file that was read-only, locked away or on a full disk works
again by itself once the cause is gone. What must not live here: any store's tables.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from insightforge.errors import StoreUnavailable
from insightforge.kit.lane import Lane

__all__ = ["SQLiteFile", "open_wal", "sqlite_file"]

IsolationLevel = Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None


def open_wal(path: str, *, timeout: float, isolation_level: IsolationLevel = None,
             ) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=NORMAL``.

    Switching a file to WAL needs a moment of exclusive access, and SQLite may answer
    "database is locked" at once — without waiting ``timeout`` — when another process is
    opening or writing the same file. That is retried here until ``timeout``, so several
    processes may open one store at the same instant.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=isolation_level,
                           check_same_thread=False)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) \
                    or time.monotonic() + delay > deadline:
                conn.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class SQLiteFile:
    """The process's connection to one SQLite file (see the module docstring).

    Attributes:
        path: the file. timeout: seconds to wait for another process's lock.
        lock: held while using the connection; re-entrant, shared by every store on the file.
    """

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._schemas: list[str] = []
        self._executor: tuple[int, Lane] | None = None

    @property
    def shown(self) -> str:
        return f"sqlite:///{self.path}"

    @property
    def executor(self) -> Lane:
        """The one thread that runs this file's store calls for async code (made on first
        use, and again in a forked child, which has no threads)."""
        made = self._executor
        if made is not None and made[0] == os.getpid():
            return made[1]
        with _files_lock:
            if self._executor is None or self._executor[0] != os.getpid():
                name = f"insightforge-sqlite {os.path.basename(self.path)}"
                self._executor = (os.getpid(), Lane(f"{name}_0"))
            return self._executor[1]

    def ensure(self, schema: str) -> None:
        """Run ``schema`` (``CREATE TABLE IF NOT EXISTS``...) whenever the file is opened."""
        with self.lock:
            if schema not in self._schemas:
                self._schemas.append(schema)
                if self._conn is not None and self._pid == os.getpid():
                    self._conn.executescript(schema)

    def connection(self, operation: str = "open") -> sqlite3.Connection:
        """The connection, opened (or re-opened after a fork or an error) on demand."""
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        with self.lock, self.failures(operation):
            if self._conn is None or self._pid != os.getpid():
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                conn = open_wal(self.path, timeout=self.timeout)
                for schema in self._schemas:
                    conn.executescript(schema)
                self._conn, self._pid = conn, os.getpid()
            return self._conn

    @contextlib.contextmanager
    def failures(self, operation: str) -> Iterator[None]:
        """Map every SQLite or OS error inside to ``StoreUnavailable``; drop the connection."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            self._drop()
            raise StoreUnavailable(self.shown, operation=operation,
                                   reason=_reason(exc)) from None

    @contextlib.contextmanager
    def transaction(self, operation: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the lock; rolled back on any failure."""
        with self.lock, self.failures(operation):
            conn = self.connection(operation)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _drop(self) -> None:
        with self.lock:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def close(self) -> None:
        """Close the connection (the next use opens it again)."""
        self._drop()

    def __repr__(self) -> str:
        return f"SQLiteFile({self.path!r})"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "sqlite_errorname", None)
    return f"{text} ({code})" if code and code not in text else text


_files: dict[str, SQLiteFile] = {}
_files_lock = threading.Lock()


def sqlite_file(path: str | os.PathLike[str], *, timeout: float = 30.0) -> SQLiteFile:
    """The process's :class:`SQLiteFile` for ``path`` (one per file, shared by all stores)."""
    key = os.path.abspath(os.fspath(path))
    with _files_lock:
        found = _files.get(key)
        if found is None:
            found = _files[key] = SQLiteFile(os.fspath(path), timeout=timeout)
        else:
            found.timeout = max(found.timeout, timeout)
        return found
