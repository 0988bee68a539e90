"""``Retry``: exponential backoff with jitter, server-directed waits, a deadline.

>>> from middleware.retry import Retry, Backoff
>>> Retry(attempts=4, backoff=Backoff(base=0.5, cap=8))
Retry(attempts=4, backoff=Backoff(base=0.5, factor=2.0, cap=8, jitter='full'), retry_on=None, max_retry_after=60.0, deadline=None)

The decision lives in :mod:`middleware.retry.policy` (pure); the loops in
:mod:`middleware.retry.layer`. See docs/middleware/retry.md.
"""

from middleware.retry.layer import Retry, RetryHandler
from middleware.retry.policy import Backoff, RetryPolicy, default_retry_on

__all__ = ["Backoff", "Retry", "RetryHandler", "RetryPolicy", "default_retry_on"]
