"""The config's converter: the one converter's hooks plus strict scalars for documents.

A config converter is :func:`insightforge.serialize.make_converter` with extra hooks, set up
in :func:`config_converter` and nowhere else: strings must be strings (``model: [1]`` is an
error, not ``"[1]"``), numbers must be numbers (numeric strings from ``${VAR}`` interpolation
are accepted), booleans must be booleans, and secrets become :class:`Secret`.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import cattrs

from insightforge.secrets import Secret, mask
from insightforge.serialize import make_converter

__all__ = ["config_converter", "shown"]


def _str(value: Any, _: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # `model: 4` or a version number written bare
    raise TypeError("expected a string")


def shown(value: Any) -> str:
    """A value for an error message: short ones as written, long ones masked (may be a key)."""
    text = repr(value)
    return text if len(text) <= 18 else repr(mask(str(value)))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got true/false")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise TypeError(f"expected a number, got {shown(value)}") from None
    else:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(result):
        raise TypeError("expected a finite number")
    return result


def _float(value: Any, _: object) -> float:
    return _number(value)


def _int(value: Any, _: object) -> int:
    number = _number(value)
    if number != int(number):
        raise TypeError(f"expected a whole number, got {shown(value)}")
    return int(number)


def _bool(value: Any, _: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise TypeError("expected true or false")


def _decimal(value: Any, _: object) -> Decimal:
    _number(value)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise TypeError(f"expected a number, got {shown(value)}") from None


def _secret(value: Any, _: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError("expected a string (write ${ENV_VAR})")
    return Secret(value)


def _tuple_of_str(value: Any, _: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise TypeError("expected a list of strings")
    return tuple(_str(item, None) for item in items)


@lru_cache(maxsize=1)
def config_converter() -> cattrs.Converter:
    """The converter configs are structured with (built once)."""
    conv = make_converter()
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_structure_hook(Secret, _secret)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _tuple_of_str)
    return conv
