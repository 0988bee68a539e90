"""The fallback decision, pure: does this error move on to the next branch, and which one.

What must not live here: calling handlers, streams, sleeping — the driver in
:mod:`middleware.fallback.layer` does that.
"""

from __future__ import annotations

import attrs

from insightforge.kit.rules import ErrorRule, error_rule, matches
from insightforge.stack import Handler

__all__ = ["FallbackPolicy", "On", "branch_name"]

On = ErrorRule


def _on(value: object) -> On:
    return error_rule(value, "on")


@attrs.frozen(slots=True)
class FallbackPolicy:
    """Decides whether an error moves on to the next branch. Pure.

    Attributes:
        on: ``None`` — retryable :class:`ProviderError` only; a tuple of error types (or
            their names) — those *in addition* (e.g. ``ContextLengthExceeded``,
            ``ContentFiltered``, ``AuthenticationError``), the same rule as
            ``Retry(retry_on=...)``; a predicate — replaces the rule entirely.
    """

    on: On = attrs.field(default=None, converter=_on)

    def warrants(self, error: BaseException) -> bool:
        return matches(self.on, error)

    def next_branch(self, index: int, error: BaseException, branches: int) -> int | None:
        """The branch to try after branch ``index`` failed with ``error``, or ``None``."""
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
