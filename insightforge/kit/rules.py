"""Which errors a layer acts on: one rule, the same in ``Retry(retry_on=...)`` and
``Fallback(on=...)``. Pure.

A rule is ``None`` (the default: a :class:`~insightforge.errors.ProviderError` whose
``retryable`` flag is set — timeouts, 5xx, 429, malformed answers), a tuple of error types
(those **in addition** to the default: ``(ContentFiltered, ContextLengthExceeded)``), or a
predicate ``error -> bool`` that replaces the default entirely. Config files name the types
(``on: [ContentFiltered]``); a name that is not an error of ours is a ``ConfigError`` with
the nearest names.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from insightforge import errors
from insightforge.errors import ConfigError, ProviderError

__all__ = ["ErrorRule", "error_rule", "matches", "retryable"]

ErrorRule = Callable[[BaseException], bool] | tuple[type[BaseException], ...] | None


def retryable(error: BaseException) -> bool:
    """The default rule: a provider error whose ``retryable`` flag is set."""
    return isinstance(error, ProviderError) and error.retryable


def matches(rule: ErrorRule, error: BaseException) -> bool:
    """Whether ``error`` falls under ``rule`` (see the module docstring)."""
    if rule is None:
        return retryable(error)
    if isinstance(rule, tuple):
        return retryable(error) or isinstance(error, rule)
    return bool(rule(error))


def _named(name: str, field: str) -> type[BaseException]:
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, errors.InsightForgeError):
        return found
    known = [n for n in errors.__all__ if n != "InsightForgeError"]
    near = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(known)}"
    raise ConfigError(f"{name!r} is not an InsightForge error type{hint}; {field} takes a "
                      "tuple of extra error types (or their names, e.g. ContentFiltered) or a "
                      "predicate function(error) -> bool", path=field)


def error_rule(value: Any, field: str = "on") -> ErrorRule:
    """A rule from ``None``, a predicate, an error type or its name, or several of those."""
    if value is None:
        return None
    if isinstance(value, str):
        return (_named(value, field),)
    if isinstance(value, type) and issubclass(value, BaseException):
        return (value,)
    if callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        out: list[type[BaseException]] = []
        for item in value:
            if isinstance(item, str):
                out.append(_named(item, field))
            elif isinstance(item, type) and issubclass(item, BaseException):
                out.append(item)
            else:
                raise ConfigError(f"expected error types or their names, got {item!r}",
                                  path=field)
        return tuple(out)
    raise ConfigError(f"{field} must be None, error types (or their names, e.g. "
                      f"[ContentFiltered]) to act on in addition to the retryable ones, or a "
                      f"predicate function(error) -> bool; got {value!r}", path=field)
