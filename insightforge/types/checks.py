"""Checks a request passes when it is built, so a wrong field never reaches the network.

What lives here: the attrs validators of :class:`~insightforge.ChatRequest` and
:class:`~insightforge.EmbedRequest` — finite numbers in range (a NaN or infinite
``temperature`` is never sent, blamed on the provider and retried), positive integers,
booleans that are booleans, strings that are strings, and JSON values all the way down in
``options``, ``response_format`` and tool schemas (no NaN, no infinity, no objects JSON
cannot carry). Each failure is an :class:`~insightforge.errors.InvalidRequest` (also a
``ValueError``) naming the field's path, ``options.logit_bias.50256`` say.

What must not live here: anything a vendor decides (an upper bound of ``temperature``
differs between vendors: the provider says so), I/O. Pure and cheap: a request is checked
once, when it is made (``attrs.evolve`` checks again).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from insightforge.errors import InvalidRequest

__all__ = ["boolean", "json_value", "number", "optional_boolean", "optional_string",
           "positive_int", "strings", "whole"]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _bad(path: str, what: str, value: Any) -> InvalidRequest:
    shown = repr(value) if isinstance(value, (int, float, str, bool)) or value is None \
        else type(value).__name__
    return InvalidRequest(f"{path} {what}, got {shown[:80]}; fix the request (nothing was "
                          "sent)")


def number(low: float | None = None, high: float | None = None) -> Validator:
    """A finite number (``None`` allowed) within ``[low, high]``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(attribute.name, "must be a number", value)
        if not math.isfinite(value):
            raise _bad(attribute.name, "must be a finite number (not NaN or infinity)", value)
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _bad(attribute.name, f"must be {span}", value)

    return check


def positive_int(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A positive integer, or ``None``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise _bad(attribute.name, "must be a positive integer", value)


def whole(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An integer (not a boolean), or ``None``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(attribute.name, "must be an integer", value)


def boolean(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise _bad(attribute.name, "must be True or False", value)


def optional_boolean(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``True``, ``False`` or ``None``."""
    if value is not None and not isinstance(value, bool):
        raise _bad(attribute.name, "must be True, False or None", value)


def optional_string(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A non-empty string, or ``None``."""
    if value is not None and (not isinstance(value, str) or not value):
        raise _bad(attribute.name, "must be a non-empty string", value)


def strings(_: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    """Every item a string."""
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _bad(f"{attribute.name}[{index}]", "must be a string", item)


def json_value(value: Any, path: str, depth: int = 0) -> None:
    """Raise :class:`InvalidRequest` unless ``value`` is a JSON value with finite numbers
    (``None``, booleans, integers, finite floats, strings, lists and tuples of them,
    mappings with string keys); ``path`` names where it sits."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad(path, "must be a finite number (not NaN or infinity)", value)
        return
    if depth > 64:
        raise _bad(path, "nests too deep to be sent as JSON", value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _bad(f"{path}.{key!r}", "has a key that is not a string", key)
            json_value(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            json_value(item, f"{path}[{index}]", depth + 1)
        return
    raise _bad(path, "must be a JSON value (a string, number, boolean, null, list or "
               "object)", value)


def json_field(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: :func:`json_value` at the field's name."""
    json_value(value, attribute.name)
