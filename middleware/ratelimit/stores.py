"""Where the rate-limit logs live: memory, SQLite (one machine), Redis (many machines).

What lives here: the :class:`LimitStore` protocol — ``put`` a weighted item into the named
log and get pyrate-limiter's ``Decision`` back (admitted, or how long until it would be) —
and its three implementations, each on pyrate-limiter's own bucket (``InMemoryBucket``,
``SQLiteBucket``, ``RedisBucket``) with the sliding-window-log algorithm, and each SQLite or
Redis one on the store subsystem's per-process helpers. A store never sleeps and never
decides how long to wait: the layer does. Failures leave as
:class:`~insightforge.errors.StoreUnavailable`.

Atomicity across processes: ``RedisBucket`` checks and inserts in one Lua script (loaded
again by itself after a Redis restart); ``SQLiteBucket`` is given a lock that wraps each
operation in ``BEGIN IMMEDIATE``, so processes sharing the file serialise their
check-and-insert.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pyrate_limiter import AbstractBucket, Decision, InMemoryBucket, Rate, RateItem

from middleware.stores import (
    Script,
    SQLiteFile,
    build_store,
    parse_store,
    redis_server,
    sqlite_file,
)

__all__ = ["LimitStore", "MemoryStore", "RedisStore", "SQLiteStore", "make_store"]

#: Expired entries are removed (``leak``) every this many puts into a bucket.
LEAK_EVERY = 64
Clock = Callable[[], int]
"""Now, in whole milliseconds."""


@runtime_checkable
class LimitStore(Protocol):
    """One small interface for every backend. ``blocking``: ``put`` may wait on I/O."""

    blocking: bool

    def put(self, name: str, rate: Rate, weight: int, clock: Clock) -> Decision:
        """Add ``weight`` units to log ``name`` if they fit under ``rate``, stamped with
        ``clock()`` (milliseconds) read at the last moment — after any connection was
        made — so a slow first connect never stamps an admission in the past."""
        ...

    def close(self) -> None: ...


class _BucketStore:
    """Shared part: one bucket per (name, rate), created on first use; periodic leaks."""

    blocking = True

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

    def put(self, name: str, rate: Rate, weight: int, clock: Clock) -> Decision:
        slot = self._bucket(name, rate)
        return self._put(slot, name, weight, clock())

    def _put(self, slot: list[Any], name: str, weight: int, now_ms: int) -> Decision:
        bucket: AbstractBucket = slot[0]
        slot[1] += 1
        if slot[1] % LEAK_EVERY == 0:
            bucket.leak(now_ms)
        decision = bucket.put_decision(RateItem(name, now_ms, weight))
        assert isinstance(decision, Decision), "a sync bucket was expected"
        return decision

    def close(self) -> None:
        with self._lock:
            self._buckets.clear()


class MemoryStore(_BucketStore):
    """In-process logs (the default): exact, fast, shared by every thread of one process.

    ``InMemoryBucket`` assumes its log is in time order; two threads that read the clock
    in one order and reach the bucket in the other would break that, so each put is
    stamped no earlier than the bucket's newest entry (later is the safe side).
    """

    blocking = False

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        return InMemoryBucket([rate])

    def put(self, name: str, rate: Rate, weight: int, clock: Clock) -> Decision:
        slot = self._bucket(name, rate)
        bucket: InMemoryBucket = slot[0]
        with bucket._lock:  # re-entrant; the bucket takes it again inside
            now_ms = clock()
            if bucket.items and bucket.items[-1].timestamp > now_ms:
                now_ms = bucket.items[-1].timestamp
            return self._put(slot, name, weight, now_ms)

    def __repr__(self) -> str:
        return "MemoryStore()"


class _ImmediateLock:
    """Re-entrant: the file's lock plus ``BEGIN IMMEDIATE`` on its connection, so one
    process at a time runs a bucket's check-and-insert on the database file."""

    def __init__(self, db: SQLiteFile) -> None:
        self._db = db
        self._depth = 0

    def __enter__(self) -> _ImmediateLock:
        self._db.lock.acquire()
        if self._depth == 0:
            try:
                self._db.connection("rate-limit").execute("BEGIN IMMEDIATE")
            except BaseException:
                self._db.lock.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._depth -= 1
        try:
            conn = self._db.connection("rate-limit")
            if self._depth == 0 and conn.in_transaction:
                conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._db.lock.release()

    def acquire(self) -> bool:  # SQLiteBucket uses the lock as an RLock too
        self.__enter__()
        return True

    def release(self) -> None:
        self.__exit__(None)


class SQLiteStore(_BucketStore):
    """Logs in one SQLite file: shared by every process on this machine.

    Attributes:
        path: the database file (created if missing, with its folder).
        timeout: seconds to wait for another process's lock before failing.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.timeout = timeout
        self._db = sqlite_file(self.path, timeout=timeout)
        self._db_lock = _ImmediateLock(self._db)


    @property
    def executor(self) -> Executor:
        """The thread async callers run this store's calls on: its file's one thread."""
        return self._db.executor
    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        from pyrate_limiter import SQLiteBucket

        table = "rl_" + hashlib.sha256(name.encode()).hexdigest()[:24]
        with self._db_lock:
            conn = self._db.connection("rate-limit")
            conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" '
                         "(name VARCHAR, item_timestamp INTEGER)")
            conn.execute(f'CREATE INDEX IF NOT EXISTS "idx_{table}" '
                         f'ON "{table}" (item_timestamp)')
        return SQLiteBucket([rate], conn, table, lock=self._db_lock)

    def put(self, name: str, rate: Rate, weight: int, clock: Clock) -> Decision:
        with self._db.failures("take from the rate limit"):
            slot = self._bucket(name, rate)
            if slot[0].conn is not self._db.connection("rate-limit"):  # re-opened since
                slot[0] = self._new_bucket(name, rate)
            return self._put(slot, name, weight, clock())

    def close(self) -> None:
        super().close()
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


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


class _Client:
    """What ``RedisBucket`` calls ``redis``: the server's client, with ``evalsha`` loading
    the script again when the server lost it (a restart), so the limiter recovers."""

    def __init__(self, store: RedisStore, script: Script) -> None:
        self._store = store
        self._script = script

    def evalsha(self, sha: str, numkeys: int, *rest: Any) -> Any:
        keys, args = tuple(rest[:numkeys]), tuple(rest[numkeys:])
        return self._store._server.script(self._script, keys, args, "take from the rate limit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store._server.client(), name)


class RedisStore(_BucketStore):
    """Logs in Redis sorted sets (one atomic Lua script per put): shared across machines.

    Attributes:
        url: the Redis URL (``redis://host:6379/0``), password masked in every repr.
        prefix: key prefix, so several applications can share one Redis.
        timeout: socket timeout in seconds (always finite).
    """

    def __init__(self, url: str, *, prefix: str = "insightforge:ratelimit:",
                 timeout: float = 5.0) -> None:
        super().__init__()
        parse_store(url)  # a malformed URL is a ConfigError now, password masked
        self._server = redis_server(url, timeout=timeout)
        self.prefix = prefix
        self._script: Script | None = None

    @property
    def url(self) -> str:
        return self._server.url

    def _new_bucket(self, name: str, rate: Rate) -> AbstractBucket:
        from pyrate_limiter import RedisBucket

        if self._script is None:
            self._script = Script(_redis_put_script())
        key = self.prefix + hashlib.sha256(name.encode()).hexdigest()[:32]
        client: Any = _Client(self, self._script)
        return RedisBucket([rate], client, key, self._script.sha)

    def put(self, name: str, rate: Rate, weight: int, clock: Clock) -> Decision:
        with self._server.failures("take from the rate limit"):
            slot = self._bucket(name, rate)
            self._server.client()  # made (and redis-py imported) before the stamp is read
            return self._put(slot, name, weight, clock())

    def close(self) -> None:
        super().close()
        self._server.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"


def make_store(value: Any, field: str = "store") -> LimitStore:
    """A store from a store spec (``memory``, ``sqlite:///path``, ``redis://...``) or a
    store object; a bad spec is a ``ConfigError`` at ``field``."""
    return build_store(value, field, kind=LimitStore,  # type: ignore[type-abstract]
                       memory=MemoryStore, sqlite=SQLiteStore, redis=RedisStore)
