"""Small pieces of :mod:`insightforge.pricing._price`: how a rate is read, the exact
arithmetic context, the pricing error, and what a usage must offer. Pure."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, Protocol

import attrs

from insightforge.errors import ConfigError

__all__ = ["CTX", "STANDARD_TIERS", "ZERO", "CacheWrites", "PriceError", "UsageLike",
           "non_negative", "opt_rate", "rate", "request_context", "tidy"]

CacheWrites = bool | Literal["5m", "1h"]
STANDARD_TIERS = frozenset({"default", "standard"})
"""Service tier names that mean the standard rates wherever a price lists no variant for them."""

# Exact arithmetic: 60 digits hold any rate times any token count; Inexact would be a bug.
CTX = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation,
                                       decimal.Overflow])
ZERO = Decimal(0)
ONE = Decimal(1)


class PriceError(ConfigError, ValueError):
    """A price, or a question to one, that cannot be used: the message names the field and
    the fix. A :class:`~insightforge.errors.ConfigError` (and a ``ValueError``)."""


class UsageLike(Protocol):
    """What :meth:`Price.cost` reads of a usage (:class:`insightforge.Usage` fits)."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_write_1h_tokens(self) -> int: ...


def rate(value: Decimal | float | int | str) -> Decimal:
    """A rate as an exact ``Decimal`` (a float through its shortest repr: ``0.1`` is 0.1)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, float, int, str)):
        raise TypeError(f"a rate must be a number of USD per million tokens, got {value!r}")
    result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    if not result.is_finite():
        raise ValueError(f"a rate must be a finite number, got {value!r}")
    _, digits, exponent = result.as_tuple()
    if len(digits) > 24 or int(exponent) < -18:
        raise ValueError(f"a rate may have at most 24 digits and 18 decimal places, "
                         f"got {value!r}")
    return result


def opt_rate(value: Decimal | float | int | str | None) -> Decimal | None:
    return None if value is None else rate(value)


def non_negative(_: object, attribute: attrs.Attribute[Any], value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"price {attribute.name} must not be negative, got {value}")


def request_context(service_tier: str | None,
                    options: Mapping[str, object] | None) -> dict[str, object]:
    """The request fields that may select a variant: ``options``, ``service_tier`` on top."""
    found: dict[str, object] = dict(options) if options else {}
    if service_tier is not None:
        found["service_tier"] = service_tier
    return found


def tidy(amount: Decimal) -> Decimal:
    """The same amount without trailing zeros (``0.60315``, not ``0.60315000``), never in
    exponent notation (``10``, not ``1E+1``)."""
    short = amount.normalize(CTX)
    return short if int(short.as_tuple().exponent) <= 0 else short.quantize(ONE, context=CTX)
