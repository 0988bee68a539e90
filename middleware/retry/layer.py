"""The ``Retry`` layer and its two thin drivers (sync and async) around :class:`RetryPolicy`.

What lives here: the configured layer (:class:`Retry`), its handler, and :class:`_Run`,
the per-call bookkeeping (attempt count, trace events) that the kit's loop
(:func:`insightforge.kit.repeat.repeat`, sync and async) drives. Streams are primed inside
the loop, so a failure before the first chunk is retried; once a chunk has reached the
caller the stream is continued on the same route (``resume=True``, the default; see
:mod:`insightforge.kit.resume`) — never delivering a chunk twice.
A failed attempt's stream is closed before the next attempt, so no layer below bills or
logs it twice. A silent route (a ``Timeout``) is not retried while a ``Fallback`` above has
another route waiting (``prefer_alternate``). What must not: decisions — they are
:meth:`RetryPolicy.decide`.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from typing import Any

import attrs

from insightforge.kit import add_trace, with_trace
from insightforge.kit.alternates import alternate_waiting
from insightforge.kit.repeat import arepeat, repeat
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
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
        prefer_alternate: do not retry a ``Timeout`` (a silent route) while a ``Fallback``
            above has another route waiting; it moves on after one timeout.
        resume: continue a stream that fails after chunks reached the caller on the same
            route (a prefill where the route declares it, else a clean restart of which only
            the part extending the delivered text is passed on); ``False`` lets the failure
            reach the caller as before.
        clock, sleep, asleep, random: injectable time and randomness (tests use a
            :class:`~middleware._clock.FakeClock`).
    """

    attempts: int = 3
    backoff: Backoff = attrs.field(factory=Backoff, converter=to_backoff)
    retry_on: RetryOn = attrs.field(default=None, converter=to_retry_on)
    max_retry_after: float = 60.0
    deadline: float | None = None
    prefer_alternate: bool = True
    resume: bool = True
    clock: Clock = attrs.field(default=real_clock, eq=False, repr=False)
    sleep: Sleep = attrs.field(default=real_sleep, eq=False, repr=False)
    asleep: AsyncSleep = attrs.field(default=real_asleep, eq=False, repr=False)
    random: Callable[[], float] = attrs.field(default=_random.random, eq=False, repr=False)
    policy: RetryPolicy = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        policy = RetryPolicy(self.attempts, self.backoff, self.retry_on, self.max_retry_after,
                             self.deadline, self.random,
                             self.prefer_alternate)  # validates every option
        object.__setattr__(self, "policy", policy)

    def __call__(self, inner: Handler) -> RetryHandler:
        return RetryHandler(self, inner)


class _Run:
    """One call's retry state (an :class:`~insightforge.kit.repeat.Attempts`): attempt
    number, start time, trace events so far."""

    __slots__ = ("alternate", "asleep", "attempt", "clock", "events", "policy", "resume",
                 "sleep", "start", "target")
    label = "retry"
    offers_alternate = False  # the same route again; an outer Fallback's mark is kept

    def __init__(self, layer: Retry, inner: Handler) -> None:
        self.policy = layer.policy
        self.clock, self.sleep, self.asleep = layer.clock, layer.sleep, layer.asleep
        self.target = inner
        self.start = layer.clock()
        self.attempt = 1
        self.events: list[TraceEvent] = []
        self.resume = layer.resume
        self.alternate = alternate_waiting()  # for the whole call, continuations included

    def acts_on(self, error: BaseException) -> bool:
        return self.policy.retries(error)

    def failed(self, error: Exception) -> float:
        """Record the failure; the delay before the next attempt, or re-raise it."""
        delay, reason = self.policy.explain(self.attempt, error, self.clock() - self.start,
                                            self.alternate)
        name = type(error).__name__
        if delay is None:
            if self.attempt > 1 or reason != "not retryable":
                self.events.append(TraceEvent(
                    "retry", "gave_up", f"gave up after attempt {self.attempt}: {name} "
                    f"({reason})", {"attempt": self.attempt, "error": name, "reason": reason}))
            add_trace(error, self.events)
            raise error
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
        return repeat(_Run(self.layer, self.inner), request)  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        return await arepeat(_Run(self.layer, self.inner), request)  # type: ignore[no-any-return]
