"""The layers, one module each; imported lazily so a stack pays only for what it uses.

>>> from middleware import AuditLog, Budget, Cache, Fallback, OpenTelemetry, RateLimit, Retry
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from middleware.audit import AuditLog
    from middleware.budget import Budget
    from middleware.cache import Cache
    from middleware.fallback import Fallback
    from middleware.otel import OpenTelemetry
    from middleware.ratelimit import RateLimit
    from middleware.retry import Retry

__all__ = ["AuditLog", "Budget", "Cache", "Fallback", "OpenTelemetry", "RateLimit", "Retry"]

_WHERE = {
    "AuditLog": "middleware.audit",
    "Budget": "middleware.budget",
    "Cache": "middleware.cache",
    "Fallback": "middleware.fallback",
    "OpenTelemetry": "middleware.otel",
    "RateLimit": "middleware.ratelimit",
    "Retry": "middleware.retry",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'middleware' has no attribute {name!r}")
