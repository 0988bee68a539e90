"""Reading a stream under its first-token and stall limits (:class:`~providers._deadlines.
StreamLimits`): :func:`guard` (sync) and :func:`aguard` (async).

* **sync**: a blocking read cannot be interrupted from its own thread, so one shared
  watchdog thread (:class:`_Watchdog`, started on first use, again after a fork) shuts the
  response's socket down (:func:`shutdown`) when a limit passes; the read fails at once and
  :func:`guard` turns that failure into the typed error. The reader only moves a deadline
  per chunk (and takes the watchdog's lock); the watchdog wakes at the earliest one.
* **async**: one timer per stream (not a timeout per read) cancels the task blocked in a
  read once the deadline has passed; :func:`aguard` turns the cancellation into the typed
  error and un-cancels the task.

Time the consumer spends between two reads is never counted. What must not live here: the
limits themselves and their options (:mod:`providers._deadlines`), any vendor's format.
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
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from insightforge.errors import InsightForgeError
from insightforge.types import Chunk
from providers._deadlines import StreamLimits
from providers._errors import detach

__all__ = ["aguard", "guard", "shutdown"]

_INF = math.inf


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
