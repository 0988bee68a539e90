"""``Budget``: exact spend limits — reserve the worst case before a call, settle after.

>>> from middleware import Budget
>>> Budget(limit_usd=5, period="day", scope="tag:tenant", store="sqlite:///budget.db")
... # doctest: +SKIP

The parts: :mod:`.layer` (the configuration and its flow: reserve, call, settle),
:mod:`.policy` (pure: estimates, prices, max_tokens, keys, money units, the plan),
:mod:`.stores` (the ``Ledger`` protocol; memory, SQLite and Redis ledgers, with leases).
See docs/middleware/budget.md.
"""

from __future__ import annotations

from middleware.budget.layer import Budget
from middleware.budget.plan import Plan, Reservation
from middleware.budget.stores import (
    Entry,
    Grant,
    Ledger,
    MemoryLedger,
    RedisLedger,
    SQLiteLedger,
    ledger_from,
)

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
