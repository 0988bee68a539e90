"""The OpenAI wire mapping, pure: requests to JSON bodies, JSON answers back, bad shapes."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, Message, Tool, ToolCall
from insightforge.errors import MalformedResponse
from providers import _openai_wire as wire

text = st.text(max_size=30)
ident = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
calls = st.lists(st.builds(ToolCall, ident, ident, st.just('{"a": 1}')), max_size=2)
messages = st.lists(
    st.one_of(
        st.builds(Message, st.sampled_from(["system", "user"]), text),
        st.builds(lambda c, t: Message("assistant", c, tool_calls=t), text, calls),
        st.builds(lambda c, i: Message("tool", c, tool_call_id=i), text, ident),
    ), min_size=1, max_size=5)
requests = st.builds(
    lambda m, temp, mt, stop, tools, fmt, seed, stream: ChatRequest(
        m, temperature=temp, max_tokens=mt, stop=stop, tools=tools, response_format=fmt,
        seed=seed, stream=stream),
    messages, st.none() | st.floats(0, 2), st.none() | st.integers(1, 4000),
    st.lists(ident, max_size=3), st.lists(st.builds(Tool, ident, text), max_size=2),
    st.none() | st.just("json") | st.just({"type": "object", "properties": {}}),
    st.none() | st.integers(0, 2**31), st.booleans())


def back(body: dict[str, Any]) -> tuple[Message, ...]:
    """What a server reading the body would reconstruct (the wire shape, read back)."""
    return ChatRequest(body["messages"]).messages


@given(requests, st.sampled_from(["gpt-4o-mini", "o3-mini", "gpt-5"]))
def test_request_maps_to_json_and_back(request: ChatRequest, model: str) -> None:
    body = wire.chat_body(request, model)
    body = json.loads(json.dumps(body))  # JSON-able, nothing read-only left inside
    assert back(body) == request.messages
    assert body["model"] == model
    new = model[0] == "o" or model.startswith("gpt-5")
    limit = "max_completion_tokens" if new else "max_tokens"
    assert body.get(limit) == request.max_tokens
    assert body.get("temperature") == request.temperature
    assert body.get("stop", []) == list(request.stop)
    assert [t["function"]["name"] for t in body.get("tools", [])] == [t.name for t in
                                                                       request.tools]
    assert ("stream_options" in body) == request.stream
    if request.response_format == "json":
        assert body["response_format"] == {"type": "json_object"}
    elif request.response_format is not None:
        assert body["response_format"]["type"] == "json_schema"


def test_options_pass_through_and_tags_never_sent() -> None:
    request = ChatRequest("hi", options={"logit_bias": {"1": 2}, "user": "u"},
                          tags={"tenant": "acme"}, tool_choice="lookup")
    body = wire.chat_body(request, "gpt-4o")
    assert body["logit_bias"] == {"1": 2} and body["user"] == "u"
    assert "acme" not in json.dumps(body)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert wire.chat_body(ChatRequest("x", tool_choice="auto"), "m")["tool_choice"] == "auto"
    embed = wire.embed_body(EmbedRequest(["a"], dimensions=8, tags={"t": "x"}), "e")
    assert embed == {"model": "e", "input": ["a"], "encoding_format": "float", "dimensions": 8}


GOOD: dict[str, Any] = {
    "id": "chatcmpl-1", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "hi",
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def test_parse_chat_reads_a_full_answer() -> None:
    r = wire.parse_chat(GOOD, provider="openai", model="x")
    assert (r.text, r.model, r.id, r.finish_reason) == ("hi", "gpt-4o-mini", "chatcmpl-1",
                                                         "tool_calls")
    assert r.tool_calls == (ToolCall("c1", "f", "{}"),)
    assert (r.usage.input_tokens, r.usage.output_tokens) == (3, 2)


# Every path to a required field, and values that are the wrong type there.
REQUIRED = [("choices",), ("choices", 0), ("choices", 0, "message"),
            ("usage", "prompt_tokens"), ("choices", 0, "message", "tool_calls", 0, "id"),
            ("choices", 0, "message", "tool_calls", 0, "function"),
            ("choices", 0, "message", "tool_calls", 0, "function", "name")]
WRONG = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.just(True), st.floats(allow_nan=False))


def _mutate(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@settings(max_examples=200)
@given(st.sampled_from(REQUIRED), WRONG, st.booleans())
def test_malformed_answers_always_raise_malformed_response(path: tuple[Any, ...], value: Any,
                                                           delete: bool) -> None:
    data = _mutate(GOOD, path, value, delete)
    try:
        wire.parse_chat(data, provider="openai", model="x")
    except MalformedResponse as exc:
        assert exc.provider == "openai" and exc.retryable
    else:  # only a value of the right kind where it belongs may still parse
        assert not delete and isinstance(value, (dict, str, int)) and not isinstance(value, bool)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12))
def test_arbitrary_json_never_leaks_a_python_error(data: Any) -> None:
    for parse in (lambda: wire.parse_chat(data, provider="p", model="m"),
                  lambda: wire.parse_chunk(data, provider="p"),
                  lambda: wire.parse_embeddings(data, provider="p", model="m", count=1)):
        with contextlib.suppress(MalformedResponse):
            parse()


@pytest.mark.parametrize("data", [
    {}, {"choices": []}, {"choices": [{}]}, {"choices": [{"message": None}]},
    {"choices": [{"message": {"content": 5}}]}, {"unexpected": True}, [], None, "x",
    {"choices": [{"message": {}}], "usage": {"prompt_tokens": "3"}},
])
def test_wrong_shapes_are_malformed(data: Any) -> None:
    with pytest.raises(MalformedResponse):
        wire.parse_chat(data, provider="openai", model="m")


def test_parse_chunk_text_tools_usage() -> None:
    chunk = wire.parse_chunk({"choices": [{"delta": {"content": "a", "tool_calls": [
        {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]},
        "finish_reason": None}]}, provider="p")
    assert chunk is not None and chunk.text == "a" and chunk.tool_calls[0].name == "f"
    usage = wire.parse_chunk({"choices": [], "usage": {"prompt_tokens": 1,
                                                       "completion_tokens": 2}}, provider="p")
    assert usage is not None and usage.usage is not None and usage.usage.output_tokens == 2
    assert wire.parse_chunk({"choices": [{"delta": {"role": "assistant"}}]}, provider="p") is None
    with pytest.raises(MalformedResponse):
        wire.parse_chunk({"unexpected": True}, provider="p")


def test_parse_embeddings_orders_by_index_and_checks_count() -> None:
    data = {"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}],
            "usage": {"prompt_tokens": 2}}
    r = wire.parse_embeddings(data, provider="p", model="m", count=2)
    assert r.vectors == ((1.0,), (2.0,)) and r.usage.input_tokens == 2
    with pytest.raises(MalformedResponse):
        wire.parse_embeddings(data, provider="p", model="m", count=3)


def test_model_families() -> None:
    assert wire.uses_completion_tokens("o1-mini") and wire.uses_completion_tokens("gpt-5-nano")
    assert not wire.uses_completion_tokens("gpt-4o") and not wire.uses_completion_tokens("omni")


@pytest.mark.parametrize(("reason", "expected"), [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
    ("content_filter", "content_filter"), ("eos_token", "stop"), ("stop_sequence", "stop"),
    ("function_call", "tool_calls"), (None, None), ("something_new", "something_new")])
def test_finish_reasons_are_normalised(reason: str | None, expected: str | None) -> None:
    """TGI before 2.2 says ``eos_token``/``stop_sequence``; legacy OpenAI ``function_call``."""
    answer = {"choices": [{"message": {"content": "x"}, "finish_reason": reason}]}
    assert wire.parse_chat(answer, provider="p", model="m").finish_reason == expected
    chunk = wire.parse_chunk({"choices": [{"delta": {"content": "x"}, "finish_reason": reason}]},
                             provider="p")
    assert chunk is not None and chunk.finish_reason == expected


def test_tool_call_arguments_sent_as_an_object_are_read_as_json_text() -> None:
    answer = {"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
        "finish_reason": "tool_calls"}]}
    call = wire.parse_chat(answer, provider="p", model="m").message.tool_calls[0]
    assert json.loads(call.arguments) == {"a": 1}
