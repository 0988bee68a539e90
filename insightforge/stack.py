"""Handlers, layers and the onion: :func:`stack`.

A **handler** answers a request: ``handler(request)`` synchronously, ``await
handler.acall(request)`` asynchronously, and ``handler.routes()`` says which providers it may
reach. A **provider** is the innermost handler. A **layer** is a configured, immutable object
that wraps a handler: ``layer(inner) -> handler``.

The order rule, written once: **the first layer listed sees the request first** (and the
response last)::

    stack(AuditLog(...), Cache(...), Retry(...), provider=OpenAI(...))

    request ─▶ AuditLog ─▶ Cache ─▶ Retry ─▶ OpenAI
    response ◀─ AuditLog ◀─ Cache ◀─ Retry ◀─┘

Counter-example: ``stack(Retry(...), Cache(...), ...)`` retries *around* the cache, and
``stack(Cache(...), AuditLog(...), ...)`` never logs a cache hit, because the hit returns
before the request reaches the log.

This module holds only composition; every layer lives in the ``middleware`` package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeAlias, overload, runtime_checkable

import attrs

from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Route

__all__ = [
    "AsyncResponse",
    "Handler",
    "LLMProvider",
    "Layer",
    "Middleware",
    "Request",
    "Response",
    "Stack",
    "as_handler",
    "describe",
    "stack",
]

Request: TypeAlias = ChatRequest | EmbedRequest
Response: TypeAlias = ChatResponse | ChatStream | EmbedResponse
AsyncResponse: TypeAlias = ChatResponse | AsyncChatStream | EmbedResponse


@runtime_checkable
class Handler(Protocol):
    """Anything that answers requests, sync and async, and knows where it may send them."""

    def __call__(self, request: Request, /) -> Response: ...

    async def acall(self, request: Request, /) -> AsyncResponse: ...

    def routes(self) -> tuple[Route, ...]: ...


class Layer(Protocol):
    """A configured middleware: call it with the inner handler to get the wrapping handler."""

    def __call__(self, inner: Handler, /) -> Handler: ...


@runtime_checkable
class LLMProvider(Handler, Protocol):
    """What every provider offers (built-in and plugin alike).

    Attributes:
        name: the provider's name (``openai``), used in routes, traces and prices.
        model: the default model.
    """

    name: str
    model: str

    def check(self) -> None:
        """A cheap authenticated call; raises the mapped error when it fails."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class Middleware:
    """Base class of a layer's handler: holds ``inner``, delegates ``routes`` and ``close``.

    Subclasses implement ``__call__`` and ``acall``; ``layer`` is the configuring object,
    whose ``repr`` appears in the onion drawing.
    """

    __slots__ = ("inner", "layer")

    def __init__(self, layer: object, inner: Handler) -> None:
        self.layer = layer
        self.inner = inner

    def __call__(self, request: Request, /) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    async def acall(self, request: Request, /) -> AsyncResponse:  # pragma: no cover
        raise NotImplementedError

    def routes(self) -> tuple[Route, ...]:
        return self.inner.routes()

    def children(self) -> tuple[Handler, ...]:
        return (self.inner,)

    def close(self) -> None:
        for child in self.children():
            _close(child)

    async def aclose(self) -> None:
        for child in self.children():
            await _aclose(child)

    def __repr__(self) -> str:
        return "\n".join(describe(self))


def _close(handler: object) -> None:
    close = getattr(handler, "close", None)
    if callable(close):
        close()


async def _aclose(handler: object) -> None:
    aclose = getattr(handler, "aclose", None)
    if callable(aclose):
        await aclose()
    else:
        _close(handler)


def describe(handler: object) -> list[str]:
    """Lines that draw the onion below ``handler`` (used by ``repr``)."""
    children: Sequence[object] = ()
    if isinstance(handler, Stack):
        label, children = "Stack", (handler.handler,)
    elif isinstance(handler, Middleware):
        label, children = repr(handler.layer), handler.children()
    else:
        label = repr(handler).splitlines()[0]
    lines = [label]
    for i, child in enumerate(children):
        last = i == len(children) - 1
        sub = describe(child)
        lines.append(("└─ " if last else "├─ ") + sub[0])
        lines.extend(("   " if last else "│  ") + line for line in sub[1:])
    return lines


def as_handler(provider: Any) -> Handler:
    """A handler from a provider object, a ``Stack``, or a plain (async) function."""
    if isinstance(provider, Handler):
        return provider
    if callable(provider):
        from insightforge.functions import FunctionProvider

        return FunctionProvider(provider)
    raise TypeError(f"provider must be a handler or a function, got {type(provider).__name__}; "
                    "pass e.g. providers.OpenAI(model=...) or a function(request) -> response")


class Stack:
    """Layers wrapped around a provider, outermost first; itself a handler.

    Attributes:
        layers: the layers as given, outermost first.
        provider: the innermost handler.
        handler: the outermost handler (what a call enters).
    """

    __slots__ = ("_acall", "_call", "handler", "layers", "provider")

    def __init__(self, layers: Sequence[Layer], provider: Handler) -> None:
        self.layers = tuple(layers)
        self.provider = provider
        handler = provider
        for layer in reversed(self.layers):
            if not callable(layer):
                raise TypeError(f"{layer!r} is not a layer: a layer is called with the inner "
                                "handler and returns a handler")
            handler = layer(handler)
        self.handler = handler
        self._call: Callable[[Request], Response] = handler.__call__
        self._acall: Callable[[Request], Awaitable[AsyncResponse]] = handler.acall

    @overload
    def __call__(self, request: EmbedRequest, /) -> EmbedResponse: ...
    @overload
    def __call__(self, request: ChatRequest, /) -> ChatResponse | ChatStream: ...

    def __call__(self, request: Request, /) -> Response:
        """Answer synchronously (a :class:`ChatStream` when ``request.stream``)."""
        return self._call(request)

    @overload
    async def acall(self, request: EmbedRequest, /) -> EmbedResponse: ...
    @overload
    async def acall(self, request: ChatRequest, /) -> ChatResponse | AsyncChatStream: ...

    async def acall(self, request: Request, /) -> AsyncResponse:
        """Answer asynchronously (an :class:`AsyncChatStream` when ``request.stream``)."""
        return await self._acall(request)

    def stream(self, request: ChatRequest | str, /) -> ChatStream:
        """Answer as a :class:`ChatStream` (``stream=True`` is set for you): typed, so no
        ``isinstance`` check is needed to iterate the answer."""
        result = self._call(_streaming(request))
        if not isinstance(result, ChatStream):  # pragma: no cover - a handler broke the rule
            raise TypeError(f"a stream request was answered with {type(result).__name__}")
        return result

    async def astream(self, request: ChatRequest | str, /) -> AsyncChatStream:
        """Answer as an :class:`AsyncChatStream` (``stream=True`` is set for you)."""
        result = await self._acall(_streaming(request))
        if not isinstance(result, AsyncChatStream):  # pragma: no cover
            raise TypeError(f"a stream request was answered with {type(result).__name__}")
        return result

    def routes(self) -> tuple[Route, ...]:
        return self.handler.routes()

    def close(self) -> None:
        """Close every provider's connection pool, store and audit sink in the stack."""
        _close(self.handler)

    async def aclose(self) -> None:
        await _aclose(self.handler)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Stack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return "\n".join(describe(self))


def _streaming(request: ChatRequest | str) -> ChatRequest:
    if isinstance(request, str):
        return ChatRequest(request, stream=True)
    return request if request.stream else attrs.evolve(request, stream=True)


def stack(*layers: Layer, provider: Any) -> Stack:
    """Compose ``layers`` around ``provider``; **the first layer listed sees the request first**.

    ``provider`` is a provider object, another :class:`Stack`, or a plain function
    (sync or async) taking a request. See the module docstring for the order rule.
    """
    return Stack(layers, as_handler(provider))


def __getattr__(name: str) -> Any:
    if name == "FunctionProvider":  # lives in insightforge.functions; kept importable here
        from insightforge.functions import FunctionProvider

        return FunctionProvider
    raise AttributeError(f"module 'insightforge.stack' has no attribute {name!r}")
