"""Where the access log goes: one JSON object per line on stderr (``insightforge serve``).

The lines themselves are written by :mod:`.edge` on the ``insightforge.gateway.access``
logger: request id, method, path, status, model, tenant, key id (never the key), stream,
cached, cost, tokens, latency, time to first token, error type. Unexpected errors go to
``insightforge.gateway`` with their traceback, scrubbed of secrets.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["to_stderr"]


def to_stderr() -> None:
    """Send the access log and the gateway's errors to stderr, one line each (idempotent)."""
    for name in ("insightforge.gateway.access", "insightforge.gateway"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_insightforge", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler._insightforge = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
