"""``Fallback``: the configuration and its handler — try the inner chain, then each
alternate in order, on errors that warrant it.

A stream is primed before the handler commits to it, so a failure before the first chunk
still falls back; after the first chunk nothing does. What must not: retries (put ``Retry``
inside each branch), the decision (:mod:`.policy`), or provider-specific error inspection.

Each branch is a handler — a provider or a whole ``Stack`` (with its own ``RateLimit`` and
``Retry``). ``routes()`` is the union of every branch's routes, so a ``Budget`` above
reserves for the dearest and a ``Cache`` keys on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from insightforge.errors import AllProvidersFailed, ConfigError
from insightforge.kit import with_trace
from insightforge.stack import (
    AsyncResponse,
    Handler,
    Middleware,
    Request,
    Response,
    as_handler,
)
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import Route, TraceEvent
from middleware.fallback.policy import FallbackPolicy, On, branch_name

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
    """

    alternates: tuple[Handler, ...]
    on: On
    policy: FallbackPolicy = attrs.field(eq=False, repr=False)

    def __init__(self, *alternates: Any, on: On = None) -> None:
        if not alternates:
            raise ConfigError("Fallback needs at least one alternate: Fallback(other_stack)",
                              path="alternates")
        handlers = tuple(_to_handler(a) for a in alternates)
        policy = FallbackPolicy(on)
        self.__attrs_init__(handlers, policy.on, policy)

    def __call__(self, inner: Handler) -> FallbackHandler:
        return FallbackHandler(self, inner)

    def __repr__(self) -> str:
        on = "" if self.on is None else f", on={self.on!r}"
        return f"Fallback({len(self.alternates)} alternate(s){on})"


class _Run:
    """One call's fallback state: errors so far and trace events (a failed branch's own
    trace — its retries — is kept, followed by the fallback event)."""

    __slots__ = ("branches", "errors", "events", "policy")

    def __init__(self, policy: FallbackPolicy, branches: Sequence[Handler]) -> None:
        self.policy = policy
        self.branches = branches
        self.errors: list[BaseException] = []
        self.events: list[TraceEvent] = []

    def failed(self, index: int, error: BaseException) -> int | None:
        """Record the failure of branch ``index``; the next branch, or ``None``."""
        self.errors.append(error)
        nxt = self.policy.next_branch(index, error, len(self.branches))
        if nxt is not None:
            self.events.extend(getattr(error, "trace", ()))  # e.g. the branch's retries
            frm, to = branch_name(self.branches[index]), branch_name(self.branches[nxt])
            self.events.append(TraceEvent(
                "fallback", "fallback", f"fallback to {to} after {type(error).__name__}",
                {"from": frm, "to": to, "index": nxt, "error": type(error).__name__}))
        return nxt

    def give_up(self, error: BaseException) -> BaseException:
        """The error to raise: the error itself if it did not warrant a fallback, else
        :class:`AllProvidersFailed` with every error in order."""
        if not self.policy.warrants(error) or len(self.errors) == 1:
            if self.events and hasattr(error, "add_trace"):
                error.add_trace(*self.events)
            return error
        final = AllProvidersFailed(self.errors)
        final.add_trace(*self.events, *getattr(error, "trace", ()))
        return final

    def finish(self, result: Any) -> Any:
        return with_trace(result, self.events)


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
        run = _Run(self.layer.policy, self.branches)
        index: int | None = 0
        while index is not None:
            try:
                result = self.branches[index](request)
                if isinstance(result, ChatStream):
                    result.prime()
            except Exception as error:
                index = run.failed(index, error)
                if index is None:
                    raise run.give_up(error) from error
                continue
            return run.finish(result)  # type: ignore[no-any-return]
        raise AssertionError("unreachable")  # pragma: no cover

    async def acall(self, request: Request, /) -> AsyncResponse:
        run = _Run(self.layer.policy, self.branches)
        index: int | None = 0
        while index is not None:
            try:
                result = await self.branches[index].acall(request)
                if isinstance(result, AsyncChatStream):
                    await result.aprime()
            except Exception as error:
                index = run.failed(index, error)
                if index is None:
                    raise run.give_up(error) from error
                continue
            return run.finish(result)  # type: ignore[no-any-return]
        raise AssertionError("unreachable")  # pragma: no cover
