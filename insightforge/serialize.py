"""The one cattrs converter: every InsightForge type to and from plain dicts.

Cache entries, audit records, the gateway's wire format and configuration all go through
:data:`converter` (or :func:`to_dict` / :func:`from_dict`). Configured here and nowhere
else. Money is a ``Decimal`` in memory and a string on the wire, so no cent is lost to a
float; a :class:`~insightforge.secrets.Secret` unstructures to its masked form, so a dump
can never leak one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs

from insightforge.pricing import Price, price_from_dict, price_to_dict
from insightforge.secrets import Secret

__all__ = ["converter", "from_dict", "make_converter", "to_dict"]

T = TypeVar("T")


def _plain(value: Any) -> Any:
    """Deep-copy mappings (read-only ones included) into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _is_mapping_hint(hint: Any) -> bool:
    origin = getattr(hint, "__origin__", None)
    return hint is Mapping or origin is Mapping or origin is MappingProxyType


def make_converter() -> cattrs.Converter:
    """A fresh converter with InsightForge's hooks (tests and config use this)."""
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))
    conv.register_unstructure_hook(Secret, lambda s: s.masked)
    conv.register_unstructure_hook(MappingProxyType, _plain)
    conv.register_unstructure_hook_func(_is_mapping_hint, _plain)
    conv.register_structure_hook_func(_is_mapping_hint, lambda v, _: _plain(v))
    # ``response_format`` and other "anything JSON" unions pass through as they are.
    conv.register_structure_hook(str | Mapping[str, Any] | None, lambda v, _: _plain(v))
    conv.register_unstructure_hook(str | Mapping[str, Any] | None, _plain)
    # a price is its rates as exact strings, unset ones left out (tiers and variants nest)
    conv.register_unstructure_hook(Price, price_to_dict)
    conv.register_structure_hook(Price, lambda v, _: price_from_dict(v))
    conv.register_structure_hook(Price | None,
                                 lambda v, _: None if v is None else price_from_dict(v))
    return conv


converter = make_converter()


def to_dict(obj: Any) -> Any:
    """Plain, JSON-able data for any InsightForge value."""
    return converter.unstructure(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """Rebuild a ``cls`` from :func:`to_dict` output."""
    return converter.structure(data, cls)
