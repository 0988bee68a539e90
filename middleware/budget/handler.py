"""The Budget layer's two thin drivers (sync and async) around the pure plan in ``layer``.

Per call: plan -> ``ledger.reserve`` -> admit (or ``BudgetExceeded`` before any network
call) -> inner call -> settle exactly once:

* a response settles its usage at the answering route's price and releases the rest;
* a failure releases the reservation (nothing was billed);
* a stream settles when it ends; when it is **abandoned** (``close()`` or garbage) it keeps
  the full reservation as spent, because tokens may have been billed; when it **fails**
  it releases the reservation if no chunk arrived, and keeps it otherwise;
* a settlement the ledger cannot take (Redis gone after the reserve) is logged and leaves
  the reservation counted; the call's answer or error is returned unchanged.

Async drivers run SQLite and Redis ledger calls in a worker thread; the memory ledger is
called inline (it only takes a lock for a few microseconds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from insightforge.errors import BudgetExceeded, InsightForgeError
from insightforge.secrets import scrub
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatResponse, Chunk, EmbedResponse, Route, TraceEvent
from middleware.budget.layer import Budget, Plan, Reservation
from middleware.budget.ledger import Grant, MemoryLedger
from middleware.budget.policy import from_units

__all__ = ["BudgetHandler"]

_log = logging.getLogger("insightforge.budget")
T = TypeVar("T")
Answer = TypeVar("Answer", bound=ChatResponse | EmbedResponse)


def _settle_failed(res: Reservation, exc: Exception) -> None:
    """A settlement the ledger could not take (its server went away after the reserve).

    The reservation stays in the ledger and counts against the limit until the period
    ends — never an over-spend — and the call's own outcome (its answer, or the provider's
    error) is not replaced by the ledger's failure.
    """
    _log.warning("budget settlement of %s units for %s failed; the reservation stays "
                 "counted until the period ends: %s: %s", res.units, res.plan.key,
                 type(exc).__name__, scrub(str(exc)))


class BudgetHandler(Middleware):
    """The handler a :class:`~middleware.budget.Budget` wraps around its inner handler."""

    __slots__ = ("_routes",)
    layer: Budget

    def __init__(self, layer: Budget, inner: Handler) -> None:
        super().__init__(layer, inner)
        self._routes: tuple[Route, ...] | None = None

    def routes(self) -> tuple[Route, ...]:
        if self._routes is None:
            self._routes = self.inner.routes()
        return self._routes

    # -- shared, I/O-free steps ------------------------------------------------------------
    def _admit(self, plan: Plan, request: Request, grant: Grant | None) -> Reservation:
        try:
            return self.layer.admit(plan, request, grant)
        except BudgetExceeded as exc:
            exc.add_trace(TraceEvent("budget", "refused", str(exc), {"scope": plan.scope}))
            raise

    def _finish(self, res: Reservation, response: Answer, actual: int,
                how: str) -> Answer:
        event = self.layer.settled_event(res, actual, how)
        return attrs.evolve(response, cost_usd=from_units(actual),
                            trace=(*res.events, *response.trace, event))

    def _failed(self, res: Reservation, exc: BaseException, actual: int, how: str) -> None:
        if isinstance(exc, InsightForgeError):
            exc.add_trace(*res.events)
            exc.add_trace(self.layer.settled_event(res, actual, how), before=False)

    # -- sync driver ---------------------------------------------------------------------
    def _settle(self, res: Reservation, actual: int) -> None:
        if res.units or actual:
            try:
                self.layer.ledger.settle(res.plan.key, res.units, actual)
            except Exception as exc:
                _settle_failed(res, exc)

    def _reserve(self, request: Request) -> Reservation:
        plan = self.layer.plan(request, self.routes())
        grant = (self.layer.ledger.reserve(plan.key, self.layer.limit_units, plan.want,
                                           plan.least) if plan.want else None)
        return self._admit(plan, request, grant)

    def __call__(self, request: Request, /) -> Response:
        res = self._reserve(request)
        try:
            result = self.inner(res.request)
        except BaseException as exc:
            self._settle(res, 0)
            self._failed(res, exc, 0, "failed, released")
            raise
        if isinstance(result, ChatStream):
            return self._wrap(result, res)
        actual = self.layer.charge(res, result, self.routes())
        self._settle(res, actual)
        return self._finish(res, result, actual, "response")

    def _wrap(self, stream: ChatStream, res: Reservation) -> ChatStream:
        seen: list[bool] = []

        def on_chunk(_: Chunk) -> None:
            if not seen:
                seen.append(True)

        def on_end(response: ChatResponse) -> ChatResponse:
            actual = self.layer.charge(res, response, self.routes())
            self._settle(res, actual)
            return self._finish(res, response, actual, "stream ended")

        def on_error(exc: BaseException) -> None:
            actual = res.units if seen else 0
            self._settle(res, actual)
            self._failed(res, exc, actual, "stream failed")

        def on_close() -> None:
            self._settle(res, res.units)

        return stream.wrap(on_chunk=on_chunk, on_end=on_end, on_error=on_error,
                           on_close=on_close)

    # -- async driver --------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if isinstance(self.layer.ledger, MemoryLedger):
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    async def _asettle(self, res: Reservation, actual: int) -> None:
        if res.units or actual:
            try:
                await self._run(self.layer.ledger.settle, res.plan.key, res.units, actual)
            except Exception as exc:
                _settle_failed(res, exc)

    async def _areserve(self, request: Request) -> Reservation:
        plan = self.layer.plan(request, self.routes())
        grant = (await self._run(self.layer.ledger.reserve, plan.key, self.layer.limit_units,
                                 plan.want, plan.least) if plan.want else None)
        return self._admit(plan, request, grant)

    async def acall(self, request: Request, /) -> AsyncResponse:
        res = await self._areserve(request)
        try:
            result = await self.inner.acall(res.request)
        except BaseException as exc:
            await self._asettle(res, 0)
            self._failed(res, exc, 0, "failed, released")
            raise
        if isinstance(result, AsyncChatStream):
            return self._awrap(result, res)
        actual = self.layer.charge(res, result, self.routes())
        await self._asettle(res, actual)
        return self._finish(res, result, actual, "response")

    def _awrap(self, stream: AsyncChatStream, res: Reservation) -> AsyncChatStream:
        seen: list[bool] = []

        def on_chunk(_: Chunk) -> None:
            if not seen:
                seen.append(True)

        async def on_end(response: ChatResponse) -> ChatResponse:
            actual = self.layer.charge(res, response, self.routes())
            await self._asettle(res, actual)
            return self._finish(res, response, actual, "stream ended")

        async def on_error(exc: BaseException) -> None:
            actual = res.units if seen else 0
            await self._asettle(res, actual)
            self._failed(res, exc, actual, "stream failed")

        async def on_close() -> None:
            await self._asettle(res, res.units)

        return stream.wrap(on_chunk=on_chunk, on_end=on_end, on_error=on_error,
                           on_close=on_close)
