"""The one cattrs converter: every InsightForge type to and from plain dicts.

Cache entries, audit records, the gateway's wire format and configuration all go through
:data:`converter` (or :func:`to_dict` / :func:`from_dict`). Configured here and nowhere
else. Money is a ``Decimal`` in memory and a string on the wire, so no cent is lost to a
float; a :class:`~insightforge.secrets.Secret` unstructures to its masked form, so a dump
can never leak one. Message content is a string or a list of part dicts
(:func:`insightforge.types.parts.part_dict`: ``{"type": "image", "data": <base64>,
"media_type": ...}``), so a request with images is JSON-able and its dict deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs

from insightforge.pricing import Price, price_from_dict, price_to_dict
from insightforge.secrets import Secret
from insightforge.types.messages import Content
from insightforge.types.parts import PART_TYPES, Part, part_dict, to_part

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


def _content_in(value: Any, _: Any) -> Content:
    if isinstance(value, str):
        return value
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"message content must be a string or a list of parts, got "
                        f"{type(value).__name__}")
    return tuple(to_part(item) for item in value)


def _content_out(value: Content) -> Any:
    return value if isinstance(value, str) else [part_dict(part) for part in value]


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
    # Content parts: our dict form (bytes as base64), read back by the Message converter.
    conv.register_structure_hook_func(lambda t: t == Content, _content_in)
    conv.register_unstructure_hook_func(lambda t: t == Content, _content_out)
    conv.register_structure_hook_func(lambda t: t == Part, lambda v, _: to_part(v))
    for kind in PART_TYPES:
        conv.register_unstructure_hook(kind, part_dict)
        conv.register_structure_hook(kind, lambda v, t: _exact(to_part(v), t))
    return conv


def _exact(part: Part, kind: type[Any]) -> Any:
    if not isinstance(part, kind):
        raise TypeError(f"expected a {kind.__name__}, got a {type(part).__name__}")
    return part


converter = make_converter()


def to_dict(obj: Any) -> Any:
    """Plain, JSON-able data for any InsightForge value."""
    return converter.unstructure(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """Rebuild a ``cls`` from :func:`to_dict` output."""
    return converter.structure(data, cls)
