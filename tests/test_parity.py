"""Sync/async parity: ``stack(...)(req)`` and ``await stack(...).acall(req)`` give equal
answers, equal errors and equal traces (modulo times) for the same generated script —
for ScriptedProvider, for plain function providers, and for streams."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import errors as E
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response, stack
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.testing.strategies import words
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    TraceEvent,
)


@attrs.frozen
class Tracer:
    """A layer that records one trace event on every outcome (answer, error, stream end)."""

    name: str

    def __call__(self, inner: Handler) -> Handler:
        return _Tracing(self, inner)


class _Tracing(Middleware):
    layer: Tracer

    def _event(self, event: str, detail: str = "") -> TraceEvent:
        return TraceEvent(self.layer.name, event, detail, {"n": len(detail)})

    def _done(self, result: Any) -> Any:
        if isinstance(result, (ChatStream, AsyncChatStream)):
            return result.wrap(
                on_end=lambda r: attrs.evolve(r, trace=(*r.trace, self._event("end", r.text))),
                on_error=lambda exc: _add(exc, self._event("stream-error", type(exc).__name__)))
        return attrs.evolve(result, trace=(*result.trace, self._event("ok")))

    def __call__(self, request: Request, /) -> Response:
        try:
            result = self.inner(request)
        except E.InsightForgeError as exc:
            exc.add_trace(self._event("error", type(exc).__name__), before=False)
            raise
        return self._done(result)  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        try:
            result = await self.inner.acall(request)
        except E.InsightForgeError as exc:
            exc.add_trace(self._event("error", type(exc).__name__), before=False)
            raise
        return self._done(result)  # type: ignore[no-any-return]


def _add(exc: BaseException, event: TraceEvent) -> None:
    if isinstance(exc, E.InsightForgeError):
        exc.add_trace(event, before=False)


def _trace(events: tuple[TraceEvent, ...]) -> list[tuple[Any, ...]]:
    """A trace modulo times."""
    return [(e.layer, e.event, e.detail, dict(e.data)) for e in events]


def _answer(result: Any) -> tuple[Any, ...]:
    if isinstance(result, EmbedResponse):
        return ("embed", result.vectors, result.usage, result.cost_usd, _trace(result.trace))
    assert isinstance(result, ChatResponse), result
    return ("chat", result.text, result.usage, result.finish_reason, result.model,
            result.provider, result.cost_usd, _trace(result.trace))


def _failure(exc: BaseException, chunks: list[str] | None = None) -> tuple[Any, ...]:
    trace = _trace(exc.trace) if isinstance(exc, E.InsightForgeError) else []
    return ("error", type(exc).__name__, str(exc), chunks, trace)


def run_sync(handler: Any, request: Request) -> tuple[Any, ...]:
    chunks: list[str] = []
    try:
        result = handler(request)
        if isinstance(result, ChatStream):
            with result:
                chunks = [c.text for c in result]
            return ("stream", chunks, *_answer(result.response))
        return _answer(result)
    except Exception as exc:
        return _failure(exc, chunks or None)


async def run_async(handler: Any, request: Request) -> tuple[Any, ...]:
    chunks: list[str] = []
    try:
        result = await handler.acall(request)
        if isinstance(result, AsyncChatStream):
            async with result:
                chunks = [c.text async for c in result]
            return ("stream", chunks, *_answer(result.response))
        return _answer(result)
    except Exception as exc:
        return _failure(exc, chunks or None)


ERRORS: st.SearchStrategy[Callable[[], E.InsightForgeError]] = st.sampled_from([
    lambda: E.RateLimitError("429: slow down", provider="scripted", retry_after=1.0),
    lambda: E.ProviderUnavailable("503: down", provider="scripted", status=503),
    lambda: E.Timeout("timed out", provider="scripted"),
    lambda: E.AuthenticationError("401: bad key", provider="scripted", status=401),
    lambda: E.InvalidRequest("bad request"),
])


@st.composite
def steps(draw: st.DrawFn) -> Any:
    """One scripted step, built fresh for each run (exceptions carry mutable traces)."""
    kind = draw(st.sampled_from(["text", "error", "stream"]))
    if kind == "text":
        text = draw(words())
        return lambda: text
    if kind == "error":
        return draw(ERRORS)
    text, fail_after = draw(words(1, 6)), draw(st.integers(0, 6))
    fails: Callable[[], E.InsightForgeError] | None = draw(st.none() | ERRORS)
    return lambda: StreamStep(text, None if fails is None else fails(), fail_after)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(["chat", "stream", "embed"]))
    if kind == "embed":
        return EmbedRequest(draw(st.lists(words(), min_size=1, max_size=3)))
    return ChatRequest([Message("user", draw(words()))], stream=kind == "stream",
                       max_tokens=draw(st.none() | st.integers(1, 6)))


SCRIPTS = st.lists(st.tuples(steps(), requests()), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(SCRIPTS, st.integers(0, 3))
def test_scripted_stack_sync_and_async_agree(script: list[tuple[Any, Request]],
                                             depth: int) -> None:
    def build() -> Any:
        provider = ScriptedProvider([make() for make, _ in script])
        return stack(*(Tracer(f"t{i}") for i in range(depth)), provider=provider)

    sync_stack, async_stack = build(), build()
    sync = [run_sync(sync_stack, request) for _, request in script]

    async def all_async() -> list[tuple[Any, ...]]:
        return [await run_async(async_stack, request) for _, request in script]

    assert asyncio.run(all_async()) == sync


def _function_reply(request: Request, steps: list[Any]) -> Any:
    step = steps.pop(0)() if steps else "default answer"
    if isinstance(step, BaseException):
        raise step
    if isinstance(step, StreamStep):
        return _chunks(step) if isinstance(request, ChatRequest) and request.stream else step.text
    if isinstance(request, EmbedRequest):
        return EmbedResponse(tuple((float(len(t)),) for t in request.inputs), "e", "fn")
    return step


def _chunks(step: StreamStep) -> Iterator[Chunk]:
    for i, word in enumerate(step.text.split(" ")):
        if step.error is not None and i == step.fail_after:
            raise step.error
        yield Chunk(word + " ")
    if step.error is not None:
        raise step.error
    yield Chunk("", finish_reason="stop")


@settings(max_examples=40, deadline=None)
@given(SCRIPTS, st.integers(1, 2))
def test_function_providers_sync_async_and_sync_via_acall_agree(
        script: list[tuple[Any, Request]], depth: int) -> None:
    makers = [make for make, _ in script]

    def sync_fn_stack() -> Any:
        pending = list(makers)

        def fn(request: Request) -> Any:
            return _function_reply(request, pending)

        return stack(*(Tracer(f"t{i}") for i in range(depth)), provider=fn)

    def async_fn_stack() -> Any:
        pending = list(makers)

        async def fn(request: Request) -> Any:
            await asyncio.sleep(0)
            reply = _function_reply(request, pending)
            return _agen(reply) if isinstance(reply, Iterator) else reply

        fn.__name__ = "fn"
        return stack(*(Tracer(f"t{i}") for i in range(depth)), provider=fn)

    reference = sync_fn_stack()
    sync = [run_sync(reference, request) for _, request in script]
    via_thread = sync_fn_stack()
    native = async_fn_stack()

    async def both() -> tuple[list[Any], list[Any]]:
        a = [await run_async(via_thread, request) for _, request in script]
        b = [await run_async(native, request) for _, request in script]
        return a, b

    threaded, awaited = asyncio.run(both())
    assert threaded == sync
    assert awaited == sync


async def _agen(chunks: Iterator[Chunk]) -> Any:
    for chunk in chunks:  # lazily, so a mid-stream error comes mid-stream here too
        yield chunk
