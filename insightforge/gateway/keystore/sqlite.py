"""Virtual keys in a SQLite file (several gateway workers on one machine).

One table, ``gateway_keys(id PRIMARY KEY, digest UNIQUE, created, record JSON)``; the
file is the store subsystem's per-process :func:`middleware.stores.sqlite_file` (WAL,
re-opened after a fork or an error; failures are ``StoreUnavailable``). What must not live
here: key making or checking.
"""

from __future__ import annotations

import os

from insightforge.gateway.keystore import KeyRecord
from middleware.stores import sqlite_file

__all__ = ["SQLiteKeyStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS gateway_keys (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    record TEXT NOT NULL)"""


class SQLiteKeyStore:
    """A :class:`~insightforge.gateway.keystore.KeyStore` in the file at ``path``."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        self._db = sqlite_file(self.path, timeout=timeout)
        self._db.ensure(_SCHEMA)

    def add(self, record: KeyRecord) -> None:
        with self._db.transaction("add a gateway key") as conn:
            conn.execute("INSERT INTO gateway_keys VALUES (?, ?, ?, ?)",
                         (record.id, record.digest, record.created, record.to_json()))

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        with self._db.transaction("change a gateway key") as conn:
            conn.execute("UPDATE gateway_keys SET digest = ?, record = ? WHERE id = ?",
                         (new.digest, new.to_json(), old.id))

    def _query(self, sql: str, *args: str) -> list[tuple[str]]:
        with self._db.lock, self._db.failures("read the gateway keys"):
            return self._db.connection("read the gateway keys").execute(sql, args).fetchall()

    def _one(self, sql: str, arg: str) -> KeyRecord | None:
        rows = self._query(sql, arg)
        return KeyRecord.from_json(rows[0][0]) if rows else None

    def by_digest(self, digest: str) -> KeyRecord | None:
        return self._one("SELECT record FROM gateway_keys WHERE digest = ?", digest)

    def get(self, id: str) -> KeyRecord | None:
        return self._one("SELECT record FROM gateway_keys WHERE id = ?", id)

    def records(self) -> list[KeyRecord]:
        rows = self._query("SELECT record FROM gateway_keys ORDER BY created")
        return [KeyRecord.from_json(row[0]) for row in rows]

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({self.path!r})"
