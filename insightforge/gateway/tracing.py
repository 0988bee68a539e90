"""Which request headers carry a caller's trace context (W3C ``traceparent`` and friends).

The edge (:mod:`.edge`) asks :func:`trace_fields` for the header names the configured
OpenTelemetry propagator reads — ``traceparent``, ``tracestate``, ``baggage`` by default;
``b3`` and the like when the application configured another — and, when a request carries
one, :func:`~.exchange.call` runs the stack under
:func:`middleware.otel.context.remote_parent`, so the spans an ``OpenTelemetry`` layer (or
an instrumented HTTP client) opens continue the caller's trace. Without ``opentelemetry-api``
installed there is nothing to continue and no name is read; a request without those
headers costs one set lookup per header. Malformed headers never fail a request (the span
starts a new trace). What must not live here: spans, metrics.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["trace_fields"]

_NONE: frozenset[bytes] = frozenset()
_propagate: Any = None  # opentelemetry.propagate once found; False: not installed
_textmap: Any = None  # the propagator _names were read from
_names: frozenset[bytes] = _NONE


def _module() -> Any:
    global _propagate
    if _propagate is None:
        if importlib.util.find_spec("opentelemetry") is None:
            _propagate = False
        else:
            try:
                from opentelemetry import propagate
            except ImportError:  # a namespace without the API
                _propagate = False
            else:
                _propagate = propagate
    return _propagate


def trace_fields() -> frozenset[bytes]:
    """The lower-case header names the global propagator reads (empty without
    ``opentelemetry-api``); read again when the application sets another propagator."""
    global _textmap, _names
    propagate = _module()
    if not propagate:
        return _NONE
    textmap = propagate.get_global_textmap()
    if textmap is not _textmap:
        try:
            _names = frozenset(str(f).lower().encode("latin-1") for f in textmap.fields)
        except Exception:  # a propagator that cannot say: never fail a request for it
            _names = _NONE
        _textmap = textmap
    return _names
