"""The Cache layer's two thin drivers (sync and async).

Per call: key -> store lookup -> hit (replayed; ``cached=True``, cost zero, trace
``cache.hit``) or miss -> single flight -> the leader calls the inner handler and stores the
answer only when it is complete (a response, or a stream that **ended**; never an error, a
failed or an abandoned stream); followers replay the leader's entry. A store that fails
(Redis down, a full or locked SQLite file) is a miss and is not written; the call still
succeeds (a warning is logged unless it is a plain ``ConnectionError``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from insightforge.secrets import scrub
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatResponse, Chunk, TraceEvent
from middleware.cache.entry import CacheEntry, make_entry
from middleware.cache.key import cache_key, route_fingerprint
from middleware.cache.singleflight import AsyncSingleFlight, Flight, SingleFlight
from middleware.cache.stores import MemoryCache

if TYPE_CHECKING:
    from middleware.cache import Cache

__all__ = ["CacheHandler"]

T = TypeVar("T")
_log = logging.getLogger("insightforge.cache")
_MISS = TraceEvent("cache", "miss", "answered upstream and stored")


def _store_failed(what: str, exc: Exception) -> None:
    level = logging.DEBUG if isinstance(exc, ConnectionError) else logging.WARNING
    _log.log(level, "cache store %s failed, treated as a miss: %s: %s", what,
             type(exc).__name__, scrub(str(exc)))


def _with_miss(response: T) -> T:
    r: Any = response
    return attrs.evolve(r, trace=(_MISS, *r.trace))  # type: ignore[no-any-return]


class CacheHandler(Middleware):
    """The handler a :class:`~middleware.cache.Cache` wraps around its inner handler."""

    __slots__ = ("_aflights", "_flights", "_routes")
    layer: Cache

    def __init__(self, layer: Cache, inner: Handler) -> None:
        super().__init__(layer, inner)
        self._routes: str | None = None
        self._flights: SingleFlight[CacheEntry] = SingleFlight()
        self._aflights: AsyncSingleFlight[CacheEntry] = AsyncSingleFlight()

    def key(self, request: Request) -> str:
        """The cache key of ``request`` in this stack (includes the inner routes)."""
        if self._routes is None:
            self._routes = route_fingerprint(self.inner.routes())
        return cache_key(request, self._routes, self.layer.key)

    @staticmethod
    def _hit(request: Request, entry: CacheEntry, how: str = "stored") -> Any:
        event = TraceEvent("cache", "hit", how)
        return entry.stream(event) if request.stream else entry.hit(event)

    # -- store access that degrades to a miss ------------------------------------------------
    def _get(self, key: str, count: bool = True) -> CacheEntry | None:
        try:
            return self.layer.backend.get(key, count=count)
        except Exception as exc:  # a cache is an optimisation: a failing store is a miss
            _store_failed("read", exc)
            return None

    def _put(self, key: str, entry: CacheEntry) -> None:
        try:
            self.layer.backend.set(key, entry, self.layer.ttl)
        except Exception as exc:  # never turn an answer already paid for into a failure
            _store_failed("write", exc)

    # -- sync driver ---------------------------------------------------------------------
    def __call__(self, request: Request, /) -> Response:
        key = self.key(request)
        entry = self._get(key)
        if entry is not None:
            return self._hit(request, entry)  # type: ignore[no-any-return]
        if not self.layer.single_flight:
            return self._lead(request, key, None)
        flight, leader = self._flights.join(key)
        if not leader:
            if not self._flights.mine(flight):
                entry = self._flights.wait(key, flight, self.layer.wait_timeout)
                if entry is not None:
                    return self._hit(request, entry, "shared")  # type: ignore[no-any-return]
            return self._lead(request, key, None)
        entry = self._get(key, count=False)  # stored between our lookup and our flight
        if entry is not None:
            self._flights.finish(key, flight, entry)
            return self._hit(request, entry)  # type: ignore[no-any-return]
        return self._lead(request, key, flight)

    def _lead(self, request: Request, key: str, flight: Flight[CacheEntry] | None) -> Response:
        def done(entry: CacheEntry | None = None, error: BaseException | None = None) -> None:
            try:
                if entry is not None:
                    self._put(key, entry)
            finally:  # followers must never wait for a flight that cannot end
                if flight is not None:
                    self._flights.finish(key, flight, entry, error)

        try:
            result = self.inner(request)
        except BaseException as exc:
            done(error=exc)
            raise
        if isinstance(result, ChatStream):
            return self._record(result, done)
        done(make_entry(result))
        return _with_miss(result)

    @staticmethod
    def _record(stream: ChatStream, done: Callable[..., None]) -> ChatStream:
        chunks: list[Chunk] = []

        def on_end(response: ChatResponse) -> ChatResponse:
            done(make_entry(response, tuple(chunks)))
            return _with_miss(response)

        return stream.wrap(on_chunk=chunks.append, on_end=on_end,
                           on_error=lambda _: done(), on_close=done)

    # -- async driver --------------------------------------------------------------------
    async def _aget(self, key: str, count: bool = True) -> CacheEntry | None:
        if isinstance(self.layer.backend, MemoryCache):
            return self._get(key, count)
        return await asyncio.to_thread(self._get, key, count)

    async def _aput(self, key: str, entry: CacheEntry) -> None:
        if isinstance(self.layer.backend, MemoryCache):
            self._put(key, entry)
        else:
            await asyncio.to_thread(self._put, key, entry)

    @staticmethod
    def _ahit(request: Request, entry: CacheEntry, how: str = "stored") -> Any:
        event = TraceEvent("cache", "hit", how)
        return entry.astream(event) if request.stream else entry.hit(event)

    async def acall(self, request: Request, /) -> AsyncResponse:
        key = self.key(request)
        entry = await self._aget(key)
        if entry is not None:
            return self._ahit(request, entry)  # type: ignore[no-any-return]
        if not self.layer.single_flight:
            return await self._alead(request, key, None)
        future, leader, mine = self._aflights.join(key)
        if not leader:
            if not mine:
                entry = await self._aflights.wait(key, future, self.layer.wait_timeout)
                if entry is not None:
                    return self._ahit(request, entry, "shared")  # type: ignore[no-any-return]
            return await self._alead(request, key, None)
        entry = await self._aget(key, count=False)
        if entry is not None:
            self._aflights.finish(key, future, entry)
            return self._ahit(request, entry)  # type: ignore[no-any-return]
        return await self._alead(request, key, future)

    async def _alead(self, request: Request, key: str,
                     future: asyncio.Future[CacheEntry | None] | None) -> AsyncResponse:
        async def done(entry: CacheEntry | None = None,
                       error: BaseException | None = None) -> None:
            try:
                if entry is not None:
                    await self._aput(key, entry)
            finally:
                if future is not None:
                    self._aflights.finish(key, future, entry, error)

        try:
            result = await self.inner.acall(request)
        except BaseException as exc:
            await done(error=exc)
            raise
        if isinstance(result, AsyncChatStream):
            chunks: list[Chunk] = []

            async def on_end(response: ChatResponse) -> ChatResponse:
                await done(make_entry(response, tuple(chunks)))
                return _with_miss(response)

            async def on_error(_: BaseException) -> None:
                await done()

            wrapped = result.wrap(on_chunk=chunks.append, on_end=on_end, on_error=on_error,
                                  on_close=done)
            if future is not None:  # dropped without aclose(): no hook runs, so end the
                # flight when the stream is collected (sync streams close in __del__)
                weakref.finalize(wrapped, self._aflights.abandon, key, future)
            return wrapped
        await done(make_entry(result))
        return _with_miss(result)

