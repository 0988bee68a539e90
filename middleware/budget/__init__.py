"""``Budget``: exact spend limits — reserve the worst case before a call, settle after.

>>> from middleware import Budget
>>> Budget(limit_usd=5, period="day", scope="tag:tenant", ledger="sqlite:///budget.db")
... # doctest: +SKIP

Modules: ``policy`` (pure: estimates, prices, max_tokens, period and scope keys, units),
``layer`` (the configuration and per-request plan), ``handler`` (sync and async drivers),
``ledger`` (protocol + memory), ``sqlite_ledger``, ``redis_ledger``. See
docs/middleware/budget.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from middleware.budget.layer import Budget, Plan, Reservation
from middleware.budget.ledger import Entry, Grant, Ledger, MemoryLedger, ledger_from

if TYPE_CHECKING:
    from middleware.budget.redis_ledger import RedisLedger
    from middleware.budget.sqlite_ledger import SQLiteLedger

__all__ = [
    "Budget",
    "Entry",
    "Grant",
    "Ledger",
    "MemoryLedger",
    "Plan",
    "RedisLedger",
    "Reservation",
    "SQLiteLedger",
    "ledger_from",
]


def __getattr__(name: str) -> Any:
    if name == "SQLiteLedger":
        from middleware.budget.sqlite_ledger import SQLiteLedger

        return SQLiteLedger
    if name == "RedisLedger":
        from middleware.budget.redis_ledger import RedisLedger

        return RedisLedger
    raise AttributeError(f"module 'middleware.budget' has no attribute {name!r}")
