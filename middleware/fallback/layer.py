"""``Fallback``: the configuration and its handler — try the inner chain, then each
alternate in order, on errors that warrant it.

A stream is primed before the handler commits to it, so a failure before the first chunk
still falls back; a failure after chunks reached the caller is continued on the next branch
(``resume=True``, the default; :mod:`insightforge.kit.resume`). Every branch but the last is
called with an alternate marked as waiting, so a ``Retry`` inside lets a silent route go at
once. A ``ContextLengthExceeded`` moves only to a branch with a larger context window. What
must not: retries (put ``Retry`` inside each branch), the decision (:mod:`.policy`), or
provider-specific error inspection.

Each branch is a handler — a provider or a whole ``Stack`` (with its own ``RateLimit`` and
``Retry``). ``routes()`` is the union of every branch's routes, so a ``Budget`` above
reserves for the dearest and a ``Cache`` keys on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from insightforge.errors import AllProvidersFailed, ConfigError, ContextLengthExceeded
from insightforge.kit import add_trace, with_trace
from insightforge.kit.repeat import arepeat, repeat
from insightforge.stack import (
    AsyncResponse,
    Handler,
    Middleware,
    Request,
    Response,
    as_handler,
)
from insightforge.types import Route, TraceEvent
from middleware.fallback.policy import FallbackPolicy, On, branch_name, branch_window

__all__ = ["Fallback", "FallbackHandler"]


def _to_handler(value: Any) -> Handler:
    try:
        return as_handler(value)
    except TypeError as exc:
        raise ConfigError(f"Fallback alternates must be providers, stacks or functions: {exc}",
                          path="alternates") from None


@attrs.frozen(init=False)
class Fallback:
    """Tries the inner chain, then each alternate in order (see the module docstring).

    Attributes:
        alternates: the handlers to try after the inner one, in order.
        on: which errors move on (see :class:`FallbackPolicy`).
        context: a ``ContextLengthExceeded`` moves on to the next branch with a larger
            context window (``Route.context_window``), never to one of the same size.
        resume: continue a stream that fails after chunks reached the caller on the next
            branch (a prefill where it declares it, else a clean restart of which only the
            part extending the delivered text is passed on); ``False``: the failure reaches
            the caller as before.
    """

    alternates: tuple[Handler, ...]
    on: On
    context: bool
    resume: bool
    policy: FallbackPolicy = attrs.field(eq=False, repr=False)

    def __init__(self, *alternates: Any, on: On = None, context: bool = True,
                 resume: bool = True) -> None:
        if not alternates:
            raise ConfigError("Fallback needs at least one alternate: Fallback(other_stack)",
                              path="alternates")
        handlers = tuple(_to_handler(a) for a in alternates)
        policy = FallbackPolicy(on, context)
        self.__attrs_init__(handlers, policy.on, context, resume, policy)

    def __call__(self, inner: Handler) -> FallbackHandler:
        return FallbackHandler(self, inner)

    def __repr__(self) -> str:
        on = "" if self.on is None else f", on={self.on!r}"
        context = "" if self.context else ", context=False"
        resume = "" if self.resume else ", resume=False"
        return f"Fallback({len(self.alternates)} alternate(s){on}{context}{resume})"


class _Run:
    """One call's fallback state (an :class:`~insightforge.kit.repeat.Attempts`): the
    branch to ask, errors so far and trace events (a failed branch's own trace — its
    retries — is kept, followed by the fallback event)."""

    __slots__ = ("asleep", "branches", "errors", "events", "index", "policy", "resume",
                 "sleep")
    label = "fallback"

    def __init__(self, policy: FallbackPolicy, branches: Sequence[Handler],
                 resume: bool = True) -> None:
        self.policy = policy
        self.branches = branches
        self.index = 0
        self.errors: list[BaseException] = []
        self.events: list[TraceEvent] = []
        self.sleep, self.asleep = _no_wait, _ano_wait
        self.resume = resume

    @property
    def target(self) -> Handler:
        return self.branches[self.index]

    @property
    def offers_alternate(self) -> bool:
        return self.index + 1 < len(self.branches)

    def acts_on(self, error: BaseException) -> bool:
        return self.policy.warrants(error)

    def _windows(self, error: BaseException) -> list[int | None] | None:
        if not isinstance(error, ContextLengthExceeded):
            return None
        return [branch_window(branch, error.provider if i == self.index else None)
                for i, branch in enumerate(self.branches)]

    def failed(self, error: Exception) -> float:
        """Record the failure of the current branch; move to the next, or give up."""
        self.errors.append(error)
        nxt = self.policy.next_branch(self.index, error, len(self.branches),
                                      self._windows(error))
        if nxt is None:
            raise self.give_up(error) from error
        self.events.extend(getattr(error, "trace", ()))  # e.g. the branch's retries
        frm, to = branch_name(self.branches[self.index]), branch_name(self.branches[nxt])
        self.events.append(TraceEvent(
            "fallback", "fallback", f"fallback to {to} after {type(error).__name__}",
            {"from": frm, "to": to, "index": nxt, "error": type(error).__name__}))
        self.index = nxt
        return 0.0

    def give_up(self, error: BaseException) -> BaseException:
        """The error to raise: the error itself if it did not warrant a fallback, else
        :class:`AllProvidersFailed` with every error in order."""
        if not self.policy.warrants(error) or len(self.errors) == 1:
            add_trace(error, self.events)
            return error
        final = AllProvidersFailed(self.errors)
        final.add_trace(*self.events, *getattr(error, "trace", ()))
        return final

    def finish(self, result: Any) -> Any:
        return with_trace(result, self.events)


def _no_wait(_: float) -> None:  # a fallback moves on at once
    return None


async def _ano_wait(_: float) -> None:
    return None


class FallbackHandler(Middleware):
    """Runs the branches in order; see :class:`Fallback`."""

    __slots__ = ("branches",)
    layer: Fallback

    def __init__(self, layer: Fallback, inner: Handler) -> None:
        super().__init__(layer, inner)
        self.branches: tuple[Handler, ...] = (inner, *layer.alternates)

    def children(self) -> tuple[Handler, ...]:
        return self.branches

    def routes(self) -> tuple[Route, ...]:
        seen: dict[str, Route] = {}
        for branch in self.branches:
            for route in branch.routes():
                seen.setdefault(route.key, route)
        return tuple(seen.values())

    def __call__(self, request: Request, /) -> Response:
        run = _Run(self.layer.policy, self.branches, self.layer.resume)
        return repeat(run, request)  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        run = _Run(self.layer.policy, self.branches, self.layer.resume)
        return await arepeat(run, request)  # type: ignore[no-any-return]
