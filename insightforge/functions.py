"""A plain function as a provider: :class:`FunctionProvider`.

``stack(provider=fn)`` wraps ``fn`` in one of these. The function gets the request and may
return a response, a stream, a plain string, or — for ``stream=True`` — an iterator (async
iterator) of chunks or strings; this module turns each into the contract's types. What must
not live here: composition (:mod:`insightforge.stack`) or any layer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from insightforge.stack import AsyncResponse, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatResponse, Chunk, EmbedResponse, Message, Route, Usage

__all__ = ["FunctionProvider"]


class FunctionProvider:
    """A plain function used as a provider (sync or ``async def``).

    The function gets the request and may return a response, a stream, a plain string, or
    for ``stream=True`` an iterator (async iterator) of chunks or strings. ``acall`` of a
    sync function runs it in a worker thread; calling an async function synchronously
    raises a ``TypeError`` that says to use ``acall``.
    """

    def __init__(self, fn: Callable[[Any], Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "function"))
        self.model = self.name
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)

    def routes(self) -> tuple[Route, ...]:
        return (Route(self.name, self.model),)

    def __call__(self, request: Request, /) -> Response:
        if self.is_async:
            raise TypeError(
                f"{self.name} is an async function, so this stack is async-only: "
                "use `await llm.acall(request)`, or give stack() a sync function.")
        return self._to_response(request, self.fn(request))

    async def acall(self, request: Request, /) -> AsyncResponse:
        if self.is_async:
            result = self.fn(request)
            if inspect.isawaitable(result):
                result = await result
            return self._to_async_response(request, result)
        result = await asyncio.to_thread(self.fn, request)
        sync = self._to_response(request, result)
        return AsyncChatStream.from_sync(sync) if isinstance(sync, ChatStream) else sync

    def _model(self, request: Request) -> str:
        return request.model or self.model

    def _chat(self, request: Request, text: str) -> ChatResponse:
        return ChatResponse(Message("assistant", text), self._model(request), self.name,
                            Usage(), "stop")

    def _to_response(self, request: Request, result: Any) -> Response:
        if isinstance(result, str):
            result = self._chat(request, result)
        if request.stream and isinstance(result, ChatResponse):
            result = iter([Chunk(result.text, finish_reason=result.finish_reason,
                                 usage=result.usage)])
        if request.stream and isinstance(result, Iterable) and not isinstance(result, ChatStream):
            return ChatStream.from_chunks(_chunks(result), model=self._model(request),
                                          provider=self.name)
        if isinstance(result, (ChatResponse, ChatStream, EmbedResponse)):
            return result
        raise TypeError(f"provider function {self.name} returned {type(result).__name__}; "
                        "return a ChatResponse, a ChatStream, a str, or chunks for streams")

    def _to_async_response(self, request: Request, result: Any) -> AsyncResponse:
        if isinstance(result, AsyncIterator) and not isinstance(result, AsyncChatStream):
            return AsyncChatStream.from_chunks(_achunks(result), model=self._model(request),
                                               provider=self.name)
        if isinstance(result, AsyncChatStream):
            return result
        sync = self._to_response(request, result)
        return AsyncChatStream.from_sync(sync) if isinstance(sync, ChatStream) else sync

    def __repr__(self) -> str:
        return f"{self.name}()" if not self.is_async else f"async {self.name}()"


def _chunk(item: Chunk | str) -> Chunk:
    return item if isinstance(item, Chunk) else Chunk(str(item))


def _chunks(items: Iterable[Chunk | str]) -> Iterator[Chunk]:
    for item in items:
        yield _chunk(item)


async def _achunks(items: AsyncIterator[Chunk | str]) -> AsyncIterator[Chunk]:
    async for item in items:
        yield _chunk(item)
