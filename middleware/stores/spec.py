"""The one spec grammar every store-backed layer takes as ``store=``. Pure.

=================================  ==============================================
``memory``                         in this process (the default)
``sqlite:///budget.db``            a SQLite file, relative to the working folder
``sqlite:////var/lib/if/budget.db``  a SQLite file, absolute path
``sqlite:budget.db``               the same as ``sqlite:///budget.db``
``budget.db`` (``.sqlite``, ``.sqlite3``)  a bare file name ending in a SQLite suffix
``redis://[:password@]host:6379/0``  a Redis server (also ``rediss://``, ``unix://``)
=================================  ==============================================

A spec that matches none of them is a :class:`~insightforge.errors.ConfigError` naming the
field (``store``) and the accepted forms, with any password masked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import attrs

from insightforge.errors import ConfigError
from insightforge.secrets import mask_url

__all__ = ["SQLITE_SUFFIXES", "StoreSpec", "build_store", "parse_store"]

Kind = Literal["memory", "sqlite", "redis"]
T = TypeVar("T")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_REDIS = ("redis://", "rediss://", "unix://")


@attrs.frozen(slots=True)
class StoreSpec:
    """A parsed store spec.

    Attributes:
        kind: ``memory``, ``sqlite`` or ``redis``.
        location: the file path (SQLite), the URL (Redis, password included), or ``""``.
    """

    kind: Kind
    location: str = ""

    @property
    def shown(self) -> str:
        """The spec as it may appear in a repr, a log or an error (password masked)."""
        if self.kind == "memory":
            return "memory"
        if self.kind == "sqlite":
            return f"sqlite:///{self.location}"
        return mask_url(self.location)


def parse_store(spec: str, field: str = "store") -> StoreSpec:
    """The :class:`StoreSpec` of ``spec``; a ``ConfigError`` at ``field`` when it is none."""
    if not isinstance(spec, str):
        raise ConfigError(_must(f"a {type(spec).__name__}"), path=field)
    text = spec.strip()
    if text == "memory":
        return StoreSpec("memory")
    if text.startswith(_REDIS):
        _check_url(text, field)
        return StoreSpec("redis", text)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:"):]
        path = rest[3:] if rest.startswith("///") else rest.lstrip("/") if rest.startswith(
            "//") else rest
        if path and "\0" not in path:
            return StoreSpec("sqlite", path)
    elif text.endswith(SQLITE_SUFFIXES) and "\0" not in text and "://" not in text:
        return StoreSpec("sqlite", text)
    raise ConfigError(_must(repr(mask_url(text))), path=field)


def build_store(spec: object, field: str, *, kind: type[T], memory: Callable[[], T],
                sqlite: Callable[[str], T], redis: Callable[[str], T]) -> T:
    """The store a layer gets from ``store=``: ``spec`` itself when it is already a store
    (an instance of the layer's protocol ``kind``), else the one its spec names, made by
    ``memory()``, ``sqlite(path)`` or ``redis(url)``; ``None`` is memory."""
    if isinstance(spec, kind):
        return spec
    if spec is None:
        return memory()
    parsed = parse_store(spec, field)  # type: ignore[arg-type]
    if parsed.kind == "redis":
        return redis(parsed.location)
    if parsed.kind == "sqlite":
        return sqlite(parsed.location)
    return memory()


def _check_url(url: str, field: str) -> None:
    """A malformed Redis URL is a ``ConfigError`` now, not a failure at the first call."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"cannot use the URL {mask_url(url)!r}: {exc}; expected "
                          "redis://[:password@]host:port/db", path=field) from None
    if not parts.scheme == "unix" and not parts.hostname:
        raise ConfigError(f"the URL {mask_url(url)!r} names no host; expected "
                          "redis://[:password@]host:port/db", path=field)


def _must(got: str) -> str:
    return ("a store must be 'memory', a SQLite file ('sqlite:///path/to/file.db', or a path "
            f"ending in .db) or a Redis URL ('redis://[:password@]host:6379/0'); got {got}")
