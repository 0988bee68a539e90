"""Trace context across a process boundary: the incoming ``traceparent`` becomes the parent.

The layer opens its span in the *current* context, so a span the caller opened is its
parent with no help. A server (the gateway) receives the caller's context in HTTP headers
instead; it wraps the call in :func:`remote_parent`::

    from middleware.otel.context import remote_parent

    with remote_parent(request_headers):          # ASGI pairs or a mapping
        answer = await llm.acall(chat_request)    # the layer's span continues the trace

:func:`extract_context` is the same without attaching (for ``tracer.start_span(context=)``),
:func:`inject_context` the other way (headers for an outgoing call). They use the globally
configured propagator (W3C ``traceparent``/``tracestate`` and baggage by default).
Malformed headers never fail a request: they give the current context.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["Headers", "extract_context", "inject_context", "remote_parent"]

_log = logging.getLogger("insightforge.otel")

Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[Any, Any]]


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)


def _carrier(headers: Headers | None) -> dict[str, str]:
    """Header names lower-cased (HTTP names are case-insensitive; ASGI's are bytes)."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(_text(name).lower(), _text(value))
    return out


def extract_context(headers: Headers | None, context: Any = None) -> Any:
    """The OpenTelemetry ``Context`` the headers carry, on top of ``context`` (the current
    one by default); the unchanged context when they carry none or are malformed."""
    from opentelemetry import propagate

    try:
        return propagate.extract(_carrier(headers), context=context)
    except Exception as exc:  # a bad header is the caller's problem, never the request's
        _log.warning("ignored a trace context that could not be read: %s",
                     type(exc).__name__)
        from opentelemetry import context as otel_context
        return context if context is not None else otel_context.get_current()


@contextlib.contextmanager
def remote_parent(headers: Headers | None) -> Iterator[Any]:
    """Make the context in ``headers`` current for the block (spans opened inside are its
    children); restores the previous context after. Yields the context."""
    from opentelemetry import context as otel_context

    ctx = extract_context(headers)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def inject_context(headers: dict[str, str] | None = None, context: Any = None) -> dict[str, str]:
    """``headers`` (a new dict by default) with the trace context of ``context`` (the
    current one by default) written in: ``traceparent``, and ``tracestate`` when set."""
    from opentelemetry import propagate

    out = {} if headers is None else headers
    propagate.inject(out, context=context)
    return out
