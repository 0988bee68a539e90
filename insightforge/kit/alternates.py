"""Whether a ``Fallback`` above has another route waiting: the one fact ``Retry`` needs to
let a silent route go instead of retrying it.

A ``Fallback`` calls each branch but the last inside :func:`offering`; a ``Retry`` in that
branch reads :func:`alternate_waiting` when its call begins (and keeps the answer for the
whole call, a stream's continuation included). A context variable carries it, so it flows
through threads (``asyncio.to_thread`` copies the context) and tasks, and never leaks into
a request, a cache key or an audit record.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

__all__ = ["alternate_waiting", "offering"]

_WAITING: ContextVar[bool] = ContextVar("insightforge_alternate_waiting", default=False)


def alternate_waiting() -> bool:
    """True inside a call a ``Fallback`` can still route elsewhere."""
    return _WAITING.get()


class offering:  # used as a function: ``with offering(alternate):``
    """Mark the calls made inside as having an alternate route waiting (when ``alternate``;
    an outer ``Fallback``'s mark is kept either way). A plain context manager: it is
    entered on every call a ``Fallback`` makes, so it is cheap."""

    __slots__ = ("_alternate", "_token")

    def __init__(self, alternate: bool) -> None:
        self._alternate = alternate
        self._token: Token[bool] | None = None

    def __enter__(self) -> None:
        if self._alternate and not _WAITING.get():
            self._token = _WAITING.set(True)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _WAITING.reset(self._token)
            self._token = None
