"""Streams: the lifecycle (exactly one of end / error / close per stream and per layer),
close passing through wrap chains, prime, abandonment by close and by GC, async twins."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge.streams import AsyncChatStream, ChatStream, assemble
from insightforge.testing.strategies import chunks as chunk_strategy
from insightforge.types import ChatResponse, Chunk, ToolCall, ToolCallDelta, Usage


class Boom(Exception):
    pass


CHUNKS = [Chunk("Hello "), Chunk("world"), Chunk("", finish_reason="stop", usage=Usage(3, 2))]


class Log:
    """Records every hook call of one layer."""

    def __init__(self, name: str = "layer", events: list[str] | None = None) -> None:
        self.name = name
        self.events = events if events is not None else []
        self.chunks: list[Chunk] = []
        self.ends: list[ChatResponse] = []
        self.errors: list[BaseException] = []
        self.closes = 0

    def hooks(self) -> dict[str, Any]:
        def on_chunk(chunk: Chunk) -> None:
            self.chunks.append(chunk)

        def on_end(response: ChatResponse) -> None:
            self.ends.append(response)
            self.events.append(f"{self.name}.end")

        def on_error(exc: BaseException) -> None:
            self.errors.append(exc)
            self.events.append(f"{self.name}.error")

        def on_close() -> None:
            self.closes += 1
            self.events.append(f"{self.name}.close")

        return {"on_chunk": on_chunk, "on_end": on_end, "on_error": on_error,
                "on_close": on_close}

    @property
    def outcomes(self) -> int:
        return len(self.ends) + len(self.errors) + self.closes


def source(chunks: list[Chunk], fail_after: int | None = None) -> Iterator[Chunk]:
    for i, chunk in enumerate(chunks):
        if fail_after is not None and i == fail_after:
            raise Boom("mid-stream")
        yield chunk
    if fail_after is not None and fail_after >= len(chunks):
        raise Boom("at the end")


def make(chunks: list[Chunk] = CHUNKS, fail_after: int | None = None,
         closed: list[int] | None = None) -> ChatStream:
    def close() -> None:
        if closed is not None:
            closed.append(1)

    return ChatStream.from_chunks(source(chunks, fail_after), model="m", provider="p",
                                  id="id1", close=close)


def chain(stream: ChatStream, depth: int, events: list[str]) -> tuple[ChatStream, list[Log]]:
    logs = []
    for i in range(depth):
        log = Log(f"L{i}", events)
        stream = stream.wrap(**log.hooks())
        logs.append(log)
    return stream, logs


# -- end -------------------------------------------------------------------------------------

def test_end_assembles_the_response_and_fires_on_end_once() -> None:
    log = Log()
    stream = make().wrap(**log.hooks())
    assert [c.text for c in stream] == ["Hello ", "world", ""]
    response = stream.response
    assert (response.text, response.usage, response.finish_reason) == ("Hello world",
                                                                       Usage(3, 2), "stop")
    assert (response.model, response.provider, response.id) == ("m", "p", "id1")
    assert log.ends == [response] and log.errors == [] and log.closes == 0
    assert log.chunks == CHUNKS
    stream.close()  # closing a finished stream is not an abandonment
    assert log.closes == 0 and stream.finished


def test_on_end_may_replace_the_response_and_layers_see_it_outward() -> None:
    inner = make().wrap(on_end=lambda r: attrs.evolve(r, id="replaced"))
    outer_seen: list[str] = []
    outer = inner.wrap(on_end=lambda r: outer_seen.append(r.id))  # returns None: keeps it
    assert outer.collect().id == "replaced" and outer_seen == ["replaced"]


def test_response_before_the_end_says_how_to_get_it() -> None:
    stream = make()
    with pytest.raises(RuntimeError, match="iterate it to the end"):
        _ = stream.response
    stream.close()


def test_tool_call_deltas_assemble_into_tool_calls() -> None:
    deltas = [Chunk(tool_calls=(ToolCallDelta(0, id="c1", name="f", arguments='{"a"'),)),
              Chunk(tool_calls=(ToolCallDelta(1, id="c2", name="g"),)),
              Chunk(tool_calls=(ToolCallDelta(0, arguments=": 1}"),)),
              Chunk(finish_reason="tool_calls")]
    response = make(deltas).collect()
    assert response.tool_calls == (ToolCall("c1", "f", '{"a": 1}'), ToolCall("c2", "g", "{}"))
    assert response.finish_reason == "tool_calls"


@given(st.lists(chunk_strategy, max_size=8))
def test_assemble_equals_what_a_stream_assembles(chunks: list[Chunk]) -> None:
    streamed = ChatStream.from_chunks(iter(chunks), model="m", provider="p").collect()
    assert assemble(chunks, model="m", provider="p") == streamed
    assert streamed.text == "".join(c.text for c in chunks)


# -- error -----------------------------------------------------------------------------------

def test_error_fires_on_error_once_and_propagates() -> None:
    log = Log()
    stream = make(fail_after=1).wrap(**log.hooks())
    got = [next(stream)]
    with pytest.raises(Boom):
        next(stream)
    assert got == CHUNKS[:1] and len(log.errors) == 1 and isinstance(log.errors[0], Boom)
    assert list(stream) == []  # a failed stream stays finished
    stream.close()
    assert log.closes == 0 and log.ends == []
    with pytest.raises(Boom):  # .response re-raises the failure
        _ = stream.response


def test_errors_pass_through_a_wrap_chain_once_per_layer_innermost_first() -> None:
    events: list[str] = []
    stream, logs = chain(make(fail_after=2), 3, events)
    with pytest.raises(Boom):
        stream.collect()
    assert events == ["L0.error", "L1.error", "L2.error"]
    assert all(log.errors[0] is logs[0].errors[0] for log in logs)


# -- close -----------------------------------------------------------------------------------

def test_close_early_fires_on_close_once_and_closes_the_source() -> None:
    closed: list[int] = []
    log = Log()
    stream = make(closed=closed).wrap(**log.hooks())
    next(stream)
    stream.close()
    stream.close()
    assert log.closes == 1 and log.ends == [] and log.errors == [] and closed == [1]
    assert list(stream) == [] and stream.finished


def test_close_passes_through_a_wrap_chain() -> None:
    closed: list[int] = []
    events: list[str] = []
    stream, logs = chain(make(closed=closed), 4, events)
    next(stream)
    stream.close()
    assert events == ["L0.close", "L1.close", "L2.close", "L3.close"]
    assert closed == [1] and all(log.closes == 1 for log in logs)


def test_leaving_a_with_block_early_is_an_abandonment() -> None:
    log = Log()
    with make().wrap(**log.hooks()) as stream:
        for _ in stream:
            break
    assert log.closes == 1 and log.outcomes == 1


def test_a_never_started_stream_can_be_closed() -> None:
    log = Log()
    make().wrap(**log.hooks()).close()
    assert log.closes == 1


def test_an_abandoned_stream_is_closed_when_garbage_collected() -> None:
    closed: list[int] = []
    events: list[str] = []
    stream, _ = chain(make(closed=closed), 2, events)
    next(stream)
    del stream
    gc.collect()
    assert events == ["L0.close", "L1.close"] and closed == [1]


def test_garbage_collecting_a_finished_stream_fires_nothing_more() -> None:
    events: list[str] = []
    stream, _ = chain(make(), 2, events)
    stream.collect()
    del stream
    gc.collect()
    assert events == ["L0.end", "L1.end"]


# -- prime -----------------------------------------------------------------------------------

def test_prime_then_iterate_yields_the_first_chunk_once() -> None:
    log = Log()
    stream = make().wrap(**log.hooks())
    first = stream.prime()
    assert first == CHUNKS[0]
    assert stream.prime() is first  # priming twice does not advance
    assert list(stream) == CHUNKS
    assert log.chunks == CHUNKS and len(log.ends) == 1


def test_prime_raises_a_failure_before_the_first_chunk() -> None:
    log = Log()
    stream = make(fail_after=0).wrap(**log.hooks())
    with pytest.raises(Boom):
        stream.prime()
    assert len(log.errors) == 1 and list(stream) == []


def test_prime_on_an_empty_stream_ends_it() -> None:
    log = Log()
    stream = make([]).wrap(**log.hooks())
    assert stream.prime() is None and len(log.ends) == 1 and list(stream) == []


def test_priming_the_outer_layer_pulls_through_the_chain() -> None:
    events: list[str] = []
    stream, logs = chain(make(), 3, events)
    assert stream.prime() == CHUNKS[0]
    assert all(log.chunks == CHUNKS[:1] for log in logs)
    stream.close()
    assert events == ["L0.close", "L1.close", "L2.close"]


# -- the lifecycle property --------------------------------------------------------------------

@settings(max_examples=150)
@given(n=st.integers(0, 5), fail_at=st.none() | st.integers(0, 5), depth=st.integers(1, 4),
       stop_after=st.none() | st.integers(0, 6), how=st.sampled_from(["close", "gc", "with"]),
       prime=st.booleans())
def test_exactly_one_outcome_per_layer(n: int, fail_at: int | None, depth: int,
                                       stop_after: int | None, how: str, prime: bool) -> None:
    closed: list[int] = []
    events: list[str] = []
    chunks = [Chunk(f"w{i} ") for i in range(n)]
    stream, logs = chain(make(chunks, fail_at, closed), depth, events)

    def consume() -> None:
        if prime:
            stream.prime()
        for i, _ in enumerate(stream):
            if stop_after is not None and i + 1 >= stop_after:
                break

    try:
        if how == "with":
            with stream:
                consume()
        else:
            consume()
            if how == "close":
                stream.close()
    except Boom:
        pass
    if how == "gc":
        del stream
        gc.collect()
    assert [log.outcomes for log in logs] == [1] * depth, events
    kinds = {e.split(".")[1] for e in events}
    assert len(kinds) == 1  # every layer saw the same outcome


# -- async twins -------------------------------------------------------------------------------

async def asource(chunks: list[Chunk], fail_after: int | None = None) -> AsyncIterator[Chunk]:
    for item in source(chunks, fail_after):
        yield item


def amake(chunks: list[Chunk] = CHUNKS, fail_after: int | None = None,
          closed: list[int] | None = None) -> AsyncChatStream:
    async def close() -> None:
        if closed is not None:
            closed.append(1)

    return AsyncChatStream.from_chunks(asource(chunks, fail_after), model="m", provider="p",
                                       id="id1", close=close)


class AsyncLog(Log):
    """The same recorder with coroutine hooks (async hooks must be awaited)."""

    def hooks(self) -> dict[str, Any]:
        sync = super().hooks()

        def lift(fn: Any) -> Any:
            async def hook(*args: Any) -> None:
                await asyncio.sleep(0)
                fn(*args)

            return hook

        return {k: lift(v) for k, v in sync.items()}


@pytest.mark.parametrize("log_type", [Log, AsyncLog])
def test_async_end_error_close(log_type: type[Log]) -> None:
    async def run() -> None:
        done, failed, closed_log = log_type(), log_type(), log_type()
        stream = amake().wrap(**done.hooks())
        assert [c async for c in stream] == CHUNKS
        assert stream.response.text == "Hello world" and done.outcomes == len(done.ends) == 1
        assert done.chunks == CHUNKS

        bad = amake(fail_after=1).wrap(**failed.hooks())
        with pytest.raises(Boom):
            await bad.collect()
        assert len(failed.errors) == 1 and failed.outcomes == 1

        closed: list[int] = []
        early = amake(closed=closed).wrap(**closed_log.hooks())
        await early.__anext__()
        await early.aclose()
        await early.aclose()
        assert closed_log.closes == 1 and closed_log.outcomes == 1 and closed == [1]

    asyncio.run(run())


def test_async_close_passes_through_a_wrap_chain_and_with_blocks() -> None:
    async def run() -> None:
        events: list[str] = []
        closed: list[int] = []
        stream = amake(closed=closed)
        for i in range(3):
            stream = stream.wrap(**AsyncLog(f"L{i}", events).hooks())
        async with stream:
            async for _ in stream:
                break
        assert events == ["L0.close", "L1.close", "L2.close"] and closed == [1]

    asyncio.run(run())


def test_async_prime_then_iterate_yields_the_first_chunk_once() -> None:
    async def run() -> None:
        log = AsyncLog()
        stream = amake().wrap(**log.hooks())
        first = await stream.aprime()
        assert first == CHUNKS[0] and await stream.aprime() is first
        assert [c async for c in stream] == CHUNKS and log.chunks == CHUNKS
        failing = amake(fail_after=0)
        with pytest.raises(Boom):
            await failing.aprime()
        assert await amake([]).aprime() is None

    asyncio.run(run())


def test_from_sync_drives_a_sync_stream_and_passes_close_through() -> None:
    async def run() -> None:
        log = Log()
        sync = make().wrap(**log.hooks())
        astream = AsyncChatStream.from_sync(sync)
        assert [c async for c in astream] == CHUNKS
        assert astream.response.text == "Hello world" and len(log.ends) == 1

        log2 = Log()
        closed: list[int] = []
        astream = AsyncChatStream.from_sync(make(closed=closed).wrap(**log2.hooks()))
        await astream.__anext__()
        await astream.aclose()
        assert log2.closes == 1 and closed == [1]

    asyncio.run(run())


def test_from_sync_reads_chunks_off_the_event_loop_thread() -> None:
    threads: set[int] = set()

    def chunks() -> Iterator[Chunk]:
        threads.add(threading.get_ident())
        yield Chunk("x")

    async def run() -> None:
        sync = ChatStream.from_chunks(chunks(), model="m", provider="p")
        await AsyncChatStream.from_sync(sync).collect()
        assert threading.get_ident() not in threads

    asyncio.run(run())


def test_repr_shows_provider_model_and_state() -> None:
    stream = make()
    assert repr(stream) == "<ChatStream p:m open>"
    stream.close()
    assert repr(stream) == "<ChatStream p:m closed>"
    assert repr(amake()) == "<AsyncChatStream p:m open>"
