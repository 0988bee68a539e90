"""A cache store in a SQLite file, shared by the processes of one machine.

Rows hold the entry's JSON and its expiry; expired rows are misses and are deleted when
met, and ``set`` trims the oldest rows beyond ``maxsize`` now and then. Hits and misses are
counted per process. What must not live here: keys, single flight.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

from middleware._sqlite import ProcessConnection
from middleware.cache.entry import CacheEntry, DecodeMemo, encode
from middleware.cache.stores import CacheStats

__all__ = ["SQLiteCache"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires REAL,
    created REAL NOT NULL
)"""


class SQLiteCache:
    """A :class:`~middleware.cache.stores.CacheStore` in the SQLite file at ``path``.

    Attributes:
        path: the database file; maxsize: rows kept (oldest trimmed); timeout: lock wait.
    """

    def __init__(self, path: str | os.PathLike[str], *, maxsize: int = 100_000,
                 timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.maxsize = maxsize
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn = ProcessConnection(self.path, timeout=timeout, schema=_SCHEMA)
        self._writes = 0
        self._decode = DecodeMemo()
        self.hits = 0
        self.misses = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.path, self.maxsize, self.timeout))

    def _db(self) -> sqlite3.Connection:
        return self._conn.get()

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        with self._lock:
            row = self._db().execute("SELECT value, expires FROM cache_entries WHERE key = ?",
                                     (key,)).fetchone()
            entry = None
            if row is not None:
                if row[1] is not None and row[1] <= time.time():
                    self._db().execute("DELETE FROM cache_entries WHERE key = ?", (key,))
                else:
                    entry = self._decode(row[0])
            if not count:
                pass
            elif entry is None:
                self.misses += 1
            else:
                self.hits += 1
            return entry

    def set(self, key: str, entry: CacheEntry, ttl: float | None = None) -> None:
        expires = None if ttl is None else time.time() + ttl
        with self._lock:
            db = self._db()
            db.execute("INSERT OR REPLACE INTO cache_entries (key, value, expires, created) "
                       "VALUES (?, ?, ?, ?)", (key, encode(entry), expires, entry.created))
            self._writes += 1
            if self._writes % 100 == 0:
                self._trim(db)

    def _trim(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM cache_entries WHERE expires IS NOT NULL AND expires <= ?",
                   (time.time(),))
        db.execute("DELETE FROM cache_entries WHERE key IN (SELECT key FROM cache_entries "
                   "ORDER BY created DESC LIMIT -1 OFFSET ?)", (self.maxsize,))

    def clear(self) -> int:
        with self._lock:
            return int(self._db().execute("DELETE FROM cache_entries").rowcount)

    def stats(self) -> CacheStats:
        with self._lock:
            n, size = self._db().execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM cache_entries "
                "WHERE expires IS NULL OR expires > ?", (time.time(),)).fetchone()
            return CacheStats(int(n), self.hits, self.misses, int(size))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteCache({self.path!r})"


def _rebuild(path: str, maxsize: int, timeout: float) -> SQLiteCache:
    return SQLiteCache(path, maxsize=maxsize, timeout=timeout)
