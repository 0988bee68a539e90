"""The stack: the order rule, the onion drawing, function providers, sync/async mixing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest

from insightforge import (
    ChatRequest,
    ChatResponse,
    ChatStream,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Handler,
    LLMProvider,
    Message,
    Middleware,
    Route,
    stack,
)
from insightforge.stack import AsyncResponse, FunctionProvider, Request, Response, as_handler
from insightforge.streams import AsyncChatStream
from insightforge.testing.scripted import ScriptedProvider

ASK = ChatRequest("hello there")


def text(answer: object) -> str:
    assert isinstance(answer, ChatResponse), answer
    return answer.text


@attrs.frozen
class Record:
    """A pass-through layer that writes what it sees into a shared log."""

    name: str
    log: list[str] = attrs.field(eq=False, repr=False)

    def __call__(self, inner: Handler) -> Handler:
        return _Recording(self, inner)


class _Recording(Middleware):
    layer: Record

    def _saw(self, what: str) -> None:
        self.layer.log.append(f"{self.layer.name}:{what}")

    def _out(self, result: Any) -> Any:
        if isinstance(result, (ChatStream, AsyncChatStream)):
            return result.wrap(on_end=lambda _: self._saw("end"),
                               on_close=lambda: self._saw("close"))
        self._saw("out")
        return result

    def __call__(self, request: Request, /) -> Response:
        self._saw("in")
        return self._out(self.inner(request))  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        self._saw("in")
        return self._out(await self.inner.acall(request))  # type: ignore[no-any-return]


def recorded(log: list[str]) -> ScriptedProvider:
    provider = ScriptedProvider()
    original = provider._next

    def _next(request: Request) -> Any:
        log.append("provider")
        return original(request)

    provider._next = _next  # type: ignore[method-assign]
    return provider


def test_the_first_layer_listed_sees_the_request_first_and_the_response_last() -> None:
    log: list[str] = []
    llm = stack(Record("A", log), Record("B", log), Record("C", log), provider=recorded(log))
    assert text(llm(ASK)) == "Echo: hello there"
    expected = ["A:in", "B:in", "C:in", "provider", "C:out", "B:out", "A:out"]
    assert log == expected
    log.clear()
    asyncio.run(llm.acall(ASK))
    assert log == expected


def test_order_rule_holds_for_streams_too() -> None:
    log: list[str] = []
    llm = stack(Record("A", log), Record("B", log), provider=recorded(log))
    stream = llm(attrs.evolve(ASK, stream=True))
    assert isinstance(stream, ChatStream)
    assert stream.collect().text == "Echo: hello there"
    assert log == ["A:in", "B:in", "provider", "B:end", "A:end"]
    log.clear()
    early = llm(attrs.evolve(ASK, stream=True))
    assert isinstance(early, ChatStream)
    next(early)
    early.close()
    assert log == ["A:in", "B:in", "provider", "B:close", "A:close"]


def test_stack_with_no_layers_is_the_provider() -> None:
    provider = ScriptedProvider()
    llm = stack(provider=provider)
    assert llm.handler is provider and llm.layers == () and llm.provider is provider
    assert text(llm(ASK)) == "Echo: hello there"


def test_repr_draws_the_onion() -> None:
    log: list[str] = []
    llm = stack(Record("A", log), Record("B", log), provider=ScriptedProvider())
    assert repr(llm) == ("Stack\n"
                         "└─ Record(name='A')\n"
                         "   └─ Record(name='B')\n"
                         "      └─ ScriptedProvider(name='scripted', model='scripted-1')")


def test_repr_draws_branches_for_a_layer_with_several_children() -> None:
    class Fork(Middleware):
        def __init__(self, inner: Handler, other: Handler) -> None:
            super().__init__("Fork()", inner)
            self.other = other

        def children(self) -> tuple[Handler, ...]:
            return (self.inner, self.other)

    alternate = stack(provider=ScriptedProvider(name="b"))
    llm = stack(lambda inner: Fork(inner, alternate), provider=ScriptedProvider(name="a"))
    assert repr(llm) == ("Stack\n"
                         "└─ 'Fork()'\n"
                         "   ├─ ScriptedProvider(name='a', model='scripted-1')\n"
                         "   └─ Stack\n"
                         "      └─ ScriptedProvider(name='b', model='scripted-1')")


def test_a_stack_is_a_handler_and_can_be_a_provider() -> None:
    log: list[str] = []
    inner = stack(Record("inner", log), provider=ScriptedProvider())
    outer = stack(Record("outer", log), provider=inner)
    assert isinstance(inner, Handler)
    assert text(outer(ASK)) == "Echo: hello there"
    assert log == ["outer:in", "inner:in", "inner:out", "outer:out"]
    assert outer.routes() == ScriptedProvider().routes()


def test_routes_and_close_are_delegated_through_layers() -> None:
    closed: list[str] = []

    class Closing(ScriptedProvider):
        def close(self) -> None:
            closed.append("close")

        async def aclose(self) -> None:
            closed.append("aclose")

    with stack(Record("A", []), provider=Closing()) as llm:
        assert llm.routes() == (Route("scripted", "scripted-1", ScriptedProvider().price,
                                      "scripted://"),)
    assert closed == ["close"]

    async def run() -> None:
        async with stack(Record("A", []), provider=Closing()):
            pass

    asyncio.run(run())
    assert closed == ["close", "aclose"]


def test_scripted_provider_satisfies_the_provider_protocol() -> None:
    assert isinstance(ScriptedProvider(), LLMProvider)


# -- function providers -------------------------------------------------------------------

def test_a_sync_function_is_a_provider_sync_and_async() -> None:
    threads: list[int] = []

    def echo(request: Request) -> str:
        threads.append(threading.get_ident())
        assert isinstance(request, ChatRequest)
        return "fn: " + request.messages[-1].content

    llm = stack(provider=echo)
    answer = llm(ASK)
    assert isinstance(answer, ChatResponse)
    assert (answer.text, answer.provider, answer.model, answer.finish_reason) == (
        "fn: hello there", "echo", "echo", "stop")
    assert asyncio.run(llm.acall(ASK)) == answer
    assert threads[1] != threading.get_ident()  # acall ran the sync function in a worker
    assert repr(llm) == "Stack\n└─ echo()"


def test_a_sync_function_may_stream_strings_or_chunks() -> None:
    def words(request: Request) -> Iterator[Any]:
        yield "a "
        yield Chunk("b", finish_reason="stop")

    llm = stack(provider=words)
    stream = llm(ChatRequest("x", stream=True))
    assert isinstance(stream, ChatStream)
    assert [c.text for c in stream] == ["a ", "b"]
    assert stream.response.text == "a b" and stream.response.finish_reason == "stop"

    async def run() -> str:
        astream = await llm.acall(ChatRequest("x", stream=True))
        assert isinstance(astream, AsyncChatStream)
        return (await astream.collect()).text

    assert asyncio.run(run()) == "a b"


def test_a_function_returning_a_response_for_a_stream_request_is_streamed() -> None:
    def whole(request: Request) -> ChatResponse:
        return ChatResponse(Message("assistant", "all at once"), "m", "p")

    stream = stack(provider=whole)(ChatRequest("x", stream=True))
    assert isinstance(stream, ChatStream) and stream.collect().text == "all at once"


def test_an_async_function_is_a_provider_for_acall() -> None:
    async def aecho(request: Request) -> str:
        await asyncio.sleep(0)
        assert isinstance(request, ChatRequest)
        return "async: " + request.messages[-1].content

    llm = stack(provider=aecho)
    answer = asyncio.run(llm.acall(ASK))
    assert isinstance(answer, ChatResponse) and answer.text == "async: hello there"
    assert repr(llm) == "Stack\n└─ async aecho()"


def test_an_async_generator_function_streams() -> None:
    async def agen(request: Request) -> AsyncIterator[str]:
        for word in ("x ", "y"):
            yield word

    async def run() -> str:
        stream = await stack(provider=agen).acall(ChatRequest("q", stream=True))
        assert isinstance(stream, AsyncChatStream)
        return (await stream.collect()).text

    assert asyncio.run(run()) == "x y"


def test_calling_an_async_only_stack_synchronously_names_acall() -> None:
    async def aecho(request: Request) -> str:
        return "never"

    llm = stack(Record("A", []), provider=aecho)
    with pytest.raises(TypeError, match=r"async-only: use `await llm\.acall\(request\)`"):
        llm(ASK)


def test_a_function_returning_nonsense_is_a_clear_type_error() -> None:
    llm = stack(provider=lambda request: 42)
    with pytest.raises(TypeError, match="returned int; return a ChatResponse"):
        llm(ASK)


def test_function_provider_passes_embeddings_through() -> None:
    def embed(request: Request) -> EmbedResponse:
        assert isinstance(request, EmbedRequest)
        return EmbedResponse(((1.0,),), "e", "fn")

    llm = stack(provider=embed)
    assert llm(EmbedRequest("x")).vectors == ((1.0,),)
    assert asyncio.run(llm.acall(EmbedRequest("x"))).vectors == ((1.0,),)


def test_bad_providers_and_layers_are_rejected_with_the_fix() -> None:
    with pytest.raises(TypeError, match="provider must be a handler or a function"):
        stack(provider=42)
    with pytest.raises(TypeError, match="is not a layer"):
        stack("not a layer", provider=ScriptedProvider())  # type: ignore[arg-type]


def test_as_handler_keeps_handlers_and_wraps_functions() -> None:
    provider = ScriptedProvider()
    assert as_handler(provider) is provider
    wrapped = as_handler(lambda r: "x")
    assert isinstance(wrapped, FunctionProvider) and wrapped.routes()[0].provider == "<lambda>"
    named = FunctionProvider(lambda r: "x", name="mine")
    assert named.routes() == (Route("mine", "mine"),)
