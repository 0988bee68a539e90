"""Portable request controls: prompt-cache marks and the reasoning setting.

What lives here: :class:`CacheControl` (mark a message, the system prompt or a tool as the
end of a cacheable prefix, for five minutes or an hour) and :class:`Reasoning` (how hard a
reasoning model thinks: an effort, and a token budget where the vendor takes one), with the
converters that accept their short forms (``cache="1h"``, ``reasoning="high"``). What must
not: any vendor's spelling (providers map these), I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["CACHE_TTLS", "EFFORTS", "CacheControl", "Reasoning", "cache_control", "reasoning"]

CACHE_TTLS = ("5m", "1h")
EFFORTS = ("minimal", "low", "medium", "high")


def _check_ttl(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in CACHE_TTLS:
        raise ValueError(f"cache ttl must be '5m' or '1h', got {value!r}")


@attrs.frozen(slots=True)
class CacheControl:
    """The end of a cacheable prompt prefix: everything up to and including the marked
    message (or tool, or system prompt) may be written to and read from the vendor's
    prompt cache.

    Attributes:
        ttl: ``"5m"`` (the default) or ``"1h"`` (a longer-lived, dearer write where the
            vendor bills it so).
    """

    ttl: str = attrs.field(default="5m", validator=_check_ttl)


def cache_control(value: CacheControl | str | bool | Mapping[str, Any] | None
                  ) -> CacheControl | None:
    """``None``/``False`` -> no mark; ``True`` -> 5 minutes; ``"5m"``/``"1h"``; a
    :class:`CacheControl`; or Anthropic's ``{"type": "ephemeral", "ttl": ...}``."""
    if value is None or value is False:
        return None
    if value is True:
        return CacheControl()
    if isinstance(value, CacheControl):
        return value
    if isinstance(value, str):
        return CacheControl(value)
    if isinstance(value, Mapping):
        return CacheControl(str(value.get("ttl") or "5m"))
    raise TypeError(f"cache must be '5m', '1h', True or a CacheControl, got "
                    f"{type(value).__name__}")


def _check_effort(_: object, __: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in EFFORTS:
        raise ValueError(f"reasoning effort must be one of {list(EFFORTS)}, got {value!r}")


def _check_budget(_: object, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise ValueError(f"reasoning budget_tokens must be a positive integer, got {value!r}")


@attrs.frozen(slots=True)
class Reasoning:
    """How much a reasoning model thinks before it answers.

    Attributes:
        effort: ``minimal``, ``low``, ``medium`` (default) or ``high`` — OpenAI
            ``reasoning_effort``, Anthropic adaptive-thinking effort, Ollama ``think``.
        budget_tokens: the thinking token budget where the vendor takes one (Anthropic
            extended thinking; at least 1024 there); ``None`` derives it from ``effort``.
    """

    effort: str | None = attrs.field(default="medium", validator=_check_effort)
    budget_tokens: int | None = attrs.field(default=None, kw_only=True,
                                            validator=_check_budget)


def reasoning(value: Reasoning | str | bool | Mapping[str, Any] | None) -> Reasoning | None:
    """``None``/``False`` -> off; ``True`` -> medium; an effort word; a mapping of the
    fields; or a :class:`Reasoning`."""
    if value is None or value is False:
        return None
    if value is True:
        return Reasoning()
    if isinstance(value, Reasoning):
        return value
    if isinstance(value, str):
        return Reasoning(value)
    if isinstance(value, Mapping):
        return Reasoning(value.get("effort", "medium"), budget_tokens=value.get("budget_tokens"))
    raise TypeError(f"reasoning must be an effort ('low', 'medium', 'high'), True or a "
                    f"Reasoning, got {type(value).__name__}")
