"""``Retry``: exponential backoff with jitter, server-directed waits, a deadline.

>>> from middleware.retry import Retry, Backoff
>>> retry = Retry(attempts=4, backoff=Backoff(base=0.5, cap=8), deadline=30)

The decision lives in :mod:`middleware.retry.policy` (pure); the loops in
:mod:`middleware.retry.layer`. See docs/middleware/retry.md.
"""

from middleware.retry.layer import Retry, RetryHandler
from middleware.retry.policy import Backoff, RetryPolicy, default_retry_on

__all__ = ["Backoff", "Retry", "RetryHandler", "RetryPolicy", "default_retry_on"]
