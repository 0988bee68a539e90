"""One SQLite connection per process for the file-backed stores (budget ledger, cache).

Opened lazily in WAL mode with ``synchronous=NORMAL`` and the store's schema; re-opened
after a fork (a connection must never cross processes); ``isolation_level=None`` so each
store spells its own transactions (``BEGIN IMMEDIATE``). Callers serialise use with their
own lock. What must not live here: any store's tables or queries.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Literal

__all__ = ["ProcessConnection", "open_wal"]


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
            if "locked" not in str(exc) and "busy" not in str(exc):
                conn.close()
                raise
            if time.monotonic() + delay > deadline:
                conn.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class ProcessConnection:
    """A lazily opened SQLite connection that belongs to the current process."""

    def __init__(self, path: str, *, timeout: float, schema: str) -> None:
        self.path = path
        self.timeout = timeout
        self.schema = schema
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def get(self) -> sqlite3.Connection:
        """The connection, opened (or re-opened after a fork) on demand."""
        if self._conn is None or self._pid != os.getpid():
            conn = open_wal(self.path, timeout=self.timeout)
            conn.execute(self.schema)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
