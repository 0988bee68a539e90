"""providers.Anthropic: pure Messages API mapping (with hypothesis) and the real thing.

Integration tests cross a real socket to the emulator's Anthropic wire format with httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge.errors import (
    AuthenticationError,
    CredentialError,
    InsightForgeError,
    InvalidRequest,
    MalformedResponse,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
    Unsupported,
)
from insightforge.pricing import price_for
from insightforge.testing.conformance import ProviderSpec, run_conformance
from insightforge.testing.emulator import Fault
from insightforge.types import ChatRequest, EmbedRequest, Message, Tool, ToolCall
from providers import _anthropic_wire as wire
from providers.anthropic import Anthropic
from tests.conftest import TEST_ANTHROPIC_KEY as KEY

TOOL = Tool("lookup", "look a word up", {"type": "object",
                                         "properties": {"input": {"type": "string"}}})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@pytest.fixture
def claude(emulator: Any) -> Iterator[Anthropic]:
    provider = Anthropic(base_url=emulator.anthropic_url, timeout=5, api_key=KEY)
    yield provider
    provider.close()


def same(a: Any, b: Any) -> bool:
    return bool(attrs.evolve(a, id="") == attrs.evolve(b, id=""))


def sse(event: str, data: dict[str, Any]) -> list[str]:
    return [f"event: {event}", f"data: {json.dumps(data)}", ""]


# -- pure mapping -------------------------------------------------------------------------

def test_body_lifts_system_sets_max_tokens_and_maps_controls() -> None:
    request = ChatRequest([Message("system", "be brief"), Message("system", "be kind"),
                           Message("user", "hi")], temperature=0.5, stop=["END"],
                          tools=[TOOL], tool_choice="required", options={"top_k": 5})
    body = wire.chat_body(request, model="claude-x", max_tokens=99, stream=True)
    assert body["system"] == "be brief\n\nbe kind" and body["max_tokens"] == 99
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stop_sequences"] == ["END"] and body["stream"] is True
    assert body["tools"] == [{"name": "lookup", "description": "look a word up",
                              "input_schema": dict(TOOL.parameters)}]
    assert body["tool_choice"] == {"type": "any"} and body["top_k"] == 5
    assert wire.chat_body(ChatRequest("x", max_tokens=7), model="m", max_tokens=99,
                          stream=False)["max_tokens"] == 7


def test_tool_calls_and_results_map_to_blocks() -> None:
    calls = [ToolCall("t1", "lookup", '{"input": "a"}'), ToolCall("t2", "lookup", "{}")]
    request = ChatRequest([Message("user", "q"), Message("assistant", "let me look",
                                                         tool_calls=calls),
                           Message("tool", "A", tool_call_id="t1"),
                           Message("tool", "B", tool_call_id="t2"),
                           Message("user", "thanks")])
    _, turns = wire.messages(request)
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][1] == {"type": "tool_use", "id": "t1", "name": "lookup",
                                      "input": {"input": "a"}}
    assert [b["type"] for b in turns[2]["content"]] == ["tool_result", "tool_result", "text"]
    assert turns[2]["content"][1]["tool_use_id"] == "t2"
    with pytest.raises(InvalidRequest, match="tool_call_id"):
        wire.messages(ChatRequest([Message("user", "q"), Message("tool", "x")]))
    with pytest.raises(InvalidRequest, match="at least one user message"):
        wire.messages(ChatRequest([Message("system", "only")]))


def test_json_mode_asks_in_the_system_prompt() -> None:
    body = wire.chat_body(ChatRequest("hi", response_format="json"), model="m", max_tokens=9,
                          stream=False)
    assert "JSON" in body["system"]


@pytest.mark.parametrize(("reason", "expected"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("tool_use", "tool_calls"), ("refusal", "content_filter"), (None, None)])
def test_stop_reasons(reason: str | None, expected: str | None) -> None:
    assert wire.finish_reason(reason) == expected


def test_stream_decoder_handles_every_event_type() -> None:
    lines = [": comment", *sse("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        *sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        *sse("ping", {"type": "ping"}),
        *sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "Hi"}}),
        *sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "thinking_delta", "thinking": "hm"}}),
        *sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *sse("content_block_start", {"type": "content_block_start", "index": 1,
                                     "content_block": {"type": "tool_use", "id": "t1",
                                                       "name": "lookup", "input": {}}}),
        *sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
            "type": "input_json_delta", "partial_json": '{"input": '}}),
        *sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
            "type": "input_json_delta", "partial_json": '"a"}'}}),
        *sse("brand_new_event", {"type": "brand_new_event"}),
        *sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                               "usage": {"output_tokens": 12}}),
        *sse("message_stop", {"type": "message_stop"})]
    from insightforge.streams import assemble

    decoder = wire.AnthropicStreamDecoder()
    chunks = [chunk for line in lines for chunk in decoder.feed(line)]
    assert decoder.done and decoder.id == "msg_1" and decoder.model == "claude-x"
    reply = assemble(chunks, model="claude-x", provider="anthropic")
    assert reply.text == "Hi" and reply.finish_reason == "tool_calls"
    assert reply.tool_calls == (ToolCall("t1", "lookup", '{"input": "a"}'),)
    assert reply.usage.input_tokens == 9 and reply.usage.output_tokens == 12


@pytest.mark.parametrize(("kind", "error"), [
    ("overloaded_error", ProviderUnavailable), ("api_error", ProviderUnavailable),
    ("rate_limit_error", RateLimitError), ("authentication_error", AuthenticationError),
    ("invalid_request_error", InvalidRequest), ("something_new", ProviderUnavailable)])
def test_error_events_map_to_the_hierarchy(kind: str, error: type[Exception]) -> None:
    decoder = wire.AnthropicStreamDecoder()
    with pytest.raises(error):
        for line in sse("error", {"type": "error", "error": {"type": kind, "message": "x"}}):
            decoder.feed(line)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_malformed_messages_only_raise_documented_errors(data: Any) -> None:
    with contextlib.suppress(InsightForgeError):
        wire.parse_message(data if isinstance(data, dict) else {"content": data})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["message_start", "content_block_start",
                                           "content_block_delta", "message_delta", "error",
                                           "ping", "message_stop"]),
                          json_values | st.text(max_size=20)), max_size=6))
def test_stream_decoder_raises_only_documented_errors(events: list[tuple[str, Any]]) -> None:
    decoder = wire.AnthropicStreamDecoder()
    try:
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(
                {**data, "type": name} if isinstance(data, dict) else data)
            for line in (f"event: {name}", f"data: {payload.replace(chr(10), ' ')}", ""):
                decoder.feed(line)
    except InsightForgeError:
        pass


# -- over loopback --------------------------------------------------------------------------

def test_chat_sync_async_and_stream_agree(claude: Anthropic, emulator: Any) -> None:
    request = ChatRequest([Message("system", "be nice"), Message("user", "hello there")])
    reply = claude(request)
    assert reply.text == "Echo: hello there" and reply.finish_reason == "stop"
    assert reply.usage.input_tokens == 10 and reply.usage.output_tokens == 3
    price = price_for("anthropic", "claude-sonnet-4-5")
    assert price is not None and reply.cost_usd == price.cost(10, 3)
    sent = emulator.requests[-1]
    assert sent.body["system"] == "be nice" and sent.body["max_tokens"] == 1024
    assert sent.headers["anthropic-version"] == "2023-06-01"
    stream = claude(attrs.evolve(request, stream=True))
    assert "".join(chunk.text for chunk in stream) == reply.text
    assert same(stream.response, reply) and stream.response.id.startswith("msg_")

    async def run() -> tuple[Any, Any]:
        first = await claude.acall(request)
        astream = await claude.acall(attrs.evolve(request, stream=True))
        return first, await astream.collect()

    first, streamed = asyncio.run(run())
    assert same(first, reply) and same(streamed, reply)


def test_tools_both_ways(claude: Anthropic, emulator: Any) -> None:
    first = claude(ChatRequest("find cats", tools=[TOOL]))
    assert first.finish_reason == "tool_calls"
    call = first.tool_calls[0]
    assert call.name == "lookup" and json.loads(call.arguments) == {"input": "find cats"}
    streamed = claude(ChatRequest("find cats", tools=[TOOL], stream=True)).collect()
    assert attrs.evolve(streamed, id="", message=attrs.evolve(streamed.message, tool_calls=())) \
        == attrs.evolve(first, id="", message=attrs.evolve(first.message, tool_calls=()))
    assert streamed.tool_calls[0].arguments == call.arguments
    final = claude(ChatRequest([Message("user", "find cats"), first.message,
                                Message("tool", "3 cats", tool_call_id=call.id)],
                               tools=[TOOL]))
    assert final.text == "Echo: 3 cats"
    turns = emulator.requests[-1].body["messages"]
    assert turns[1]["content"][0]["type"] == "tool_use"
    assert turns[2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id,
                                      "content": "3 cats"}


def test_stop_sequence_and_max_tokens(claude: Anthropic) -> None:
    assert claude(ChatRequest("one two three", max_tokens=2)).finish_reason == "length"
    cut = claude(ChatRequest("one two three", stop=["two"]))
    assert cut.finish_reason == "stop" and cut.text == "Echo: one "


def test_embeddings_are_unsupported_without_a_call(claude: Anthropic, emulator: Any) -> None:
    with pytest.raises(Unsupported, match="no embeddings API"):
        claude(EmbedRequest("x"))
    with pytest.raises(Unsupported):
        asyncio.run(claude.acall(EmbedRequest("x")))
    assert emulator.count() == 0


FAULTS = [
    (Fault.status(429, retry_after=3), RateLimitError),
    (Fault.status(529), ProviderUnavailable),
    (Fault.status(401), AuthenticationError),
    (Fault.status(403), AuthenticationError),
    (Fault.status(500), ProviderUnavailable),
    (Fault.drop(), ProviderUnavailable),
    (Fault.malformed(), MalformedResponse),
    (Fault.wrong_shape(), MalformedResponse),
]
STREAM_FAULTS = [
    (Fault.truncate(1), ProviderUnavailable),
    (Fault.stream_error(1, kind="overloaded_error"), ProviderUnavailable),
    (Fault.stream_error(1, kind="rate_limit_error"), RateLimitError),
    # one malformed event is skipped by default: tests/providers/test_stream_limits.py
    (Fault.wrong_shape(), MalformedResponse),
    (Fault.status(529, retry_after=1), ProviderUnavailable),
]


@pytest.mark.parametrize(("fault", "error"), FAULTS)
def test_each_fault_maps_to_its_error(claude: Anthropic, emulator: Any, fault: Fault,
                                      error: type[Exception]) -> None:
    emulator.script(fault, fault)
    with pytest.raises(error) as caught:
        claude(ChatRequest("hi"))
    with pytest.raises(error):
        asyncio.run(claude.acall(ChatRequest("hi")))
    if fault.retry_after is not None:
        assert getattr(caught.value, "retry_after", None) == fault.retry_after
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


@pytest.mark.parametrize(("fault", "error"), STREAM_FAULTS)
def test_each_stream_fault_maps_to_its_error(claude: Anthropic, emulator: Any, fault: Fault,
                                             error: type[Exception]) -> None:
    emulator.script(fault, fault)
    with pytest.raises(error) as caught:
        claude(ChatRequest("one two three", stream=True)).collect()

    async def run() -> None:
        stream = await claude.acall(ChatRequest("one two three", stream=True))
        await stream.collect()

    with pytest.raises(error):
        asyncio.run(run())
    if fault.code == 529:
        assert getattr(caught.value, "retry_after", None) == 1


def test_retry_after_ms_header(claude: Anthropic, emulator: Any) -> None:
    emulator.script(Fault.status(429, retry_after_ms=250))
    with pytest.raises(RateLimitError) as caught:
        claude(ChatRequest("hi"))
    assert caught.value.retry_after == 0.25


def test_stall_is_a_timeout(emulator: Any) -> None:
    emulator.script(Fault.stall())
    with Anthropic(base_url=emulator.anthropic_url, timeout=0.3, api_key=KEY) as provider, \
            pytest.raises(Timeout):
        provider(ChatRequest("hi"))


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    with pytest.raises(CredentialError, match="ANTHROPIC_API_KEY"):
        Anthropic()
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert KEY not in repr(Anthropic())


def test_key_is_sent_as_x_api_key_and_never_shown(claude: Anthropic, emulator: Any) -> None:
    claude.check()
    assert emulator.requests[-1].path == "/v1/models"
    assert emulator.requests[-1].headers["x-api-key"] == KEY
    assert KEY not in repr(claude) and KEY not in str(claude.routes())


def test_passes_the_conformance_kit(emulator: Any) -> None:
    def factory(emu: Any, **overrides: Any) -> Anthropic:
        options = {"base_url": emu.anthropic_url, "timeout": 10, "api_key": KEY}
        return Anthropic(**{**options, **overrides})

    spec = ProviderSpec(api="anthropic", embeddings=False, env_var="ANTHROPIC_API_KEY",
                        secret=KEY, examples=3)
    run_conformance(factory, spec, emulator=emulator)
