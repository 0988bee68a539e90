"""The ``Retry`` layer and its two thin drivers (sync and async) around :class:`RetryPolicy`.

What lives here: the configured layer (:class:`Retry`), the handler that loops
(:class:`RetryHandler`), and :class:`_Run`, the per-call bookkeeping (attempt count,
trace events) both drivers share. Streams are primed inside the loop, so a failure before
the first chunk is retried; once a chunk has reached the caller nothing is retried.
A failed attempt's stream is closed before the next attempt, so no layer below bills or
logs it twice. What must not: decisions — they are :meth:`RetryPolicy.decide`.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from typing import Any

import attrs

from insightforge.kit import with_trace
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import TraceEvent
from middleware._clock import AsyncSleep, Clock, Sleep, real_asleep, real_clock, real_sleep
from middleware.retry.policy import Backoff, RetryOn, RetryPolicy, to_backoff, to_retry_on

__all__ = ["Retry", "RetryHandler"]


@attrs.frozen(slots=True)
class Retry:
    """Retry failed calls with exponential backoff and jitter (see :class:`RetryPolicy`).

    Attributes:
        attempts: total attempts, the first included.
        backoff: :class:`Backoff` (base 0.5 s, factor 2, cap 30 s, full jitter).
        retry_on: ``None`` (retryable provider errors), a tuple of types, or a predicate.
        max_retry_after: a longer server-directed wait gives up at once (seconds).
        deadline: overall seconds for all attempts and waits, or ``None``.
        clock, sleep, asleep, random: injectable time and randomness (tests use a
            :class:`~middleware._clock.FakeClock`).
    """

    attempts: int = 3
    backoff: Backoff = attrs.field(factory=Backoff, converter=to_backoff)
    retry_on: RetryOn = attrs.field(default=None, converter=to_retry_on)
    max_retry_after: float = 60.0
    deadline: float | None = None
    clock: Clock = attrs.field(default=real_clock, eq=False, repr=False)
    sleep: Sleep = attrs.field(default=real_sleep, eq=False, repr=False)
    asleep: AsyncSleep = attrs.field(default=real_asleep, eq=False, repr=False)
    random: Callable[[], float] = attrs.field(default=_random.random, eq=False, repr=False)
    policy: RetryPolicy = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        policy = RetryPolicy(self.attempts, self.backoff, self.retry_on, self.max_retry_after,
                             self.deadline, self.random)  # validates every option
        object.__setattr__(self, "policy", policy)

    def __call__(self, inner: Handler) -> RetryHandler:
        return RetryHandler(self, inner)


class _Run:
    """One call's retry state: attempt number, start time, trace events so far."""

    __slots__ = ("attempt", "events", "policy", "start")

    def __init__(self, policy: RetryPolicy, start: float) -> None:
        self.policy = policy
        self.start = start
        self.attempt = 1
        self.events: list[TraceEvent] = []

    def failed(self, error: BaseException, now: float) -> float | None:
        """Record the failure; the delay before the next attempt, or ``None`` (re-raise)."""
        delay, reason = self.policy.explain(self.attempt, error, now - self.start)
        name = type(error).__name__
        if delay is None:
            if self.attempt > 1 or reason != "not retryable":
                self.events.append(TraceEvent(
                    "retry", "gave_up", f"gave up after attempt {self.attempt}: {name} "
                    f"({reason})", {"attempt": self.attempt, "error": name, "reason": reason}))
            if self.events and hasattr(error, "add_trace"):
                error.add_trace(*self.events)
            return None
        self.attempt += 1
        self.events.append(TraceEvent(
            "retry", "attempt", f"attempt {self.attempt} after {delay:.2f}s: {name}",
            {"attempt": self.attempt, "delay": round(delay, 6), "error": name,
             "reason": reason}))
        return delay

    def finish(self, result: Any) -> Any:
        """Put the recorded events on the response (or on a stream's final response)."""
        return with_trace(result, self.events)


class RetryHandler(Middleware):
    """Calls ``inner`` until it answers, the policy gives up, or the deadline passes."""

    __slots__ = ()
    layer: Retry

    def __call__(self, request: Request, /) -> Response:
        layer = self.layer
        run = _Run(layer.policy, layer.clock())
        while True:
            try:
                result = self.inner(request)
                if isinstance(result, ChatStream):
                    result.prime()
            except Exception as error:
                delay = run.failed(error, layer.clock())
                if delay is None:
                    raise
                layer.sleep(delay)
                continue
            return run.finish(result)  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        layer = self.layer
        run = _Run(layer.policy, layer.clock())
        while True:
            try:
                result = await self.inner.acall(request)
                if isinstance(result, AsyncChatStream):
                    await result.aprime()
            except Exception as error:
                delay = run.failed(error, layer.clock())
                if delay is None:
                    raise
                await layer.asleep(delay)
                continue
            return run.finish(result)  # type: ignore[no-any-return]
