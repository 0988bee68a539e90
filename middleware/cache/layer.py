"""``Cache``: the configuration, validated once, and its flow — lookup, join, call, put.

Per call: key (pure, :mod:`.key`) -> store lookup -> a hit (replayed; ``cached=True``, cost
zero, trace ``cache.hit``) or a miss -> single flight (:mod:`.singleflight`: threads and
tasks alike) -> the leader calls the inner handler and stores the answer only when it is
complete (a response, or a stream that **ended** — never an error, a failed or an abandoned
stream); followers replay the leader's entry.

The cache fails open: a store that fails (Redis down or stalled, a full or locked SQLite
file) is a miss, the answer is not stored, and the trace says so; a :class:`Breaker` then
skips the store for ``breaker`` seconds, so a dead store costs at most one timeout per
interval. Answers are stored with every live secret masked (the audit log's rule).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs

from insightforge.errors import ConfigError
from insightforge.kit import (
    Call,
    Flow,
    FlowHandler,
    FlowLayer,
    Replay,
    executor_of,
    store_call,
)
from insightforge.secrets import scrub
from insightforge.stack import Handler, Request
from insightforge.types import ChatRequest, ChatResponse, EmbedRequest, TraceEvent
from insightforge.types.responses import restamp
from middleware.cache.entry import CacheEntry, make_entry
from middleware.cache.key import cache_key, route_fingerprint
from middleware.cache.singleflight import Flights
from middleware.cache.stores import CacheStore, store_from
from middleware.stores import Breaker

__all__ = ["Cache"]

_log = logging.getLogger("insightforge.cache")
_MISS = ("cache", "miss", "answered upstream and stored")


def _ttl(_: object, __: Any, value: float | None) -> None:
    if value is not None and not value > 0:
        why = " (negative values are not allowed)" if isinstance(value, (int, float)) \
            and value < 0 else " (or none: entries then live until evicted)"
        raise ConfigError(f"expected a positive number of seconds{why}, got {value!r}",
                          path="ttl")


def _store(value: Any, self_: Any) -> CacheStore:
    return store_from(value, self_.ttl, self_.maxsize)


class _Puts:
    """How many times this layer has written its store, so a leader can tell whether its
    lookup may be stale: unchanged since the lookup, nobody stored anything meanwhile (every
    entry a flight shares is stored before its flight ends) — one lookup per miss."""

    __slots__ = ("_lock", "count")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:  # ``+=`` alone could lose a count, or set back a newer one
            self.count += 1


class _State:
    """One handler's cache state: the routes' fingerprint (asked once) and its flights."""

    __slots__ = ("_inner", "_routes", "flights")

    def __init__(self, inner: Handler) -> None:
        self._inner = inner
        self._routes: str | None = None
        self.flights: Flights[CacheEntry] = Flights()

    def routes(self) -> str:
        if self._routes is None:
            self._routes = route_fingerprint(self._inner.routes())
        return self._routes


@attrs.frozen(repr=False)
class Cache(FlowLayer):
    """Serve repeated requests from a store (see the module docstring).

    Attributes:
        ttl: seconds an entry lives (``None``: until evicted).
        maxsize: entries kept by the memory store (and the SQLite store's trim size).
        store: ``"memory"``, ``"sqlite:///cache.db"``, ``"redis://host:6379/0"``, or a
            :class:`~middleware.cache.stores.CacheStore` (``SQLiteCache``, ``RedisCache``).
        key: ``request -> str`` replacing the canonical form (routes are always added).
        single_flight: identical concurrent requests share one upstream call.
        wait_timeout: seconds a follower waits for the leader before calling itself.
        breaker: seconds a failed store is skipped before it is tried again.
    """

    ttl: float | None = attrs.field(default=3600.0, validator=_ttl)
    maxsize: int = 1024
    store: CacheStore = attrs.field(
        default="memory",  # type: ignore[assignment]  # a spec, converted to a store
        converter=attrs.Converter(_store, takes_self=True))  # type: ignore[misc]
    key: Callable[[ChatRequest | EmbedRequest], str] | None = None
    single_flight: bool = True
    wait_timeout: float = 60.0
    breaker: float = 30.0
    _breaker: Breaker = attrs.field(init=False, eq=False, repr=False)
    _puts: _Puts = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_breaker", Breaker(self.breaker))
        object.__setattr__(self, "_puts", _Puts())

    @property
    def backend(self) -> CacheStore:
        """The store (the old name)."""
        return self.store

    def __repr__(self) -> str:
        return f"Cache(ttl={self.ttl}, store={self.store!r})"

    def open(self, inner: Handler) -> _State:
        return _State(inner)

    def close(self) -> None:
        self.store.close()

    def key_of(self, request: Request, routes: str) -> str:
        """The cache key of ``request`` given the routes' fingerprint."""
        return cache_key(request, routes, self.key)

    def flow(self, request: Request, handler: FlowHandler) -> Flow:
        state: _State = handler.state
        key = cache_key(request, state.routes(), self.key)
        blocking, executor = self.store.blocking, executor_of(self.store)
        puts = self._puts.count  # before the lookup: what it may have missed counts after
        entry = yield from store_call(self._read, key, blocking=blocking, executor=executor)
        if entry is not None:
            return _hit(request, entry, "stored")
        flight = None
        if self.single_flight:
            flight, leader = state.flights.join(key)
            if not leader:
                entry = yield state.flights.wait(key, flight, self.wait_timeout)
                if entry is not None:
                    return _hit(request, entry, "shared")
                flight = None
            elif self._puts.count != puts:  # stored since our lookup: perhaps this answer
                entry = yield from store_call(self._read, key, False, blocking=blocking,
                                                executor=executor)
                if entry is not None:
                    state.flights.finish(key, flight, entry)
                    return _hit(request, entry, "stored")
        call = Call(request, record=request.stream)
        try:
            response = yield call
        except BaseException as error:  # a failure, an abandoned or a failed stream
            if flight is not None:
                state.flights.finish(key, flight, error=error)
            raise
        recorded = None if call.recorded is None else tuple(call.recorded)
        entry = make_entry(response, recorded)
        try:
            stored = yield from store_call(self._write, key, entry, blocking=blocking,
                                             executor=executor)
        finally:  # followers must never wait for a flight that cannot end
            if flight is not None:
                state.flights.finish(key, flight, entry)
        event = TraceEvent(*_MISS) if stored is None else TraceEvent(
            "cache", "miss", f"answered upstream; not stored: {stored}", {"stored": False})
        return restamp(response, (event, *response.trace))

    # -- store access that fails open (in a worker thread when the store blocks) ------------
    def _read(self, key: str, count: bool = True) -> CacheEntry | None:
        """The stored entry; ``None`` on a miss, when the store fails or is skipped."""
        if not self._breaker.allows():
            return None
        try:
            entry = self.store.get(key, count=count)
        except Exception as exc:  # a cache is an optimisation: a failing store is a miss
            self._failed("read", exc)
            return None
        self._breaker.succeeded()
        return entry

    def _write(self, key: str, entry: CacheEntry) -> str | None:
        """Store ``entry``; ``None`` when stored, else why not."""
        if not self._breaker.allows():
            return f"the store is skipped for up to {self.breaker:g}s after a failure " \
                f"({self._breaker.reason})"
        try:
            self.store.set(key, entry, self.ttl)
        except Exception as exc:  # never turn an answer already paid for into a failure
            return self._failed("write", exc)
        finally:  # counted even when it failed: a write may land and still report failure
            self._puts.add()
        self._breaker.succeeded()
        return None

    def _failed(self, what: str, exc: Exception) -> str:
        reason = f"{type(exc).__name__}: {scrub(str(exc))}"
        self._breaker.failed(reason)
        _log.warning("cache store %s failed, treated as a miss (store skipped for %gs): %s",
                     what, self.breaker, reason)
        return f"the store failed ({reason})"


def _hit(request: Request, entry: CacheEntry, how: str) -> Any:
    response = entry.hit(TraceEvent("cache", "hit", how))
    if request.stream and isinstance(response, ChatResponse):
        return Replay(response, entry.chunks)
    return response

