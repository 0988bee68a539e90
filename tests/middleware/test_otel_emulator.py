"""The ``OpenTelemetry`` layer over real sockets: the emulator on loopback behind the real
provider classes (the openai SDK, Anthropic and Ollama over httpx), and the trace-context
helpers a server uses to continue a caller's trace (``traceparent``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import ProviderUnavailable
from insightforge.testing import FakeClock
from insightforge.testing.emulator.faults import Fault
from middleware import Fallback, Retry
from middleware.otel import extract_context, inject_context, remote_parent
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_KEYS, TEST_OPENAI_KEY
from tests.middleware._otel_kit import Telemetry, all_values, event_names

providers = pytest.importorskip("providers")


@pytest.fixture
def tel() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.shutdown()


@pytest.fixture
def openai(emulator: Any) -> Iterator[Any]:
    provider = providers.OpenAI(model="gpt-4o-mini", base_url=emulator.openai_url,
                                api_key=TEST_OPENAI_KEY, timeout=10)
    yield provider
    provider.close()


def no_secrets(tel: Telemetry) -> None:
    for span in tel.spans():
        for value in all_values(span):
            assert not any(key in value for key in TEST_KEYS), span.name


def test_an_openai_chat_over_the_wire(tel: Telemetry, emulator: Any, openai: Any) -> None:
    llm = stack(tel.layer(capture_content=True), provider=openai)
    reply: Any = llm(ChatRequest(f"hello, my key is {TEST_OPENAI_KEY}"))
    span = tel.span()
    a = dict(span.attributes or {})
    assert span.name == "chat gpt-4o-mini"
    assert a["gen_ai.provider.name"] == "openai" and a["server.address"] == "127.0.0.1"
    assert a["server.port"] == emulator.port
    assert a["gen_ai.response.model"] == reply.model
    assert a["gen_ai.usage.input_tokens"] == reply.usage.input_tokens > 0
    assert a["gen_ai.response.finish_reasons"] == (reply.finish_reason,)
    assert "[REDACTED" in a["gen_ai.input.messages"]
    no_secrets(tel)


def test_an_anthropic_stream_ends_its_span_at_its_end(tel: Telemetry, emulator: Any) -> None:
    provider = providers.Anthropic(base_url=emulator.anthropic_url, api_key=TEST_ANTHROPIC_KEY,
                                   timeout=10)
    llm = stack(tel.layer(), provider=provider)

    async def run() -> Any:
        stream: Any = await llm.acall(ChatRequest("stream these few words", stream=True))
        assert tel.spans() == []
        return await stream.collect()

    reply = asyncio.run(run())
    provider.close()
    a = dict(tel.span().attributes or {})
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.usage.output_tokens"] == reply.usage.output_tokens > 0
    assert a["insightforge.stream.chunks"] >= 2 and "gen_ai.response.time_to_first_chunk" in a
    no_secrets(tel)


def test_azure_is_named_as_the_convention_says(tel: Telemetry, emulator: Any) -> None:
    provider = providers.AzureOpenAI("prod-4o", endpoint=emulator.azure_url,
                                     api_version="2024-10-21", model="gpt-4o-mini",
                                     api_key=TEST_AZURE_KEY, timeout=10)
    stack(tel.layer(), provider=provider)(ChatRequest("hello azure"))
    provider.close()
    assert tel.span().attributes["gen_ai.provider.name"] == "azure.ai.openai"
    no_secrets(tel)


def test_ollama_embeddings(tel: Telemetry, emulator: Any) -> None:
    provider = providers.Ollama(model="llama3.1", base_url=emulator.ollama_url, timeout=10)
    stack(tel.layer(), provider=provider)(EmbedRequest(["one", "two"], model="nomic-embed"))
    provider.close()
    span = tel.span()
    assert span.name == "embeddings nomic-embed"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.embeddings.dimension.count"] > 0


def test_503s_retried_then_fallen_back_over_the_wire(tel: Telemetry, emulator: Any,
                                                     openai: Any) -> None:
    emulator.script(Fault.status(503), api="openai", times=3)
    ollama = providers.Ollama(model="llama3.1", base_url=emulator.ollama_url, timeout=10)
    clock = FakeClock()
    llm = stack(tel.layer(metrics="otel"), Fallback(ollama),
                Retry(attempts=3, clock=clock, sleep=clock.sleep, asleep=clock.asleep),
                provider=openai)
    reply: Any = llm(ChatRequest("where am I"))
    ollama.close()
    span = tel.span()
    assert event_names(span) == ["insightforge.retry.attempt", "insightforge.retry.attempt",
                                 "insightforge.retry.gave_up",
                                 "insightforge.fallback.fallback"]
    assert span.attributes["gen_ai.provider.name"] == "ollama" == reply.provider
    assert span.attributes["gen_ai.response.model"] == reply.model
    (point,) = tel.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.provider.name"] == "ollama"


def test_a_server_error_over_the_wire(tel: Telemetry, emulator: Any, openai: Any) -> None:
    emulator.script(Fault.status(500), api="openai")
    with pytest.raises(ProviderUnavailable):
        stack(tel.layer(), provider=openai)(ChatRequest("x"))
    span = tel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ProviderUnavailable"
    no_secrets(tel)


# -- trace context across a process boundary ----------------------------------------------
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


@pytest.mark.parametrize("headers", [
    {"traceparent": TRACEPARENT},
    {"Traceparent": TRACEPARENT, "Content-Type": "application/json"},
    [(b"traceparent", TRACEPARENT.encode()), (b"host", b"127.0.0.1")],  # ASGI's form
], ids=["mapping", "any-case", "asgi-pairs"])
def test_an_incoming_traceparent_is_the_parent(headers: Any, tel: Telemetry,
                                               openai: Any) -> None:
    llm = stack(tel.layer(), provider=openai)
    with remote_parent(headers):
        llm(ChatRequest("continue the caller's trace"))
    assert trace.get_current_span() is trace.INVALID_SPAN  # restored after the block
    span = tel.span()
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None and span.parent.span_id == SPAN_ID
    assert span.parent.is_remote


def test_async_requests_continue_the_callers_trace(tel: Telemetry, openai: Any) -> None:
    llm = stack(tel.layer(), provider=openai)

    async def handle(headers: dict[str, str]) -> None:
        with remote_parent(headers):
            await llm.acall(ChatRequest("async and remote"))

    asyncio.run(handle({"traceparent": TRACEPARENT}))
    assert tel.span().context.trace_id == TRACE_ID


@pytest.mark.parametrize("headers", [None, {}, {"traceparent": "00-not-a-trace-id-01"},
                                     {"traceparent": "ff-" + "0" * 32 + "-" + "0" * 16 + "-01"}])
def test_missing_or_malformed_headers_start_a_new_trace(headers: Any, tel: Telemetry,
                                                        openai: Any) -> None:
    llm = stack(tel.layer(), provider=openai)
    with remote_parent(headers):
        llm(ChatRequest("no usable parent"))
    span = tel.span()
    assert span.parent is None and span.context.trace_id != TRACE_ID


def test_inject_then_extract_round_trips(tel: Telemetry) -> None:
    tracer = tel.tracer_provider.get_tracer("client")
    with tracer.start_as_current_span("outgoing") as span:
        headers = inject_context()
    assert headers["traceparent"].split("-")[1] == f"{span.get_span_context().trace_id:032x}"
    remote = trace.get_current_span(extract_context(headers)).get_span_context()
    assert (remote.trace_id, remote.span_id) == (span.get_span_context().trace_id,
                                                 span.get_span_context().span_id)
