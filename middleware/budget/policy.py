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
overhead larger than any provider's chat-template tokens; content parts that are not text
(images, audio, files) count their own bounds (:mod:`.media`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Context, Decimal
from typing import Any, Literal, NamedTuple

from insightforge.errors import ConfigError
from insightforge.kit.keys import bucket_key
from insightforge.pricing import Price, PriceTable, UsageLike
from insightforge.types import (
    ChatRequest,
    EmbedRequest,
    Route,
)
from middleware.budget.media import part_tokens

__all__ = [
    "MESSAGE_OVERHEAD",
    "REQUEST_OVERHEAD",
    "UNIT",
    "Rates",
    "dearest_rates",
    "Exact",
    "Period",
    "cost_units",
    "dearest_price",
    "estimate_input_tokens",
    "exact",
    "exact_price",
    "exact_rates",
    "from_units",
    "ledger_key",
    "output_tokens_for",
    "period_key",
    "plain",
    "scope_key",
    "settle_price",
    "to_units",
    "units_of",
    "worst_case",
    "worst_units",
]

Period = Literal["total", "day", "month"]
PERIODS: tuple[str, ...] = ("total", "day", "month")

_MILLION = Decimal(1_000_000)
_EXACT_CONTEXT = Context(prec=60)
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
        total += MESSAGE_OVERHEAD + _bytes(m.text)
        if m.name or m.tool_call_id:
            total += _bytes(m.name) + _bytes(m.tool_call_id)
        if not isinstance(m.content, str):  # images, audio, files, thinking sent back
            total += sum(part_tokens(p) for p in m.content)
        for call in m.tool_calls:
            total += MESSAGE_OVERHEAD + _bytes(call.id) + _bytes(call.name) + _bytes(call.arguments)
    for tool in request.tools:
        schema = json.dumps(dict(tool.parameters), default=str)
        total += TOOL_OVERHEAD + _bytes(tool.name) + _bytes(tool.description) + _bytes(schema)
    if request.response_format is not None:
        total += REQUEST_OVERHEAD + _bytes(json.dumps(request.response_format, default=dict))
    if request.options:  # provider options may carry input too (a prediction, extra tools)
        total += REQUEST_OVERHEAD + _bytes(json.dumps(dict(request.options), default=str))
    return total


def to_units(usd: Decimal) -> int:
    """Dollars to ledger units, rounded **up** (a charge is never under-counted)."""
    return int((usd / UNIT).to_integral_value(rounding=ROUND_CEILING))


@functools.lru_cache(maxsize=1024)
def from_units(units: int) -> Decimal:
    """Ledger units to dollars, exactly (memoized: a call converts the same amounts for its
    trace and its answer)."""
    return Decimal(units).scaleb(-9, _EXACT_CONTEXT).normalize(_EXACT_CONTEXT) if units \
        else Decimal(0)


def plain(usd: Decimal) -> str:
    """``f"{usd:f}"`` (no exponent notation), cheaply: ``str`` already is that, unless the
    amount is tiny (under a millionth) or a multiple of ten dollars, once normalized."""
    text = str(usd)
    return text if "E" not in text else f"{usd:f}"


def route_price(route: Route, model: str | None, prices: PriceTable) -> Price | None:
    """The price of ``model`` (or the route's default model) at ``route``."""
    if model is None or model == route.model:
        return route.price if route.price is not None else prices.lookup(route.provider,
                                                                          route.model)
    return prices.lookup(route.provider, model)


Rates = tuple[Decimal, Decimal]
"""(input-side, output) USD per million tokens: the dearest a call may be billed at."""


def dearest_rates(routes: Sequence[Route], model: str | None, prices: PriceTable,
                  on_unknown: Price | None, input_tokens: int, *,
                  options: Mapping[str, Any] | None = None,
                  cache_writes: bool | str = False) -> Rates:
    """The highest input-side and output rates any route may bill this request at.

    Each route's :meth:`~insightforge.pricing.Price.worst_rates` already covers its cache
    reads and (as ``cache_writes`` allows) writes, the long-context tiers a prompt this size
    can reach, and the variants the request's options (``service_tier``...) may be billed
    at; the maximum of each component over the routes is an upper bound of every route's
    cost. An unknown price uses ``on_unknown``, or raises :class:`ConfigError`.
    """
    best_in, best_out, found = Decimal(0), Decimal(0), False
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
        in_rate, out_rate = price.worst_rates(input_tokens, options=options,
                                              cache_writes=cache_writes)  # type: ignore[arg-type]
        best_in, best_out, found = max(best_in, in_rate), max(best_out, out_rate), True
    if not found:
        raise ConfigError("Budget: the inner handler reports no routes, so no price applies; "
                          "put Budget above a provider.", path="$.budget")
    return best_in, best_out


def dearest_price(routes: Sequence[Route], model: str | None, prices: PriceTable,
                  on_unknown: Price | None) -> Price:
    """The highest rates (input and output separately) any route may charge, as a price.

    Kept for callers that want one ``Price``; the Budget plans with :func:`dearest_rates`.
    """
    return Price(*dearest_rates(routes, model, prices, on_unknown, 0))


def settle_price(routes: Sequence[Route], provider: str, model: str, prices: PriceTable,
                 reserved_at: Price | Rates) -> Price:
    """The price of the route that answered; the reservation's rates if it is unknown."""
    for route in routes:
        if route.provider == provider:
            price = route_price(route, model, prices)
            if price is not None:
                return price
    found = prices.lookup(provider, model)
    if found is not None:
        return found
    return reserved_at if isinstance(reserved_at, Price) else Price(*reserved_at)


class Exact(NamedTuple):
    """Rates as exact integers, for a cost in ledger units without ``Decimal``: a rate is
    ``numerator / 10**scale`` USD per million tokens, so tokens times numerators sum to an
    integer and :func:`units_of` divides once, rounding up — the same units as
    :func:`to_units` of the exact ``Decimal`` cost.

    Attributes:
        input, output, read, write_5m, write_1h: numerators (as :class:`Price`'s rates;
            for :data:`Rates`, ``input`` is the input side and the cache ones are unused).
        scale: the power of ten every numerator is over.
    """

    input: int
    output: int
    read: int
    write_5m: int
    write_1h: int
    scale: int


def exact(*rates: Decimal) -> tuple[list[int], int]:
    """``rates`` as numerators over one power of ten, and that power (a rate has at most
    18 decimal places, so the scale is at most 18)."""
    parts = [rate.as_tuple() for rate in rates]
    scale = max([0, *(-int(exponent) for _, _, exponent in parts)])
    numerators = []
    for sign, digits, exponent in parts:
        whole = int("".join(map(str, digits))) * 10 ** (int(exponent) + scale)
        numerators.append(-whole if sign else whole)
    return numerators, scale


def exact_rates(rates: Rates) -> Exact:
    """The (input-side, output) rates of :data:`Rates` as an :class:`Exact`."""
    (side, out), scale = exact(*rates)
    return Exact(side, out, 0, 0, 0, scale)


_TENS: tuple[int, ...] = tuple(10 ** k for k in range(64))
_EXACT: dict[int, tuple[Price, Exact]] = {}
_EXACT_SIZE = 1024


def exact_price(price: Price) -> Exact:
    """The base rates of ``price`` (its own, not its tiers' or variants') as an
    :class:`Exact`; memoized by identity (a ``Price`` is immutable, and the memo holds it,
    so its id is not reused while the entry lives), up to a bound."""
    hit = _EXACT.get(id(price))
    if hit is not None and hit[0] is price:
        return hit[1]
    (inp, out, read, write, write_1h), scale = exact(
        price.input, price.output, price.read_rate, price.write_5m_rate, price.write_1h_rate)
    found = Exact(inp, out, read, write, write_1h, scale)
    if len(_EXACT) >= _EXACT_SIZE:
        _EXACT.clear()
    _EXACT[id(price)] = (price, found)
    return found


def units_of(total: int, scale: int) -> int:
    """Ledger units of ``total`` tokens-times-numerators at ``10**-scale`` USD per million
    tokens, rounded **up** (a unit is 10**-9 USD: ``total * 10**3 / 10**scale``)."""
    if scale <= 3:
        return total * _TENS[3 - scale]
    return -(-total // _TENS[scale - 3])


def worst_units(rates: Exact, input_tokens: int, output_tokens: int) -> int:
    """:func:`worst_case` with exact rates: the same units, in integers."""
    return units_of(rates.input * input_tokens + rates.output * output_tokens, rates.scale)


def cost_units(price: Price, usage: UsageLike, options: Mapping[str, object] | None) -> int:
    """``to_units(price.cost(usage, options=options))``, in integers: each part of the usage
    at the rate :meth:`~insightforge.pricing.Price.cost` bills it at."""
    n_in, read, write = usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens
    rates = exact_price(price.billed_at(n_in, options=options))
    total = rates.input * (n_in - read - write) + rates.output * usage.output_tokens
    if read:
        total += rates.read * read
    if write:
        write_1h = usage.cache_write_1h_tokens
        total += rates.write_5m * (write - write_1h) + rates.write_1h * write_1h
    return units_of(total, rates.scale)


def worst_case(price: Price | Rates, input_tokens: int, output_tokens: int) -> int:
    """The most the call can cost, in ledger units (rates: ``(input-side, output)``)."""
    in_rate, out_rate = (price.input, price.output) if isinstance(price, Price) else price
    return to_units((in_rate * input_tokens + out_rate * output_tokens) / _MILLION)


def output_tokens_for(price: Price | Rates, input_tokens: int, units: int, cap: int,
                      choices: int = 1) -> int:
    """The most output tokens per choice (≤ ``cap``) that ``units`` pays for, given the
    input and ``choices`` answers (``n``) each that long."""
    in_rate, out_rate = (price.input, price.output) if isinstance(price, Price) else price
    if out_rate == 0:
        return cap
    budget = Decimal(units) * UNIT * _MILLION - in_rate * input_tokens
    if budget <= 0:
        return 0
    return max(0, min(cap, math.floor(budget / (out_rate * choices))))


def period_key(period: str, now: datetime) -> str:
    """``total``, ``day:2026-11-25`` or ``month:2026-11`` — calendar periods in UTC."""
    if period == "total":
        return "total"
    utc = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    if period == "day":
        return _day_key(utc.date())
    if period == "month":
        return _month_key(utc.date().replace(day=1))
    raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")


@functools.lru_cache(maxsize=64)
def _day_key(day: date) -> str:
    return f"day:{day:%Y-%m-%d}"


@functools.lru_cache(maxsize=64)
def _month_key(first: date) -> str:
    return f"month:{first:%Y-%m}"


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
