"""Prices per provider and model, and the cost of a usage — pure, ``Decimal`` throughout.

What lives here: the :class:`Price` type, the built-in table (public list prices in USD per
million tokens, as of the date in ``PRICES_AS_OF``), overrides from code or config
(:func:`set_price`), and :func:`cost`. What must not: I/O, floats for money.

Lookup is exact first, then the longest known prefix, so dated snapshots
(``gpt-4o-2024-08-06``) and tags (``llama3.1:8b``) find their family's price. An unknown
model gives ``None``: callers decide (the Budget layer refuses or uses a configured default;
it never assumes zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

__all__ = ["PRICES_AS_OF", "Price", "cost", "known_models", "price_for", "set_price"]

PRICES_AS_OF = "2026-11-01"
_MILLION = Decimal(1_000_000)


def _dec(value: Decimal | float | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@attrs.frozen(slots=True)
class Price:
    """What one model costs, in USD per million tokens.

    Attributes:
        input: per million input (prompt) tokens; for embeddings, per million input tokens.
        output: per million output (completion) tokens (zero for embedding models).
    """

    input: Decimal = attrs.field(converter=_dec)
    output: Decimal = attrs.field(default=Decimal(0), converter=_dec)

    @input.validator
    @output.validator
    def _non_negative(self, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
        if value < 0:
            raise ValueError(f"price {attribute.name} must not be negative, got {value}")

    def cost(self, input_tokens: int, output_tokens: int = 0) -> Decimal:
        """Cost of that many tokens, exact."""
        return (self.input * input_tokens + self.output * output_tokens) / _MILLION


FREE = Price(0, 0)

_OPENAI: dict[str, Price] = {
    "gpt-3.5-turbo": Price("0.50", "1.50"),
    "gpt-3.5-turbo-instruct": Price("1.50", "2.00"),
    "gpt-4": Price("30", "60"),
    "gpt-4-32k": Price("60", "120"),
    "gpt-4-turbo": Price("10", "30"),
    "gpt-4o": Price("2.50", "10"),
    "gpt-4o-mini": Price("0.15", "0.60"),
    "gpt-4.1": Price("2", "8"),
    "gpt-4.1-mini": Price("0.40", "1.60"),
    "gpt-4.1-nano": Price("0.10", "0.40"),
    "gpt-4.5-preview": Price("75", "150"),
    "gpt-5": Price("1.25", "10"),
    "gpt-5-mini": Price("0.25", "2"),
    "gpt-5-nano": Price("0.05", "0.40"),
    "o1": Price("15", "60"),
    "o1-mini": Price("1.10", "4.40"),
    "o1-pro": Price("150", "600"),
    "o3": Price("2", "8"),
    "o3-mini": Price("1.10", "4.40"),
    "o3-pro": Price("20", "80"),
    "o4-mini": Price("1.10", "4.40"),
    "text-embedding-3-small": Price("0.02"),
    "text-embedding-3-large": Price("0.13"),
    "text-embedding-ada-002": Price("0.10"),
}

_ANTHROPIC: dict[str, Price] = {
    "claude-3-haiku": Price("0.25", "1.25"),
    "claude-3-opus": Price("15", "75"),
    "claude-3-5-haiku": Price("0.80", "4"),
    "claude-3-5-sonnet": Price("3", "15"),
    "claude-3-7-sonnet": Price("3", "15"),
    "claude-sonnet-4": Price("3", "15"),
    "claude-sonnet-4-5": Price("3", "15"),
    "claude-opus-4": Price("15", "75"),
    "claude-opus-4-1": Price("15", "75"),
    "claude-opus-4-5": Price("5", "25"),
    "claude-haiku-4-5": Price("1", "5"),
}

_TABLE: dict[str, dict[str, Price]] = {
    "openai": _OPENAI,
    "azure": dict(_OPENAI),  # Azure OpenAI global deployments list the same prices
    "anthropic": _ANTHROPIC,
}
_FREE_PROVIDERS = frozenset({"ollama"})


def price_for(provider: str, model: str) -> Price | None:
    """The price of ``model`` at ``provider``: exact, then longest known prefix, else ``None``."""
    if provider in _FREE_PROVIDERS:
        return FREE
    table = _TABLE.get(provider)
    if not table:
        return None
    found = table.get(model)
    if found is not None:
        return found
    best = ""
    for name in table:
        if model.startswith(name) and len(name) > len(best) and model[len(name)] in "-:@.":
            best = name
    return table[best] if best else None


def set_price(provider: str, model: str, price: Price | Mapping[str, object]) -> None:
    """Add or override a price (from code or config), e.g. a negotiated rate."""
    if not isinstance(price, Price):
        price = Price(**price)  # type: ignore[arg-type]
    _TABLE.setdefault(provider, {})[model] = price


def known_models(provider: str) -> dict[str, Price]:
    """A copy of the price table of one provider (for ``insightforge providers show``)."""
    return dict(_TABLE.get(provider, {}))


def cost(price: Price | None, input_tokens: int, output_tokens: int = 0) -> Decimal | None:
    """Cost of a usage at ``price``; ``None`` when the price is unknown."""
    return None if price is None else price.cost(input_tokens, output_tokens)
