"""A budget ledger in Redis: many processes on many machines share it.

``reserve`` and ``settle`` are Lua scripts, so each runs atomically inside Redis: no other
client can read or write the key between the check and the update. Amounts are integer
nano-dollars (exact in Lua's doubles up to $9,007,199). Keys: ``<prefix><scope>|<period>``
hashes with ``limit``/``spent``/``reserved`` fields, plus a set ``<prefix>keys`` naming
them for ``insightforge budget status``. The URL's password never appears in a repr.
"""

from __future__ import annotations

import hashlib
from typing import Any

from insightforge.secrets import mask_url, scrub
from middleware._redis import ProcessRedis
from middleware.budget.ledger import Entry, Grant

__all__ = ["RedisLedger"]

_RESERVE = """
local row = redis.call('HMGET', KEYS[1], 'spent', 'reserved', 'limit')
local spent = tonumber(row[1] or '0')
local reserved = tonumber(row[2] or '0')
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local least = tonumber(ARGV[3])
local available = limit - spent - reserved
local grant = 0
if available >= want then grant = want elseif available >= least then grant = available end
if row[3] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'limit', ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1])
end
if grant > 0 then redis.call('HINCRBY', KEYS[1], 'reserved', string.format('%d', grant)) end
return {grant, spent, reserved}
"""

_SETTLE = """
local left = redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
if left < 0 then redis.call('HSET', KEYS[1], 'reserved', 0) end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""

_RESERVE_SHA = hashlib.sha1(_RESERVE.encode()).hexdigest()
_SETTLE_SHA = hashlib.sha1(_SETTLE.encode()).hexdigest()


class RedisLedger:
    """A :class:`~middleware.budget.ledger.Ledger` in the Redis server at ``url``.

    Attributes:
        url: ``redis://[:password@]host:port/db``; prefix: key prefix (one per application).
        timeout: socket timeout in seconds (always finite).
    """

    def __init__(self, url: str, *, prefix: str = "insightforge:budget:",
                 timeout: float = 5.0) -> None:
        self._url = url
        self.prefix = prefix
        self.timeout = timeout
        self._conn = ProcessRedis(url, timeout=timeout)

    @property
    def url(self) -> str:
        """The URL with any password masked."""
        return mask_url(self._url)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for multiprocessing (reconnects)
        return (_rebuild, (self._url, self.prefix, self.timeout))

    def _redis(self) -> Any:
        return self._conn.get()

    def _run(self, script: str, sha: str, key: str, *args: int) -> Any:
        """One ``EVALSHA`` round trip (the script is loaded once if the server lacks it)."""
        from redis.exceptions import NoScriptError

        keys = (self.prefix + key, self.prefix + "keys")
        try:
            client = self._redis()
            try:
                return client.evalsha(sha, 2, *keys, *args)
            except NoScriptError:  # a new or restarted server: load it, once
                client.script_load(script)
                return client.evalsha(sha, 2, *keys, *args)
        except Exception as exc:  # connection errors: never a password in the message
            raise ConnectionError(f"Budget ledger at {self.url} failed: "
                                  f"{scrub(str(exc))}") from None

    def reserve(self, key: str, limit: int, want: int, least: int) -> Grant:
        granted, spent, reserved = self._run(_RESERVE, _RESERVE_SHA, key, limit, want, least)
        return Grant(int(granted), int(spent), int(reserved))

    def settle(self, key: str, reserved: int, actual: int) -> None:
        self._run(_SETTLE, _SETTLE_SHA, key, -reserved, actual)

    def entries(self) -> list[Entry]:
        client = self._redis()
        out = []
        for raw in sorted(client.smembers(self.prefix + "keys")):
            name = raw.decode()
            row = {k.decode(): int(v) for k, v in client.hgetall(name).items()}
            out.append(Entry(name[len(self.prefix):], row.get("limit", 0), row.get("spent", 0),
                             row.get("reserved", 0)))
        return out

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"RedisLedger({self.url!r})"


def _rebuild(url: str, prefix: str, timeout: float) -> RedisLedger:
    return RedisLedger(url, prefix=prefix, timeout=timeout)
