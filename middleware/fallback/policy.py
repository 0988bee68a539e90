"""The fallback decision, pure: does this error move on to the next branch, and which one.

What must not live here: calling handlers, streams, sleeping — the driver in
:mod:`middleware.fallback.layer` does that.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from insightforge.errors import ContextLengthExceeded, Unsupported
from insightforge.kit.rules import ErrorRule, error_rule, matches
from insightforge.stack import Handler

__all__ = ["FallbackPolicy", "On", "branch_name", "branch_window", "larger"]

On = ErrorRule


def _on(value: object) -> On:
    return error_rule(value, "on")


def larger(candidate: int | None, failed: int | None) -> bool:
    """Whether a route with context window ``candidate`` can take what overflowed a route
    with window ``failed``: its window is known and larger (any known window, when the
    failed one is unknown)."""
    return candidate is not None and (failed is None or candidate > failed)


def _not_smaller(candidate: int | None, failed: int | None) -> bool:
    return candidate is None or failed is None or candidate > failed


@attrs.frozen(slots=True)
class FallbackPolicy:
    """Decides whether an error moves on to the next branch. Pure.

    Attributes:
        on: ``None`` — retryable :class:`ProviderError`, and
            :class:`~insightforge.errors.Unsupported` (a route that cannot take the request
            — an image, a schema, embeddings — is no reason to fail while another route
            may; ``Retry`` never repeats it); a tuple of error types (or their names) —
            those *in addition* (e.g. ``ContentFiltered``, ``AuthenticationError``), the
            same rule as ``Retry(retry_on=...)``; a predicate — replaces the rule entirely.
        context: a :class:`~insightforge.errors.ContextLengthExceeded` moves on to the next
            branch whose context window is known to be larger than the failed route's
            (with ``ContextLengthExceeded`` in ``on``: to the next branch not known to be as
            small) — never to one of the same size, which the same request would overflow
            too. A predicate ``on`` decides alone; ``False``: only ``on`` decides.
    """

    on: On = attrs.field(default=None, converter=_on)
    context: bool = True

    def warrants(self, error: BaseException) -> bool:
        """Whether ``on`` moves this error on (a ``ContextLengthExceeded`` moves by window
        too: :meth:`next_branch`; when no larger route exists it is raised as it is)."""
        if isinstance(error, Unsupported) and not callable(self.on):
            return True
        return matches(self.on, error)

    def _by_window(self, error: BaseException) -> bool:
        return (self.context and isinstance(error, ContextLengthExceeded)
                and not callable(self.on))

    def next_branch(self, index: int, error: BaseException, branches: int,
                    windows: Sequence[int | None] | None = None) -> int | None:
        """The branch to try after branch ``index`` failed with ``error``, or ``None``.

        ``windows``: each branch's context window (the failed branch's: the route that
        failed), consulted for a ``ContextLengthExceeded``.
        """
        if self._by_window(error):
            sizes = list(windows) if windows is not None else [None] * branches
            # asked for by `on`: any branch not known to be as small; else a known larger one
            fits = _not_smaller if matches(self.on, error) else larger
            return next((j for j in range(index + 1, branches)
                         if fits(sizes[j], sizes[index])), None)
        if not self.warrants(error) or index + 1 >= branches:
            return None
        return index + 1


def branch_name(handler: Handler) -> str:
    """A short name for a branch, for traces: its providers, ``+``-joined."""
    try:
        names = dict.fromkeys(route.provider for route in handler.routes())
    except Exception:  # a handler whose routes() fails still gets a name
        names = {}
    return "+".join(names) or type(handler).__name__


def branch_window(handler: Handler, provider: str | None = None) -> int | None:
    """A branch's context window: its route of ``provider`` (the one that failed), else its
    first route's; ``None`` when unknown."""
    try:
        routes = handler.routes()
    except Exception:
        return None
    chosen = next((r for r in routes if r.provider == provider), routes[0] if routes else None)
    return None if chosen is None else chosen.context_window
