"""Collecting configuration problems, each with its ``$.path``, and raising them at once.

What lives here: :class:`Problems` (the collector), path helpers (:func:`key_path`,
:func:`index_path`), the nearest-name hint for unknown keys (:func:`unknown_key`), and the
translation of cattrs' validation errors into path/message pairs (:func:`from_cattrs`).
What must not: knowledge of the config's shape.
"""

from __future__ import annotations

import decimal
import difflib
import re
from collections.abc import Iterable

import cattrs

from insightforge.errors import ConfigError

__all__ = ["Problems", "from_cattrs", "index_path", "key_path", "nearest", "unknown_key"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def key_path(path: str, key: object) -> str:
    """``$.a`` + ``b`` -> ``$.a.b`` (quoted when ``key`` is not a plain name)."""
    text = str(key)
    return f"{path}.{text}" if _IDENT.match(text) else f"{path}[{text!r}]"


def index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


def nearest(name: object, valid: Iterable[str], what: str = "valid") -> str:
    """`` (did you mean 'ttl'?)`` or ``; valid: a, b`` for a name that is not known."""
    names = sorted(set(valid))
    close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; {what}: {', '.join(names) or '(none)'}"


def unknown_key(key: object, valid: Iterable[str]) -> str:
    """``unknown key 'tll' (did you mean 'ttl'?)`` or the list of valid keys."""
    return f"unknown key {str(key)!r}{nearest(key, valid, 'valid keys')}"


class Problems:
    """Every problem found in one document, in the order found."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        if (path, message) not in self.items:
            self.items.append((path, message))

    def extend(self, items: Iterable[tuple[str, str]]) -> None:
        for path, message in items:
            self.add(path, message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def error(self) -> ConfigError:
        first = self.items[0]
        if len(self.items) == 1:
            return ConfigError(first[1], path=first[0], problems=self.items)
        return ConfigError(f"{len(self.items)} problems", path=first[0], problems=self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise self.error()


def _type_name(hint: type | None) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             decimal.Decimal: "a number"}
    if hint in names:
        return names[hint]
    text = str(hint).replace("typing.", "") if hint is not None else "another value"
    return f"a value of type {text}"


def _format(exc: BaseException, hint: type | None) -> str:
    if isinstance(exc, ConfigError):  # a layer's own check: its words, and where it points
        return f"{exc.detail}\0{exc.path}"
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (decimal.InvalidOperation, ValueError, TypeError, ArithmeticError)):
        detail = str(exc)
        if detail.startswith("expected") or " must " in detail:
            return detail
        return f"expected {_type_name(hint)}"
    return f"invalid value ({type(exc).__name__})"


def from_cattrs(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """cattrs' structuring errors as ``(path, message)`` pairs, rooted at ``path``."""
    pairs: list[tuple[str, str]] = []
    for line in cattrs.transform_error(exc, path=path, format_exception=_format):
        message, _, where = line.rpartition(" @ ")
        where = where or path
        message, _, inner = (message or line).partition("\0")
        if inner and inner != "$" and not where.endswith(f".{inner}"):
            where = key_path(where, inner)  # a validator named its field
        pairs.append((where, message))
    return pairs
