"""Budget ledgers: the shared state of a Budget, with one atomic ``reserve`` and ``settle``.

What lives here: the :class:`Ledger` protocol, its value types, and the memory, SQLite and
Redis ledgers (one file each would be three copies of the same small story). What must not:
pricing or token logic (that is :mod:`.policy`) — a ledger only moves integer units
(nano-dollars) under a key.

The one rule every implementation keeps, atomically: ``reserve`` grants ``want`` units if
``spent + reserved + want <= limit``, else whatever is left if that is at least ``least``,
else nothing. Because every grant is checked against spent *and* reserved, and a
settlement never exceeds its reservation when the estimate is an upper bound, settled
spend can never pass the limit, whatever the interleaving.

**Leases.** A reservation made with ``ttl`` is a lease: it carries an expiry, and a
reservation whose process died (SIGKILL, power cut) before settling returns to the pool
once it expires — reaped by the next ``reserve`` on its key, in every ledger. A settlement
that arrives after its lease was reaped still records the spend (it was real), without
releasing the units twice.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol, runtime_checkable

import attrs

from middleware.stores import Script, build_store, redis_server, sqlite_file

__all__ = ["Entry", "Grant", "Ledger", "MemoryLedger", "RedisLedger", "SQLiteLedger", "decide",
           "ledger_from"]


@attrs.frozen(slots=True)
class Grant:
    """What ``reserve`` gave.

    Attributes:
        granted: units reserved (0 = refused).
        spent: settled units before this reservation.
        reserved: reserved (in-flight) units before this reservation.
        lease: the reservation's lease id (with ``ttl``), for ``settle``.
    """

    granted: int
    spent: int
    reserved: int
    lease: str = attrs.field(default="", eq=False)


@attrs.frozen(slots=True)
class Entry:
    """One ledger row, for ``insightforge budget status``.

    Attributes:
        key: ``<scope>|<period>``; limit, spent, reserved: in units.
        stale: the part of ``reserved`` held by expired leases not reaped yet.
    """

    key: str
    limit: int
    spent: int
    reserved: int
    stale: int = 0

    @property
    def scope(self) -> str:
        return self.key.partition("|")[0]

    @property
    def period(self) -> str:
        return self.key.partition("|")[2]


def decide(limit: int, spent: int, reserved: int, want: int, least: int) -> int:
    """The grant rule, pure (the Lua script and the SQL transaction implement the same)."""
    available = limit - spent - reserved
    if available >= want:
        return want
    if available >= least:
        return available
    return 0


@runtime_checkable
class Ledger(Protocol):
    """Where a budget keeps spent and reserved units, per key. All methods are atomic.

    ``blocking``: calls may wait on I/O (the async drivers run them in a worker thread).
    """

    blocking: bool

    def reserve(self, key: str, limit: int, want: int, least: int, *,
                ttl: float | None = None) -> Grant:
        """Reserve up to ``want`` (at least ``least``, which is ≥ 1) units, or nothing;
        with ``ttl`` the reservation is a lease that expires after ``ttl`` seconds."""
        ...

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        """Release ``reserved`` units (its ``lease``) and record ``actual`` units as spent."""
        ...

    def entries(self) -> list[Entry]:
        """Every key this ledger holds."""
        ...

    def close(self) -> None: ...


class _LeaseIds:
    """Unique lease ids, cheaply: a random prefix per process (made again in a forked child)
    and a counter."""

    def __init__(self) -> None:
        self._restart()
        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
            os.register_at_fork(after_in_child=self._restart)

    def _restart(self) -> None:
        self._prefix, self._count = uuid.uuid4().hex[:16], itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):x}"


_lease_id = _LeaseIds()


class MemoryLedger:
    """A ledger in this process (threads and tasks share it; processes do not)."""

    blocking = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rows: dict[str, list[int]] = {}  # key -> [limit, spent, reserved]
        self._leases: dict[str, dict[str, tuple[int, float]]] = {}  # key -> id -> (units, exp)
        self._soonest: dict[str, float] = {}  # key -> no lease of it expires before this

    def _reap(self, key: str, now: float) -> None:
        """Return the expired leases of ``key`` to the pool (called only when one may have
        expired: ``now`` is past the soonest expiry noted)."""
        soonest, leases = math.inf, self._leases.get(key, {})
        for lease, (units, expires) in list(leases.items()):
            if expires <= now:
                del leases[lease]
                self._rows[key][2] = max(0, self._rows[key][2] - units)
            else:
                soonest = min(soonest, expires)
        self._soonest[key] = soonest

    def reserve(self, key: str, limit: int, want: int, least: int, *,
                ttl: float | None = None) -> Grant:
        with self._lock:
            now = self._clock()
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = [limit, 0, 0]
            row[0] = limit
            if now >= self._soonest.get(key, math.inf):  # a lease may have expired
                self._reap(key, now)
            granted = decide(limit, row[1], row[2], want, least)
            lease = _lease_id() if ttl is not None and granted else ""
            if lease:
                expires = now + float(ttl or 0)
                self._leases.setdefault(key, {})[lease] = (granted, expires)
                self._soonest[key] = min(self._soonest.get(key, expires), expires)
            grant = Grant(granted, row[1], row[2], lease)
            row[2] += granted
            return grant

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = [0, 0, 0]
            leases = self._leases.get(key) if lease else None
            if lease and (leases is None or leases.pop(lease, None) is None):
                reserved = 0  # reaped already: its units went back to the pool then
            row[2] = max(0, row[2] - reserved)
            row[1] += actual

    def entries(self) -> list[Entry]:
        with self._lock:
            now = self._clock()
            return [Entry(k, row[0], row[1], row[2],
                          sum(u for u, exp in self._leases.get(k, {}).values() if exp <= now))
                    for k, row in sorted(self._rows.items())]

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "MemoryLedger()"


_SCHEMA = """CREATE TABLE IF NOT EXISTS budget_ledger (
    key TEXT PRIMARY KEY, lim INTEGER NOT NULL, spent INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS budget_leases (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, units INTEGER NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS budget_leases_by_key ON budget_leases (key, expires);"""


class SQLiteLedger:
    """A ledger in a SQLite file: several processes on one machine share it. Each
    ``reserve`` and ``settle`` is one ``BEGIN IMMEDIATE`` transaction, which takes the write
    lock before reading, so two processes never both spend the same "remaining".

    Attributes:
        path: the database file (created if missing); timeout: seconds to wait for the lock.
    """

    blocking = True

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._clock = clock
        self._db = sqlite_file(self.path, timeout=timeout)
        self._db.ensure(_SCHEMA)


    @property
    def executor(self) -> Executor:
        """The thread async callers run this store's calls on: its file's one thread."""
        return self._db.executor
    def __reduce__(self) -> tuple[Any, ...]:  # picklable for multiprocessing (reconnects)
        return (SQLiteLedger, (self.path,), {"timeout": self.timeout})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.timeout = state["timeout"]

    def reserve(self, key: str, limit: int, want: int, least: int, *,
                ttl: float | None = None) -> Grant:
        now = self._clock()
        with self._db.transaction("reserve budget") as db:
            expired = db.execute("SELECT COALESCE(SUM(units), 0) FROM budget_leases "
                                 "WHERE key = ? AND expires <= ?", (key, now)).fetchone()[0]
            if expired:
                db.execute("DELETE FROM budget_leases WHERE key = ? AND expires <= ?",
                           (key, now))
            row = db.execute("SELECT spent, MAX(0, reserved - ?) FROM budget_ledger "
                             "WHERE key = ?", (expired, key)).fetchone()
            spent, reserved = row if row else (0, 0)
            granted = decide(limit, spent, reserved, want, least)
            lease = _lease_id() if ttl is not None and granted else ""
            db.execute("INSERT INTO budget_ledger (key, lim, spent, reserved) VALUES (?, ?, 0, ?)"
                       " ON CONFLICT(key) DO UPDATE SET lim = excluded.lim, "
                       "reserved = ?", (key, limit, granted, reserved + granted))
            if lease:
                db.execute("INSERT INTO budget_leases (id, key, units, expires) "
                           "VALUES (?, ?, ?, ?)", (lease, key, granted, now + float(ttl or 0)))
            return Grant(granted, spent, reserved, lease)

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        with self._db.transaction("settle budget") as db:
            if lease and db.execute("DELETE FROM budget_leases WHERE id = ?",
                                    (lease,)).rowcount == 0:
                reserved = 0  # reaped already
            db.execute("INSERT INTO budget_ledger (key, lim, spent, reserved) VALUES (?, 0, ?, 0)"
                       " ON CONFLICT(key) DO UPDATE SET spent = spent + excluded.spent, "
                       "reserved = MAX(0, reserved - ?)", (key, actual, reserved))

    def entries(self) -> list[Entry]:
        now = self._clock()
        with self._db.lock, self._db.failures("read budget"):
            db = self._db.connection("read budget")
            rows = db.execute(
                "SELECT l.key, l.lim, l.spent, l.reserved, COALESCE((SELECT SUM(units) FROM "
                "budget_leases s WHERE s.key = l.key AND s.expires <= ?), 0) "
                "FROM budget_ledger l ORDER BY l.key", (now,)).fetchall()
        return [Entry(str(k), int(li), int(s), int(r), int(st)) for k, li, s, r, st in rows]

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"


_RESERVE = Script("""
local now = tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
local freed = 0
for _, id in ipairs(expired) do
  freed = freed + tonumber(redis.call('HGET', KEYS[4], id) or '0')
  redis.call('HDEL', KEYS[4], id)
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local row = redis.call('HMGET', KEYS[1], 'spent', 'reserved', 'limit')
local spent = tonumber(row[1] or '0')
local reserved = math.max(0, tonumber(row[2] or '0') - freed)
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local least = tonumber(ARGV[3])
local available = limit - spent - reserved
local grant = 0
if available >= want then grant = want elseif available >= least then grant = available end
redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'reserved', string.format('%d', reserved + grant))
redis.call('SADD', KEYS[2], KEYS[1])
if grant > 0 and ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[5]), ARGV[6])
  redis.call('HSET', KEYS[4], ARGV[6], string.format('%d', grant))
end
return {grant, spent, reserved}
""")

_SETTLE = Script("""
local reserved = tonumber(ARGV[1])
if ARGV[3] ~= '' then
  if redis.call('ZREM', KEYS[3], ARGV[3]) == 0 then reserved = 0 end
  redis.call('HDEL', KEYS[4], ARGV[3])
end
local left = redis.call('HINCRBY', KEYS[1], 'reserved', -reserved)
if left < 0 then redis.call('HSET', KEYS[1], 'reserved', 0) end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
""")


class RedisLedger:
    """A ledger in Redis: many processes on many machines share it. ``reserve`` and
    ``settle`` are Lua scripts, atomic inside Redis. Keys: ``<prefix><scope>|<period>``
    hashes (``limit``/``spent``/``reserved``), their leases in ``...:leases`` (sorted by
    expiry) and ``...:lease_units``, and a set ``<prefix>keys`` naming the hashes.

    Attributes:
        url: ``redis://[:password@]host:port/db`` (password masked); prefix: key prefix.
        timeout: socket timeout in seconds (always finite).
    """

    blocking = True

    def __init__(self, url: str, *, prefix: str = "insightforge:budget:",
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._url = url
        self.prefix = prefix
        self.timeout = timeout
        self._clock = clock
        self._server = redis_server(url, timeout=timeout)

    @property
    def url(self) -> str:
        return self._server.url

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for multiprocessing (reconnects)
        return (_rebuild, (self._url, self.prefix, self.timeout))

    def _keys(self, key: str) -> tuple[str, str, str, str]:
        row = self.prefix + key
        return row, self.prefix + "keys", row + ":leases", row + ":lease_units"

    def _check_persistence(self) -> None:
        """Warn, once per process and server, when the server keeps the spend only in
        memory: a restart would forget it, and the budget would start again from zero."""
        if self._server.url in _checked:
            return
        _checked.add(self._server.url)
        try:
            def read(client: Any) -> tuple[Any, Any]:
                return client.info("persistence"), client.config_get("save")

            info, save = self._server.call("check persistence", read)
        except Exception:  # CONFIG may be forbidden (ACL, managed Redis): nothing to say
            return
        if not int(info.get("aof_enabled", 0)) and not (save or {}).get("save"):
            message = (f"the budget ledger at {self.url} is in a Redis with no persistence "
                       "(no append-only file, no RDB save schedule): a restart would forget "
                       "the spend and the budget would start again from zero; set "
                       "`appendonly yes` (or a `save` schedule) on that server")
            _log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def reserve(self, key: str, limit: int, want: int, least: int, *,
                ttl: float | None = None) -> Grant:
        self._check_persistence()
        now = self._clock()
        lease = _lease_id() if ttl is not None else ""
        granted, spent, reserved = self._server.script(
            _RESERVE, self._keys(key), (limit, want, least, now, now + float(ttl or 0), lease),
            "reserve budget")
        return Grant(int(granted), int(spent), int(reserved), lease if int(granted) else "")

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        self._server.script(_SETTLE, self._keys(key), (reserved, actual, lease),
                            "settle budget")

    def entries(self) -> list[Entry]:
        now = self._clock()

        def read(client: Any) -> list[Entry]:
            out = []
            for raw in sorted(client.smembers(self.prefix + "keys")):
                name = raw.decode()
                row = {k.decode(): int(v) for k, v in client.hgetall(name).items()}
                stale_ids = client.zrangebyscore(name + ":leases", "-inf", now)
                stale = sum(int(v or 0) for v in client.hmget(name + ":lease_units",
                                                               stale_ids)) if stale_ids else 0
                out.append(Entry(name[len(self.prefix):], row.get("limit", 0),
                                 row.get("spent", 0), row.get("reserved", 0), stale))
            return out

        return self._server.call("read budget", read)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._server.close()

    def __repr__(self) -> str:
        return f"RedisLedger({self.url!r})"


_checked: set[str] = set()
_log = logging.getLogger("insightforge.budget")


def _rebuild(url: str, prefix: str, timeout: float) -> RedisLedger:
    return RedisLedger(url, prefix=prefix, timeout=timeout)


def ledger_from(spec: object, field: str = "store") -> Ledger:
    """A ledger from a store spec (``memory``, ``sqlite:///path``, ``redis://...``) or a
    ledger object; a bad spec is a ``ConfigError`` at ``field``."""
    return build_store(spec, field, kind=Ledger, memory=MemoryLedger,  # type: ignore[type-abstract]
                       sqlite=SQLiteLedger, redis=RedisLedger)
