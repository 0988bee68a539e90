"""A price written as a mapping (code, config ``prices:``, a provider's ``price=``), and a
price as a plain dict (the serializer's hooks). Pure.

Accepted keys: ``input``, ``output``, ``cache_read``, ``cache_write``, ``cache_write_1h``
(USD per million tokens, numbers or numeric strings); :data:`DICT_KEYS` adds ``tiers`` and
``variants`` for a round trip of a full price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from insightforge.pricing._price import Price, Tier, Variant
from insightforge.pricing._rates import PriceError

__all__ = ["RATE_KEYS", "PriceError", "as_price", "price_from_dict", "price_to_dict"]

RATE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
DICT_KEYS = (*RATE_KEYS, "tiers", "variants")
_EXAMPLE = "{input: '3', output: '15', cache_read: '0.30', cache_write: '3.75'}"


def as_price(value: object, where: str) -> Price:
    """``value`` (a :class:`Price` or a mapping of rates) as a :class:`Price`."""
    if isinstance(value, Price):
        return value
    if not isinstance(value, Mapping) or "input" not in value:
        got = (f"keys {sorted(map(str, value))}" if isinstance(value, Mapping)
               else f"a {type(value).__name__}")
        raise PriceError(f"{where}: a price needs at least 'input' (USD per million tokens), "
                         f"e.g. {_EXAMPLE}; got {got}", path=where)
    extra = sorted(str(k) for k in value if k not in RATE_KEYS)
    if extra:
        raise PriceError(f"{where}: unknown price field(s) {extra}; use "
                         f"{', '.join(RATE_KEYS)} (USD per million tokens)", path=where)
    return _build(value, where)


def _build(value: Mapping[Any, Any], where: str) -> Price:
    try:
        return Price(**{str(k): v for k, v in value.items()})
    except (ArithmeticError, ValueError, TypeError):
        raise PriceError(f"{where}: {', '.join(RATE_KEYS)} must be non-negative numbers of "
                         f"USD per million tokens, e.g. {_EXAMPLE}", path=where) from None


def price_to_dict(price: Price) -> dict[str, Any]:
    """Rates as strings (exact), leaving out what is unset: ``{"input": "2.5", ...}``."""
    out: dict[str, Any] = {"input": str(price.input), "output": str(price.output)}
    for key in RATE_KEYS[2:]:
        rate: Decimal | None = getattr(price, key)
        if rate is not None:
            out[key] = str(rate)
    if price.tiers:
        out["tiers"] = [{"above": t.above, **price_to_dict(t.price)} for t in price.tiers]
    if price.variants:
        out["variants"] = [{"field": v.field, "value": v.value, **price_to_dict(v.price)}
                           for v in price.variants]
    return out


def price_from_dict(data: object, where: str = "price") -> Price:
    """The inverse of :func:`price_to_dict` (a :class:`PriceError` names a bad field)."""
    if not isinstance(data, Mapping):
        raise PriceError(f"{where}: expected a mapping of rates, e.g. {_EXAMPLE}", path=where)
    rates = {k: v for k, v in data.items() if k not in ("tiers", "variants")}
    price = as_price(rates, where)
    tiers = tuple(Tier(_int(t, "above", where), price_from_dict(_rest(t, "above"), where))
                  for t in _items(data.get("tiers"), where))
    variants = tuple(Variant(_str(v, "field", where), _str(v, "value", where),
                             price_from_dict(_rest(v, "field", "value"), where))
                     for v in _items(data.get("variants"), where))
    if not tiers and not variants:
        return price
    try:
        return Price(price.input, price.output, cache_read=price.cache_read,
                     cache_write=price.cache_write, cache_write_1h=price.cache_write_1h,
                     tiers=tiers, variants=variants)
    except ValueError as exc:
        raise PriceError(f"{where}: {exc}", path=where) from None


def _items(value: object, where: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise PriceError(f"{where}: tiers and variants are lists of mappings", path=where)
    return list(value)


def _rest(item: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in drop}


def _int(item: Mapping[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if type(value) is not int or value < 0:
        raise PriceError(f"{where}: a tier's {key!r} must be a whole number >= 0", path=where)
    return value


def _str(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise PriceError(f"{where}: a variant's {key!r} must be a non-empty string",
                         path=where)
    return value
