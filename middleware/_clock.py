"""Time for the resilience layers: one injectable clock and sleep, real or fake.

What lives here: the types of the injectable ``clock`` / ``sleep`` / ``asleep`` callables,
their real defaults, and :class:`FakeClock`, a deterministic clock whose sleeps advance
time instantly (tests and benchmarks use it so nothing waits for real backoff).
What must not: any layer logic.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

__all__ = ["AsyncSleep", "Clock", "FakeClock", "Sleep", "real_asleep", "real_clock",
           "real_sleep"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]

real_clock: Clock = time.monotonic
real_sleep: Sleep = time.sleep
real_asleep: AsyncSleep = asyncio.sleep


class FakeClock:
    """A clock that only moves when someone sleeps on it (or calls :meth:`advance`).

    Attributes:
        now: the current fake time, in seconds.
        sleeps: every sleep requested, in order (sync and async alike).
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still yield to the loop, as a real sleep would
