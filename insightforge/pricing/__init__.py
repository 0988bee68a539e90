"""Prices per provider and model, and the exact cost of a usage — pure ``Decimal`` throughout.

What lives here: the :class:`Price` type (input, output and prompt-cache rates, long-context
tiers, service-tier variants), its exact :meth:`Price.cost` of a whole
:class:`~insightforge.Usage` and the :meth:`Price.upper_bound` a budget reserves, the lookup
(:func:`price_for`, :func:`price_info`), and overrides (:func:`set_price`, the config's
``prices:`` through :func:`load_prices`, a per-Budget :class:`PriceTable`). What must not:
I/O, network, floats for money.

Prices come from the genai-prices package's bundled data (never downloaded at run time),
with InsightForge's overrides on top; local providers (Ollama) are free. Only exact names and
documented aliases match: an unknown model is never priced as a cheaper prefix, its price is
``None`` and callers decide (the Budget's ``on_unknown_price``). See docs/pricing.md.

genai-prices is imported on the first lookup, not with this package.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from insightforge.pricing._price import Price, Tier, Variant
from insightforge.pricing._rates import STANDARD_TIERS, CacheWrites, PriceError, UsageLike

if TYPE_CHECKING:
    from insightforge.pricing._genai import context_window, data_version
    from insightforge.pricing._parse import as_price, price_from_dict, price_to_dict
    from insightforge.pricing._table import (
        FREE,
        FREE_PROVIDERS,
        PriceInfo,
        PriceTable,
        known_models,
        load_prices,
        price_for,
        price_info,
        set_price,
        why_unknown,
    )

# Only Price is needed by ``import insightforge``; the rest loads on first use (import time).
_LAZY = {"context_window": "_genai", "data_version": "_genai", "as_price": "_parse",
         "price_from_dict": "_parse", "price_to_dict": "_parse"}
_LAZY.update(dict.fromkeys(("FREE", "FREE_PROVIDERS", "PriceInfo", "PriceTable", "known_models",
                            "load_prices", "price_for", "price_info", "set_price",
                            "why_unknown"), "_table"))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FREE",
    "FREE_PROVIDERS",
    "STANDARD_TIERS",
    "CacheWrites",
    "Price",
    "PriceError",
    "PriceInfo",
    "PriceTable",
    "Tier",
    "UsageLike",
    "Variant",
    "as_price",
    "context_window",
    "cost",
    "data_version",
    "known_models",
    "load_prices",
    "price_for",
    "price_from_dict",
    "price_info",
    "price_to_dict",
    "set_price",
    "why_unknown",
]


def cost(price: Price | None, usage: UsageLike | int, output_tokens: int = 0, *,
         service_tier: str | None = None) -> Decimal | None:
    """The cost of a usage at ``price``; ``None`` when the price is unknown."""
    if price is None:
        return None
    return price.cost(usage, output_tokens, service_tier=service_tier)
