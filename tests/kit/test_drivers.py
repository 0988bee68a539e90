"""The layer kit's drivers: effects in order, every way a call and a stream end, replays,
and sync/async parity of the two generic drivers over generated scripts."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, ChatResponse, Message, stack
from insightforge.errors import ProviderUnavailable, Timeout
from insightforge.kit import (
    Abandoned,
    Blocking,
    Call,
    Flow,
    FlowHandler,
    FlowLayer,
    Replay,
    Sleep,
    with_trace,
)
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.types import Chunk, ToolCall, TraceEvent


class Recorder:
    """Effects that record what ran; the flow records what it received."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    def effect(self, value: Any) -> Blocking:
        def run() -> Any:
            self.log.append(("ran", repr(value)))
            if isinstance(value, BaseException):
                raise value
            return value
        return Blocking(run, blocking=False)


@attrs.frozen
class Probe(FlowLayer):
    """A layer whose flow runs effects before and after the call and records everything."""

    recorder: Recorder
    before: tuple[Any, ...] = ()
    after: tuple[Any, ...] = ()

    def flow(self, request: Any, handler: FlowHandler) -> Flow:
        log = self.recorder.log
        for value in self.before:
            try:
                log.append(("got", repr((yield self.recorder.effect(value)))))
            except Exception as exc:
                log.append(("effect failed", type(exc).__name__))
        call = Call(request, record=True)
        try:
            response = yield call
        except Abandoned:
            log.append(("abandoned", call.chunks))
            for value in self.after:
                yield self.recorder.effect(value)
            raise
        except Exception as exc:
            log.append(("failed", type(exc).__name__, call.chunks))
            raise
        log.append(("answer", response.text, call.streamed, call.chunks,
                    len(call.recorded or ())))
        for value in self.after:
            log.append(("got", repr((yield self.recorder.effect(value)))))
        return with_trace(response, [TraceEvent("probe", "before")],
                          [TraceEvent("probe", "after")])


def _boom() -> ProviderUnavailable:
    return ProviderUnavailable("scripted 503", provider="scripted")


def test_effects_run_in_order_and_their_results_come_back() -> None:
    rec = Recorder()
    llm = stack(Probe(rec, before=(1, "two"), after=(3,)), provider=ScriptedProvider())
    answer: Any = llm(ChatRequest("hi"))
    assert answer.text == "Echo: hi"
    assert [e.event for e in answer.trace] == ["before", "after"]
    assert rec.log == [("ran", "1"), ("got", "1"), ("ran", "'two'"), ("got", "'two'"),
                       ("answer", "Echo: hi", False, 0, 0), ("ran", "3"), ("got", "3")]


def test_a_failing_effect_is_thrown_into_the_flow() -> None:
    rec = Recorder()
    llm = stack(Probe(rec, before=(Timeout("t", provider="x"),)), provider=ScriptedProvider())
    llm(ChatRequest("hi"))
    assert ("effect failed", "Timeout") in rec.log


def test_an_inner_failure_is_thrown_in_at_the_call() -> None:
    rec = Recorder()
    llm = stack(Probe(rec), provider=ScriptedProvider([_boom()]))
    with pytest.raises(ProviderUnavailable):
        llm(ChatRequest("hi"))
    assert rec.log == [("failed", "ProviderUnavailable", 0)]


def test_a_stream_resumes_the_flow_at_its_end_and_the_flow_sets_the_final_response() -> None:
    rec = Recorder()
    llm = stack(Probe(rec, after=("settled",)), provider=ScriptedProvider([StreamStep("a b c")]))
    stream: Any = llm(ChatRequest("x", stream=True))
    assert isinstance(stream, ChatStream)
    assert rec.log == []  # nothing after the call ran yet
    assert "".join(c.text for c in stream) == "a b c"
    assert rec.log == [("answer", "a b c", True, 4, 4), ("ran", "'settled'"),
                       ("got", "'settled'")]
    assert [e.event for e in stream.response.trace] == ["before", "after"]


def test_a_failed_stream_throws_the_failure_in_with_the_chunks_seen() -> None:
    rec = Recorder()
    step = StreamStep("a b c", error=_boom(), fail_after=2)
    llm = stack(Probe(rec), provider=ScriptedProvider([step]))
    stream: Any = llm(ChatRequest("x", stream=True))
    with pytest.raises(ProviderUnavailable):
        stream.collect()
    assert rec.log == [("failed", "ProviderUnavailable", 2)]


@pytest.mark.parametrize("how", ["close", "garbage"])
def test_an_abandoned_stream_throws_abandoned_in_once(how: str) -> None:
    rec = Recorder()
    llm = stack(Probe(rec, after=("release",)), provider=ScriptedProvider([StreamStep("a b c")]))
    stream: Any = llm(ChatRequest("x", stream=True))
    next(stream)
    if how == "close":
        stream.close()
        stream.close()
    else:
        del stream
        gc.collect()
    assert rec.log == [("abandoned", 1), ("ran", "'release'")]


@pytest.mark.parametrize("how", ["aclose", "garbage"])
def test_an_abandoned_async_stream_throws_abandoned_in_once(how: str) -> None:
    rec = Recorder()
    llm = stack(Probe(rec, after=("release",)), provider=ScriptedProvider([StreamStep("a b c")]))

    async def run() -> None:
        stream: Any = await llm.acall(ChatRequest("x", stream=True))
        assert isinstance(stream, AsyncChatStream)
        await stream.__anext__()
        if how == "aclose":
            await stream.aclose()
            await stream.aclose()
        else:
            del stream
            gc.collect()

    asyncio.run(run())
    gc.collect()
    assert rec.log == [("abandoned", 1), ("ran", "'release'")]


@attrs.frozen
class Answering(FlowLayer):
    """Answers itself (a cache hit): returns ``value`` without calling the inner handler."""

    value: Any

    def flow(self, request: Any, handler: FlowHandler) -> Flow:
        return self.value
        yield  # pragma: no cover - makes this a generator


def _response(text: str = "cached", calls: tuple[ToolCall, ...] = ()) -> ChatResponse:
    from insightforge.types import Usage

    return ChatResponse(Message("assistant", text, tool_calls=calls), "m", "p", Usage(3, 2),
                        "stop", "id-1")


def test_a_plain_answer_to_a_stream_request_is_replayed_as_one_chunk_with_tool_calls() -> None:
    calls = (ToolCall("c1", "lookup", '{"q": 1}'), ToolCall("c2", "other", "{}"))
    provider = ScriptedProvider()
    llm = stack(Answering(_response("cached", calls)), provider=provider)
    stream: Any = llm(ChatRequest("x", stream=True))
    chunks = list(stream)
    assert len(chunks) == 1 and chunks[0].text == "cached"
    assert stream.response.tool_calls == calls
    assert provider.calls == []

    async def run() -> Any:
        astream: Any = await llm.acall(ChatRequest("x", stream=True))
        return await astream.collect()

    assert asyncio.run(run()).tool_calls == calls


def test_a_replay_gives_its_own_chunks_and_final_response() -> None:
    final = _response("a b")
    llm = stack(Answering(Replay(final, (Chunk("a "), Chunk("b", finish_reason="stop")))),
                provider=ScriptedProvider())
    stream: Any = llm(ChatRequest("x", stream=True))
    assert [c.text for c in stream] == ["a ", "b"]
    assert stream.response is final
    plain: Any = llm(ChatRequest("x"))
    assert isinstance(plain, Replay)  # a replay is only for stream requests


def test_with_trace_puts_events_on_responses_streams_and_errors() -> None:
    before, after = [TraceEvent("t", "before")], [TraceEvent("t", "after")]
    response = with_trace(_response(), before, after)
    assert [e.event for e in response.trace] == ["before", "after"]
    stream = with_trace(ScriptedProvider([StreamStep("a")])(ChatRequest("x", stream=True)),
                        before, after)
    assert [e.event for e in stream.collect().trace] == ["before", "after"]  # type: ignore[union-attr]
    error = with_trace(_boom(), before, after)
    assert [e.event for e in error.trace] == ["before", "after"]
    assert with_trace(ValueError("not ours"), before) .args == ("not ours",)


def test_the_handler_shows_its_states_public_attributes() -> None:
    @attrs.frozen
    class Counting(FlowLayer):
        def open(self, inner: Any) -> Any:
            return type("State", (), {"count": 7, "_hidden": 1})()

        def flow(self, request: Any, handler: FlowHandler) -> Flow:
            return (yield Call(request))

    handler: Any = stack(Counting(), provider=ScriptedProvider()).handler
    assert handler.count == 7
    with pytest.raises(AttributeError):
        _ = handler._hidden


# -- parity: the two drivers make the same decisions on the same script -------------------
outcomes = st.sampled_from(["answer", "fail", "stream_end", "stream_fail", "stream_abandon"])
values = st.lists(st.one_of(st.integers(), st.text(max_size=5),
                            st.just(Timeout("slow", provider="x"))), max_size=4)


def _provider(outcome: str) -> ScriptedProvider:
    if outcome == "fail":
        return ScriptedProvider([_boom()])
    if outcome == "stream_fail":
        return ScriptedProvider([StreamStep("a b c d", error=_boom(), fail_after=2)])
    return ScriptedProvider([StreamStep("a b c d")] if outcome.startswith("stream")
                            else ["a b c d"])


def _sync(outcome: str, before: list[Any], after: list[Any]) -> list[Any]:
    rec = Recorder()
    llm = stack(Probe(rec, tuple(before), tuple(after)), provider=_provider(outcome))
    try:
        result: Any = llm(ChatRequest("x", stream=outcome.startswith("stream")))
        if outcome == "stream_abandon":
            next(result)
            result.close()
        elif isinstance(result, ChatStream):
            result = result.collect()
        if isinstance(result, ChatResponse):
            rec.log.append(("final", result.text, [e.event for e in result.trace]))
    except Exception as exc:
        rec.log.append(("raised", type(exc).__name__))
    return rec.log


async def _async(outcome: str, before: list[Any], after: list[Any]) -> list[Any]:
    rec = Recorder()
    llm = stack(Probe(rec, tuple(before), tuple(after)), provider=_provider(outcome))
    try:
        result: Any = await llm.acall(ChatRequest("x", stream=outcome.startswith("stream")))
        if outcome == "stream_abandon":
            await result.__anext__()
            await result.aclose()
        elif isinstance(result, AsyncChatStream):
            result = await result.collect()
        if isinstance(result, ChatResponse):
            rec.log.append(("final", result.text, [e.event for e in result.trace]))
    except Exception as exc:
        rec.log.append(("raised", type(exc).__name__))
    return rec.log


@settings(max_examples=150)
@given(outcome=outcomes, before=values, after=values)
def test_sync_and_async_drivers_agree(outcome: str, before: list[Any], after: list[Any]) -> None:
    sync = _sync(outcome, before, after)
    assert sync == asyncio.run(_async(outcome, before, after))
    assert sync.count(("raised", "ProviderUnavailable")) == (outcome in ("fail", "stream_fail"))


def test_sleep_uses_the_injected_waits() -> None:
    slept: list[float] = []

    async def asleep(seconds: float) -> None:
        slept.append(-seconds)

    effect = Sleep(0.25, slept.append, asleep)
    effect.run()
    asyncio.run(effect.arun())
    assert slept == [0.25, -0.25]
