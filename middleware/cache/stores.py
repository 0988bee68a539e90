"""Cache stores: the :class:`CacheStore` protocol, :class:`CacheStats`, the memory store.

A store maps a key to a :class:`~middleware.cache.entry.CacheEntry` with a time to live.
The memory store keeps the (immutable) entry objects in a ``cachetools.TTLCache``; the
SQLite and Redis stores (own modules) keep their JSON form. What must not live here: keys,
single flight, the layer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs
import cachetools

from insightforge.secrets import mask_url
from middleware.cache.entry import CacheEntry

__all__ = ["CacheStats", "CacheStore", "MemoryCache", "store_from"]


@attrs.frozen(slots=True)
class CacheStats:
    """What ``insightforge cache stats`` prints.

    Attributes:
        entries: entries stored now; hits/misses: lookups since counting began (for the
        memory and SQLite stores: this process; for Redis: every client).
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
    """Where a cache keeps its entries."""

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

    def __init__(self, ttl: float | None = 3600, maxsize: int = 1024,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
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
            entry = self._data.get(key)
            if not count:
                pass
            elif entry is None:
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


def sqlite_path(spec: str) -> str | None:
    """The file of ``sqlite:///rel.db``, ``sqlite:////abs.db``, ``sqlite:PATH`` or ``*.db``."""
    for prefix in ("sqlite:///", "sqlite://", "sqlite:"):
        if spec.startswith(prefix):
            return spec[len(prefix):] or None
    return spec if spec.endswith((".db", ".sqlite", ".sqlite3")) else None


def store_from(spec: object, ttl: float | None, maxsize: int) -> CacheStore:
    """A store from ``"memory"``, ``"sqlite:///path"``, a ``*.db`` path, a Redis URL or a store."""
    if isinstance(spec, CacheStore):
        return spec
    if spec == "memory" or spec is None:
        return MemoryCache(ttl, maxsize)
    if isinstance(spec, str):
        if spec.startswith(("redis://", "rediss://", "unix://")):
            from middleware.cache.redis import RedisCache

            return RedisCache(spec)
        path = sqlite_path(spec)
        if path is not None:
            from middleware.cache.sqlite import SQLiteCache

            return SQLiteCache(path, maxsize=maxsize)
    raise ValueError(f"store must be 'memory', a SQLite path ('sqlite:cache.db'), a Redis "
                     f"URL ('redis://host:6379/0') or a CacheStore, got {_masked(spec)}")


def _masked(spec: object) -> str:
    """``spec`` for an error message, with any URL password hidden."""
    if not isinstance(spec, str):
        return type(spec).__name__
    return repr(mask_url(spec))
