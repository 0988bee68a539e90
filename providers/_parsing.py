"""The parsed JSON answer, for plain answers and streams alike.

What lives here: :func:`parsed`, which gives an answer to a request that asked for JSON
its ``parsed`` value (:func:`providers._wire.with_parsed`). A stream is re-wrapped so that
text which is not JSON fails the stream itself, as its last step — the stream ends
*failed* with :class:`~insightforge.errors.MalformedResponse` (every layer's ``on_error``
sees it, ``.response`` raises it), never *done* without a response. What must not: I/O
(the wrapped stream's own ``close`` releases its connection).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any, TypeVar

from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, Chunk
from providers._wire import output_format, with_parsed

__all__ = ["parsed"]

R = TypeVar("R")


def parsed(provider: str, request: ChatRequest, result: R) -> R:
    """``result`` (an answer or a stream) with ``parsed`` set when JSON was asked for."""
    if output_format(request.response_format) is None:
        return result
    out: Any = result
    if isinstance(result, ChatResponse):
        out = with_parsed(provider, request, result)
    elif isinstance(result, ChatStream):
        out = _stream(provider, request, result)
    elif isinstance(result, AsyncChatStream):
        out = _astream(provider, request, result)
    return out  # type: ignore[no-any-return]


def _stream(provider: str, request: ChatRequest, inner: ChatStream) -> ChatStream:
    final: list[ChatResponse] = []

    def chunks() -> Generator[Chunk, None, None]:
        yield from inner
        final.append(with_parsed(provider, request, inner.response))  # may raise: a failure

    source = chunks()

    def close() -> None:
        source.close()
        inner.close()

    return ChatStream.from_chunks(source, model=inner.model, provider=provider,
                                  id=inner._meta[2], close=close, on_end=lambda _: final[0])


def _astream(provider: str, request: ChatRequest, inner: AsyncChatStream) -> AsyncChatStream:
    final: list[ChatResponse] = []

    async def chunks() -> AsyncGenerator[Chunk, None]:
        async for chunk in inner:
            yield chunk
        final.append(with_parsed(provider, request, inner.response))

    source = chunks()

    async def close() -> None:
        await source.aclose()
        await inner.aclose()

    return AsyncChatStream.from_chunks(source, model=inner.model, provider=provider,
                                       id=inner._meta[2], close=close,
                                       on_end=lambda _: final[0])
