"""``ScriptedProvider``: a test-double provider that is part of the product.

It answers from a script instead of a network: each call takes the next step. A step is
a reply text, an exception instance to raise, or :class:`StreamStep` (chunks, then
optionally an error mid-stream). When the script runs out it echoes the last user message.
It records every request it saw, so tests can count upstream calls. Usage counts words, the
same rule the emulator uses, and cost comes from ``price`` — so layer tests can assert money
without any I/O. Sync and async behave identically (the sync/async parity suite relies on it).
With ``prefill=True`` it continues a conversation that ends with an assistant message the
way a model does: the answer's text after that prefix (its route says ``prefill``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from decimal import Decimal

import attrs

from insightforge.pricing import Price
from insightforge.stack import AsyncResponse, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    Route,
    Usage,
)

__all__ = ["ScriptedProvider", "StreamStep", "count_words"]


def count_words(text: str) -> int:
    return len(text.split())


@attrs.frozen
class StreamStep:
    """A streamed answer: ``text`` split into words; ``error`` raised after ``fail_after``."""

    text: str
    error: BaseException | None = None
    fail_after: int = 0


Step = str | BaseException | StreamStep
_DEFAULT_PRICE = Price("1", "2")


class ScriptedProvider:
    """A provider whose answers come from ``script`` (see the module docstring).

    Attributes:
        calls: every request received, in order. name/model/price: as for real providers.
        delay: seconds to sleep per call (``time.sleep`` / ``asyncio.sleep``).
        prefill: continue a final assistant message (declared on the route).
        context_window: the route's context window, when it should have one.
    """

    def __init__(self, script: Iterable[Step] = (), *, name: str = "scripted",
                 model: str = "scripted-1", price: Price | None = _DEFAULT_PRICE,
                 delay: float = 0.0, prefill: bool = False,
                 context_window: int | None = None) -> None:
        self.name = name
        self.model = model
        self.price = price
        self.delay = delay
        self.prefill = prefill
        self.context_window = context_window
        self._script = list(script)
        self._lock = threading.Lock()
        self.calls: list[Request] = []

    def routes(self) -> tuple[Route, ...]:
        return (Route(self.name, self.model, self.price, "scripted://",
                      context_window=self.context_window, prefill=self.prefill),)

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def push(self, *steps: Step) -> None:
        with self._lock:
            self._script.extend(steps)

    def _next(self, request: Request) -> Step:
        with self._lock:
            self.calls.append(request)
            if self._script:
                return self._script.pop(0)
        if isinstance(request, ChatRequest):
            users = [m.text for m in request.messages if m.role == "user"]
            return "Echo: " + (users[-1] if users else request.messages[-1].text)
        return ""

    def _cost(self, usage: Usage) -> Decimal | None:
        return None if self.price is None else self.price.cost(usage)

    def _answer(self, request: Request, step: Step) -> Response:
        if isinstance(step, BaseException):
            raise step
        model = request.model or self.model
        if isinstance(request, EmbedRequest):
            vectors = tuple((float(len(t)), float(count_words(t))) for t in request.inputs)
            usage = Usage(sum(count_words(t) for t in request.inputs), 0)
            return EmbedResponse(vectors, model, self.name, usage, self._cost(usage))
        input_tokens = sum(count_words(m.text) + 3 for m in request.messages)
        text = step.text if isinstance(step, StreamStep) else step
        last = request.messages[-1]
        if self.prefill and last.role == "assistant" and text.startswith(last.text):
            text = text[len(last.text):]  # a model continues its prefill
        if request.max_tokens is not None:
            text = " ".join(text.split(" ")[: request.max_tokens])
        usage = Usage(input_tokens, count_words(text))
        if not request.stream:
            return ChatResponse(Message("assistant", text), model, self.name, usage, "stop",
                                f"scripted-{len(self.calls)}", self._cost(usage))
        error = step.error if isinstance(step, StreamStep) else None
        fail_after = step.fail_after if isinstance(step, StreamStep) else 0
        return ChatStream.from_chunks(
            self._chunks(text, usage, error, fail_after), model=model, provider=self.name,
            id=f"scripted-{len(self.calls)}", on_end=self._with_cost)

    def _with_cost(self, response: ChatResponse) -> ChatResponse:
        return attrs.evolve(response, cost_usd=self._cost(response.usage))

    @staticmethod
    def _pieces(text: str) -> list[str]:
        words = text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]]

    def _chunks(self, text: str, usage: Usage, error: BaseException | None,
                fail_after: int) -> Iterator[Chunk]:
        for i, piece in enumerate(self._pieces(text)):
            if error is not None and i == fail_after:
                raise error
            yield Chunk(piece)
        if error is not None:
            raise error
        yield Chunk("", finish_reason="stop", usage=usage)

    def __call__(self, request: Request, /) -> Response:
        step = self._next(request)
        if self.delay:
            import time

            time.sleep(self.delay)
        return self._answer(request, step)

    async def acall(self, request: Request, /) -> AsyncResponse:
        step = self._next(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        result = self._answer(request, step)
        if isinstance(result, ChatStream):
            return AsyncChatStream.from_chunks(_aiter(result), model=result._meta[0],
                                               provider=self.name, id=result._meta[2],
                                               on_end=self._with_cost)
        return result

    def __repr__(self) -> str:
        return f"ScriptedProvider(name={self.name!r}, model={self.model!r})"


async def _aiter(stream: ChatStream) -> AsyncIterator[Chunk]:
    for chunk in stream._source:
        yield chunk
