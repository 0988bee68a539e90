"""The price lookup: genai-prices' data, exact names only, overrides on top, exact costs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import Usage
from insightforge.errors import ConfigError
from insightforge.pricing import (
    FREE,
    Price,
    PriceError,
    PriceTable,
    _table,
    cost,
    known_models,
    load_prices,
    price_for,
    price_info,
    set_price,
)

money = st.decimals(0, 1000, places=4, allow_nan=False, allow_infinity=False)
tokens = st.integers(0, 10**7)


@pytest.fixture(autouse=True)
def _own_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from no global overrides and leaves none behind."""
    monkeypatch.setattr(_table, "_OVERRIDES", {})
    yield


@pytest.mark.parametrize(("provider", "model"), [
    ("openai", "gpt-3.5-turbo"), ("openai", "gpt-4"), ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("openai", "o1"), ("openai", "o3-mini"),
    ("openai", "o4-mini"), ("openai", "text-embedding-3-small"), ("azure", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-3-5-haiku"),
])
def test_current_models_are_priced(provider: str, model: str) -> None:
    price = price_for(provider, model)
    assert price is not None and price.input > 0


def test_dated_snapshots_match_only_as_documented() -> None:
    # API change: lookup no longer falls back to the longest prefix. A dated snapshot is
    # priced only when genai-prices lists it (its own price, or as a documented alias).
    assert price_for("openai", "gpt-4o-2024-08-06") == price_for("openai", "gpt-4o")
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == price_for("openai", "gpt-4o-mini")
    may = price_for("openai", "gpt-4o-2024-05-13")
    assert may is not None and (may.input, may.output) == (Decimal(5), Decimal(15))
    assert price_for("openai", "gpt-4o-2099-01-01") is None  # unknown snapshot: unknown
    sonnet = price_for("anthropic", "claude-sonnet-4-5-20250929")
    assert sonnet is not None and (sonnet.input, sonnet.output) == (Decimal(3), Decimal(15))
    assert price_for("ollama", "llama3.1:8b") == FREE
    assert price_for("openai", "gpt-4oops") is None
    assert price_for("nobody", "x") is None


def test_servers_of_unknown_models_are_unknown() -> None:
    for provider in ("compatible", "huggingface"):
        assert price_for(provider, "gpt-4o") is None
    assert price_for("openai", "") is None


def test_embeddings_have_no_output_price() -> None:
    price = price_for("openai", "text-embedding-3-large")
    assert price is not None and price.input == Decimal("0.13") and price.output == 0


@given(money, money, tokens, tokens)
def test_flat_cost_is_exact_and_linear(inp: Decimal, out: Decimal, a: int, b: int) -> None:
    price = Price(inp, out)
    assert price.cost(a, b) == (inp * a + out * b) / 1_000_000
    assert price.cost(a, b) == price.cost(a, 0) + price.cost(0, b)
    assert price.cost(Usage(a, b)) == price.cost(a, b)  # the old call and the new agree
    assert isinstance(price.cost(a, b), Decimal)
    assert cost(None, a, b) is None


def test_floats_become_exact_decimals_and_bad_rates_are_refused() -> None:
    assert Price(0.1, 0.2).input == Decimal("0.1")
    with pytest.raises(ValueError, match="negative"):
        Price(-1)
    with pytest.raises(ValueError, match="negative"):
        Price(1, cache_read=-1)
    with pytest.raises(ValueError, match="finite"):
        Price("NaN")
    with pytest.raises(TypeError, match="number"):
        Price(True)


def test_price_table_overrides_then_global_then_default() -> None:
    table = PriceTable.from_mapping({"openai": {"gpt-4o": {"input": "1", "output": "2"}}},
                                    default={"input": "9"})
    assert table.lookup("openai", "gpt-4o") == Price("1", "2")
    # API change: an override matches its exact name only (no prefix): the dated snapshot
    # gets genai-prices' price, not the override's.
    assert table.lookup("openai", "gpt-4o-2024-08-06") == price_for("openai", "gpt-4o")
    assert table.lookup("openai", "gpt-4") == Price("30", "60")
    assert table.lookup("acme", "anything") == Price("9")
    assert PriceTable().lookup("acme", "anything") is None  # never a silent zero
    aliased = PriceTable({"acme": {"m": Price("1")}}, aliases={"acme": {"m-2026": "m"}})
    assert aliased.lookup("acme", "m-2026") == Price("1")
    assert aliased.lookup("acme", "m-2027") is None


@pytest.mark.parametrize(("data", "message"), [
    ({"openai": {"m": {"inp": 1}}}, "at least 'input'"),
    ({"openai": {"m": {"input": 1, "outptu": 2}}}, "unknown price field"),
    ({"openai": {"m": {"input": "abc"}}}, "prices.openai.m"),
    ({"openai": {"m": {"input": 1, "cache_read": -1}}}, "non-negative"),
    ({"openai": ["m"]}, "mapping of model"),
])
def test_bad_overrides_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(PriceError, match=message) as caught:
        PriceTable.from_mapping(data)  # type: ignore[arg-type]
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)


def test_set_price_and_load_prices_match_exactly() -> None:
    set_price("acme", "m1", {"input": "1", "output": "2", "cache_read": "0.1"})
    load_prices({"acme": {"m2": {"input": "3"}}, "openai": {"gpt-4o": {"input": "0.5"}}})
    assert price_for("acme", "m1") == Price("1", "2", cache_read="0.1")
    assert price_for("acme", "m2") == Price("3")
    assert price_for("acme", "m2-large") is None  # API change: no prefix match
    assert price_for("openai", "gpt-4o") == Price("0.5")
    info = price_info("openai", "gpt-4o")
    assert info is not None and info.source == "config"
    assert known_models("acme") == {"m1": Price("1", "2", cache_read="0.1"), "m2": Price("3")}


def test_declared_aliases_match_and_nothing_else() -> None:
    set_price("acme", "m1", Price("1", "2"), aliases=["m1-2026-01-01"])
    assert price_for("acme", "m1-2026-01-01") == Price("1", "2")
    assert price_for("acme", "m1-2026-01-02") is None
    info = price_info("acme", "m1-2026-01-01")
    assert info is not None and (info.source, info.matched) == ("override", "m1")


def test_genai_prices_source_and_listed_name() -> None:
    info = price_info("openai", "gpt-4o-2024-08-06")
    assert info is not None and info.source.startswith("genai-prices ")
    assert info.matched == "gpt-4o"


def test_known_models_lists_genai_prices_models() -> None:
    models = known_models("openai")
    assert "gpt-4o" in models and "gpt-4o-2024-05-13" in models
    assert known_models("compatible") == {}


_NO_NETWORK = """
import socket, sys
def refuse(*a, **k):
    raise AssertionError("pricing opened a socket")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import insightforge
assert "genai_prices" not in sys.modules, "genai-prices loaded at import time"
from insightforge import Usage
from insightforge.pricing import price_for
price = price_for("anthropic", "claude-sonnet-4-5")
assert "genai_prices" in sys.modules
u = Usage(100000, 210, cache_write_tokens=100000, cache_write_1h_tokens=100000)
print(price.cost(u), price.upper_bound(100000, 210), price_for("openai", "gpt-4o").input)
"""


def test_pricing_opens_no_socket_and_loads_genai_prices_lazily() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _NO_NETWORK], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [Decimal(x) for x in done.stdout.split()] == [Decimal("0.60315"),
                                                         Decimal("0.60315"), Decimal("2.5")]


def test_a_swapped_genai_prices_snapshot_is_ignored() -> None:
    """Another library may point genai-prices at downloaded data; we read the bundled one."""
    from genai_prices import data_snapshot

    fake = data_snapshot.DataSnapshot(providers=[], from_auto_update=True)
    data_snapshot.set_custom_snapshot(fake)
    try:
        assert price_for("openai", "gpt-4o-mini") is not None
    finally:
        data_snapshot.set_custom_snapshot(None)


def test_config_prices_accept_every_rate() -> None:
    from insightforge.config import load_config

    doc = {"providers": {"m": {"type": "openai", "model": "my-model"}},
           "prices": {"anthropic": {"my-claude": {"input": 3, "output": 15, "cache_read": "0.3",
                                                  "cache_write": "3.75", "cache_write_1h": 6}}}}
    price = load_config(doc).prices["anthropic"]["my-claude"]
    assert price == Price(3, 15, cache_read="0.3", cache_write="3.75", cache_write_1h=6)
    doc["prices"]["anthropic"]["my-claude"]["cache_reed"] = 1  # type: ignore[index]
    with pytest.raises(ConfigError) as caught:
        load_config(doc)
    assert "$.prices.anthropic.my-claude.cache_reed" in str(caught.value)


def test_a_failure_inside_genai_prices_is_a_price_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from insightforge.pricing import _genai

    def broken() -> list[object]:
        raise ImportError("No module named 'genai_prices'")

    monkeypatch.setattr(_genai, "_providers", broken)
    _genai._find.cache_clear()
    try:
        with pytest.raises(PriceError, match="pip install genai-prices"):
            price_for("openai", "gpt-4o-mini")
        monkeypatch.setattr(_genai, "_providers", lambda: [object()])
        with pytest.raises(PriceError, match="genai-prices failed to price openai:gpt-4o"):
            price_for("openai", "gpt-4o")
    finally:
        _genai._find.cache_clear()
