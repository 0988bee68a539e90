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
from insightforge.pricing._rates import PriceError, rate

__all__ = ["RATE_KEYS", "PriceError", "as_price", "price_from_dict", "price_to_dict"]

RATE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
DICT_KEYS = (*RATE_KEYS, "tiers", "variants")
_EXAMPLE = "{input: '3', output: '15', cache_read: '0.30', cache_write: '3.75'}"


def as_price(value: object, where: str = "") -> Price:
    """``value`` (a :class:`Price` or a mapping of rates) as a :class:`Price`; a
    :class:`PriceError` names the bad field (after ``where``, when given)."""
    if isinstance(value, Price):
        return value
    if not isinstance(value, Mapping) or "input" not in value:
        got = (f"keys {sorted(map(str, value))}" if isinstance(value, Mapping)
               else f"a {type(value).__name__}")
        raise _error(where, f"a price must give at least 'input' (USD per million tokens), "
                            f"e.g. {_EXAMPLE}; got {got}")
    extra = sorted(str(k) for k in value if k not in RATE_KEYS)
    if extra:
        raise _error(where, f"unknown price field(s) {extra}: a price must use only "
                            f"{', '.join(RATE_KEYS)} (USD per million tokens)")
    for key, given in value.items():
        if given is None and key != "input":
            continue
        try:
            if rate(given) < 0:
                raise ValueError
        except (ArithmeticError, ValueError, TypeError):
            raise _error(where, f"{key!r} must be a non-negative number of USD per million "
                                f"tokens (e.g. '2.50'), got {given!r}") from None
    return Price(**{str(k): v for k, v in value.items()})


def _error(where: str, problem: str) -> PriceError:
    return PriceError(f"{where}: {problem}" if where else problem)


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


def price_from_dict(data: object, where: str = "") -> Price:
    """The inverse of :func:`price_to_dict` (a :class:`PriceError` names a bad field)."""
    if not isinstance(data, Mapping):
        raise _error(where, f"expected a mapping of rates, e.g. {_EXAMPLE}")
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
        raise _error(where, str(exc)) from None


def _items(value: object, where: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise _error(where, "tiers and variants are lists of mappings")
    return list(value)


def _rest(item: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in drop}


def _int(item: Mapping[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if type(value) is not int or value < 0:
        raise _error(where, f"a tier's {key!r} must be a whole number >= 0")
    return value


def _str(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _error(where, f"a variant's {key!r} must be a non-empty string")
    return value
