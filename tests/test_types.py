"""The value types: validation, conversions, immutability, derived properties."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given

from insightforge import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    Message,
    Price,
    Route,
    Tool,
    ToolCall,
    TraceEvent,
    Usage,
)
from insightforge.testing.strategies import chat_requests, usages


def test_a_string_is_one_user_message_and_dicts_become_messages() -> None:
    assert ChatRequest("hi").messages == (Message("user", "hi"),)
    request = ChatRequest([{"role": "system", "content": "be brief"},
                           {"role": "assistant", "content": None,
                            "tool_calls": [{"id": "c1", "function": {"name": "f",
                                                                     "arguments": "{}"}}]},
                           {"role": "tool", "content": "42", "tool_call_id": "c1"}])
    assert request.messages == (Message("system", "be brief"),
                                Message("assistant", "", tool_calls=[ToolCall("c1", "f")]),
                                Message("tool", "42", tool_call_id="c1"))


def test_bad_messages_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        Message("robot", "x")
    with pytest.raises(ValueError, match="messages must not be empty"):
        ChatRequest([])
    with pytest.raises(TypeError, match="Message objects or dicts"):
        ChatRequest([42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_tokens must be a positive integer"):
        ChatRequest("x", max_tokens=0)
    with pytest.raises(ValueError, match="max_tokens must be a positive integer"):
        ChatRequest("x", max_tokens=True)  # a bool is not a token count
    with pytest.raises(TypeError, match="expected a mapping"):
        ChatRequest("x", tags=[("a", "b")])  # type: ignore[arg-type]


def test_requests_are_frozen_and_their_mappings_read_only() -> None:
    request = ChatRequest("x", options={"a": 1}, tags={"tenant": "acme"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.model = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.tags["tenant"] = "evil"  # type: ignore[index]
    with pytest.raises(TypeError):
        request.options["a"] = 2  # type: ignore[index]
    changed = attrs.evolve(request, model="y")
    assert changed.model == "y" and request.model is None and changed.tags == request.tags


def test_caller_mutation_after_construction_does_not_leak_in() -> None:
    tags = {"tenant": "acme"}
    request = ChatRequest("x", tags=tags)
    tags["tenant"] = "evil"
    assert request.tags["tenant"] == "acme"


def test_conversions_of_sampling_fields_tools_and_stop() -> None:
    request = ChatRequest("x", temperature=1, top_p=0, stop="END",
                          tools=[{"type": "function", "function": {"name": "f"}}])
    assert request.temperature == 1.0 and isinstance(request.temperature, float)
    assert request.stop == ("END",)
    assert request.tools == (Tool("f"),)
    assert request.tools[0].parameters == {"type": "object", "properties": {}}


def test_embed_request_accepts_one_string_and_never_streams() -> None:
    request = EmbedRequest("one text")
    assert request.inputs == ("one text",) and request.stream is False
    assert EmbedRequest(["a", "b"]).inputs == ("a", "b")


def test_response_properties_and_defaults() -> None:
    call = ToolCall("c1", "f", '{"x": 1}')
    response = ChatResponse(Message("assistant", "hello", tool_calls=[call]), "m", "p")
    assert response.text == "hello" and response.tool_calls == (call,)
    assert (response.usage, response.cost_usd, response.cached, response.trace) == (
        Usage(), None, False, ())


@given(usages, usages)
def test_usage_adds_up(a: Usage, b: Usage) -> None:
    total = a + b
    assert total.input_tokens == a.input_tokens + b.input_tokens
    assert total.total_tokens == a.total_tokens + b.total_tokens


def test_trace_event_reads_as_a_sentence() -> None:
    event = TraceEvent("retry", "attempt", "attempt 2 after 1.2 s: RateLimitError",
                       {"attempt": 2}, at=1.0)
    assert str(event) == "retry.attempt: attempt 2 after 1.2 s: RateLimitError"
    assert str(TraceEvent("cache", "hit")) == "cache.hit"
    assert event.data["attempt"] == 2


def test_route_key_includes_provider_model_and_endpoint() -> None:
    route = Route("openai", "gpt-4o", Price("2.5", "10"), "http://a/v1")
    assert route.key == "openai:gpt-4o@http://a/v1"
    assert route.key != Route("openai", "gpt-4o", None, "http://b/v1").key
    assert route.price is not None and route.price.cost(1_000_000, 0) == Decimal("2.5")


@given(chat_requests())
def test_generated_requests_rebuild_equal_through_evolve(request: ChatRequest) -> None:
    assert attrs.evolve(request) == request
    assert all(m.role in {"system", "user", "assistant", "tool"} for m in request.messages)
