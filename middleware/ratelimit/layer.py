"""The ``RateLimit`` layer and its two thin drivers around the pure policy and a store.

What lives here: :class:`RateLimit` (configuration) and :class:`RateLimitHandler`: before
the call it takes one request unit and the estimated tokens from the key's logs, sleeping
(``time.sleep`` / ``asyncio.sleep``, both injectable) for as long as the bucket says, up
to ``max_wait``; after the call it corrects the token estimate with the real usage.

The correction: when the real usage exceeds the estimate, the difference is put into the
token log at once (without waiting); if it does not fit, it is owed — added to the next
request under the same key in this process. An over-estimate is not refunded (a sliding
log cannot take entries back), so the limiter errs on the safe side.
What must not: bucket internals (:mod:`.stores`) or the decisions (:mod:`.policy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from pyrate_limiter import Rate

from insightforge.errors import ConfigError, RateLimited
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import TraceEvent
from middleware._clock import AsyncSleep, Clock, Sleep, real_asleep, real_sleep
from middleware.ratelimit.policy import (
    KeySpec,
    Limits,
    check_key,
    estimate_tokens,
    limiter_key,
    token_units,
    wait_for,
)
from middleware.ratelimit.stores import LimitStore, MemoryStore, make_store

__all__ = ["RateLimit", "RateLimitHandler"]


def _check_max_wait(_: object, __: object, value: float) -> None:
    if not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ConfigError(f"max_wait must be a finite number of seconds >= 0, got {value!r}",
                          path="max_wait")


@attrs.frozen(slots=True)
class RateLimit:
    """Requests and tokens per window, waiting up to ``max_wait``, else ``RateLimited``.

    Attributes:
        rpm: requests per window; tpm: tokens per window (either or both).
        key: ``"route"`` (the inner handler's routes), ``"tag:<name>"`` (one limit per
            value of that request tag, e.g. per tenant) or a function(request) -> str.
        max_wait: the longest a request waits for room, in seconds; beyond it
            :class:`~insightforge.errors.RateLimited` is raised at once.
        store: ``"memory"`` (default), :class:`SQLiteStore` (processes on one machine),
            :class:`RedisStore` (many machines), or ``"sqlite:<path>"`` / a redis URL.
        estimate_tokens: request -> tokens, before the call (default: words/chars
            heuristic plus ``max_tokens``).
        window: seconds per window (60: rpm and tpm are per minute).
        clock: wall-clock seconds (shared stores compare timestamps across processes);
            sleep / asleep: injectable waits.
    """

    rpm: int | None = None
    tpm: int | None = None
    key: KeySpec = attrs.field(default="route", converter=check_key)
    max_wait: float = attrs.field(default=10.0, validator=_check_max_wait)
    store: LimitStore = attrs.field(factory=MemoryStore, converter=make_store)
    estimate_tokens: Callable[[Request], int] = attrs.field(default=estimate_tokens,
                                                            repr=False)
    window: float = 60.0
    clock: Clock = attrs.field(default=time.time, eq=False, repr=False)
    sleep: Sleep = attrs.field(default=real_sleep, eq=False, repr=False)
    asleep: AsyncSleep = attrs.field(default=real_asleep, eq=False, repr=False)
    limits: Limits = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "limits", Limits(self.rpm, self.tpm, self.window))

    def __call__(self, inner: Handler) -> RateLimitHandler:
        return RateLimitHandler(self, inner)


class _Ticket:
    """What one call took: its key, estimated token units, seconds waited."""

    __slots__ = ("key", "units", "waited")

    def __init__(self, key: str, units: int) -> None:
        self.key = key
        self.units = units
        self.waited = 0.0


class RateLimitHandler(Middleware):
    """Acquires before the call, corrects tokens after; see :class:`RateLimit`."""

    __slots__ = ("_debt", "_lock", "_request_rate", "_route_key", "_token_rate", "_unit")
    layer: RateLimit

    def __init__(self, layer: RateLimit, inner: Handler) -> None:
        super().__init__(layer, inner)
        self._request_rate: Rate | None = layer.limits.request_rate()
        self._token_rate: Rate | None = layer.limits.token_rate()
        self._unit = layer.limits.token_unit
        self._route_key: str | None = None
        self._debt: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- pure-ish preparation shared by both drivers ------------------------------------
    def _ticket(self, request: Request) -> _Ticket:
        spec = self.layer.key
        if spec == "route":
            if self._route_key is None:
                self._route_key = limiter_key(spec, request, self.inner.routes())
            key = self._route_key
        else:
            key = limiter_key(spec, request, ())
        units = 0
        rate = self._token_rate
        if rate is not None:
            units = token_units(self.layer.estimate_tokens(request), self._unit, rate.limit)
            if self._debt:
                with self._lock:
                    owed = self._debt.pop(key, 0)
                units = min(rate.limit, units + owed)
        return _Ticket(key, units)

    def _logs(self, ticket: _Ticket) -> list[tuple[str, Rate, int]]:
        logs = []
        if self._request_rate is not None:
            logs.append((ticket.key + ":requests", self._request_rate, 1))
        if self._token_rate is not None and ticket.units > 0:
            logs.append((ticket.key + ":tokens", self._token_rate, ticket.units))
        return logs

    def _next_wait(self, ticket: _Ticket, retry_after_ms: int | None) -> float:
        delay = wait_for(retry_after_ms, ticket.waited, self.layer.max_wait)
        if delay is None:
            need = None if retry_after_ms is None else ticket.waited + retry_after_ms / 1000
            raise RateLimited(ticket.key, wait=need, max_wait=self.layer.max_wait)
        ticket.waited += delay
        return delay

    def _correction(self, ticket: _Ticket, result: Any) -> int:
        usage = getattr(result, "usage", None)
        rate = self._token_rate
        if rate is None or usage is None:
            return 0
        actual = token_units(usage.input_tokens + usage.output_tokens, self._unit, rate.limit)
        return max(0, actual - ticket.units)

    def _owe(self, ticket: _Ticket, units: int) -> None:
        with self._lock:
            self._debt[ticket.key] = self._debt.get(ticket.key, 0) + units

    def _finish(self, ticket: _Ticket, result: Any, settle: Callable[[Any], Any]) -> Any:
        if isinstance(result, (ChatStream, AsyncChatStream)):
            result = result.wrap(on_end=settle) if self._token_rate is not None else result
        else:
            settle(result)
        if ticket.waited and not isinstance(result, (ChatStream, AsyncChatStream)):
            return attrs.evolve(result, trace=(_waited(ticket), *result.trace))
        if ticket.waited:
            event = _waited(ticket)
            return result.wrap(on_end=lambda r: attrs.evolve(r, trace=(event, *r.trace)))
        return result

    # -- sync driver ----------------------------------------------------------------------
    def __call__(self, request: Request, /) -> Response:
        ticket = self._ticket(request)
        for name, rate, weight in self._logs(ticket):
            while not (d := self.layer.store.put(name, rate, weight, self._now_ms())).allowed:
                self.layer.sleep(self._next_wait(ticket, d.retry_after_ms))
        result = self.inner(request)

        def settle(response: Any) -> None:
            extra = self._correction(ticket, response)
            if extra and self._token_rate is not None and not self.layer.store.put(
                    ticket.key + ":tokens", self._token_rate, extra, self._now_ms()).allowed:
                self._owe(ticket, extra)

        return self._finish(ticket, result, settle)  # type: ignore[no-any-return]

    # -- async driver ---------------------------------------------------------------------
    async def acall(self, request: Request, /) -> AsyncResponse:
        ticket = self._ticket(request)
        for name, rate, weight in self._logs(ticket):
            while not (d := await self.layer.store.aput(name, rate, weight,
                                                        self._now_ms())).allowed:
                await self.layer.asleep(self._next_wait(ticket, d.retry_after_ms))
        result = await self.inner.acall(request)

        async def settle(response: Any) -> None:
            extra = self._correction(ticket, response)
            if extra and self._token_rate is not None and not (await self.layer.store.aput(
                    ticket.key + ":tokens", self._token_rate, extra, self._now_ms())).allowed:
                self._owe(ticket, extra)

        if isinstance(result, AsyncChatStream):
            return self._finish(ticket, result, settle)  # type: ignore[no-any-return]
        if self._token_rate is not None:
            await settle(result)
        return self._finish(ticket, result, _ignore)  # type: ignore[no-any-return]

    def _now_ms(self) -> int:
        return int(self.layer.clock() * 1000)


def _ignore(_: Any) -> None:
    return None


def _waited(ticket: _Ticket) -> TraceEvent:
    return TraceEvent("ratelimit", "waited", f"waited {ticket.waited:.2f}s for {ticket.key}",
                      {"key": ticket.key, "waited": round(ticket.waited, 6)})
