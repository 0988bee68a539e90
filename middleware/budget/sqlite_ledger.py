"""A budget ledger in a SQLite file: several processes on one machine share it.

Each ``reserve`` and ``settle`` is one ``BEGIN IMMEDIATE`` transaction, which takes the
database's write lock before reading, so two processes can never both see the same
"remaining" and both spend it. The file uses WAL mode; connections wait up to ``timeout``
seconds for the lock. What must not live here: pricing or token logic.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from middleware._sqlite import ProcessConnection
from middleware.budget.ledger import Entry, Grant, decide

__all__ = ["SQLiteLedger"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS budget_ledger (
    key TEXT PRIMARY KEY,
    lim INTEGER NOT NULL,
    spent INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0
)"""


class SQLiteLedger:
    """A :class:`~middleware.budget.ledger.Ledger` in the SQLite file at ``path``.

    Attributes:
        path: the database file (created if missing); timeout: seconds to wait for the lock.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn = ProcessConnection(self.path, timeout=timeout, schema=_SCHEMA)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for multiprocessing (reconnects)
        return (SQLiteLedger, (self.path,), {"timeout": self.timeout})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.timeout = self._conn.timeout = state["timeout"]

    def _connection(self) -> sqlite3.Connection:
        return self._conn.get()

    def reserve(self, key: str, limit: int, want: int, least: int) -> Grant:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT spent, reserved FROM budget_ledger WHERE key = ?",
                                   (key,)).fetchone()
                spent, reserved = row if row else (0, 0)
                granted = decide(limit, spent, reserved, want, least)
                conn.execute(
                    "INSERT INTO budget_ledger (key, lim, spent, reserved) VALUES (?, ?, 0, ?) "
                    "ON CONFLICT(key) DO UPDATE SET lim = excluded.lim, "
                    "reserved = reserved + excluded.reserved", (key, limit, granted))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return Grant(granted, spent, reserved)

    def settle(self, key: str, reserved: int, actual: int) -> None:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO budget_ledger (key, lim, spent, reserved) VALUES (?, 0, ?, 0) "
                    "ON CONFLICT(key) DO UPDATE SET spent = spent + excluded.spent, "
                    "reserved = MAX(0, reserved - ?)", (key, actual, reserved))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self._connection().execute(
                "SELECT key, lim, spent, reserved FROM budget_ledger ORDER BY key").fetchall()
        return [Entry(str(k), int(li), int(s), int(r)) for k, li, s, r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"
