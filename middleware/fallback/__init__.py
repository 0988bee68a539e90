"""``Fallback``: try the inner chain, then each alternate in order, on errors that warrant it.

>>> from middleware import Fallback
>>> Fallback(local_stack, on=("ContextLengthExceeded",))  # doctest: +SKIP

The parts: :mod:`.layer` (the configuration and its handler, two short loops) and
:mod:`.policy` (pure: does this error move on, and where). See docs/middleware/fallback.md.
"""

from middleware.fallback.layer import Fallback, FallbackHandler
from middleware.fallback.policy import FallbackPolicy, branch_name

__all__ = ["Fallback", "FallbackHandler", "FallbackPolicy", "branch_name"]
