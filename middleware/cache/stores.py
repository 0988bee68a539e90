"""Cache stores: the :class:`CacheStore` protocol, :class:`CacheStats`, and the memory,
SQLite and Redis stores.

A store maps a key to a :class:`~middleware.cache.entry.CacheEntry` with a time to live.
The memory store keeps the (immutable) entry objects in a ``cachetools.TTLCache``; SQLite
and Redis keep their JSON form. Every store's failure is a
:class:`~insightforge.errors.StoreUnavailable` (the layer turns it into a miss). What must not
live here: keys, single flight, the layer.

* **SQLite** — rows hold the entry's JSON and its expiry; expired rows are misses and are
  deleted when met; ``set`` trims the oldest rows beyond ``maxsize`` now and then. Hits and
  misses are added to a ``cache_stats`` row in the file in batches (as for Redis, below),
  so ``insightforge cache stats`` sees every process's lookups.
* **Redis** — each entry is a string key ``<prefix><key>`` with Redis' own expiry; a
  lookup is one plain ``GET``; hits and misses are counted in this process and added to the
  hash ``<prefix>stats`` in batches (every :data:`STATS_EVERY` lookups, and on ``stats()``
  and ``close()``); ``clear`` deletes by ``SCAN`` over the prefix, never ``FLUSHDB``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol, runtime_checkable

import attrs
import cachetools

from insightforge.errors import ConfigError, StoreUnavailable
from middleware.cache.entry import CacheEntry, DecodeMemo, encode
from middleware.stores import build_store, redis_server, sqlite_file

__all__ = ["STATS_EVERY", "CacheStats", "CacheStore", "MemoryCache", "RedisCache", "SQLiteCache",
           "store_from"]

STATS_EVERY = 100
"""Lookups counted locally before a Redis store adds them to the shared stats hash."""


@attrs.frozen(slots=True)
class CacheStats:
    """What ``insightforge cache stats`` prints.

    Attributes:
        entries: entries stored now; hits/misses: lookups since counting began (memory: this
        process; SQLite and Redis: every process using the store).
        size_bytes: stored size where the store knows it, else ``None``.
    """

    entries: int
    hits: int = 0
    misses: int = 0
    size_bytes: int | None = None

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


@runtime_checkable
class CacheStore(Protocol):
    """Where a cache keeps its entries. ``blocking``: calls may wait on I/O."""

    blocking: bool

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        """The live entry for ``key`` or ``None``; ``count=False`` leaves the stats alone."""
        ...

    def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None: ...

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        ...

    def stats(self) -> CacheStats: ...

    def close(self) -> None: ...


class MemoryCache:
    """Entries in this process: a ``cachetools.TTLCache`` (LRU within ``maxsize``) + a lock.

    Attributes:
        ttl: seconds an entry lives (``None``: until evicted); maxsize: entries kept.
    """

    blocking = False

    def __init__(self, ttl: float | None = 3600, maxsize: int = 1024,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ConfigError(f"maxsize must be at least 1, got {maxsize}", path="maxsize")
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: cachetools.Cache[str, CacheEntry] = (
            cachetools.LRUCache(maxsize) if ttl is None
            else cachetools.TTLCache(maxsize, ttl, timer=timer))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        with self._lock:
            entry = None
            if key in self._data:  # a miss, the common case, in one step (get() takes several)
                try:
                    entry = self._data[key]
                except KeyError:  # it expired between the two looks: a miss, as it is by now
                    entry = None
            if count:
                if entry is None:
                    self.misses += 1
                else:
                    self.hits += 1
            return entry

    def set(self, key: str, entry: CacheEntry, ttl: float | None = None) -> None:
        with self._lock:
            self._data[key] = entry

    def clear(self) -> int:
        with self._lock:
            n = len(self._data)
            self._data.clear()
            return n

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._data), self.hits, self.misses)

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryCache(ttl={self.ttl}, maxsize={self.maxsize})"


_SCHEMA = """CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cache_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1), hits INTEGER NOT NULL, misses INTEGER NOT NULL);
INSERT OR IGNORE INTO cache_stats (id, hits, misses) VALUES (1, 0, 0);"""


class SQLiteCache:
    """A :class:`CacheStore` in the SQLite file at ``path``, shared by one machine's processes.

    Attributes:
        path: the database file; maxsize: rows kept (oldest trimmed); timeout: lock wait.
    """

    blocking = True

    def __init__(self, path: str | os.PathLike[str], *, maxsize: int = 100_000,
                 timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.maxsize = maxsize
        self.timeout = timeout
        self._db = sqlite_file(self.path, timeout=timeout)
        self._db.ensure(_SCHEMA)
        self._writes = 0
        self._decode = DecodeMemo()
        self._counts = [0, 0]  # hits, misses not yet added to the file


    @property
    def executor(self) -> Executor:
        """The thread async callers run this store's calls on: its file's one thread."""
        return self._db.executor
    def __reduce__(self) -> tuple[Any, ...]:
        return (_sqlite, (self.path, self.maxsize, self.timeout))

    def _flush_counts(self) -> None:
        with self._db.lock:
            (hits, misses), self._counts = self._counts, [0, 0]
            if hits or misses:
                with self._db.failures("count cache lookups"):
                    self._db.connection("count cache lookups").execute(
                        "UPDATE cache_stats SET hits = hits + ?, misses = misses + ? "
                        "WHERE id = 1", (hits, misses))

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        with self._db.lock, self._db.failures("read the cache"):
            db = self._db.connection("read the cache")
            row = db.execute("SELECT value, expires FROM cache_entries WHERE key = ?",
                             (key,)).fetchone()
            entry = None
            if row is not None:
                if row[1] is not None and row[1] <= time.time():
                    db.execute("DELETE FROM cache_entries WHERE key = ?", (key,))
                else:
                    entry = self._decode(row[0])
            if count:
                self._counts[entry is None] += 1
                if self._counts[0] + self._counts[1] >= STATS_EVERY:
                    self._flush_counts()
            return entry

    def set(self, key: str, entry: CacheEntry, ttl: float | None = None) -> None:
        expires = None if ttl is None else time.time() + ttl
        with self._db.lock, self._db.failures("write the cache"):
            db = self._db.connection("write the cache")
            db.execute("INSERT OR REPLACE INTO cache_entries (key, value, expires, created) "
                       "VALUES (?, ?, ?, ?)", (key, encode(entry), expires, entry.created))
            self._writes += 1
            if self._writes % 100 == 0:
                db.execute("DELETE FROM cache_entries WHERE expires IS NOT NULL AND "
                           "expires <= ?", (time.time(),))
                db.execute("DELETE FROM cache_entries WHERE key IN (SELECT key FROM "
                           "cache_entries ORDER BY created DESC LIMIT -1 OFFSET ?)",
                           (self.maxsize,))

    def clear(self) -> int:
        with self._db.transaction("clear the cache") as db:
            self._counts = [0, 0]
            n = int(db.execute("DELETE FROM cache_entries").rowcount)
            db.execute("UPDATE cache_stats SET hits = 0, misses = 0 WHERE id = 1")
            return n

    def stats(self) -> CacheStats:
        with self._db.lock, self._db.failures("read the cache stats"):
            self._flush_counts()
            db = self._db.connection("read the cache stats")
            n, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM cache_entries "
                "WHERE expires IS NULL OR expires > ?", (time.time(),)).fetchone()
            hits, misses = db.execute("SELECT hits, misses FROM cache_stats").fetchone()
            return CacheStats(int(n), int(hits), int(misses), int(size))

    def close(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            self._flush_counts()
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteCache({self.path!r})"


def _sqlite(path: str, maxsize: int, timeout: float) -> SQLiteCache:
    return SQLiteCache(path, maxsize=maxsize, timeout=timeout)


class RedisCache:
    """A :class:`CacheStore` in the Redis server at ``url``, shared by many machines.

    Attributes:
        url: the server (password masked); prefix: key prefix; timeout: socket timeout (s) —
        short by default: a cache that waits long for a stalled server defeats its purpose.
    """

    blocking = True

    def __init__(self, url: str, *, prefix: str = "insightforge:cache:",
                 timeout: float = 2.0) -> None:
        self._url = url
        self.prefix = prefix
        self.timeout = timeout
        self._lock = threading.Lock()
        self._counts = [0, 0]  # hits, misses not yet added to Redis
        self._server = redis_server(url, timeout=timeout)
        self._server.on_new(self._reset_counts)
        self._decode = DecodeMemo()

    @property
    def url(self) -> str:
        return self._server.url

    def __reduce__(self) -> tuple[Any, ...]:
        return (_redis, (self._url, self.prefix, self.timeout))

    def _reset_counts(self) -> None:
        with self._lock:
            self._counts = [0, 0]  # a forked child starts its own tally

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        raw = self._server.call("read the cache", lambda c: c.get(self.prefix + key))
        entry = None if raw is None else self._decode(raw)
        if count:
            with self._lock:
                self._counts[entry is None] += 1
                due = sum(self._counts) >= STATS_EVERY
            if due:
                self._flush_counts()
        return entry

    def _flush_counts(self) -> None:
        """Add this process's hits and misses to the shared stats hash."""
        with self._lock:
            (hits, misses), self._counts = self._counts, [0, 0]
        if not hits and not misses:
            return

        def add(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(self.prefix + "stats", "hits", hits)
            pipe.hincrby(self.prefix + "stats", "misses", misses)
            pipe.execute()

        try:
            self._server.call("count cache lookups", add)
        except StoreUnavailable:  # keep the tally for the next flush
            with self._lock:
                self._counts[0] += hits
                self._counts[1] += misses
            raise

    def set(self, key: str, entry: CacheEntry, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        text = encode(entry)
        self._server.call("write the cache", lambda c: c.set(self.prefix + key, text, px=px))

    def _keys(self, client: Any) -> list[bytes]:
        stats = (self.prefix + "stats").encode()
        return [k for k in client.scan_iter(match=self.prefix + "*", count=500) if k != stats]

    def clear(self) -> int:
        def clear(client: Any) -> int:
            keys = self._keys(client)
            for i in range(0, len(keys), 500):
                client.delete(*keys[i:i + 500])
            client.delete(self.prefix + "stats")
            return len(keys)

        return int(self._server.call("clear the cache", clear))

    def stats(self) -> CacheStats:
        self._flush_counts()

        def read(client: Any) -> CacheStats:
            keys = self._keys(client)
            size = sum(int(client.strlen(k)) for k in keys)
            counts = {k.decode(): int(v)
                      for k, v in client.hgetall(self.prefix + "stats").items()}
            return CacheStats(len(keys), counts.get("hits", 0), counts.get("misses", 0), size)

        return self._server.call("read the cache stats", read)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._server.opened:
            with contextlib.suppress(StoreUnavailable):
                self._flush_counts()
        self._server.close()

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r})"


def _redis(url: str, prefix: str, timeout: float) -> RedisCache:
    return RedisCache(url, prefix=prefix, timeout=timeout)


def store_from(spec: object, ttl: float | None, maxsize: int, field: str = "store") -> CacheStore:
    """A store from a store spec (``memory``, ``sqlite:///path``, ``redis://...``) or a
    store object; a bad spec is a ``ConfigError`` at ``field``."""
    return build_store(spec, field, kind=CacheStore,  # type: ignore[type-abstract]
                       memory=lambda: MemoryCache(ttl, maxsize),
                       sqlite=lambda path: SQLiteCache(path, maxsize=maxsize), redis=RedisCache)
