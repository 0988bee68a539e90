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
from datetime import datetime, timezone
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from insightforge.errors import ConfigError
from insightforge.pricing import Price, PriceTable
from insightforge.types import ChatRequest, EmbedRequest, Route

__all__ = [
    "MESSAGE_OVERHEAD",
    "REQUEST_OVERHEAD",
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
        total += MESSAGE_OVERHEAD + _bytes(m.text) + _bytes(m.name) + _bytes(m.tool_call_id)
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
    utc = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if period == "total":
        return "total"
    if period == "day":
        return f"day:{utc:%Y-%m-%d}"
    if period == "month":
        return f"month:{utc:%Y-%m}"
    raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")


UNTAGGED = "<untagged>"


def scope_key(scope: str, tags: Mapping[str, str]) -> str:
    """``global``, or ``<tag>=<value>`` for ``scope="tag:<tag>"``.

    Requests without the tag share one ``<tag>=<untagged>`` bucket with the same limit,
    so leaving a tag off never escapes the budget.
    """
    if scope == "global":
        return "global"
    name = scope[4:]
    value = tags.get(name) or UNTAGGED
    return f"{name}={value}"


def normalize_scope(scope: str) -> str:
    """``global`` or ``tag:<name>``; a bare tag name (as config writes it) means ``tag:<name>``."""
    if not isinstance(scope, str) or not scope.strip():
        raise ValueError(f"scope must be 'global' or 'tag:<name>' (e.g. 'tag:tenant'), "
                         f"got {scope!r}")
    if scope == "global" or (scope.startswith("tag:") and len(scope) > 4):
        return scope
    if scope.startswith("tag:") or not scope.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"scope must be 'global' or 'tag:<name>' (e.g. 'tag:tenant'), "
                         f"got {scope!r}")
    return f"tag:{scope}"


def ledger_key(scope: str, period: str) -> str:
    return f"{scope}|{period}"


Estimator = Callable[[ChatRequest | EmbedRequest], int]
