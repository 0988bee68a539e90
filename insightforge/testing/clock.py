"""Time for tests and benchmarks: :class:`FakeClock`, a deterministic clock whose sleeps
advance time instantly (so nothing waits for a real backoff or window).

Pass it as a layer's clock and sleeps: ``Retry(clock=fc, sleep=fc.sleep, asleep=fc.asleep)``.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["FakeClock"]


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
