"""``Budget``: the configuration, validated once, and its flow — reserve, call, settle.

Per call: plan (pure, :mod:`.policy`) -> ``reserve`` in the ledger -> admit (or
``BudgetExceeded`` before any network call) -> the inner call -> settle exactly once:

* a response settles its usage at the answering route's price and releases the rest;
* a failure releases the reservation (nothing was billed);
* a stream settles when it ends; when it is **abandoned** (``close()`` or garbage) it keeps
  the full reservation as spent, because tokens may have been billed; when it **fails** it
  releases the reservation if no chunk arrived, and keeps it otherwise;
* a ledger that fails at the reservation fails the call closed
  (:class:`~insightforge.errors.StoreUnavailable`, before any network call); a settlement the
  ledger cannot take is logged and leaves the lease to expire — never an over-spend, and the
  call's own answer or error is returned unchanged.

The kit's drivers run the flow sync and async; the ledger's ``blocking`` flag decides
whether async calls hop to a worker thread. A ledger that does not block (memory) is called
by the flow itself, as both drivers would call it, without the round trip through them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from insightforge.errors import ConfigError
from insightforge.kit import (
    Abandoned,
    Call,
    Flow,
    FlowHandler,
    FlowLayer,
    add_trace,
    executor_of,
    store_call,
)
from insightforge.kit.keys import check_key_spec
from insightforge.pricing import Price, PriceTable
from insightforge.secrets import scrub
from insightforge.stack import Handler, Request
from insightforge.types import (
    ChatRequest,
    EmbedRequest,
    Route,
)
from insightforge.types.responses import restamp
from middleware.budget import plan as planning
from middleware.budget import policy
from middleware.budget.plan import Reservation
from middleware.budget.policy import from_units
from middleware.budget.routes import Routes
from middleware.budget.stores import Ledger, MemoryLedger, ledger_from

__all__ = ["Budget"]

_log = logging.getLogger("insightforge.budget")


def _usd(value: Decimal | float | int | str) -> Decimal:
    # Never echo a string back: a misplaced secret must not reach an error message.
    shown = repr(value) if isinstance(value, (int, float, Decimal)) else "a non-number"
    try:
        out = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise ConfigError(f"limit_usd must be a number of dollars, got {shown}",
                          path="limit_usd") from None
    if not out.is_finite() or out <= 0:
        raise ConfigError("expected a positive number", path="limit_usd")
    return out


def _unknown(value: object) -> Price | None:
    if value == "refuse" or value is None:
        return None
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(**value)
    raise ConfigError(f"on_unknown_price must be 'refuse' or a Price(input=..., output=...), "
                      f"got a {type(value).__name__}", path="on_unknown_price")


def _prices(value: object) -> PriceTable:
    if isinstance(value, PriceTable):
        return value
    if value is None:
        return PriceTable()
    if isinstance(value, Mapping):
        return PriceTable.from_mapping(value)
    raise ConfigError("prices must be a PriceTable or a mapping provider -> model -> price",
                      path="prices")


def _period(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in policy.PERIODS:
        raise ConfigError(f"period must be one of {list(policy.PERIODS)}, got {value!r}",
                          path="period")


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
        raise ConfigError(f"{attribute.name} must be a positive number, got {value!r}",
                          path=attribute.name)


def _scope(value: Any) -> Any:
    return check_key_spec(value, "scope", allowed=("global", "route"))


def _utcnow() -> datetime:
    return datetime.now(UTC)


_UNDATED = datetime.min.replace(tzinfo=UTC)
"""The ``now`` of a ``total`` period, whose key has no date (the clock is not asked)."""


@attrs.frozen(repr=False)
class Budget(FlowLayer):
    """Reserve the worst case before each call, settle the actual cost after.

    Attributes:
        limit_usd: the limit per period and bucket, in dollars.
        period: ``total``, ``day`` or ``month`` (calendar, UTC).
        scope: ``global``, ``route`` (one budget per set of routes below), or
            ``tag:<name>`` for one budget per value of that tag (per tenant, per user);
            untagged requests share one bucket.
        store: ``"memory"``, ``"sqlite:///budget.db"``, ``"redis://host:6379/0"``, or a
            :class:`~middleware.budget.stores.Ledger` (``SQLiteLedger``, ``RedisLedger``).
        on_unknown_price: ``"refuse"`` (a ``ConfigError`` before any call) or a ``Price``
            used for models no table knows. Never a silent zero.
        estimate: ``request -> input tokens``; must be an upper bound (the default counts
            UTF-8 bytes plus overheads).
        default_max_tokens: the output cap when the request sets none.
        min_output_tokens: refuse when not even this many output tokens fit.
        prices: overrides over the global price table (a ``PriceTable`` or a mapping).
        lease: seconds a reservation lives if its process dies before settling; set it above
            the longest call you make (streams included).
        clock: returns "now" (UTC) for period keys; injectable for tests.
        ledger: the old name of ``store`` (deprecated).
    """

    limit_usd: Decimal = attrs.field(converter=_usd)
    period: str = attrs.field(default="total", validator=_period)
    scope: str = attrs.field(default="global", converter=_scope)
    store: Ledger = attrs.field(factory=MemoryLedger, converter=ledger_from)
    on_unknown_price: Price | None = attrs.field(default=None, converter=_unknown)
    estimate: Callable[[ChatRequest | EmbedRequest], int] = policy.estimate_input_tokens
    default_max_tokens: int = attrs.field(default=4096, validator=_positive)
    min_output_tokens: int = attrs.field(default=16, validator=_positive)
    prices: PriceTable = attrs.field(factory=PriceTable, converter=_prices)
    lease: float = attrs.field(default=900.0, validator=_positive)
    clock: Callable[[], datetime] = attrs.field(default=_utcnow, repr=False)
    _ledger: Any = attrs.field(default=None, kw_only=True, eq=False, repr=False,
                               alias="ledger", metadata={"config": True})

    def __attrs_post_init__(self) -> None:
        if self._ledger is not None:
            warnings.warn("Budget(ledger=...) is now Budget(store=...)", DeprecationWarning,
                          stacklevel=3)
            object.__setattr__(self, "store", ledger_from(self._ledger, "ledger"))
            object.__setattr__(self, "_ledger", None)

    @property
    def ledger(self) -> Ledger:
        """The old name of :attr:`store`."""
        return self.store

    def __repr__(self) -> str:
        unknown = "refuse" if self.on_unknown_price is None else self.on_unknown_price
        return (f"Budget(limit_usd={self.limit_usd}, period={self.period!r}, "
                f"scope={self.scope!r}, store={self.store!r}, on_unknown_price={unknown!r})")

    @property
    def limit_units(self) -> int:
        return policy.to_units(self.limit_usd)

    def open(self, inner: Handler) -> Routes:
        return Routes(inner, self.limit_units)

    def close(self) -> None:
        self.store.close()

    def plan(self, request: ChatRequest | EmbedRequest, routes: tuple[Route, ...],
             quotes: Routes | None = None) -> planning.Plan:
        """The worst case of ``request`` over ``routes`` (raises ConfigError if unpriced);
        ``quotes``: the handler's state, which memoizes the routes' rates."""
        return planning.plan(request, routes, scope=self.scope, period=self.period,
                           now=_UNDATED if self.period == "total" else self.clock(),
                           prices=self.prices,
                           on_unknown=self.on_unknown_price, estimate=self.estimate,
                           default_max_tokens=self.default_max_tokens,
                           min_output_tokens=self.min_output_tokens, quotes=quotes)

    def flow(self, request: Request, handler: FlowHandler) -> Flow:
        state: Routes = handler.state
        routes = state()
        plan = self.plan(request, routes, state)
        if plan.want:
            grant = yield from store_call(self.store.reserve, plan.key, state.limit_units,
                                          plan.want, plan.least, ttl=self.lease,
                                          blocking=self.store.blocking,
                                          executor=executor_of(self.store))
            if not grant.granted:
                raise planning.refusal(plan, self.limit_usd, grant.spent + grant.reserved)
            res = planning.admit(plan, grant.granted, grant.lease)
        else:
            res = planning.admit(plan, 0)
        call = Call(res.request)
        try:
            response = yield call
        except Abandoned:
            yield from self._settle(res, res.units)  # tokens may have been billed: kept
            raise
        except BaseException as error:
            actual = res.units if call.chunks else 0
            yield from self._settle(res, actual)
            how = ("stream failed" if call.streamed else "failed, released")
            add_trace(error, res.events, [planning.settled_event(res, actual, how)])
            raise
        actual = planning.charge(res, response, routes, self.prices)
        yield from self._settle(res, actual)
        event = planning.settled_event(res, actual, "stream ended" if call.streamed
                                     else "response")
        return restamp(response, (*res.events, *response.trace, event),
                       cost_usd=from_units(actual))

    def _settle(self, res: Reservation, actual: int) -> Flow:
        """Settle ``res`` at ``actual`` units. A ledger that does not block (memory) is
        called here, as the drivers would call it, without a round trip through them."""
        if not (res.units or actual):
            return
        try:
            yield from store_call(self.store.settle, res.plan.key, res.units, actual,
                                  lease=res.lease, blocking=self.store.blocking,
                                  executor=executor_of(self.store))
        except Exception as exc:  # the call's own outcome is not replaced by the ledger's
            _log.warning("budget settlement of %s units for %s failed; the reservation "
                         "stays counted until its lease expires: %s: %s", res.units,
                         res.plan.key, type(exc).__name__, scrub(str(exc)))
