"""The store subsystem every store-backed layer shares (Budget, Cache, RateLimit, the
gateway's keys): one spec grammar (:func:`parse_store`: ``memory``, ``sqlite:///path``,
``redis://...``), one per-process helper per backend (:func:`sqlite_file`,
:func:`redis_server`), one failure type
(:class:`~insightforge.errors.StoreUnavailable`) and a :class:`Breaker` for stores a layer
can do without.

Every store has ``blocking`` (``False`` for memory stores: the async drivers call them on
the event loop; ``True`` for SQLite and Redis: called in a worker thread from async code)
and ``close()`` (the next use re-opens). Each layer package keeps its own store protocol and
implementations in its ``stores`` module; see docs/writing-a-store.md.
"""

from middleware.stores.breaker import Breaker
from middleware.stores.redis import RedisServer, Script, redis_server
from middleware.stores.spec import SQLITE_SUFFIXES, StoreSpec, build_store, parse_store
from middleware.stores.sqlite import SQLiteFile, open_wal, sqlite_file

__all__ = ["SQLITE_SUFFIXES", "Breaker", "RedisServer", "SQLiteFile", "Script", "StoreSpec",
           "build_store", "open_wal", "parse_store", "redis_server", "sqlite_file"]
