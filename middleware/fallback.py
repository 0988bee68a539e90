"""``Fallback``: try the inner chain, then each alternate in order, on errors that warrant it.

What lives here: the pure decision (:class:`FallbackPolicy` — does this error move on to
the next handler?), the configured layer (:class:`Fallback`) and its handler with two thin
drivers. A stream is primed before the handler commits to it, so a failure before the
first chunk still falls back; after the first chunk nothing does. What must not: retries
(put ``Retry`` inside each branch) or any provider-specific error inspection.

Each branch is a handler — a provider or a whole ``Stack`` (with its own ``RateLimit`` and
``Retry``). ``routes()`` is the union of every branch's routes, so a ``Budget`` above
reserves for the dearest and a ``Cache`` keys on all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from insightforge.errors import AllProvidersFailed, ConfigError, ProviderError
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

__all__ = ["Fallback", "FallbackHandler", "FallbackPolicy", "branch_name"]

On = Callable[[BaseException], bool] | tuple[type[BaseException], ...] | None


def _default_on(error: BaseException) -> bool:
    """Retryable provider errors: timeouts, 5xx, 429, malformed answers."""
    return isinstance(error, ProviderError) and error.retryable


def _check_on(_: object, __: object, value: On) -> None:
    if value is None or callable(value):
        return
    if isinstance(value, tuple) and all(isinstance(t, type) and issubclass(t, BaseException)
                                        for t in value):
        return
    raise ConfigError("on must be None, a tuple of extra error types (e.g. "
                      "(ContextLengthExceeded, ContentFiltered)), or a predicate "
                      f"function(error) -> bool; got {value!r}", path="on")


@attrs.frozen(slots=True)
class FallbackPolicy:
    """Decides whether an error moves on to the next branch. Pure.

    Attributes:
        on: ``None`` — retryable :class:`ProviderError` only; a tuple of error types —
            those *in addition* (e.g. ``ContextLengthExceeded``, ``ContentFiltered``,
            ``AuthenticationError``); a predicate — replaces the rule entirely.
    """

    on: On = attrs.field(default=None, validator=_check_on)

    def warrants(self, error: BaseException) -> bool:
        rule = self.on
        if rule is None:
            return _default_on(error)
        if isinstance(rule, tuple):
            return _default_on(error) or isinstance(error, rule)
        return bool(rule(error))

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
        self.__attrs_init__(handlers, on, FallbackPolicy(on))

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
        if not self.events:
            return result
        events = tuple(self.events)
        if isinstance(result, (ChatStream, AsyncChatStream)):
            return result.wrap(on_end=lambda r: attrs.evolve(r, trace=(*events, *r.trace)))
        return attrs.evolve(result, trace=(*events, *result.trace))


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
