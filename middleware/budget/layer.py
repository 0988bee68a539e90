"""The ``Budget`` layer's configuration and its per-request plan (no I/O here).

:class:`Budget` validates its options once; :meth:`Budget.plan` turns a request into a
:class:`Plan` (ledger key, price, worst case), :meth:`Budget.admit` turns the ledger's
:class:`~middleware.budget.ledger.Grant` into a :class:`Reservation` (the request to send,
``max_tokens`` lowered to what the grant pays for) or a ``BudgetExceeded``, and
:meth:`Budget.charge` says what a finished call costs. The drivers in ``handler`` only move
these between the ledger and the inner handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from insightforge.errors import BudgetExceeded
from insightforge.pricing import Price, PriceTable
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Route,
    TraceEvent,
)
from middleware.budget import policy
from middleware.budget.ledger import Grant, Ledger, MemoryLedger, ledger_from

if TYPE_CHECKING:
    from insightforge.stack import Handler

__all__ = ["Budget", "Plan", "Reservation"]


def _usd(value: Decimal | float | int | str) -> Decimal:
    # Never echo a string back: a misplaced secret must not reach an error message.
    shown = repr(value) if isinstance(value, (int, float, Decimal)) else "a non-number"
    try:
        out = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"limit_usd must be a number of dollars, got {shown}") from None
    if not out.is_finite() or out < 0:
        raise ValueError(f"limit_usd must be a finite amount >= 0, got {shown}")
    return out


def _unknown(value: object) -> Price | None:
    if value == "refuse" or value is None:
        return None
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(**value)
    raise ValueError(f"on_unknown_price must be 'refuse' or a Price(input=..., output=...), "
                     f"got a {type(value).__name__}")


def _prices(value: object) -> PriceTable:
    if isinstance(value, PriceTable):
        return value
    if value is None:
        return PriceTable()
    if isinstance(value, Mapping):
        return PriceTable.from_mapping(value)
    raise ValueError("prices must be a PriceTable or a mapping provider -> model -> price")


def _period(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in policy.PERIODS:
        raise ValueError(f"period must be one of {list(policy.PERIODS)}, got {value!r}")


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@attrs.frozen(slots=True)
class Plan:
    """What a request may cost, before the ledger is asked.

    Attributes:
        key: ledger key; scope: the scope key; period: the period key.
        price: the dearest price of any route; input_tokens: the input upper bound.
        cap: the output tokens wanted (request's or the default); want/least: units.
    """

    key: str
    scope: str
    period: str
    price: Price
    input_tokens: int
    cap: int
    want: int
    least: int


@attrs.frozen(slots=True)
class Reservation:
    """An admitted request: what was reserved, and the request to send.

    Attributes:
        plan: the plan; units: reserved units; request: the (possibly lowered) request.
        events: trace events recorded at admission.
    """

    plan: Plan
    units: int
    request: ChatRequest | EmbedRequest
    events: tuple[TraceEvent, ...]


@attrs.frozen(repr=False)
class Budget:
    """Reserve the worst case before each call, settle the actual cost after.

    Attributes:
        limit_usd: the limit per period and scope, in dollars.
        period: ``total``, ``day`` or ``month`` (calendar, UTC).
        scope: ``global``, or ``tag:<name>`` (or just ``<name>``) for one budget per value
            of that tag (per tenant, per user); untagged requests share one bucket.
        ledger: ``"memory"``, a SQLite path (``"sqlite:///budget.db"``), a Redis URL, or a
            :class:`~middleware.budget.ledger.Ledger` (``SQLiteLedger``, ``RedisLedger``).
        on_unknown_price: ``"refuse"`` (a ``ConfigError`` before any call) or a ``Price``
            used for models no table knows. Never a silent zero.
        estimate: ``request -> input tokens``; must be an upper bound (the default counts
            UTF-8 bytes plus overheads).
        default_max_tokens: the output cap when the request sets none.
        min_output_tokens: refuse when not even this many output tokens fit.
        prices: overrides over the global price table (a ``PriceTable`` or a mapping).
        clock: returns "now" (UTC) for period keys; injectable for tests.
    """

    limit_usd: Decimal = attrs.field(converter=_usd)
    period: str = attrs.field(default="total", validator=_period)
    scope: str = attrs.field(default="global", converter=policy.normalize_scope)
    ledger: Ledger = attrs.field(factory=MemoryLedger, converter=ledger_from)
    on_unknown_price: Price | None = attrs.field(default=None, converter=_unknown)
    estimate: Callable[[ChatRequest | EmbedRequest], int] = policy.estimate_input_tokens
    default_max_tokens: int = attrs.field(default=4096, validator=_positive)
    min_output_tokens: int = attrs.field(default=16, validator=_positive)
    prices: PriceTable = attrs.field(factory=PriceTable, converter=_prices)
    clock: Callable[[], datetime] = attrs.field(default=_utcnow, repr=False)

    def __repr__(self) -> str:
        unknown = "refuse" if self.on_unknown_price is None else self.on_unknown_price
        return (f"Budget(limit_usd={self.limit_usd}, period={self.period!r}, "
                f"scope={self.scope!r}, ledger={self.ledger!r}, on_unknown_price={unknown!r})")

    def __call__(self, inner: Handler) -> Handler:
        from middleware.budget.handler import BudgetHandler

        return BudgetHandler(self, inner)

    @property
    def limit_units(self) -> int:
        return policy.to_units(self.limit_usd)

    def plan(self, request: ChatRequest | EmbedRequest, routes: tuple[Route, ...]) -> Plan:
        """The worst case of ``request`` over ``routes`` (raises ConfigError if unpriced)."""
        price = policy.dearest_price(routes, request.model, self.prices, self.on_unknown_price)
        scope = policy.scope_key(self.scope, request.tags)
        period = policy.period_key(self.period, self.clock())
        input_tokens = self.estimate(request)
        if isinstance(request, EmbedRequest):
            cap = least_out = 0
        else:
            cap = request.max_tokens or self.default_max_tokens
            least_out = min(cap, self.min_output_tokens)
        want = policy.worst_case(price, input_tokens, cap)
        least = max(1, policy.worst_case(price, input_tokens, least_out)) if want else 0
        return Plan(policy.ledger_key(scope, period), scope, period, price, input_tokens, cap,
                    want, least)

    def admit(self, plan: Plan, request: ChatRequest | EmbedRequest,
              grant: Grant | None) -> Reservation:
        """The reservation a grant allows, or ``BudgetExceeded`` (``grant=None``: free)."""
        units = 0 if grant is None else grant.granted
        if grant is not None and units == 0:
            raise BudgetExceeded(scope=plan.scope, limit=self.limit_usd,
                                 spent=policy.from_units(grant.spent + grant.reserved),
                                 needed=policy.from_units(plan.least), period=plan.period)
        events = [TraceEvent("budget", "reserved",
                             f"reserved ${policy.from_units(units):f} "
                             f"({plan.scope}, {plan.period})",
                             {"scope": plan.scope, "period": plan.period,
                              "usd": str(policy.from_units(units))})]
        if isinstance(request, ChatRequest):
            tokens = policy.output_tokens_for(plan.price, plan.input_tokens, units, plan.cap) \
                if units < plan.want else plan.cap
            if tokens < plan.cap:
                events.append(TraceEvent("budget", "lowered", f"max_tokens {plan.cap} -> {tokens}",
                                         {"from": plan.cap, "to": tokens}))
            if tokens != request.max_tokens:
                request = attrs.evolve(request, max_tokens=tokens)
        return Reservation(plan, units, request, tuple(events))

    def charge(self, reservation: Reservation, response: ChatResponse | EmbedResponse,
               routes: tuple[Route, ...]) -> int:
        """Units the finished call cost: its usage at the answering route's price.

        A response without usage (a provider that reports none) costs the reservation.
        """
        if response.usage.total_tokens == 0:
            return reservation.units
        price = policy.settle_price(routes, response.provider, response.model, self.prices,
                                    reservation.plan.price)
        return policy.to_units(price.cost(response.usage.input_tokens,
                                          response.usage.output_tokens))

    def settled_event(self, reservation: Reservation, actual: int, how: str) -> TraceEvent:
        data: dict[str, Any] = {"scope": reservation.plan.scope, "usd": str(
            policy.from_units(actual)), "released": str(
            policy.from_units(max(0, reservation.units - actual))), "how": how}
        if actual > reservation.units:
            data["overshoot"] = str(policy.from_units(actual - reservation.units))
        return TraceEvent("budget", "settled", f"settled ${policy.from_units(actual):f} ({how})",
                          data)
