"""A cache store in Redis, shared by many machines.

Each entry is a string key ``<prefix><key>`` holding the entry's JSON with Redis' own
expiry (``SET ... PX``); hits and misses are counted in the hash ``<prefix>stats`` in the
same round trip as the lookup (a pipeline). ``clear`` deletes by ``SCAN`` over the prefix,
never ``FLUSHDB``. The URL's password never appears in a repr or an error.
"""

from __future__ import annotations

import os
from typing import Any

from insightforge.secrets import scrub
from middleware.cache.entry import CacheEntry, decode, encode
from middleware.cache.stores import CacheStats

__all__ = ["RedisCache"]


_GET = """
local value = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then return value end
if value then redis.call('HINCRBY', KEYS[2], 'hits', 1)
else redis.call('HINCRBY', KEYS[2], 'misses', 1) end
return value
"""


def _safe_url(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    return f"{head.partition('://')[0]}://***@{tail}" if sep else url


class RedisCache:
    """A :class:`~middleware.cache.stores.CacheStore` in the Redis server at ``url``.

    Attributes:
        url: the server (password masked); prefix: key prefix; timeout: socket timeout (s).
    """

    def __init__(self, url: str, *, prefix: str = "insightforge:cache:",
                 timeout: float = 5.0) -> None:
        self._url = url
        self.prefix = prefix
        self.timeout = timeout
        self._client: Any = None
        self._get: Any = None
        self._pid = 0

    @property
    def url(self) -> str:
        return _safe_url(self._url)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._url, self.prefix, self.timeout))

    def _redis(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            import redis

            self._client = redis.Redis.from_url(self._url, socket_timeout=self.timeout,
                                                socket_connect_timeout=self.timeout)
            self._get = self._client.register_script(_GET)
            self._pid = os.getpid()
        return self._client

    def _fail(self, exc: Exception) -> ConnectionError:
        return ConnectionError(f"Cache store at {self.url} failed: {scrub(str(exc))}")

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        try:
            self._redis()
            raw = self._get(keys=[self.prefix + key, self.prefix + "stats"], args=[int(count)])
            entry = None if raw is None else decode(raw)
        except Exception as exc:
            raise self._fail(exc) from None
        return entry

    def set(self, key: str, entry: CacheEntry, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        try:
            self._redis().set(self.prefix + key, encode(entry), px=px)
        except Exception as exc:
            raise self._fail(exc) from None

    def _keys(self) -> list[bytes]:
        stats = (self.prefix + "stats").encode()
        return [k for k in self._redis().scan_iter(match=self.prefix + "*", count=500)
                if k != stats]

    def clear(self) -> int:
        keys = self._keys()
        client = self._redis()
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
        client.delete(self.prefix + "stats")
        return len(keys)

    def stats(self) -> CacheStats:
        client = self._redis()
        keys = self._keys()
        size = sum(int(client.strlen(k)) for k in keys)
        counts = {k.decode(): int(v) for k, v in client.hgetall(self.prefix + "stats").items()}
        return CacheStats(len(keys), counts.get("hits", 0), counts.get("misses", 0), size)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r})"


def _rebuild(url: str, prefix: str, timeout: float) -> RedisCache:
    return RedisCache(url, prefix=prefix, timeout=timeout)
