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

__all__ = [
    "FREE",
    "PRICES_AS_OF",
    "Price",
    "PriceTable",
    "cost",
    "known_models",
    "load_prices",
    "price_for",
    "set_price",
]

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
    "chatgpt-4o-latest": Price("5", "15"),
    "gpt-4o-audio-preview": Price("2.50", "10"),
    "gpt-4o-search-preview": Price("2.50", "10"),
    "gpt-4o-mini-search-preview": Price("0.15", "0.60"),
    "gpt-4-0314": Price("30", "60"),
    "gpt-4-1106-preview": Price("10", "30"),
    "gpt-4-0125-preview": Price("10", "30"),
    "gpt-3.5-turbo-16k": Price("3", "4"),
    "gpt-5-chat-latest": Price("1.25", "10"),
    "o1-preview": Price("15", "60"),
    "codex-mini-latest": Price("1.50", "6"),
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
    "claude-3-sonnet": Price("3", "15"),
    "claude-2": Price("8", "24"),
    "claude-instant-1": Price("0.80", "2.40"),
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
    return _find(table, model)


def set_price(provider: str, model: str, price: Price | Mapping[str, object]) -> None:
    """Add or override a price (from code or config), e.g. a negotiated rate."""
    price = _as_price(price, f"price of {provider}:{model}")
    _TABLE.setdefault(provider, {})[model] = price


def known_models(provider: str) -> dict[str, Price]:
    """A copy of the price table of one provider (for ``insightforge providers show``)."""
    return dict(_TABLE.get(provider, {}))


def cost(price: Price | None, input_tokens: int, output_tokens: int = 0) -> Decimal | None:
    """Cost of a usage at ``price``; ``None`` when the price is unknown."""
    return None if price is None else price.cost(input_tokens, output_tokens)


def _as_price(value: object, where: str) -> Price:
    if isinstance(value, Price):
        return value
    if not isinstance(value, Mapping) or "input" not in value:
        got = f"keys {sorted(map(str, value))}" if isinstance(value, Mapping) else \
            f"a {type(value).__name__}"
        raise ValueError(f"{where}: a price needs at least 'input' (USD per million tokens), "
                         f"e.g. {{input: '2.50', output: '10'}}; got {got}")
    extra = set(value) - {"input", "output"}
    if extra:
        raise ValueError(f"{where}: unknown price field(s) {sorted(extra)}; "
                         "use 'input' and 'output' (USD per million tokens)")
    try:
        return Price(**value)  # type: ignore[arg-type]
    except (ArithmeticError, ValueError, TypeError):
        raise ValueError(f"{where}: 'input' and 'output' must be non-negative numbers of USD "
                         "per million tokens, e.g. '2.50'") from None


@attrs.frozen(slots=True)
class PriceTable:
    """Price overrides scoped to one object (a ``Budget``), over the global table.

    ``lookup`` tries the overrides (exact, then longest prefix, like :func:`price_for`),
    then the global table, then ``default`` — which stays ``None`` unless set on purpose,
    so an unknown model is never silently free.

    Attributes:
        overrides: provider -> model -> :class:`Price`.
        default: the price of any model neither table knows, or ``None``.
    """

    overrides: Mapping[str, Mapping[str, Price]] = attrs.field(factory=dict)
    default: Price | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, object]],
                     default: Price | Mapping[str, object] | None = None) -> PriceTable:
        """From config: ``{openai: {gpt-4o: {input: "2.5", output: "10"}}}``."""
        table: dict[str, dict[str, Price]] = {}
        if not isinstance(data, Mapping):
            raise ValueError("prices must be a mapping of provider -> model -> "
                             "{input, output}")
        for provider, models in data.items():
            if not isinstance(models, Mapping):
                raise ValueError(f"prices.{provider}: expected a mapping of model -> price")
            table[str(provider)] = {str(m): _as_price(p, f"prices.{provider}.{m}")
                                    for m, p in models.items()}
        dflt = None if default is None else _as_price(default, "prices.default")
        return cls(table, dflt)

    def lookup(self, provider: str, model: str) -> Price | None:
        """The price of ``model`` at ``provider``, or ``None`` when nothing knows it."""
        own = self.overrides.get(provider)
        if own:
            found = _find(own, model)
            if found is not None:
                return found
        found = price_for(provider, model)
        return found if found is not None else self.default


def _find(table: Mapping[str, Price], model: str) -> Price | None:
    found = table.get(model)
    if found is not None:
        return found
    best = ""
    for name in table:
        if model.startswith(name) and len(name) > len(best) and model[len(name)] in "-:@.":
            best = name
    return table[best] if best else None


def load_prices(data: Mapping[str, Mapping[str, object]]) -> None:
    """Apply config overrides to the global table (``prices:`` section of the config)."""
    table = PriceTable.from_mapping(data)
    for provider, models in table.overrides.items():
        for model, price in models.items():
            set_price(provider, model, price)
