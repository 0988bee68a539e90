"""``RateLimit``: requests and tokens per minute on pyrate-limiter, local or shared.

>>> from middleware.ratelimit import RateLimit, SQLiteStore
>>> per_tenant = RateLimit(rpm=60, tpm=40_000, key="tag:tenant", max_wait=5)

Decisions: :mod:`.policy` (pure). Backends: :mod:`.stores`. Drivers: :mod:`.layer`.
See docs/middleware/ratelimit.md.
"""

from middleware.ratelimit.layer import RateLimit, RateLimitHandler
from middleware.ratelimit.policy import Limits, estimate_tokens
from middleware.ratelimit.stores import LimitStore, MemoryStore, RedisStore, SQLiteStore

__all__ = ["LimitStore", "Limits", "MemoryStore", "RateLimit", "RateLimitHandler",
           "RedisStore", "SQLiteStore", "estimate_tokens"]
