"""The price table: known models, prefix lookup, overrides, exact Decimal costs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import pricing
from insightforge.pricing import FREE, Price, PriceTable, cost, load_prices, price_for, set_price

money = st.decimals(0, 1000, places=4, allow_nan=False, allow_infinity=False)
tokens = st.integers(0, 10**7)


@pytest.mark.parametrize(("provider", "model"), [
    ("openai", "gpt-3.5-turbo"), ("openai", "gpt-4"), ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("openai", "o1"), ("openai", "o3-mini"),
    ("openai", "o4-mini"), ("openai", "text-embedding-3-small"), ("azure", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-3-5-haiku"),
])
def test_current_models_are_priced(provider: str, model: str) -> None:
    price = price_for(provider, model)
    assert price is not None and price.input > 0


def test_prefix_lookup_finds_snapshots_and_tags() -> None:
    assert price_for("openai", "gpt-4o-2024-08-06") == price_for("openai", "gpt-4o")
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == price_for("openai", "gpt-4o-mini")
    assert price_for("anthropic", "claude-sonnet-4-5-20250929") == Price("3", "15")
    assert price_for("ollama", "llama3.1:8b") == FREE
    assert price_for("openai", "gpt-4oops") is None  # a prefix must end at a separator
    assert price_for("nobody", "x") is None


def test_embeddings_have_no_output_price() -> None:
    price = price_for("openai", "text-embedding-3-large")
    assert price == Price("0.13") and price.output == 0


@given(money, money, tokens, tokens)
def test_cost_is_exact_and_linear(inp: Decimal, out: Decimal, a: int, b: int) -> None:
    price = Price(inp, out)
    assert price.cost(a, b) == (inp * a + out * b) / 1_000_000
    assert price.cost(a, b) == price.cost(a, 0) + price.cost(0, b)
    assert isinstance(price.cost(a, b), Decimal)
    assert cost(None, a, b) is None


def test_floats_become_exact_decimals_and_negatives_are_refused() -> None:
    assert Price(0.1, 0.2).input == Decimal("0.1")
    with pytest.raises(ValueError, match="negative"):
        Price(-1)


def test_price_table_overrides_then_global_then_default() -> None:
    table = PriceTable.from_mapping({"openai": {"gpt-4o": {"input": "1", "output": "2"}}},
                                    default={"input": "9"})
    assert table.lookup("openai", "gpt-4o-2024-08-06") == Price("1", "2")
    assert table.lookup("openai", "gpt-4") == Price("30", "60")
    assert table.lookup("acme", "anything") == Price("9")
    assert PriceTable().lookup("acme", "anything") is None  # never a silent zero


@pytest.mark.parametrize(("data", "message"), [
    ({"openai": {"m": {"inp": 1}}}, "needs at least 'input'"),
    ({"openai": {"m": {"input": 1, "outptu": 2}}}, "unknown price field"),
    ({"openai": {"m": {"input": "abc"}}}, "prices.openai.m"),
    ({"openai": ["m"]}, "mapping of model"),
])
def test_bad_overrides_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable.from_mapping(data)  # type: ignore[arg-type]


def test_set_price_and_load_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_TABLE", {k: dict(v) for k, v in pricing._TABLE.items()})
    set_price("acme", "m1", {"input": "1", "output": "2"})
    load_prices({"acme": {"m2": {"input": "3"}}, "openai": {"gpt-4o": {"input": "0.5"}}})
    assert price_for("acme", "m1") == Price("1", "2")
    assert price_for("acme", "m2-large") == Price("3")
    assert price_for("openai", "gpt-4o") == Price("0.5")
    assert pricing.known_models("acme") == {"m1": Price("1", "2"), "m2": Price("3")}
