"""What a Budget derives from its inner handler's routes once, and memoizes per request shape.

The routes of a handler are fixed (asked once), and so is the price a route carries. When
every route carries its price and the request names no other model, the dearest rates
(:func:`~middleware.budget.policy.dearest_rates`) depend only on the request's *shape*:

* which prompt-cache writes it may be billed (``cache_writes``);
* the long-context band its input falls in (how many of the prices' tier thresholds it is
  above — the only way the input size enters the rates);
* the values (and their types) its options give the fields that select a price variant
  (``service_tier``...).

:class:`Routes` keeps the rates per shape, in a bounded memo; anything else (a route priced
by lookup, a request naming another model, an input count that is not a whole number) is
computed afresh every call, exactly as before, so a price set later with
:func:`~insightforge.pricing.set_price` still applies where a lookup decides. What must not
live here: I/O, clocks, the ledger.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from insightforge.pricing import Price, PriceTable
from insightforge.stack import Handler
from insightforge.types import Route
from middleware.budget.policy import Exact, Rates, dearest_rates, exact_rates

__all__ = ["Quote", "Routes"]

Quote = tuple[Rates, Exact]
"""The dearest rates of a request, as ``Decimal`` and as exact integers."""

_MEMO_SIZE = 256
_MIXED = object()  # the routes serve more than one default model


def _thresholds(prices: tuple[Price, ...]) -> tuple[int, ...]:
    """Every long-context tier threshold the prices (and their variants) list, ascending."""
    found = {tier.above for price in prices
             for billed in (price, *(v.price for v in price.variants))
             for tier in billed.tiers}
    return tuple(sorted(found))


class Routes:
    """The inner handler's routes, asked once (per handler), and the dearest rates of the
    requests sent through it, memoized per shape (see the module docstring)."""

    __slots__ = ("_fields", "_inner", "_memo", "_model", "_prices", "_routes",
                 "_thresholds", "limit_units")

    def __init__(self, inner: Handler, limit_units: int) -> None:
        self._inner = inner
        self._routes: tuple[Route, ...] | None = None
        self.limit_units = limit_units
        self._prices: tuple[Price, ...] | None = None
        self._model: object = _MIXED
        self._fields: tuple[str, ...] = ()
        self._thresholds: tuple[int, ...] = ()
        self._memo: dict[tuple[Any, ...], Quote] = {}

    def __call__(self) -> tuple[Route, ...]:
        if self._routes is None:
            self._learn(self._inner.routes())
        assert self._routes is not None
        return self._routes

    def _learn(self, routes: tuple[Route, ...]) -> None:
        prices = tuple(route.price for route in routes if route.price is not None)
        if routes and len(prices) == len(routes):
            self._prices = prices
            models = {route.model for route in routes}
            self._model = models.pop() if len(models) == 1 else _MIXED
            self._fields = tuple(sorted({f for price in prices for f in price.billing_fields}))
            self._thresholds = _thresholds(prices)
        self._routes = routes

    def quote(self, model: str | None, prices: PriceTable, on_unknown: Price | None,
              input_tokens: int, *, options: Mapping[str, Any],
              cache_writes: bool | str) -> Quote:
        """The dearest rates any route may bill this request at (:func:`dearest_rates`)."""
        routes = self()
        key = self._shape(model, input_tokens, options, cache_writes)
        if key is not None:
            try:
                found = self._memo.get(key)
            except TypeError:  # an option value that cannot be hashed: not memoized
                found, key = None, None
            if found is not None:
                return found
        rates = dearest_rates(routes, model, prices, on_unknown, input_tokens,
                              options=options, cache_writes=cache_writes)
        found = rates, exact_rates(rates)
        if key is not None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def _shape(self, model: str | None, input_tokens: int, options: Mapping[str, Any],
               cache_writes: bool | str) -> tuple[Any, ...] | None:
        """The memo key of a request, ``None`` when its rates may change between calls."""
        if (self._prices is None or not (model is None or model == self._model)
                or type(input_tokens) is not int or input_tokens < 0):
            return None
        band = bisect.bisect_left(self._thresholds, input_tokens) if self._thresholds else 0
        if not self._fields:
            return cache_writes, band
        return (cache_writes, band, *[_typed(options.get(f)) for f in self._fields])


def _typed(value: object) -> tuple[type, object]:
    """A value with its type: a value equal to a listed one but of another type selects
    other rates, so it is another shape."""
    return type(value), value
