"""Whether a ``Fallback`` above has another route waiting: the one fact ``Retry`` needs to
let a silent route go instead of retrying it.

A ``Fallback`` calls each branch but the last inside :func:`offering`; a ``Retry`` in that
branch reads :func:`alternate_waiting` when its call begins (and keeps the answer for the
whole call, a stream's continuation included). A context variable carries it, so it flows
through threads (``asyncio.to_thread`` copies the context) and tasks, and never leaks into
a request, a cache key or an audit record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["alternate_waiting", "offering"]

_WAITING: ContextVar[bool] = ContextVar("insightforge_alternate_waiting", default=False)


def alternate_waiting() -> bool:
    """True inside a call a ``Fallback`` can still route elsewhere."""
    return _WAITING.get()


@contextlib.contextmanager
def offering(alternate: bool) -> Iterator[None]:
    """Mark the calls made inside as having an alternate route waiting (when ``alternate``;
    an outer ``Fallback``'s mark is kept either way)."""
    if not alternate or _WAITING.get():
        yield
        return
    token = _WAITING.set(True)
    try:
        yield
    finally:
        _WAITING.reset(token)
