"""``RateLimit``: requests and tokens per minute on pyrate-limiter, local or shared.

>>> from middleware.ratelimit import RateLimit
>>> per_tenant = RateLimit(rpm=60, tpm=40_000, key="tag:tenant", max_wait=5)

The parts: :mod:`.layer` (the configuration and its flow: acquire, call, correct),
:mod:`.policy` (pure: limits, estimates, waits), :mod:`.stores` (the ``LimitStore``
protocol; memory, SQLite and Redis logs). See docs/middleware/ratelimit.md.
"""

from middleware.ratelimit.layer import RateLimit
from middleware.ratelimit.policy import Limits, estimate_tokens
from middleware.ratelimit.stores import LimitStore, MemoryStore, RedisStore, SQLiteStore

__all__ = ["LimitStore", "Limits", "MemoryStore", "RateLimit", "RedisStore", "SQLiteStore",
           "estimate_tokens"]
