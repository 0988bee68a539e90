"""A budget ledger in Redis: many processes on many machines share it.

``reserve`` and ``settle`` are Lua scripts, so each runs atomically inside Redis: no other
client can read or write the key between the check and the update. Amounts are integer
nano-dollars (exact in Lua's doubles up to $9,007,199). Keys: ``<prefix><scope>|<period>``
hashes with ``limit``/``spent``/``reserved`` fields, plus a set ``<prefix>keys`` naming
them for ``insightforge budget status``. The URL's password never appears in a repr.
"""

from __future__ import annotations

import os
from typing import Any

from insightforge.secrets import scrub
from middleware.budget.ledger import Entry, Grant

__all__ = ["RedisLedger"]

_RESERVE = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local least = tonumber(ARGV[3])
local available = limit - spent - reserved
local grant = 0
if available >= want then grant = want elseif available >= least then grant = available end
redis.call('HSET', KEYS[1], 'limit', ARGV[1])
if grant > 0 then redis.call('HINCRBY', KEYS[1], 'reserved', string.format('%d', grant)) end
redis.call('SADD', KEYS[2], KEYS[1])
return {grant, spent, reserved}
"""

_SETTLE = """
local left = redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
if left < 0 then redis.call('HSET', KEYS[1], 'reserved', 0) end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""


def _safe_url(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


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
        self._client: Any = None
        self._scripts: tuple[Any, Any] | None = None
        self._pid = 0

    @property
    def url(self) -> str:
        """The URL with any password masked."""
        return _safe_url(self._url)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for multiprocessing (reconnects)
        return (_rebuild, (self._url, self.prefix, self.timeout))

    def _redis(self) -> tuple[Any, Any, Any]:
        if self._client is None or self._pid != os.getpid():
            import redis

            self._client = redis.Redis.from_url(self._url, socket_timeout=self.timeout,
                                                socket_connect_timeout=self.timeout)
            self._scripts = (self._client.register_script(_RESERVE),
                             self._client.register_script(_SETTLE))
            self._pid = os.getpid()
        assert self._scripts is not None
        return self._client, *self._scripts

    def reserve(self, key: str, limit: int, want: int, least: int) -> Grant:
        _, reserve, _ = self._redis()
        try:
            granted, spent, reserved = reserve(keys=[self.prefix + key, self.prefix + "keys"],
                                               args=[limit, want, least])
        except Exception as exc:  # connection errors: never a password in the message
            raise ConnectionError(f"Budget ledger at {self.url} failed: "
                                  f"{scrub(str(exc))}") from None
        return Grant(int(granted), int(spent), int(reserved))

    def settle(self, key: str, reserved: int, actual: int) -> None:
        _, _, settle = self._redis()
        try:
            settle(keys=[self.prefix + key, self.prefix + "keys"], args=[-reserved, actual])
        except Exception as exc:
            raise ConnectionError(f"Budget ledger at {self.url} failed: "
                                  f"{scrub(str(exc))}") from None

    def entries(self) -> list[Entry]:
        client, _, _ = self._redis()
        out = []
        for raw in sorted(client.smembers(self.prefix + "keys")):
            name = raw.decode()
            row = {k.decode(): int(v) for k, v in client.hgetall(name).items()}
            out.append(Entry(name[len(self.prefix):], row.get("limit", 0), row.get("spent", 0),
                             row.get("reserved", 0)))
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"RedisLedger({self.url!r})"


def _rebuild(url: str, prefix: str, timeout: float) -> RedisLedger:
    return RedisLedger(url, prefix=prefix, timeout=timeout)
