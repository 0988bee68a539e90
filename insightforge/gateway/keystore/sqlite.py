"""Virtual keys in a SQLite file (several gateway workers on one machine).

One table, ``gateway_keys(id PRIMARY KEY, digest UNIQUE, created, record JSON)``; the
connection is the per-process helper :class:`middleware._sqlite.ProcessConnection` (WAL,
re-opened after a fork). What must not live here: key making or checking.
"""

from __future__ import annotations

import os
import threading

from insightforge.gateway.keystore import KeyRecord
from middleware._sqlite import ProcessConnection

__all__ = ["SQLiteKeyStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS gateway_keys (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    record TEXT NOT NULL
)"""


class SQLiteKeyStore:
    """A :class:`~insightforge.gateway.keystore.KeyStore` in the file at ``path``."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn = ProcessConnection(self.path, timeout=timeout, schema=_SCHEMA)

    def add(self, record: KeyRecord) -> None:
        with self._lock:
            conn = self._conn.get()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO gateway_keys VALUES (?, ?, ?, ?)",
                             (record.id, record.digest, record.created, record.to_json()))

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        with self._lock:
            conn = self._conn.get()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE gateway_keys SET digest = ?, record = ? WHERE id = ?",
                             (new.digest, new.to_json(), old.id))

    def _one(self, sql: str, arg: str) -> KeyRecord | None:
        with self._lock:
            row = self._conn.get().execute(sql, (arg,)).fetchone()
        return None if row is None else KeyRecord.from_json(row[0])

    def by_digest(self, digest: str) -> KeyRecord | None:
        return self._one("SELECT record FROM gateway_keys WHERE digest = ?", digest)

    def get(self, id: str) -> KeyRecord | None:
        return self._one("SELECT record FROM gateway_keys WHERE id = ?", id)

    def records(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._conn.get().execute(
                "SELECT record FROM gateway_keys ORDER BY created").fetchall()
        return [KeyRecord.from_json(row[0]) for row in rows]

    def ping(self) -> None:
        with self._lock:
            self._conn.get().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({self.path!r})"
