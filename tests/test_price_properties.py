"""Invariants of prices, by hypothesis: the upper bound holds, costs are exact, overrides win,
unknown models stay unknown, our costs agree with genai-prices' own calculator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from insightforge import Usage
from insightforge.pricing import (
    Price,
    PriceError,
    PriceTable,
    _genai,
    _table,
    known_models,
    price_for,
    price_from_dict,
    price_to_dict,
    set_price,
)
from insightforge.testing.strategies import flat_prices, prices, tiered_prices


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_table, "_OVERRIDES", {})
    yield


def _part(draw: st.DrawFn, most: int) -> int:
    """Anything up to ``most``, often all of it or none (the corners a bound must cover)."""
    return draw(st.sampled_from([0, most]) | st.integers(0, most))


@st.composite
def usages(draw: st.DrawFn, max_in: int, max_out: int, writes: bool | str = True) -> Usage:
    n_in = _part(draw, max_in)
    shape = draw(st.sampled_from(["mixed", "plain", "read", "5m", "1h"]))
    if shape == "mixed":
        read = _part(draw, n_in)
        write = _part(draw, n_in - read) if writes is not False else 0
        write_1h = _part(draw, write) if writes in (True, "1h") else 0
    else:  # the whole prompt one kind of input: where a missed rate shows
        allowed = {"5m": writes is not False, "1h": writes in (True, "1h")}
        read = n_in if shape == "read" else 0
        write = n_in if allowed.get(shape) else 0
        write_1h = write if shape == "1h" else 0
    n_out = _part(draw, max_out)
    return Usage(n_in, n_out, cache_read_tokens=read, cache_write_tokens=write,
                 cache_write_1h_tokens=write_1h,
                 reasoning_tokens=_part(draw, n_out))


def _billed_as(price: Price, field: str, value: str | None) -> list[str | None]:
    """What the vendor may bill a request whose ``field`` is ``value`` at (independently of
    the code under test): the value itself if listed, standard if absent or a standard name,
    else any listed value or standard."""
    listed = [v.value for v in price.variants if v.field == field]
    if value is None or value in listed:
        return [value]
    if field == "service_tier" and value in ("default", "standard"):
        return [None]
    return [None, *listed]


def _reference_cost(price: Price, usage: Usage, field: str, value: str | None) -> Fraction:
    """The cost worked out with fractions, the rules written out once more."""
    chosen = next((v.price for v in price.variants if (v.field, v.value) == (field, value)),
                  price)
    rates = chosen
    for tier in chosen.tiers:
        if usage.input_tokens > tier.above:
            rates = tier.price
    inp, read = Fraction(rates.input), rates.cache_read
    w5 = rates.cache_write
    w1 = rates.cache_write_1h
    read_f = inp if read is None else Fraction(read)
    w5_f = inp if w5 is None else Fraction(w5)
    w1_f = w5_f if w1 is None else Fraction(w1)
    total = (inp * usage.uncached_input_tokens + read_f * usage.cache_read_tokens
             + w5_f * usage.cache_write_5m_tokens + w1_f * usage.cache_write_1h_tokens
             + Fraction(rates.output) * usage.output_tokens)
    return total / 1_000_000


@settings(max_examples=300)
@given(st.data(), prices(), st.integers(0, 600_000), st.integers(0, 100_000),
       st.sampled_from([True, "1h", "5m", False]),
       st.sampled_from(["service_tier", "speed"]),
       st.sampled_from([None, "auto", "default", "standard", "bogus", "flex", "priority",
                        "fast"]))
def test_upper_bound_covers_every_usage_it_admits(
        data: st.DataObject, price: Price, max_in: int, max_out: int, writes: bool | str,
        field: str, value: str | None) -> None:
    options = {} if value is None else {field: value}
    bound = price.upper_bound(max_in, max_out, options=options, cache_writes=writes)  # type: ignore[arg-type]
    usage = data.draw(usages(max_in, max_out, writes))
    for billed in _billed_as(price, field, value):
        cost = price.cost(usage, options={} if billed is None else {field: billed})
        assert cost <= bound, (usage, billed, cost, bound)


@given(tiered_prices(), st.integers(0, 600_000), st.integers(0, 100_000),
       st.sampled_from([True, "1h", "5m", False]))
def test_upper_bound_is_reached_by_some_usage(price: Price, max_in: int, max_out: int,
                                              writes: bool | str) -> None:
    """Without variants the bound is tight: one whole-prompt usage at the largest tier the
    size reaches costs exactly the bound (so the bound misses no rate and adds nothing)."""
    full = {"plain": {}, "read": {"cache_read_tokens": max_in}}
    if writes is not False:
        full["5m"] = {"cache_write_tokens": max_in}
    if writes in (True, "1h"):
        full["1h"] = {"cache_write_tokens": max_in, "cache_write_1h_tokens": max_in}
    corners = [price.cost(Usage(max_in, max_out, **parts)) for parts in full.values()]
    bound = price.upper_bound(max_in, max_out, cache_writes=writes)  # type: ignore[arg-type]
    assert bound >= max(corners)
    reached = [price, *(t.price for t in price.tiers if max_in > t.above)]
    if all(_dearer(reached[-1], other) for other in reached):
        assert bound == max(corners)


def _dearer(tier: Price, other: Price) -> bool:
    """Every rate of ``tier`` is at least ``other``'s."""
    return all(getattr(tier, r) >= getattr(other, r)
               for r in ("input", "output", "read_rate", "write_5m_rate", "write_1h_rate"))


@given(prices(), usages(600_000, 100_000), st.sampled_from(["service_tier", "speed"]),
       st.sampled_from([None, "flex", "priority", "fast", "default", "auto"]))
def test_costs_are_exact_decimals(price: Price, usage: Usage, field: str,
                                  value: str | None) -> None:
    cost = price.cost(usage, options={} if value is None else {field: value})
    assert isinstance(cost, Decimal)
    assert Fraction(cost) == _reference_cost(price, usage, field, value)


@given(prices())
def test_a_price_survives_a_round_trip_as_plain_data(price: Price) -> None:
    assert price_from_dict(price_to_dict(price)) == price
    from insightforge.serialize import from_dict, to_dict

    assert from_dict(Price, to_dict(price)) == price


MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-5"),
          ("openai", "o4-mini"), ("openai", "gpt-5.4"), ("anthropic", "claude-sonnet-4-5"),
          ("anthropic", "claude-haiku-4-5"), ("anthropic", "claude-opus-4-1"),
          ("azure", "gpt-4o"), ("azure", "o3-mini")]


@given(st.sampled_from(MODELS), flat_prices(), flat_prices())
def test_overrides_win(model: tuple[str, str], mine: Price, budget_own: Price) -> None:
    provider, name = model
    assert price_for(provider, name) is not None
    set_price(provider, name, mine)
    try:
        assert price_for(provider, name) == mine
        table = PriceTable({provider: {name: budget_own}})
        assert table.lookup(provider, name) == budget_own
        assert PriceTable().lookup(provider, name) == mine
    finally:
        _table._OVERRIDES.clear()


def _genai_matches(provider: str, name: str) -> bool:
    """genai-prices' own answer: does its curated table match ``name`` at ``provider``?"""
    from genai_prices.data import providers

    wanted = _genai.GENAI_PROVIDERS.get(provider, provider)
    table = next(p for p in providers if p.id == wanted)
    return table.find_model(name, all_providers=providers) is not None


names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._:", min_size=1, max_size=12)


@given(st.sampled_from(MODELS), names, st.integers(0, 40), st.sampled_from(["suffix",
                                                                             "prefix", "cut"]))
def test_unknown_models_stay_unknown(model: tuple[str, str], extra: str, cut: int,
                                     how: str) -> None:
    provider, known = model
    name = {"suffix": known + extra, "prefix": extra + known,
            "cut": known[:cut % max(len(known), 1)]}[how]
    assume(name and name != known)
    if price_for(provider, name) is not None:
        assert _genai_matches(provider, name), name  # only genai-prices' curated rules
    set_price("acme", known, Price(1, 2))
    try:
        assert price_for("acme", name) is None  # our overrides: exact names only
    finally:
        _table._OVERRIDES.clear()


@settings(max_examples=200)
@given(st.sampled_from(MODELS), st.data())
def test_costs_agree_with_genai_prices_calculator(model: tuple[str, str],
                                                  data: st.DataObject) -> None:
    """Our conversion of genai-prices' data prices a usage as its own calculator does."""
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    provider, name = model
    price = price_for(provider, name)
    assert price is not None
    tier = data.draw(st.sampled_from([None, *price.service_tiers]))
    usage = data.draw(usages(400_000, 50_000))
    theirs = calc_price(
        GUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
               cache_read_tokens=usage.cache_read_tokens,
               cache_write_tokens=usage.cache_write_tokens,
               cache_write_1h_tokens=usage.cache_write_1h_tokens),
        name, provider_id=_genai.GENAI_PROVIDERS[provider],
        genai_request_timestamp=datetime.now(UTC),
        price_context=None if tier is None else {"service_tier": tier})
    assert price.cost(usage, service_tier=tier) == theirs.total_price


def test_every_known_model_converts_or_says_why() -> None:
    """Every model genai-prices lists for our providers is a Price or a stated reason."""
    day = datetime.now(UTC).date()
    for provider in ("openai", "anthropic", "azure"):
        matches = _genai.own_models(provider, day)
        assert matches
        for match in matches.values():
            assert match.price is not None or match.reason, match
        assert len(known_models(provider)) >= len(matches) // 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda p: p.upper_bound(-1, 0), "input_tokens"),
    (lambda p: p.upper_bound(1, -1), "output_tokens"),
    (lambda p: p.upper_bound(1, 1, cache_writes="2h"), "cache_writes"),
])
def test_bad_questions_raise_a_price_error(call: Any, message: str) -> None:
    with pytest.raises(PriceError, match=message):
        call(Price(1, 2))


def test_bound_charges_a_one_hour_write_at_its_rate() -> None:
    sonnet = price_for("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None
    # a $1 budget over 1-hour cache writes: 100,000 input tokens reserve 2x input ($6/M)
    assert sonnet.upper_bound(100_000, 0) == Decimal("0.6")
    assert sonnet.upper_bound(100_000, 0, cache_writes="5m") == Decimal("0.375")
    assert sonnet.upper_bound(100_000, 0, cache_writes=False) == Decimal("0.3")
    # past 200K input tokens the long-context rates count: 2x $6 for a one-hour write
    assert sonnet.upper_bound(250_000, 0) == Decimal("3")


def test_bound_covers_the_dearest_tier_when_the_tier_is_open() -> None:
    gpt5 = price_for("openai", "gpt-5")
    assert gpt5 is not None and "priority" in gpt5.service_tiers
    assert gpt5.billing_fields == {"service_tier"}
    assert gpt5.upper_bound(1000, 1000) == Decimal("0.01125")  # standard: 1.25 + 10
    assert gpt5.upper_bound(1000, 1000, service_tier="auto") == Decimal("0.0225")  # 2.5 + 20
    assert gpt5.upper_bound(1000, 1000, service_tier="flex") == Decimal("0.005625")
    assert gpt5.upper_bound(1000, 1000, options={"service_tier": "priority"}) == \
        Decimal("0.0225")
