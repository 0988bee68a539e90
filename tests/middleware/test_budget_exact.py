"""The Budget's fast paths give the same numbers as the ``Decimal`` ones they replace: integer
worst cases and costs equal ``to_units`` of the exact ``Decimal``, memoized rates equal
rates computed afresh (tiers, variants, odd option values), and prices decided by a lookup
still follow a later ``set_price``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, Usage, stack
from insightforge.pricing import Price, PriceTable, Variant, _table, set_price
from insightforge.testing import strategies
from insightforge.testing.scripted import ScriptedProvider
from insightforge.types import Route
from middleware import Budget
from middleware.budget import policy
from middleware.budget.routes import Routes

FIELDS = {"service_tier": ("flex", "priority", "default"), "speed": ("fast",)}


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_table, "_OVERRIDES", {})
    yield


def prices() -> st.SearchStrategy[Price]:
    return strategies.prices(places=18, variants=FIELDS, max_variants=3)


tokens = st.sampled_from([0, 1, 128_000, 200_000, 200_001, 400_000]) | st.integers(0, 10**7)
option_values = st.sampled_from(["flex", "priority", "default", "auto", "fast", None, 1, True])


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    n_in = draw(tokens)
    read = draw(st.integers(0, n_in))
    write = draw(st.integers(0, n_in - read))
    return Usage(n_in, draw(tokens), cache_read_tokens=read, cache_write_tokens=write,
                 cache_write_1h_tokens=draw(st.integers(0, write)))


@settings(max_examples=300, deadline=None)
@given(prices(), tokens, tokens)
def test_integer_worst_case_is_the_decimal_one(price: Price, inp: int, out: int) -> None:
    worst = price.worst_rates(inp)
    assert policy.worst_units(policy.exact_rates(worst), inp, out) == \
        policy.worst_case(worst, inp, out)


@settings(max_examples=300, deadline=None)
@given(prices(), usages(), st.dictionaries(st.sampled_from(sorted(FIELDS)), option_values))
def test_integer_cost_is_the_decimal_one(price: Price, usage: Usage,
                                         options: dict[str, Any]) -> None:
    assert policy.cost_units(price, usage, options) == \
        policy.to_units(price.cost(usage, options=options))


def test_integer_cost_keeps_the_decimal_quirks() -> None:
    # one-hour writes count only within cache writes; a usage-like object that says
    # otherwise (Usage refuses it) is billed as the Decimal cost bills it
    price = Price("3", "15", cache_read="0.3", cache_write="3.75", cache_write_1h="6")
    odd = SimpleNamespace(input_tokens=1000, output_tokens=10, cache_read_tokens=0,
                          cache_write_tokens=0, cache_write_1h_tokens=50)
    assert policy.cost_units(price, odd, None) == policy.to_units(price.cost(odd))
    assert policy.units_of(1, 4) == 1 and policy.units_of(-19, 4) == -1


class _Inner:
    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._routes = routes

    def routes(self) -> tuple[Route, ...]:
        return self._routes


@settings(max_examples=200, deadline=None)
@given(st.lists(prices(), min_size=1, max_size=3), st.lists(
    st.tuples(tokens, st.sampled_from([False, True, "5m"]),
              st.dictionaries(st.sampled_from(sorted(FIELDS)), option_values)),
    min_size=1, max_size=8))
def test_memoized_rates_are_the_rates(route_prices: list[Price],
                                      asks: list[tuple[int, Any, dict[str, Any]]]) -> None:
    routes = tuple(Route("p", f"m{i}", price) for i, price in enumerate(route_prices))
    memo, table = Routes(_Inner(routes), 1), PriceTable()  # type: ignore[arg-type]
    for inp, writes, options in asks * 2:  # the second pass answers from the memo
        rates, exact = memo.quote(None, table, None, inp, options=options, cache_writes=writes)
        assert rates == policy.dearest_rates(routes, None, table, None, inp, options=options,
                                             cache_writes=writes)
        assert exact == policy.exact_rates(rates)


def test_a_value_equal_to_a_tier_name_but_not_a_string_is_another_shape() -> None:
    class Priority:
        def __eq__(self, other: object) -> bool:
            return other == "priority"

        def __hash__(self) -> int:
            return hash("priority")

    price = Price(1, 2, variants=[Variant("service_tier", "priority", Price(2, 4)),
                                  Variant("service_tier", "flex", Price(5, 9))])
    routes = (Route("p", "m", price),)
    memo, table = Routes(_Inner(routes), 1), PriceTable()  # type: ignore[arg-type]
    for value in ("priority", Priority(), ["priority"]):  # the list cannot be hashed
        got, _ = memo.quote(None, table, None, 10, options={"service_tier": value},
                            cache_writes=False)
        assert got == policy.dearest_rates(routes, None, table, None, 10,
                                           options={"service_tier": value})


def test_a_price_set_later_applies_where_a_lookup_decides() -> None:
    llm = stack(Budget(limit_usd=100), provider=ScriptedProvider(model="m", price=None))
    set_price("scripted", "m", Price(1, 1))
    first = llm(ChatRequest("hello", max_tokens=10))
    set_price("scripted", "m", Price(1000, 1000))
    second = llm(ChatRequest("hello", max_tokens=10))
    assert second.cost_usd == 1000 * first.cost_usd


@pytest.mark.parametrize("period", ["day", "month"])
def test_period_keys_follow_the_clock(period: str) -> None:
    days = iter([datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)])
    budget = Budget(limit_usd=Decimal(1), period=period, clock=lambda: next(days))
    routes = ScriptedProvider().routes()
    keys = [budget.plan(ChatRequest("hi"), routes).period for _ in range(2)]
    assert keys == ([f"{period}:2026-01-31", f"{period}:2026-02-01"] if period == "day"
                    else ["month:2026-01", "month:2026-02"])


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 10**27) | st.sampled_from([1, 999, 1000, 10**10, 2 * 10**10, 10**9]))
def test_dollar_texts_are_the_decimal_ones(units: int) -> None:
    usd = policy.from_units(units)
    assert Fraction(usd) == Fraction(units, 10**9)
    assert usd == ((Decimal(units) * policy.UNIT).normalize() if units else Decimal(0))
    assert str(usd) == str((Decimal(units) * policy.UNIT).normalize() if units else 0)
    assert policy.plain(usd) == f"{usd:f}"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["reserve", "settle", "wait"]),
                          st.integers(1, 50), st.integers(0, 30)), max_size=40))
def test_memory_leases_expire_as_a_full_scan_would(steps: list[tuple[str, int, int]]) -> None:
    from middleware.budget.stores import MemoryLedger

    now = [0.0]
    ledger = MemoryLedger(clock=lambda: now[0])
    held: dict[str, tuple[int, float]] = {}  # the model: lease -> (units, expires)
    reserved = spent = 0
    for action, units, ttl in steps:
        if action == "wait":
            now[0] += ttl
        elif action == "reserve":
            expired = [k for k, (_, exp) in held.items() if exp <= now[0]]
            reserved -= sum(held.pop(k)[0] for k in expired)
            grant = ledger.reserve("k", 10**6, units, 1, ttl=ttl)
            assert (grant.granted, grant.reserved, grant.spent) == (units, reserved, spent)
            held[grant.lease] = (units, now[0] + ttl)
            reserved += units
        elif held:
            lease = sorted(held)[units % len(held)]
            ledger.settle("k", held[lease][0], units, lease=lease)
            reserved -= held.pop(lease)[0]
            spent += units
    [entry] = ledger.entries() or [None]
    if entry is not None:
        assert (entry.reserved, entry.spent) == (reserved, spent)
