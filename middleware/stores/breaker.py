"""A circuit breaker for a store a layer may do without (the cache): after a failure the
store is skipped for ``interval`` seconds, then tried once; so a dead or stalled store costs
at most one timeout per interval, not one per call. The clock is injected; no I/O here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Breaker"]


class Breaker:
    """Closed (use the store) until a failure; then open for ``interval`` seconds, after
    which exactly one caller may try (a success closes it, a failure opens it again).

    Attributes:
        interval: seconds the store is skipped after a failure.
        reason: why it opened (the last failure's message), or ``None`` when closed.
    """

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 ) -> None:
        if not interval > 0:
            raise ValueError(f"breaker interval must be > 0 seconds, got {interval!r}")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at: float | None = None
        self.reason: str | None = None

    @property
    def open(self) -> bool:
        return self._retry_at is not None

    def allows(self) -> bool:
        """Whether this caller may use the store now (claims the one trial when due)."""
        if self._retry_at is None:
            return True
        with self._lock:
            now = self._clock()
            if self._retry_at is not None and now >= self._retry_at:
                self._retry_at = now + self.interval  # the others keep skipping meanwhile
                return True
            return self._retry_at is None

    def failed(self, reason: str) -> None:
        with self._lock:
            self._retry_at = self._clock() + self.interval
            self.reason = reason

    def succeeded(self) -> None:
        if self._retry_at is not None:
            with self._lock:
                self._retry_at = None
                self.reason = None
