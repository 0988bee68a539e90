"""``RateLimit``: the configuration, validated once, and its flow — acquire, call, correct.

Before the call the flow takes one request unit and the estimated tokens from the key's
logs (:mod:`.stores`), sleeping for as long as the bucket says, up to ``max_wait``
(:func:`~.policy.wait_for` decides); after the call it corrects the token estimate with the
real usage (a stream: when it ends). The kit's drivers run it sync and async; sleeps are
injectable (``sleep``/``asleep``).

The correction: when the real usage exceeds the estimate, the difference is put into the
token log at once (without waiting); if it does not fit, it is owed — added to the next
request under the same key in this process. An over-estimate is not refunded (a sliding
log cannot take entries back), so the limiter errs on the safe side.

A store that fails is ``on_store_error``'s to decide: ``"closed"`` (default) fails the call
with :class:`~insightforge.errors.StoreUnavailable` before any network call; ``"open"`` lets
it through, with the failure in the trace and the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from pyrate_limiter import Rate
from pyrate_limiter.abstracts.algorithm import ADMITTED

from insightforge.errors import ConfigError, RateLimited
from insightforge.kit import (
    Call,
    Flow,
    FlowHandler,
    FlowLayer,
    Sleep,
    executor_of,
    store_call,
)
from insightforge.kit.keys import KeySpec, bucket_key, check_key_spec
from insightforge.secrets import scrub
from insightforge.stack import Handler, Request
from insightforge.types import TraceEvent
from insightforge.types.responses import restamp
from middleware._clock import AsyncSleep, Clock, real_asleep, real_sleep
from middleware._clock import Sleep as SleepFn
from middleware.ratelimit.policy import Limits, estimate_tokens, token_units, wait_for
from middleware.ratelimit.stores import LimitStore, MemoryStore, make_store

__all__ = ["RateLimit"]

_log = logging.getLogger("insightforge.ratelimit")


def _check_max_wait(_: object, __: object, value: float) -> None:
    if not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ConfigError(f"max_wait must be a finite number of seconds >= 0, got {value!r}",
                          path="max_wait")


def _check_on_store_error(_: object, __: object, value: str) -> None:
    if value not in ("closed", "open"):
        raise ConfigError(f"on_store_error must be 'closed' (fail the call) or 'open' (let "
                          f"it through), got {value!r}", path="on_store_error")


def _key(value: Any) -> KeySpec:
    return check_key_spec(value, "key", allowed=("route", "global"))


class _Ticket:
    """What one call took: its key, estimated token units, seconds waited."""

    __slots__ = ("key", "units", "waited")

    def __init__(self, key: str, units: int) -> None:
        self.key = key
        self.units = units
        self.waited = 0.0


class _State:
    """One handler's limiter state: its rates, the route key (asked once), token debts."""

    __slots__ = ("_inner", "_route_key", "debt", "lock", "request_rate", "token_rate", "unit")

    def __init__(self, limits: Limits, inner: Handler) -> None:
        self.request_rate: Rate | None = limits.request_rate()
        self.token_rate: Rate | None = limits.token_rate()
        self.unit = limits.token_unit
        self._inner = inner
        self._route_key: str | None = None
        self.debt: dict[str, int] = {}
        self.lock = threading.Lock()

    def key(self, spec: KeySpec, request: Request) -> str:
        if spec == "route":
            if self._route_key is None:
                self._route_key = bucket_key(spec, request, self._inner.routes())
            return self._route_key
        return bucket_key(spec, request)

    def owed(self, key: str) -> int:
        if not self.debt:
            return 0
        with self.lock:
            return self.debt.pop(key, 0)

    def owe(self, key: str, units: int) -> None:
        with self.lock:
            self.debt[key] = self.debt.get(key, 0) + units


@attrs.frozen(slots=True)
class RateLimit(FlowLayer):
    """Requests and tokens per window, waiting up to ``max_wait``, else ``RateLimited``.

    Attributes:
        rpm: requests per window; tpm: tokens per window (either or both).
        key: ``"route"`` (the inner handler's routes), ``"global"``, ``"tag:<name>"`` (one
            limit per value of that request tag, e.g. per tenant; untagged requests share
            one bucket) or a function(request) -> str.
        max_wait: the longest a request waits for room, in seconds; beyond it
            :class:`~insightforge.errors.RateLimited` is raised at once.
        store: ``"memory"`` (default), ``"sqlite:///limits.db"`` (processes on one
            machine), ``"redis://host:6379/0"`` (many machines), or a store object.
        on_store_error: ``"closed"`` (a failing store fails the call) or ``"open"``.
        estimate_tokens: request -> tokens, before the call (default: words/chars
            heuristic plus ``max_tokens``).
        window: seconds per window (60: rpm and tpm are per minute).
        clock: wall-clock seconds (shared stores compare timestamps across processes);
            sleep / asleep: injectable waits.
    """

    rpm: int | None = None
    tpm: int | None = None
    key: KeySpec = attrs.field(default="route", converter=_key)
    max_wait: float = attrs.field(default=10.0, validator=_check_max_wait)
    store: LimitStore = attrs.field(factory=MemoryStore, converter=make_store)
    on_store_error: str = attrs.field(default="closed", validator=_check_on_store_error)
    estimate_tokens: Callable[[Request], int] = attrs.field(default=estimate_tokens,
                                                            repr=False)
    window: float = 60.0
    clock: Clock = attrs.field(default=time.time, eq=False, repr=False)
    sleep: SleepFn = attrs.field(default=real_sleep, eq=False, repr=False)
    asleep: AsyncSleep = attrs.field(default=real_asleep, eq=False, repr=False)
    limits: Limits = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "limits", Limits(self.rpm, self.tpm, self.window))

    def open(self, inner: Handler) -> _State:
        return _State(self.limits, inner)

    def close(self) -> None:
        self.store.close()

    def flow(self, request: Request, handler: FlowHandler) -> Flow:
        state: _State = handler.state
        ticket = self._ticket(state, request)
        events: list[TraceEvent] = []
        for name, rate, weight in self._logs(state, ticket):
            while True:
                decision = yield from self._put(name, rate, weight, events)
                if decision.allowed:
                    break
                wait = self._next_wait(ticket, decision.retry_after_ms)
                yield Sleep(wait, self.sleep, self.asleep, note=TraceEvent(
                    "ratelimit", "waiting", f"waiting {wait:.2f}s for {ticket.key}",
                    {"key": ticket.key, "wait": round(wait, 6)}))
        response = yield Call(request)
        tokens = state.token_rate
        usage = getattr(response, "usage", None)
        if tokens is not None and usage is not None:
            actual = token_units(usage.input_tokens + usage.output_tokens, state.unit,
                                 tokens.limit)
            extra = max(0, actual - ticket.units)
            if extra and not (yield from self._put(ticket.key + ":tokens", tokens, extra,
                                                   events)).allowed:
                state.owe(ticket.key, extra)
        if ticket.waited:
            events.insert(0, TraceEvent(
                "ratelimit", "waited", f"waited {ticket.waited:.2f}s for {ticket.key}",
                {"key": ticket.key, "waited": round(ticket.waited, 6)}))
        return restamp(response, (*events, *response.trace)) if events else response

    # -- the steps ---------------------------------------------------------------------------
    def _ticket(self, state: _State, request: Request) -> _Ticket:
        key = state.key(self.key, request)
        units = 0
        rate = state.token_rate
        if rate is not None:
            units = token_units(self.estimate_tokens(request), state.unit, rate.limit)
            owed = state.owed(key)
            if owed:
                units = min(rate.limit, units + owed)
        return _Ticket(key, units)

    @staticmethod
    def _logs(state: _State, ticket: _Ticket) -> list[tuple[str, Rate, int]]:
        logs = []
        if state.request_rate is not None:
            logs.append((ticket.key + ":requests", state.request_rate, 1))
        if state.token_rate is not None and ticket.units > 0:
            logs.append((ticket.key + ":tokens", state.token_rate, ticket.units))
        return logs

    def _put(self, name: str, rate: Rate, weight: int, events: list[TraceEvent]) -> Flow:
        try:
            return (yield from store_call(self.store.put, name, rate, weight, self._now_ms,
                                          blocking=self.store.blocking,
                                          executor=executor_of(self.store)))
        except Exception as exc:
            if self.on_store_error == "closed":
                raise
            reason = f"{type(exc).__name__}: {scrub(str(exc))}"
            _log.warning("rate-limit store failed; letting the call through "
                         "(on_store_error='open'): %s", reason)
            events.append(TraceEvent("ratelimit", "store_failed",
                                     f"store failed, let through: {reason}", {"name": name}))
            return ADMITTED

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _next_wait(self, ticket: _Ticket, retry_after_ms: int | None) -> float:
        delay = wait_for(retry_after_ms, ticket.waited, self.max_wait)
        if delay is None:
            need = None if retry_after_ms is None else ticket.waited + retry_after_ms / 1000
            raise RateLimited(ticket.key, wait=need, max_wait=self.max_wait)
        ticket.waited += delay
        return delay
