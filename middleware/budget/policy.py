"""The Budget layer's decisions, pure: estimates, prices, max_tokens, keys, money units.

What lives here: the conservative input-token estimate, the dearest price over a handler's
routes, the worst-case cost of a request, how many output tokens a grant pays for, the
ledger key of a (scope, period), and the conversion between ``Decimal`` dollars and the
integer units every ledger stores. What must not: I/O, clocks (the caller passes ``now``),
locks. The sync and async drivers in ``middleware.budget`` call these and nothing else
decides.

The invariant rests on :func:`estimate_input_tokens` being an **upper bound** of what the
provider bills: it counts UTF-8 *bytes* (a byte-level BPE token is at least one byte, so
no tokenizer in use produces more tokens than bytes) plus a per-message and per-request
overhead larger than any provider's chat-template tokens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

import attrs

from insightforge.errors import BudgetExceeded, ConfigError
from insightforge.kit.keys import bucket_key
from insightforge.pricing import Price, PriceTable
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Route,
    TraceEvent,
)

__all__ = [
    "MESSAGE_OVERHEAD",
    "REQUEST_OVERHEAD",
    "Plan",
    "Reservation",
    "admit",
    "charge",
    "plan",
    "refusal",
    "settled_event",
    "UNIT",
    "Period",
    "dearest_price",
    "estimate_input_tokens",
    "from_units",
    "ledger_key",
    "output_tokens_for",
    "period_key",
    "scope_key",
    "settle_price",
    "to_units",
    "worst_case",
]

Period = Literal["total", "day", "month"]
PERIODS: tuple[str, ...] = ("total", "day", "month")

UNIT = Decimal("0.000000001")
"""Ledgers store integer nano-dollars (exact for list prices; Lua-safe up to $9M)."""

MESSAGE_OVERHEAD = 8
"""Tokens added per message (OpenAI's chat template uses 3-4; the emulator 3)."""
REQUEST_OVERHEAD = 16
"""Tokens added per request (reply priming, tool-namespace framing)."""
TOOL_OVERHEAD = 32
"""Tokens added per tool definition on top of its JSON bytes."""


def _bytes(text: str | None) -> int:
    return len(text.encode("utf-8")) if text else 0


def estimate_input_tokens(request: ChatRequest | EmbedRequest) -> int:
    """An upper bound of the input tokens billed for ``request`` (see the module docstring)."""
    if isinstance(request, EmbedRequest):
        return sum(_bytes(text) + 1 for text in request.inputs) + 1
    total = REQUEST_OVERHEAD
    for m in request.messages:
        total += MESSAGE_OVERHEAD + _bytes(m.content) + _bytes(m.name) + _bytes(m.tool_call_id)
        for call in m.tool_calls:
            total += MESSAGE_OVERHEAD + _bytes(call.id) + _bytes(call.name) + _bytes(call.arguments)
    for tool in request.tools:
        schema = json.dumps(dict(tool.parameters), default=str)
        total += TOOL_OVERHEAD + _bytes(tool.name) + _bytes(tool.description) + _bytes(schema)
    if request.response_format is not None:
        total += REQUEST_OVERHEAD + _bytes(json.dumps(request.response_format, default=dict))
    return total


def to_units(usd: Decimal) -> int:
    """Dollars to ledger units, rounded **up** (a charge is never under-counted)."""
    return int((usd / UNIT).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int) -> Decimal:
    return (Decimal(units) * UNIT).normalize() if units else Decimal(0)


def route_price(route: Route, model: str | None, prices: PriceTable) -> Price | None:
    """The price of ``model`` (or the route's default model) at ``route``."""
    if model is None or model == route.model:
        return route.price if route.price is not None else prices.lookup(route.provider,
                                                                          route.model)
    return prices.lookup(route.provider, model)


def dearest_price(routes: Sequence[Route], model: str | None, prices: PriceTable,
                  on_unknown: Price | None) -> Price:
    """The highest price (by input and output separately) any route may charge.

    Taking the maximum of each component is an upper bound of every route's cost. An
    unknown price uses ``on_unknown``, or raises :class:`ConfigError` naming the fix.
    """
    found: list[Price] = []
    for route in routes:
        price = route_price(route, model, prices)
        if price is None:
            if on_unknown is None:
                raise ConfigError(
                    f"Budget: no price is known for {route.provider}:{model or route.model}, "
                    "so its cost cannot be bounded; set one with "
                    "insightforge.pricing.set_price(...) or a `prices:` config section, or "
                    "pass Budget(on_unknown_price=Price(input=..., output=...)).",
                    path="$.budget.on_unknown_price")
            price = on_unknown
        found.append(price)
    if not found:
        raise ConfigError("Budget: the inner handler reports no routes, so no price applies; "
                          "put Budget above a provider.", path="$.budget")
    return Price(max(p.input for p in found), max(p.output for p in found))


def settle_price(routes: Sequence[Route], provider: str, model: str, prices: PriceTable,
                 reserved_at: Price) -> Price:
    """The price of the route that answered; the reservation's price if it is unknown."""
    for route in routes:
        if route.provider == provider:
            price = route_price(route, model, prices)
            if price is not None:
                return price
    return prices.lookup(provider, model) or reserved_at


def worst_case(price: Price, input_tokens: int, output_tokens: int) -> int:
    """The most the call can cost, in ledger units."""
    return to_units(price.cost(input_tokens, output_tokens))


def output_tokens_for(price: Price, input_tokens: int, units: int, cap: int) -> int:
    """The most output tokens (≤ ``cap``) that ``units`` pays for, given the input."""
    if price.output == 0:
        return cap
    budget = Decimal(units) * UNIT * 1_000_000 - price.input * input_tokens
    if budget <= 0:
        return 0
    return max(0, min(cap, math.floor(budget / price.output)))


def period_key(period: str, now: datetime) -> str:
    """``total``, ``day:2026-11-25`` or ``month:2026-11`` — calendar periods in UTC."""
    utc = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    if period == "total":
        return "total"
    if period == "day":
        return f"day:{utc:%Y-%m-%d}"
    if period == "month":
        return f"month:{utc:%Y-%m}"
    raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")


def scope_key(scope: str, tags: Mapping[str, str]) -> str:
    """``global``, or ``<tag>=<value>`` for ``scope="tag:<tag>"`` (:mod:`insightforge.kit.keys`)."""
    return bucket_key(scope, _Tagged(tags))


class _Tagged:
    __slots__ = ("tags",)

    def __init__(self, tags: Mapping[str, str]) -> None:
        self.tags = tags


def ledger_key(scope: str, period: str) -> str:
    return f"{scope}|{period}"


Estimator = Callable[[ChatRequest | EmbedRequest], int]


# -- one request: plan, admission, charge ---------------------------------------------------
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
        events: trace events recorded at admission. lease: the ledger's lease id.
    """

    plan: Plan
    units: int
    request: ChatRequest | EmbedRequest
    events: tuple[TraceEvent, ...]
    lease: str = ""


def plan(request: ChatRequest | EmbedRequest, routes: Sequence[Route], *, scope: str,
         period: str, now: datetime, prices: PriceTable, on_unknown: Price | None,
         estimate: Estimator, default_max_tokens: int, min_output_tokens: int) -> Plan:
    """The worst case of ``request`` over ``routes`` (a ``ConfigError`` if unpriced)."""
    price = dearest_price(routes, request.model, prices, on_unknown)
    scope_value = bucket_key(scope, request, routes)
    period_value = period_key(period, now)
    input_tokens = estimate(request)
    if isinstance(request, EmbedRequest):
        cap = least_out = 0
    else:
        cap = request.max_tokens or default_max_tokens
        least_out = min(cap, min_output_tokens)
    want = worst_case(price, input_tokens, cap)
    least = max(1, worst_case(price, input_tokens, least_out)) if want else 0
    return Plan(ledger_key(scope_value, period_value), scope_value, period_value, price,
                input_tokens, cap, want, least)


def refusal(plan: Plan, limit: Decimal, spent: int) -> BudgetExceeded:
    """The ``BudgetExceeded`` for a plan the ledger could not grant, with its trace."""
    error = BudgetExceeded(scope=plan.scope, limit=limit, spent=from_units(spent),
                           needed=from_units(plan.least), period=plan.period)
    error.add_trace(TraceEvent("budget", "refused", str(error), {"scope": plan.scope}))
    return error


def admit(plan: Plan, request: ChatRequest | EmbedRequest, units: int,
          lease: str = "") -> Reservation:
    """The reservation ``units`` allow: ``max_tokens`` lowered to what they pay for."""
    events = [TraceEvent("budget", "reserved",
                         f"reserved ${from_units(units):f} ({plan.scope}, {plan.period})",
                         {"scope": plan.scope, "period": plan.period,
                          "usd": str(from_units(units))})]
    if isinstance(request, ChatRequest):
        tokens = output_tokens_for(plan.price, plan.input_tokens, units, plan.cap) \
            if units < plan.want else plan.cap
        if tokens < plan.cap:
            events.append(TraceEvent("budget", "lowered", f"max_tokens {plan.cap} -> {tokens}",
                                     {"from": plan.cap, "to": tokens}))
        if tokens != request.max_tokens:
            request = attrs.evolve(request, max_tokens=tokens)
    return Reservation(plan, units, request, tuple(events), lease)


def charge(reservation: Reservation, response: ChatResponse | EmbedResponse,
           routes: Sequence[Route], prices: PriceTable) -> int:
    """Units the finished call cost: its usage at the answering route's price.

    A response without usage (a provider that reports none) costs the reservation.
    """
    if response.usage.total_tokens == 0:
        return reservation.units
    price = settle_price(routes, response.provider, response.model, prices,
                         reservation.plan.price)
    return to_units(price.cost(response.usage.input_tokens, response.usage.output_tokens))


def settled_event(reservation: Reservation, actual: int, how: str) -> TraceEvent:
    data: dict[str, Any] = {"scope": reservation.plan.scope, "usd": str(from_units(actual)),
                            "released": str(from_units(max(0, reservation.units - actual))),
                            "how": how}
    if actual > reservation.units:
        data["overshoot"] = str(from_units(actual - reservation.units))
    return TraceEvent("budget", "settled", f"settled ${from_units(actual):f} ({how})", data)
