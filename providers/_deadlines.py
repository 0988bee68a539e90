"""First-token and stall limits on a provider's stream: the one place they are enforced.

:class:`StreamLimits` says how long a stream may take to its first chunk
(``first_token_timeout``, counted from the moment the request is sent) and how long it may
go silent between two chunks (``stall_timeout``); a provider sets both, a request overrides
them with ``options={"first_token_timeout": s, "stall_timeout": s}`` (InsightForge's own
options: read here and never sent upstream). Passing one ends the stream with
:class:`~insightforge.errors.FirstTokenTimeout` or
:class:`~insightforge.errors.StallTimeout`, which ``Retry`` and ``Fallback`` understand.
Time the consumer spends between two reads is never counted.

* **sync**: a blocking read cannot be interrupted from its own thread, so one shared
  watchdog thread shuts the response's socket down when a limit passes; the read fails at
  once and :func:`guard` turns that failure into the typed error. Before the response
  headers there is no socket to shut: the header wait gets a read timeout of the
  first-token limit instead (:meth:`StreamLimits.head`), restored afterwards
  (:func:`restore_read_timeout`).
* **async**: ``asyncio.timeout`` around the header wait (:func:`within`) and each read
  (:func:`aguard`).

What must not live here: any vendor's wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import attrs

from insightforge.errors import (
    FirstTokenTimeout,
    InsightForgeError,
    InvalidRequest,
    StallTimeout,
    Timeout,
)
from insightforge.types import ChatRequest, Chunk
from providers._errors import detach

__all__ = ["CALL_LIMITS", "LOCAL_OPTIONS", "StreamLimits", "aguard", "call_limits", "guard",
           "limits_for", "local_options", "restore_read_timeout", "shutdown", "within"]

LOCAL_OPTIONS = frozenset({"first_token_timeout", "stall_timeout"})
"""Request options a provider reads itself and never sends upstream."""

T = TypeVar("T")
_INF = math.inf


def _seconds(value: Any, name: str, owner: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{owner}: {name} must be a finite number of seconds > 0 (or "
                             f"None for no limit), got {value!r}")
    return float(value)


@attrs.frozen(slots=True)
class StreamLimits:
    """How long a stream may take to its first chunk, and between two chunks (seconds;
    ``None``: no limit beyond the provider's ``timeout``)."""

    first_token: float | None = None
    stall: float | None = None

    def __bool__(self) -> bool:
        return self.first_token is not None or self.stall is not None

    def head(self, timeout: float) -> float | None:
        """The read timeout for the header wait, when the first-token limit is shorter."""
        if self.first_token is None or self.first_token >= timeout:
            return None
        return self.first_token

    def error(self, kind: str, provider: str, chunks: int) -> Timeout:
        if kind == "first":
            limit = self.first_token or 0.0
            return FirstTokenTimeout(
                f"{provider} sent no first token within {limit:g}s (first_token_timeout); "
                "another route may answer faster, or raise the limit.", provider=provider,
                limit=limit)
        limit = self.stall or 0.0
        return StallTimeout(
            f"{provider} went silent for {limit:g}s after {chunks} chunk(s) "
            "(stall_timeout); the stream can be continued elsewhere, or raise the limit.",
            provider=provider, limit=limit, chunks=chunks)

    def first_token_error(self, error: InsightForgeError, provider: str,
                          head: float | None) -> InsightForgeError:
        """A plain ``Timeout`` of the header wait, when the first-token limit set it."""
        if head is not None and type(error) is Timeout:
            return self.error("first", provider, 0)
        return error


CALL_LIMITS: ContextVar[StreamLimits | None] = ContextVar("insightforge_stream_limits",
                                                          default=None)
"""The limits of the call in progress, set by ``BaseProvider`` around ``_chat``/``_achat``
(the request it hands them has its limit options taken off)."""
_NONE = StreamLimits()


def call_limits() -> StreamLimits:
    """The limits of the call in progress (none outside one)."""
    return CALL_LIMITS.get() or _NONE


def limits_for(owner: str, default: StreamLimits, request: ChatRequest) -> StreamLimits:
    """The limits of one call: the request's options override the provider's."""
    options = request.options
    if not options or not (LOCAL_OPTIONS & options.keys()):
        return default
    first = options.get("first_token_timeout", default.first_token)
    stall = options.get("stall_timeout", default.stall)
    return StreamLimits(_seconds(first, "first_token_timeout", owner),
                        _seconds(stall, "stall_timeout", owner))


def local_options(request: ChatRequest) -> ChatRequest:
    """``request`` without the options only InsightForge reads (never sent upstream)."""
    options: Mapping[str, Any] = request.options
    if not options or not (LOCAL_OPTIONS & options.keys()):
        return request
    kept = {k: v for k, v in options.items() if k not in LOCAL_OPTIONS}
    return attrs.evolve(request, options=kept)


# -- the header wait ------------------------------------------------------------------------
def restore_read_timeout(response: Any, timeout: float) -> None:
    """Give a streamed response its normal read timeout back after a shorter header wait
    (httpx and httpcore share the request's ``timeout`` extension and read it when the body
    is first read)."""
    request = getattr(response, "request", None)
    timeouts = getattr(request, "extensions", {}).get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = timeout


async def within(awaitable: Awaitable[T], limits: StreamLimits, provider: str,
                 started: float) -> T:
    """``await awaitable`` (the header wait), ended by the first-token limit."""
    if limits.first_token is None:
        return await awaitable
    scope = asyncio.timeout(max(0.0, started + limits.first_token - time.monotonic()))
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if scope.expired():
            error = limits.error("first", provider, 0)
        else:
            raise
    raise detach(error)


# -- the watchdog (sync) --------------------------------------------------------------------
def shutdown(response: Any) -> Callable[[], None]:
    """The interrupt of a streamed httpx response: shut its socket down, so a read blocked
    on it in another thread fails at once."""
    def interrupt() -> None:
        stream = getattr(response, "extensions", {}).get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:  # no socket to reach: closing is the best we can do
            with contextlib.suppress(Exception):
                response.close()
    return interrupt


class _Watch:
    """One stream's deadline, read by the watchdog; ``fired`` names the limit that passed."""

    __slots__ = ("deadline", "done", "fired", "interrupt", "kind", "scheduled")

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self.interrupt = interrupt
        self.deadline = _INF
        self.kind = "first"
        self.fired: str | None = None
        self.done = False
        self.scheduled = False

    def until(self, deadline: float, kind: str) -> None:
        self.kind = kind
        self.deadline = deadline
        if deadline < _INF:
            _WATCHDOG.ensure(self)


class _Watchdog:
    """One daemon thread for the whole process; wakes at the earliest deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._pid = 0

    def ensure(self, watch: _Watch) -> None:
        with self._cond:
            if watch.scheduled:
                return
            watch.scheduled = True
            heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
            if self._pid != os.getpid():  # first use, or a forked child: start the thread
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="insightforge-stream-watchdog",
                                 daemon=True).start()
            self._cond.notify()

    def _due(self) -> _Watch:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, watch = self._heap[0]
                now = time.monotonic()
                if at > now:
                    self._cond.wait(at - now)
                    continue
                heapq.heappop(self._heap)
                if watch.done or watch.deadline == _INF:
                    watch.scheduled = False
                    continue
                if watch.deadline > now:  # it moved on: look again then
                    heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
                    continue
                watch.scheduled = False
                return watch

    def _run(self) -> None:
        while True:
            watch = self._due()
            if not watch.done:
                watch.fired = watch.kind
                with contextlib.suppress(Exception):  # never let it kill the watchdog
                    watch.interrupt()


_WATCHDOG = _Watchdog()


def guard(chunks: Iterator[Chunk], limits: StreamLimits, *, provider: str, started: float,
          interrupt: Callable[[], None]) -> Iterator[Chunk]:
    """``chunks`` under ``limits`` (sync): a limit that passes interrupts the read."""
    if not limits:
        yield from chunks
        return
    watch = _Watch(interrupt)
    got = 0
    first = _INF if limits.first_token is None else started + limits.first_token
    try:
        while True:
            if got:
                stall = _INF if limits.stall is None else time.monotonic() + limits.stall
                watch.until(stall, "stall")
            else:
                watch.until(first, "first")
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except InsightForgeError:
                if watch.fired is None:
                    raise
                error = limits.error(watch.fired, provider, got)
            else:
                watch.deadline = _INF  # the consumer's time is not the provider's
                got += 1
                yield chunk
                continue
            raise detach(error)
    finally:
        watch.done = True


class _AsyncWatch:
    """One async stream's deadline: a single timer per stream (not a timeout per read),
    which cancels the task blocked in a read once the deadline has passed."""

    __slots__ = ("deadline", "fired", "handle", "loop", "reading")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.deadline = _INF
        self.handle: asyncio.TimerHandle | None = None
        self.reading: asyncio.Task[Any] | None = None
        self.fired = False

    def read(self, deadline: float) -> None:
        self.deadline = deadline
        self.reading = asyncio.current_task()
        if self.handle is None and deadline < _INF:
            self.handle = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self.handle = None
        if self.reading is None:  # the consumer's time: armed again at the next read
            return
        if time.monotonic() < self.deadline:  # a chunk came since: look again then
            self.handle = self.loop.call_at(self.deadline, self._check)
            return
        self.fired = True
        self.reading.cancel()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


async def aguard(chunks: AsyncIterator[Chunk], limits: StreamLimits, *, provider: str,
                 started: float) -> AsyncIterator[Chunk]:
    """``chunks`` under ``limits`` (async): a read past its deadline is cancelled."""
    if not limits:
        async for each in chunks:
            yield each
        return
    watch = _AsyncWatch(asyncio.get_running_loop())
    got = 0
    first = _INF if limits.first_token is None else started + limits.first_token
    try:
        while True:
            if got:
                watch.read(_INF if limits.stall is None else time.monotonic() + limits.stall)
            else:
                watch.read(first)
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not watch.fired or watch.reading is None:
                    raise
                watch.reading.uncancel()  # our cancel, not the caller's
                break
            finally:
                watch.reading = None
            got += 1
            yield chunk
    finally:
        watch.stop()
    raise detach(limits.error("stall" if got else "first", provider, got))
