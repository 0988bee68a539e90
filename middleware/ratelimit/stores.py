"""Where the rate-limit logs live: memory, SQLite (one machine), Redis (many machines).

What lives here: the :class:`LimitStore` protocol — ``put`` / ``aput`` a weighted item into
the named log and get pyrate-limiter's ``Decision`` back (admitted, or how long until it
would be) — and its three implementations, each on pyrate-limiter's own bucket
(``InMemoryBucket``, ``SQLiteBucket``, ``RedisBucket``) with the sliding-window-log
algorithm. A store never sleeps and never decides how long to wait: the layer does.

Atomicity across processes: ``RedisBucket`` checks and inserts in one Lua script;
``SQLiteBucket`` is given a lock that wraps each operation in ``BEGIN IMMEDIATE``, so
processes sharing the file serialise their check-and-insert.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pyrate_limiter import AbstractBucket, Decision, InMemoryBucket, Rate, RateItem

from insightforge.errors import ConfigError
from insightforge.secrets import mask_url
from middleware._sqlite import open_wal

__all__ = ["LimitStore", "MemoryStore", "RedisStore", "SQLiteStore", "make_store"]

#: Expired entries are removed (``leak``) every this many puts into a bucket.
LEAK_EVERY = 64


@runtime_checkable
class LimitStore(Protocol):
    """One small interface for every backend."""

    def put(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        """Add ``weight`` units at ``now_ms`` to log ``name`` if they fit under ``rate``."""
        ...

    async def aput(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        """``put`` without blocking the event loop."""
        ...

    def close(self) -> None: ...


class _BucketStore:
    """Shared part: one bucket per (name, rate), created on first use; periodic leaks."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, int, int], list[Any]] = {}  # -> [bucket, puts]
        self._lock = threading.Lock()

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:  # pragma: no cover
        raise NotImplementedError

    def _bucket(self, name: str, rate: Rate) -> list[Any]:
        key = (name, rate.limit, rate.interval)
        slot = self._buckets.get(key)
        if slot is None:
            with self._lock:
                slot = self._buckets.get(key)
                if slot is None:
                    slot = self._buckets[key] = [self._new_bucket(name, rate), 0]
        return slot

    def put(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        return self._put(self._bucket(name, rate), name, weight, now_ms)

    def _put(self, slot: list[Any], name: str, weight: int, now_ms: int) -> Decision:
        bucket: AbstractBucket = slot[0]
        slot[1] += 1
        if slot[1] % LEAK_EVERY == 0:
            bucket.leak(now_ms)
        decision = bucket.put_decision(RateItem(name, now_ms, weight))
        assert isinstance(decision, Decision), "a sync bucket was expected"
        return decision

    async def aput(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        return await asyncio.to_thread(self.put, name, rate, weight, now_ms)

    def close(self) -> None:
        with self._lock:
            buckets, self._buckets = list(self._buckets.values()), {}
        for slot in buckets:
            slot[0].close()


class MemoryStore(_BucketStore):
    """In-process logs (the default): exact, fast, shared by every thread of one process.

    ``InMemoryBucket`` assumes its log is in time order; two threads that read the clock
    in one order and reach the bucket in the other would break that, so each put is
    stamped no earlier than the bucket's newest entry (later is the safe side).
    """

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        return InMemoryBucket([rate])

    def put(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        slot = self._bucket(name, rate)
        bucket: InMemoryBucket = slot[0]
        with bucket._lock:  # re-entrant; the bucket takes it again inside
            if bucket.items and bucket.items[-1].timestamp > now_ms:
                now_ms = bucket.items[-1].timestamp
            return self._put(slot, name, weight, now_ms)

    async def aput(self, name: str, rate: Rate, weight: int, now_ms: int) -> Decision:
        return self.put(name, rate, weight, now_ms)  # no I/O: safe on the loop

    def __repr__(self) -> str:
        return "MemoryStore()"


class _ImmediateLock:
    """Re-entrant lock: a thread lock plus ``BEGIN IMMEDIATE`` on the shared connection, so
    one process at a time runs a bucket's check-and-insert on the database file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._thread_lock = threading.RLock()
        self._depth = 0

    def __enter__(self) -> _ImmediateLock:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._conn.in_transaction:
                if exc_type is None:
                    self._conn.commit()
                else:
                    self._conn.rollback()
        finally:
            self._thread_lock.release()

    # SQLiteBucket calls acquire/release through its RLock-compatible usage
    def acquire(self) -> bool:
        self.__enter__()
        return True

    def release(self) -> None:
        self.__exit__(None)


class SQLiteStore(_BucketStore):
    """Logs in one SQLite file: shared by every process on this machine.

    Attributes:
        path: the database file (created if missing).
        timeout: seconds to wait for another process's lock before failing.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        super().__init__()
        from pyrate_limiter import SQLiteBucket

        self._bucket_cls = SQLiteBucket
        self.path = Path(path)
        self.timeout = timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = open_wal(str(self.path), timeout=timeout, isolation_level="DEFERRED")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the rate-limit database {self.path}: {exc}; "
                              "pass a writable path to SQLiteStore(path)", path="store") from None
        self._db_lock = _ImmediateLock(self._conn)

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        table = "rl_" + hashlib.sha256(name.encode()).hexdigest()[:24]
        with self._db_lock:
            self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" '
                               "(name VARCHAR, item_timestamp INTEGER)")
            self._conn.execute(f'CREATE INDEX IF NOT EXISTS "idx_{table}" '
                               f'ON "{table}" (item_timestamp)')
        return self._bucket_cls([rate], self._conn, table, lock=self._db_lock)

    def close(self) -> None:
        self._buckets.clear()
        self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


class RedisStore(_BucketStore):
    """Logs in Redis sorted sets (one atomic Lua script per put): shared across machines.

    Attributes:
        url: the Redis URL (``redis://host:6379/0``); or pass ``client=`` (a sync
            ``redis.Redis``).
        prefix: key prefix, so several applications can share one Redis.
    """

    def __init__(self, url: str | None = None, *, client: Any = None,
                 prefix: str = "insightforge:ratelimit:") -> None:
        super().__init__()
        if client is None:
            if not url:
                raise ConfigError("RedisStore needs a url ('redis://localhost:6379/0') or "
                                  "client=redis.Redis(...)", path="store")
            import redis

            try:
                client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
            except ValueError as exc:  # a malformed URL: say so, never echo a password
                raise ConfigError(f"RedisStore: cannot use the URL {mask_url(url)!r}: "
                                  f"{exc}; expected redis://[:password@]host:port/db",
                                  path="store") from None
        self.client = client
        self.prefix = prefix
        self._script_hash: str | None = None
        self._label = mask_url(url) if url else type(client).__name__

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        from pyrate_limiter import RedisBucket

        if self._script_hash is None:
            self._script_hash = self.client.script_load(_redis_put_script())
        key = self.prefix + hashlib.sha256(name.encode()).hexdigest()[:32]
        return RedisBucket([rate], self.client, key, self._script_hash)

    def close(self) -> None:
        self._buckets.clear()
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self._label!r})"


_ZCOUNT_TO_NOW = "redis.call('ZCOUNT', bucket, window_start, now)"


def _redis_put_script() -> str:
    """pyrate-limiter's check-and-insert script, counting entries *ahead* of ``now`` too.

    Each process stamps its item with its own clock before the script runs, so an entry
    another process added a millisecond later may carry a score above this caller's
    ``now``; the stock script (``ZCOUNT window_start now``) would not count it, so two
    processes racing at a window's start could together pass the limit. Counting up to
    ``+inf`` closes that gap (an entry stamped ahead only makes the count stricter).
    """
    from pyrate_limiter.buckets.redis_bucket import LuaScript

    script = LuaScript.PUT_ITEM
    if _ZCOUNT_TO_NOW not in script:  # pragma: no cover - a pyrate-limiter change
        raise RuntimeError("pyrate-limiter's Redis script changed; update "
                           "middleware.ratelimit.stores._redis_put_script")
    return script.replace(_ZCOUNT_TO_NOW, "redis.call('ZCOUNT', bucket, window_start, '+inf')")


def make_store(value: str | LimitStore) -> LimitStore:
    """A store from ``"memory"``, ``"sqlite:<path>"``, a ``redis://`` URL, or a store."""
    if isinstance(value, str):
        if value == "memory":
            return MemoryStore()
        if value.startswith("sqlite:"):  # sqlite:path, sqlite:///relative, sqlite:////abs
            rest = value.removeprefix("sqlite:")
            return SQLiteStore(rest[3:] if rest.startswith("///") else rest)
        if value.startswith(("redis://", "rediss://", "unix://")):
            return RedisStore(value)
    elif isinstance(value, LimitStore):
        return value
    shown = repr(mask_url(value)) if isinstance(value, str) else type(value).__name__
    raise ConfigError("store must be 'memory', 'sqlite:<path>', a redis:// URL, or a store "
                      f"object (SQLiteStore(path), RedisStore(url)); got {shown}",
                      path="store")
