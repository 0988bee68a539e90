"""Time for the resilience layers: one injectable clock and sleep, real or fake.

What lives here: the types of the injectable ``clock`` / ``sleep`` / ``asleep`` callables and
their real defaults; :class:`~insightforge.testing.FakeClock` (re-exported here) is the
deterministic one. What must not: any layer logic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from insightforge.testing.clock import FakeClock

__all__ = ["AsyncSleep", "Clock", "FakeClock", "Sleep", "real_asleep", "real_clock",
           "real_sleep"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]

real_clock: Clock = time.monotonic
real_sleep: Sleep = time.sleep
real_asleep: AsyncSleep = asyncio.sleep
