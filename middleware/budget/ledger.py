"""Budget ledgers: the shared state of a Budget, with one atomic ``reserve`` and ``settle``.

What lives here: the :class:`Ledger` protocol, its value types, and the in-memory ledger.
SQLite and Redis live in their own modules. What must not: pricing or token logic (that
is ``policy``) — a ledger only moves integer units (nano-dollars) under a key.

The one rule every implementation keeps, atomically: ``reserve`` grants ``want`` units if
``spent + reserved + want <= limit``, else whatever is left if that is at least ``least``,
else nothing. Because every grant is checked against spent *and* reserved, and a
settlement never exceeds its reservation when the estimate is an upper bound, settled
spend can never pass the limit, whatever the interleaving.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

import attrs

from insightforge.secrets import mask_url

__all__ = ["Entry", "Grant", "Ledger", "MemoryLedger", "decide", "ledger_from"]


@attrs.frozen(slots=True)
class Grant:
    """What ``reserve`` gave.

    Attributes:
        granted: units reserved (0 = refused).
        spent: settled units before this reservation.
        reserved: reserved (in-flight) units before this reservation.
    """

    granted: int
    spent: int
    reserved: int


@attrs.frozen(slots=True)
class Entry:
    """One ledger row, for ``insightforge budget status``.

    Attributes:
        key: ``<scope>|<period>``; limit, spent, reserved: in units.
    """

    key: str
    limit: int
    spent: int
    reserved: int

    @property
    def scope(self) -> str:
        return self.key.partition("|")[0]

    @property
    def period(self) -> str:
        return self.key.partition("|")[2]


def sqlite_path(spec: str) -> str | None:
    """The file of ``sqlite:///rel.db``, ``sqlite:////abs.db``, ``sqlite:PATH`` or ``*.db``."""
    for prefix in ("sqlite:///", "sqlite://", "sqlite:"):
        if spec.startswith(prefix):
            return spec[len(prefix):] or None
    return spec if spec.endswith((".db", ".sqlite", ".sqlite3")) else None


def decide(limit: int, spent: int, reserved: int, want: int, least: int) -> int:
    """The grant rule, pure (the Lua script and the SQL transaction implement the same)."""
    available = limit - spent - reserved
    if available >= want:
        return want
    if available >= least:
        return available
    return 0


@runtime_checkable
class Ledger(Protocol):
    """Where a budget keeps spent and reserved units, per key. All methods are atomic."""

    def reserve(self, key: str, limit: int, want: int, least: int) -> Grant:
        """Reserve up to ``want`` (at least ``least``, which is ≥ 1) units, or nothing."""
        ...

    def settle(self, key: str, reserved: int, actual: int) -> None:
        """Release ``reserved`` units and record ``actual`` units as spent."""
        ...

    def entries(self) -> list[Entry]:
        """Every key this ledger holds."""
        ...

    def close(self) -> None: ...


class MemoryLedger:
    """A ledger in this process (threads and tasks share it; processes do not)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[int]] = {}  # key -> [limit, spent, reserved]

    def reserve(self, key: str, limit: int, want: int, least: int) -> Grant:
        with self._lock:
            row = self._rows.setdefault(key, [limit, 0, 0])
            row[0] = limit
            granted = decide(limit, row[1], row[2], want, least)
            grant = Grant(granted, row[1], row[2])
            row[2] += granted
            return grant

    def settle(self, key: str, reserved: int, actual: int) -> None:
        with self._lock:
            row = self._rows.setdefault(key, [0, 0, 0])
            row[2] = max(0, row[2] - reserved)
            row[1] += actual

    def entries(self) -> list[Entry]:
        with self._lock:
            return [Entry(k, *row) for k, row in sorted(self._rows.items())]

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "MemoryLedger()"


def ledger_from(spec: object) -> Ledger:
    """A ledger from ``"memory"``, ``"sqlite:///path"``, ``"redis://..."`` or a ledger."""
    if isinstance(spec, Ledger):
        return spec
    if spec == "memory" or spec is None:
        return MemoryLedger()
    if isinstance(spec, str):
        if spec.startswith(("redis://", "rediss://", "unix://")):
            from middleware.budget.redis_ledger import RedisLedger

            return RedisLedger(spec)
        path = sqlite_path(spec)
        if path is not None:
            from middleware.budget.sqlite_ledger import SQLiteLedger

            return SQLiteLedger(path)
    raise ValueError(f"ledger must be 'memory', a SQLite path ('sqlite:budget.db'), a Redis "
                     f"URL ('redis://host:6379/0') or a Ledger object, got {_masked(spec)}")


def _masked(spec: object) -> str:
    """``spec`` for an error message, with any URL password hidden."""
    if not isinstance(spec, str):
        return type(spec).__name__
    return repr(mask_url(spec))
