"""``Cache``: answer repeated requests from a store; identical concurrent ones fly once.

>>> from middleware import Cache
>>> Cache(ttl=3600)                                   # in memory (cachetools)
... # doctest: +SKIP
>>> Cache(ttl=600, store="redis://cache:6379/0")      # shared by many machines
... # doctest: +SKIP

Modules: ``key`` (pure canonical key), ``entry`` (what is stored, its JSON form),
``stores`` (protocol + memory), ``sqlite``, ``redis``, ``singleflight``, ``handler``
(sync and async drivers). See docs/middleware/cache.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from insightforge.types import ChatRequest, EmbedRequest
from middleware.cache.entry import CacheEntry
from middleware.cache.key import KEY_VERSION, cache_key, canonical
from middleware.cache.stores import CacheStats, CacheStore, MemoryCache, store_from

if TYPE_CHECKING:
    from insightforge.stack import Handler
    from middleware.cache.redis import RedisCache
    from middleware.cache.sqlite import SQLiteCache

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
]


def _ttl(_: object, __: Any, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"ttl must be a positive number of seconds (or None), got {value!r}")


@attrs.frozen(repr=False)
class Cache:
    """Serve repeated requests from a store (see the module docstring).

    Attributes:
        ttl: seconds an entry lives (``None``: until evicted).
        maxsize: entries kept by the memory store (and the SQLite store's trim size).
        store: ``"memory"``, a SQLite path (``"sqlite:///cache.db"``), a Redis URL, or a
            :class:`CacheStore` (``SQLiteCache(path)``, ``RedisCache(url)``).
        key: ``request -> str`` replacing the canonical form (routes are always added).
        single_flight: identical concurrent requests share one upstream call.
        wait_timeout: seconds a follower waits for the leader before calling itself.
        backend: the store object built from ``store`` (use it for ``stats()``/``clear()``).
    """

    ttl: float | None = attrs.field(default=3600.0, validator=_ttl)
    maxsize: int = 1024
    store: CacheStore | str = "memory"
    key: Callable[[ChatRequest | EmbedRequest], str] | None = None
    single_flight: bool = True
    wait_timeout: float = 60.0
    backend: CacheStore = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "backend", store_from(self.store, self.ttl, self.maxsize))

    def __call__(self, inner: Handler) -> Handler:
        from middleware.cache.handler import CacheHandler

        return CacheHandler(self, inner)

    def __repr__(self) -> str:
        return f"Cache(ttl={self.ttl}, store={self.backend!r})"


def __getattr__(name: str) -> Any:
    if name == "SQLiteCache":
        from middleware.cache.sqlite import SQLiteCache

        return SQLiteCache
    if name == "RedisCache":
        from middleware.cache.redis import RedisCache

        return RedisCache
    raise AttributeError(f"module 'middleware.cache' has no attribute {name!r}")
