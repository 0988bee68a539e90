"""The retry decision, free of I/O: how long to wait before attempt n+1, or give up.

What lives here: :class:`Backoff` (exponential delay with a cap and jitter) and
:class:`RetryPolicy` (which errors are retried, how many attempts, server-directed waits,
the overall deadline). Both are pure: the only randomness comes from an injectable
``random`` callable, the only time from the ``elapsed`` argument. What must not: sleeping,
calling handlers, touching streams — that is the drivers' job (:mod:`middleware.retry.layer`).
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from insightforge.errors import ConfigError, Timeout
from insightforge.kit.rules import ErrorRule, error_rule, matches, retryable

__all__ = ["Backoff", "Jitter", "RetryOn", "RetryPolicy", "default_retry_on", "to_backoff"]

Jitter = Literal["full", "proportional", "none"]
RetryOn = ErrorRule
default_retry_on = retryable  # the default rule: a provider error flagged retryable


def _non_negative(name: str) -> Callable[[object, object, float], None]:
    def check(_: object, __: object, value: float) -> None:
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}", path=name)
    return check


def _check_jitter(_: object, __: object, value: str) -> None:
    if value not in ("full", "proportional", "none"):
        raise ConfigError(f"jitter must be 'full', 'proportional' or 'none', got {value!r}",
                          path="backoff.jitter")


@attrs.frozen(slots=True)
class Backoff:
    """Exponential backoff: ``min(cap, base * factor ** (attempt - 1))``, then jitter.

    Attributes:
        base: the delay after the first failure, in seconds.
        factor: the growth per attempt (>= 1).
        cap: no delay is ever longer than this.
        jitter: ``full`` — uniform in ``[0, d]`` (AWS "full jitter", the default: spreads a
            herd of clients best); ``proportional`` — uniform in ``[d/2, d]`` (keeps at
            least half the backoff); ``none`` — exactly ``d``.
    """

    base: float = attrs.field(default=0.5, validator=_non_negative("backoff.base"))
    factor: float = attrs.field(default=2.0, validator=_non_negative("backoff.factor"))
    cap: float = attrs.field(default=30.0, validator=_non_negative("backoff.cap"))
    jitter: Jitter = attrs.field(default="full", validator=_check_jitter)

    def __attrs_post_init__(self) -> None:
        if self.factor < 1:
            raise ConfigError(f"backoff.factor must be >= 1, got {self.factor!r}",
                              path="backoff.factor")

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay after failed attempt ``attempt`` (1-based), capped."""
        exponent = max(0, attempt - 1)
        try:
            raw = self.base * self.factor ** exponent
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def delay(self, attempt: int, rand: float) -> float:
        """The delay after failed attempt ``attempt``; ``rand`` is uniform in ``[0, 1)``."""
        ceiling = self.ceiling(attempt)
        if self.jitter == "full":
            return ceiling * rand
        if self.jitter == "proportional":
            return ceiling * (0.5 + 0.5 * rand)
        return ceiling


def to_backoff(value: Backoff | Mapping[str, Any] | None) -> Backoff:
    """A :class:`Backoff` from itself, ``None`` (the default) or a config mapping."""
    if value is None:
        return Backoff()
    if isinstance(value, Backoff):
        return value
    if isinstance(value, Mapping):
        try:
            return Backoff(**value)
        except TypeError:
            known = "base, factor, cap, jitter"
            raise ConfigError(f"backoff accepts {known}; got {sorted(value)}",
                              path="backoff") from None
    raise ConfigError(f"backoff must be Backoff(...) or a mapping, got {value!r}",
                      path="backoff")


def to_retry_on(value: Any) -> Any:
    """The rule (:func:`insightforge.kit.rules.error_rule`), named ``retry_on`` in errors."""
    return error_rule(value, "retry_on")


def _check_attempts(_: object, __: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"attempts must be an integer >= 1 (1 = no retries), got {value!r}",
                          path="attempts")


def _check_deadline(_: object, __: object, value: float | None) -> None:
    if value is not None:
        _non_negative("deadline")(None, None, value)


@attrs.frozen(slots=True)
class RetryPolicy:
    """Decides, for a failed attempt, the delay before the next one — or to give up.

    Attributes:
        attempts: total attempts, the first included (``1`` never retries).
        backoff: the delay schedule when the server does not say how long to wait.
        retry_on: which errors are retried: ``None`` = retryable :class:`ProviderError`
            (their ``retryable`` flag); a tuple of error types — those in addition (the same
            rule as ``Fallback(on=...)``); or a predicate that replaces the default.
        max_retry_after: a server-directed wait (``Retry-After``) longer than this gives up
            at once instead of sleeping (the OpenAI SDK's rule).
        deadline: overall seconds for all attempts and waits; a wait that would end past
            it gives up instead.
        random: uniform ``[0, 1)`` source for the jitter (inject a seeded one in tests).
        prefer_alternate: a :class:`~insightforge.errors.Timeout` (a silent route: no
            answer, no first token, a stalled stream) is not retried when a ``Fallback``
            above has another route waiting — it moves on after one timeout, not after
            ``attempts`` of them. Without an alternate it is retried as usual.
    """

    attempts: int = attrs.field(default=3, validator=_check_attempts)
    backoff: Backoff = attrs.field(factory=Backoff, converter=to_backoff)
    retry_on: RetryOn = attrs.field(default=None, converter=to_retry_on)
    max_retry_after: float = attrs.field(default=60.0,
                                         validator=_non_negative("max_retry_after"))
    deadline: float | None = attrs.field(default=None, validator=_check_deadline)
    random: Callable[[], float] = attrs.field(default=_random.random, eq=False, repr=False)
    prefer_alternate: bool = True

    def retries(self, error: BaseException) -> bool:
        """Whether ``error`` is of a kind this policy retries (ignoring counts and time)."""
        return matches(self.retry_on, error)

    def decide(self, attempt: int, error: BaseException, elapsed: float,
               alternate: bool = False) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up.

        ``attempt`` is the 1-based number of the attempt that just failed with ``error``;
        ``elapsed`` the seconds since the first attempt started; ``alternate``: a
        ``Fallback`` above has another route waiting. A server-directed ``retry_after`` is
        honoured exactly (no jitter, no cap), unless it exceeds ``max_retry_after``.
        """
        return self.explain(attempt, error, elapsed, alternate)[0]

    def explain(self, attempt: int, error: BaseException, elapsed: float,
                alternate: bool = False) -> tuple[float | None, str]:
        """:meth:`decide` plus the reason, for the trace (``backoff``, ``retry-after``,
        ``not retryable``, ``attempts exhausted``, ``retry-after too long``, ``deadline``,
        ``alternate waiting``)."""
        if not self.retries(error):
            return None, "not retryable"
        if alternate and self.prefer_alternate and isinstance(error, Timeout):
            return None, "alternate waiting"
        if attempt >= self.attempts:
            return None, "attempts exhausted"
        server = getattr(error, "retry_after", None)
        if isinstance(server, (int, float)) and math.isfinite(server) and server >= 0:
            if server > self.max_retry_after:
                return None, "retry-after too long"
            delay, reason = float(server), "retry-after"
        else:
            delay, reason = self.backoff.delay(attempt, self.random()), "backoff"
        if self.deadline is not None and elapsed + delay > self.deadline:
            return None, "deadline"
        return delay, reason
