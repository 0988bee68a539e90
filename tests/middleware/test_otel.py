"""The ``OpenTelemetry`` layer's spans, with the real SDK and in-memory exporters, over the
``ScriptedProvider``: the span of a plain, streamed, failed, retried, fallen-back, cached,
refused and rate-limited request; every way a stream ends; the caller's span as parent;
telemetry that fails never failing a request. The must-show tests are
``test_two_retries_and_a_fallback_make_one_span_with_every_event`` and
``test_an_abandoned_stream_still_ends_its_span``."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import (
    AllProvidersFailed,
    AuthenticationError,
    BudgetExceeded,
    ConfigError,
)
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing import FakeClock
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import Budget, Cache, Fallback, OpenTelemetry, RateLimit, Retry
from tests.conftest import TEST_OPENAI_KEY
from tests.middleware._otel_kit import Telemetry, all_values, boom, drop, event_names


@pytest.fixture
def tel() -> Any:
    t = Telemetry()
    yield t
    t.shutdown()


def fake_retry(clock: FakeClock, attempts: int = 3) -> Retry:
    return Retry(attempts=attempts, clock=clock, sleep=clock.sleep, asleep=clock.asleep)


# -- plain, streamed, failed ---------------------------------------------------------------
def test_a_plain_answer_is_one_client_span_with_the_genai_attributes(tel: Telemetry) -> None:
    llm = stack(tel.layer(), provider=ScriptedProvider(model="m-1"))
    reply: Any = llm(ChatRequest("hello there", max_tokens=50, temperature=0.5, seed=7))
    span = tel.span()
    assert span.name == "chat m-1" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    a = dict(span.attributes or {})
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "scripted"
    assert a["gen_ai.request.model"] == "m-1" and a["gen_ai.response.model"] == "m-1"
    assert a["gen_ai.request.max_tokens"] == 50 and a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.seed"] == 7 and a["gen_ai.request.stream"] is False
    assert a["gen_ai.usage.input_tokens"] == reply.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == reply.usage.output_tokens
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.response.id"] == reply.id
    assert a["insightforge.cost_usd"] == pytest.approx(float(reply.cost_usd))
    assert a["insightforge.outcome"] == "ok" and a["insightforge.cached"] is False
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    assert tel.ends.open_spans() == set()


def test_cache_and_reasoning_tokens_come_from_usage(tel: Telemetry) -> None:
    from insightforge.types import ChatResponse, Message, Usage

    usage = Usage(100, 40, cache_read_tokens=60, cache_write_tokens=30,
                  cache_write_1h_tokens=10, reasoning_tokens=25)

    def provider(request: Any) -> ChatResponse:
        return ChatResponse(Message("assistant", "ok"), "r-1", "anthropic", usage, "stop")

    stack(tel.layer(), provider=provider)(ChatRequest("think"))
    a = dict(tel.span().attributes or {})
    assert a["gen_ai.usage.cache_read.input_tokens"] == 60
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 30
    assert a["insightforge.usage.cache_write_1h_tokens"] == 10
    assert a["gen_ai.usage.reasoning.output_tokens"] == 25
    assert a["gen_ai.provider.name"] == "anthropic"


def test_a_stream_keeps_its_span_open_until_it_ends(tel: Telemetry) -> None:
    llm = stack(tel.layer(), provider=ScriptedProvider())
    stream = llm(ChatRequest("one two three four", stream=True))
    assert isinstance(stream, ChatStream)
    assert tel.spans() == []  # open while the caller reads
    text = "".join(chunk.text for chunk in stream)
    a = dict(tel.span().attributes or {})
    assert text == "Echo: one two three four"
    assert a["gen_ai.request.stream"] is True and a["insightforge.stream.chunks"] == 6
    assert a["gen_ai.usage.output_tokens"] == stream.response.usage.output_tokens
    assert 0 <= a["gen_ai.response.time_to_first_chunk"] <= 5


def test_a_failure_sets_error_type_and_status_and_passes_unchanged(tel: Telemetry) -> None:
    error = AuthenticationError("bad key (scripted)", provider="scripted", status=401)
    llm = stack(tel.layer(), provider=ScriptedProvider([error]))
    with pytest.raises(AuthenticationError) as caught:
        llm(ChatRequest("hi"))
    assert caught.value is error
    span = tel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "bad key (scripted)"
    a = dict(span.attributes or {})
    assert a["error.type"] == "AuthenticationError" and a["insightforge.outcome"] == "error"
    (exc,) = [e for e in span.events if e.name == "exception"]
    assert dict(exc.attributes or {}) == {"exception.type": "AuthenticationError",
                                          "exception.message": "bad key (scripted)"}


def test_a_stream_failing_midway_ends_its_span_with_the_error(tel: Telemetry) -> None:
    llm = stack(tel.layer(), provider=ScriptedProvider(
        [StreamStep("a b c d", error=boom(), fail_after=2)]))
    stream: Any = llm(ChatRequest("x", stream=True))
    got = []
    with pytest.raises(type(boom())):
        for chunk in stream:
            got.append(chunk)
    a = dict(tel.span().attributes or {})
    assert len(got) == 2 and a["insightforge.stream.chunks"] == 2
    assert a["error.type"] == "ProviderUnavailable" and a["insightforge.outcome"] == "error"


# -- what the layers did: retries, fallback, cache, budget, rate limit ---------------------
def test_two_retries_and_a_fallback_make_one_span_with_every_event(tel: Telemetry) -> None:
    """Must show: both retries with their waits, the fallback, and the answering
    provider's model and usage — on one span."""
    clock = FakeClock()
    primary = ScriptedProvider([boom(), boom(), boom()], name="primary", model="big-1")
    backup = ScriptedProvider(name="backup", model="small-2")
    llm = stack(tel.layer(), Fallback(backup), fake_retry(clock, attempts=3),
                provider=primary)
    reply: Any = llm(ChatRequest("where am I"))
    assert reply.provider == "backup" and len(primary.calls) == 3
    span = tel.span()
    assert span.name == "chat big-1"  # the model asked for: the first route's
    assert event_names(span) == ["insightforge.retry.attempt", "insightforge.retry.attempt",
                                 "insightforge.retry.gave_up",
                                 "insightforge.fallback.fallback"]
    first, second, gave_up, fallback = span.events
    assert [first.attributes["attempt"], second.attributes["attempt"]] == [2, 3]
    assert [first.attributes["delay"], second.attributes["delay"]] == \
        pytest.approx(clock.sleeps, abs=1e-6)  # the waits really slept (rounded to µs)
    assert first.attributes["error"] == "ProviderUnavailable"
    assert gave_up.attributes["reason"] == "attempts exhausted"
    assert (fallback.attributes["from"], fallback.attributes["to"]) == ("primary", "backup")
    assert [e.timestamp for e in span.events] == [int(e.at * 1e9) for e in reply.trace]
    a = dict(span.attributes or {})
    assert a["gen_ai.provider.name"] == "backup" and a["gen_ai.response.model"] == "small-2"
    assert a["gen_ai.request.model"] == "big-1"
    assert a["gen_ai.usage.input_tokens"] == reply.usage.input_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == reply.usage.output_tokens > 0
    assert span.status.status_code is StatusCode.UNSET


def test_every_provider_failing_ends_the_span_with_all_providers_failed(
        tel: Telemetry) -> None:
    clock = FakeClock()
    llm = stack(tel.layer(), Fallback(ScriptedProvider([boom("b")], name="b")),
                fake_retry(clock, attempts=2), provider=ScriptedProvider([boom(), boom()]))
    with pytest.raises(AllProvidersFailed):
        llm(ChatRequest("x"))
    span = tel.span()
    assert span.attributes["error.type"] == "AllProvidersFailed"
    assert "insightforge.fallback.fallback" in event_names(span)


def test_cache_miss_then_hit(tel: Telemetry) -> None:
    provider = ScriptedProvider()
    llm = stack(tel.layer(), Cache(), provider=provider)
    llm(ChatRequest("same"))
    llm(ChatRequest("same"))
    miss, hit = tel.spans()
    assert event_names(miss) == ["insightforge.cache.miss"]
    assert event_names(hit) == ["insightforge.cache.hit"]
    assert hit.attributes["insightforge.cached"] is True
    assert hit.attributes["insightforge.cost_usd"] == 0.0 and len(provider.calls) == 1
    for span in (miss, hit):  # events never lie outside their span
        assert all(span.start_time <= e.timestamp <= span.end_time for e in span.events)


def test_budget_reserve_settle_and_refusal(tel: Telemetry) -> None:
    provider = ScriptedProvider()
    llm = stack(tel.layer(), Budget(limit_usd=1), provider=provider)
    llm(ChatRequest("pay for me"))
    assert event_names(tel.span()) == ["insightforge.budget.reserved",
                                       "insightforge.budget.settled"]
    settled = tel.span().events[1]
    assert Decimal(str(settled.attributes["usd"])) > 0
    tel.exporter.clear()
    broke = stack(tel.layer(), Budget(limit_usd=Decimal("0.000001")), provider=provider)
    with pytest.raises(BudgetExceeded):
        broke(ChatRequest("too dear"))
    span = tel.span()
    assert span.attributes["error.type"] == "BudgetExceeded"
    assert span.attributes["insightforge.outcome"] == "refused"
    assert event_names(span)[0] == "insightforge.budget.refused"
    assert len(provider.calls) == 1  # refused before any call


def test_a_rate_limit_wait_is_an_event_with_its_wait(tel: Telemetry) -> None:
    clock = FakeClock()
    llm = stack(tel.layer(), RateLimit(rpm=1, max_wait=120, clock=clock, sleep=clock.sleep,
                                       asleep=clock.asleep), provider=ScriptedProvider())
    llm(ChatRequest("first"))
    llm(ChatRequest("second"))
    waited = [e for e in tel.spans()[1].events if e.name == "insightforge.ratelimit.waited"]
    assert len(waited) == 1 and waited[0].attributes["waited"] == pytest.approx(
        sum(clock.sleeps)) and sum(clock.sleeps) > 0


# -- streams that do not end -------------------------------------------------------------
def test_an_abandoned_stream_still_ends_its_span(tel: Telemetry) -> None:
    """Must show: close() half way, and a stream dropped unread, sync and async."""
    llm = stack(tel.layer(), provider=ScriptedProvider())
    stream: Any = llm(ChatRequest("one two three four five", stream=True))
    next(iter(stream))
    stream.close()
    dropped: Any = llm(ChatRequest("never read", stream=True))
    del dropped
    drop()

    async def run_async() -> None:
        s: Any = await llm.acall(ChatRequest("async one two three", stream=True))
        assert isinstance(s, AsyncChatStream)
        await s.__anext__()
        await s.aclose()
        gone: Any = await llm.acall(ChatRequest("async never read", stream=True))
        del gone

    asyncio.run(run_async())
    drop()
    spans = tel.spans()
    assert len(spans) == 4 and tel.ends.open_spans() == set()
    assert all(n == 1 for n in tel.ends.ended.values())
    assert [s.attributes["insightforge.outcome"] for s in spans] == ["abandoned"] * 4
    assert [s.attributes["insightforge.stream.chunks"] for s in spans] == [1, 0, 1, 0]
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


# -- context: the caller's span is the parent; ours is current only for the inner call ----
def test_the_callers_span_is_the_parent(tel: Telemetry) -> None:
    seen: list[Any] = []

    def provider(request: Any) -> Any:
        seen.append(trace.get_current_span())
        return ScriptedProvider()(request)

    tracer = tel.tracer_provider.get_tracer("app")
    llm = stack(tel.layer(), provider=provider)
    with tracer.start_as_current_span("handle request") as parent:
        llm(ChatRequest("hi"))
        stream: Any = llm(ChatRequest("streamed", stream=True))
        assert trace.get_current_span() is parent  # ours was detached as the stream returned
        stream.collect()
    ours = [s for s in tel.spans() if s.name.startswith("chat")]
    assert len(ours) == 2
    for span in ours:
        assert span.parent is not None and span.parent.span_id == parent.get_span_context(
        ).span_id
        assert span.context.trace_id == parent.get_span_context().trace_id
    assert [s.get_span_context().span_id for s in seen] == [s.context.span_id for s in ours]


def test_the_async_path_parents_and_restores_the_same_way(tel: Telemetry) -> None:
    tracer = tel.tracer_provider.get_tracer("app")
    llm = stack(tel.layer(), provider=ScriptedProvider())

    async def run() -> None:
        with tracer.start_as_current_span("async caller") as parent:
            await llm.acall(ChatRequest("hi"))
            stream: Any = await llm.acall(ChatRequest("streamed", stream=True))
            assert trace.get_current_span() is parent
            await stream.collect()

    asyncio.run(run())
    caller = next(s for s in tel.spans() if s.name == "async caller")
    ours = [s for s in tel.spans() if s.name.startswith("chat")]
    assert len(ours) == 2 and all(s.parent.span_id == caller.context.span_id for s in ours)


# -- telemetry that fails never fails a request ------------------------------------------
class Broken(SpanProcessor):
    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.where == "start":
            raise RuntimeError("processor broke at start")

    def on_end(self, span: Any) -> None:
        if self.where == "end":
            raise RuntimeError("processor broke at end")


class BrokenMetrics:
    def record(self, outcome: Any) -> None:
        raise RuntimeError("metrics backend down")


@pytest.mark.parametrize("where", ["start", "end", "metrics"])
def test_broken_telemetry_never_fails_a_request(where: str, tel: Telemetry,
                                                caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from middleware.otel import run

    monkeypatch.setattr(run, "_warned", set())  # it logs once per place and kind
    if where == "metrics":
        layer = tel.layer(metrics=BrokenMetrics())
    else:
        tel.tracer_provider.add_span_processor(Broken(where))
        layer = tel.layer()
    llm = stack(layer, provider=ScriptedProvider([boom()]))
    with caplog.at_level(logging.WARNING, logger="insightforge.otel"):
        with pytest.raises(type(boom())):  # the request's own error, not the telemetry's
            llm(ChatRequest("fails"))
        assert llm(ChatRequest("works")).text == "Echo: works"  # type: ignore[union-attr]
        stream: Any = llm(ChatRequest("streams here", stream=True))
        assert stream.collect().text == "Echo: streams here"
    assert any("OpenTelemetry layer" in r.message for r in caplog.records)


# -- content: off by default, redacted when on --------------------------------------------
def test_content_is_recorded_only_when_asked_and_always_redacted(tel: Telemetry) -> None:
    text = f"mail me at jane@example.com, my key is {TEST_OPENAI_KEY}"
    stack(tel.layer(), provider=ScriptedProvider())(ChatRequest(text))
    assert all(TEST_OPENAI_KEY not in v and "jane@example.com" not in v
               for v in all_values(tel.span()))
    tel.exporter.clear()
    stack(tel.layer(capture_content=True), provider=ScriptedProvider())(ChatRequest(text))
    a = dict(tel.span().attributes or {})
    assert "[REDACTED:email]" in a["gen_ai.input.messages"]
    assert '"role": "assistant"' in a["gen_ai.output.messages"]
    assert all(TEST_OPENAI_KEY not in v and "jane@example.com" not in v
               for v in all_values(tel.span()))


def test_tags_are_an_allow_list(tel: Telemetry) -> None:
    stack(tel.layer(tags=("tenant", "feature")), provider=ScriptedProvider())(
        ChatRequest("x", tags={"tenant": "acme", "user": "bob@example.com"}))
    a = dict(tel.span().attributes or {})
    assert a["insightforge.tag.tenant"] == "acme"
    assert not any("user" in k or "feature" in k for k in a)


def test_embeddings_are_their_own_operation(tel: Telemetry) -> None:
    stack(tel.layer(), provider=ScriptedProvider(model="emb-1"))(
        EmbedRequest(["one", "two words"]))
    span = tel.span()
    assert span.name == "embeddings emb-1"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 2


def test_without_an_sdk_the_handler_calls_straight_through() -> None:
    provider = ScriptedProvider()
    llm = stack(OpenTelemetry(tracer_provider=trace.NoOpTracerProvider()), provider=provider)
    handler: Any = llm.handler
    assert handler.state.start(ChatRequest("x")) is None  # nothing would be recorded
    stream = llm(ChatRequest("a b", stream=True))
    assert isinstance(stream, ChatStream) and stream.collect().text == "Echo: a b"


def test_sync_and_async_make_the_same_span(tel: Telemetry) -> None:
    def shape(span: Any) -> tuple[Any, ...]:
        a = dict(span.attributes)
        a.pop("gen_ai.response.time_to_first_chunk", None)
        events = [(e.name, dict(e.attributes)) for e in span.events]
        return span.name, a, events, span.status.status_code

    def llm() -> Any:
        clock = FakeClock()
        retry = Retry(attempts=3, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                      random=lambda: 0.5)
        return stack(tel.layer(), retry, provider=ScriptedProvider([boom(), "answer words"]))

    async def run_async(request: ChatRequest) -> None:
        out: Any = await llm().acall(request)
        if request.stream:
            await out.collect()

    for request in (ChatRequest("hello"), ChatRequest("a b c", stream=True)):
        result: Any = llm()(request)
        if request.stream:
            result.collect()
        asyncio.run(run_async(request))
        a, b = tel.spans()[-2:]
        assert shape(a) == shape(b) and "insightforge.retry.attempt" in event_names(a)


# -- options ----------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "path"), [
    ({"tags": ("te nant",)}, "tags"), ({"tags": 5}, "tags"), ({"metrics": "statsd"}, "metrics"),
    ({"max_label_values": 0}, "max_label_values"), ({"capture_content": "yes"},
                                                    "capture_content"),
    ({"redact": 3}, "redact"), ({"tracer_provider": "global"}, "tracer_provider"),
    ({"meter_provider": object()}, "meter_provider"), ({"registry": {}}, "registry"),
])
def test_bad_options_are_config_errors_with_their_path(options: dict[str, Any],
                                                       path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OpenTelemetry(**options)
    assert caught.value.path == path


# -- imports: nothing of OpenTelemetry until a layer is built ------------------------------
def test_importing_the_layer_imports_no_opentelemetry() -> None:
    import subprocess
    import sys

    code = ("import sys, insightforge, middleware; from middleware import OpenTelemetry; "
            "import middleware.otel as m; m.OpenTelemetry, m.prometheus_metrics; "
            "print(sorted({n.split('.')[0] for n in sys.modules} & "
            "{'opentelemetry', 'prometheus_client'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_a_missing_package_is_a_config_error_that_says_what_to_install() -> None:
    from middleware.otel.options import need

    with pytest.raises(ConfigError) as caught:
        need("opentelemetry_not_installed.trace", "otel", "metrics")
    assert caught.value.path == "metrics"
    assert "pip install 'insightforge[otel]'" in str(caught.value)
    need("opentelemetry.trace", "otel", "$")  # installed here: no error
