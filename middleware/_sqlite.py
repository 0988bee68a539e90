"""One SQLite connection per process for the file-backed stores (budget ledger, cache).

Opened lazily in WAL mode with ``synchronous=NORMAL`` and the store's schema; re-opened
after a fork (a connection must never cross processes); ``isolation_level=None`` so each
store spells its own transactions (``BEGIN IMMEDIATE``). Callers serialise use with their
own lock. What must not live here: any store's tables or queries.
"""

from __future__ import annotations

import os
import sqlite3

__all__ = ["ProcessConnection"]


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
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(self.schema)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
