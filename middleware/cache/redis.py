"""A cache store in Redis, shared by many machines.

Each entry is a string key ``<prefix><key>`` holding the entry's JSON with Redis' own
expiry (``SET ... PX``). A lookup is one plain ``GET`` (one round trip, no script); hits and
misses are counted in this process and added to the hash ``<prefix>stats`` in batches
(every :data:`STATS_EVERY` lookups, and on ``stats()`` and ``close()``), so other clients'
counts may lag by less than a batch. Decoded entries are memoised by their bytes
(:class:`~middleware.cache.entry.DecodeMemo`). ``clear`` deletes by ``SCAN`` over the
prefix, never ``FLUSHDB``. The URL's password never appears in a repr or an error.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from insightforge.secrets import mask_url, scrub
from middleware._redis import ProcessRedis
from middleware.cache.entry import CacheEntry, DecodeMemo, encode
from middleware.cache.stores import CacheStats

__all__ = ["RedisCache"]


STATS_EVERY = 100
"""Lookups counted locally before the counts are added to Redis in one round trip."""


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
        self._lock = threading.Lock()
        self._counts = [0, 0]  # hits, misses not yet added to Redis
        self._conn = ProcessRedis(url, timeout=timeout, on_new=self._reset_counts)
        self._decode = DecodeMemo()

    @property
    def url(self) -> str:
        return mask_url(self._url)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._url, self.prefix, self.timeout))

    def _redis(self) -> Any:
        return self._conn.get()

    def _reset_counts(self) -> None:
        with self._lock:
            self._counts = [0, 0]  # a forked child starts its own tally

    def _fail(self, exc: Exception) -> ConnectionError:
        return ConnectionError(f"Cache store at {self.url} failed: {scrub(str(exc))}")

    def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
        try:
            raw = self._redis().get(self.prefix + key)
        except Exception as exc:
            raise self._fail(exc) from None
        entry = None if raw is None else self._decode(raw)
        if count:
            with self._lock:
                self._counts[entry is None] += 1
                due = sum(self._counts) >= STATS_EVERY
            if due:
                self._flush_counts()
        return entry

    def _flush_counts(self) -> None:
        """Add this process's hits and misses to the shared stats hash (best effort)."""
        with self._lock:
            (hits, misses), self._counts = self._counts, [0, 0]
        if not hits and not misses:
            return
        try:
            pipe = self._redis().pipeline(transaction=False)
            pipe.hincrby(self.prefix + "stats", "hits", hits)
            pipe.hincrby(self.prefix + "stats", "misses", misses)
            pipe.execute()
        except Exception as exc:  # keep the tally for the next flush
            with self._lock:
                self._counts[0] += hits
                self._counts[1] += misses
            raise self._fail(exc) from None

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
        self._flush_counts()
        client = self._redis()
        keys = self._keys()
        size = sum(int(client.strlen(k)) for k in keys)
        counts = {k.decode(): int(v) for k, v in client.hgetall(self.prefix + "stats").items()}
        return CacheStats(len(keys), counts.get("hits", 0), counts.get("misses", 0), size)

    def close(self) -> None:
        if self._conn.opened:
            with contextlib.suppress(ConnectionError):
                self._flush_counts()
        self._conn.close()

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r})"


def _rebuild(url: str, prefix: str, timeout: float) -> RedisCache:
    return RedisCache(url, prefix=prefix, timeout=timeout)
