"""``Cache``: answer repeated requests from a store; identical concurrent ones fly once.

>>> from middleware import Cache
>>> Cache(ttl=3600)                                   # in memory (cachetools)
... # doctest: +SKIP
>>> Cache(ttl=600, store="redis://cache:6379/0")      # shared by many machines
... # doctest: +SKIP

The parts: :mod:`.layer` (the configuration and its flow: lookup, join, call, put),
:mod:`.key` and :mod:`.entry` (pure: the canonical key, what is stored),
:mod:`.singleflight` (threads and tasks share one upstream call), :mod:`.stores` (the
``CacheStore`` protocol; memory, SQLite and Redis stores). See docs/middleware/cache.md.
"""

from __future__ import annotations

from middleware.cache.entry import CacheEntry
from middleware.cache.key import KEY_VERSION, cache_key, canonical
from middleware.cache.layer import Cache
from middleware.cache.stores import (
    CacheStats,
    CacheStore,
    MemoryCache,
    RedisCache,
    SQLiteCache,
    store_from,
)

__all__ = [
    "KEY_VERSION",
    "Cache",
    "CacheEntry",
    "CacheStats",
    "CacheStore",
    "MemoryCache",
    "RedisCache",
    "SQLiteCache",
    "cache_key",
    "canonical",
    "store_from",
]
