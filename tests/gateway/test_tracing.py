"""The gateway honours the caller's trace context: with an ``OpenTelemetry`` layer in the
served stack (the real SDK, an in-memory exporter), a request's span continues the trace of
its ``traceparent`` header — plain and streamed, from the openai SDK and from curl; a
missing or malformed header never fails a request (the span starts a new trace), and no
request's context leaks into the next one on the same connection."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from insightforge import stack
from insightforge.gateway import start
from insightforge.gateway.server import GatewayServer
from insightforge.testing.emulator import Emulator
from middleware import OpenTelemetry, Retry
from providers import OpenAI
from tests.conftest import TEST_OPENAI_KEY

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
KEY = "gw-trace-key"


@pytest.fixture
def traced(emulator: Emulator) -> Iterator[tuple[GatewayServer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    llm = stack(OpenTelemetry(tracer_provider=tracing), Retry(attempts=2),
                provider=OpenAI(model="gpt-4o-mini", base_url=emulator.openai_url,
                                api_key=TEST_OPENAI_KEY, timeout=10))
    try:
        with start(llm, api_keys=[KEY]) as server:
            yield server, exporter
    finally:
        llm.close()
        tracing.shutdown()


def _ids(span: Any) -> tuple[str, str | None]:
    parent = span.parent
    return (f"{span.context.trace_id:032x}",
            None if parent is None else f"{parent.span_id:016x}")


def test_a_traceparent_makes_the_callers_span_the_parent_plain_and_streamed(
        traced: tuple[GatewayServer, InMemorySpanExporter]) -> None:
    server, exporter = traced
    client = openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0,
                           default_headers={"traceparent": TRACEPARENT})
    reply = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "traced"}])
    assert reply.choices[0].message.content == "Echo: traced"
    chunks = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "traced stream"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Echo: traced stream")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        assert _ids(span) == (TRACE, PARENT)
        assert span.parent is not None and span.parent.is_remote
        assert span.attributes is not None
        assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"


@pytest.mark.parametrize("header", [
    None,
    "not a traceparent",
    f"00-{'0' * 32}-{PARENT}-01",          # an all-zero trace id is invalid
    f"00-{TRACE}-{'0' * 16}-01",            # so is an all-zero parent id
    f"00-{TRACE}-{PARENT}",                 # no flags
    f"00-{TRACE.upper()}-{PARENT}-01",      # upper-case hex is not allowed
    "00-" + "x" * 5000,
])
def test_a_missing_or_malformed_traceparent_starts_a_new_trace(
        traced: tuple[GatewayServer, InMemorySpanExporter], header: str | None) -> None:
    server, exporter = traced
    extra = [] if header is None else ["-H", f"traceparent: {header}"]
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
         f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json", *extra,
         "--data", '{"model": "default", "messages": [{"role": "user", "content": "hi"}]}',
         server.url + "/chat/completions"], capture_output=True, text=True, timeout=30)
    assert done.stdout == "200", done.stderr
    (span,) = exporter.get_finished_spans()
    trace_id, parent = _ids(span)
    assert parent is None and trace_id != TRACE


def test_a_requests_trace_context_ends_with_it(
        traced: tuple[GatewayServer, InMemorySpanExporter]) -> None:
    server, exporter = traced
    body = {"model": "default", "messages": [{"role": "user", "content": "again"}]}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=10) as client:  # one keep-alive connection
        for headers in ({"traceparent": TRACEPARENT}, {}, {"traceparent": TRACEPARENT}):
            assert client.post("/chat/completions", json=body,
                               headers=headers).status_code == 200
    first, second, third = exporter.get_finished_spans()
    assert _ids(first) == _ids(third) == (TRACE, PARENT)
    assert _ids(second)[1] is None and _ids(second)[0] != TRACE
