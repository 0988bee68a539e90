"""Structured output, reasoning, prompt-cache marks and the parallel-tools switch on each
vendor's wire, pure: the exact fields sent, and the errors that name the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import ChatRequest, Message, Reasoning, Tool
from insightforge.errors import InvalidRequest, MalformedResponse, Unsupported
from insightforge.types import ChatResponse
from providers import _anthropic_wire as anthropic_wire
from providers import _ollama_wire as ollama_wire
from providers import _openai_wire as openai_wire
from providers._wire import output_format, with_parsed

SCHEMA = {"title": "city weather!", "type": "object",
          "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}
TOOL = Tool("lookup", "find", {"type": "object", "properties": {"q": {"type": "string"}}})


def anthropic(request: ChatRequest, model: str = "claude-sonnet-4-5", **kw: Any) -> Any:
    return anthropic_wire.chat_body(request, model=model, max_tokens=1000, stream=False, **kw)


def test_output_format_names_and_strictness() -> None:
    assert output_format(None) is None and output_format("text") is None
    assert output_format("json") == output_format({"type": "json_object"})
    fmt = output_format(SCHEMA)
    assert fmt is not None and fmt.name == "city_weather" and fmt.strict and fmt.schema == SCHEMA
    given_name = output_format({"type": "json_schema", "json_schema": {
        "name": "w", "schema": SCHEMA, "strict": False}})
    assert given_name is not None and (given_name.name, given_name.strict) == ("w", False)


def test_openai_structured_output_is_strict_json_schema() -> None:
    body = openai_wire.chat_body(ChatRequest("x", response_format=SCHEMA), "gpt-4o")
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "city_weather", "schema": SCHEMA, "strict": True}}
    raw = {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}
    assert openai_wire.chat_body(ChatRequest("x", response_format=raw), "m")[
        "response_format"] == raw  # OpenAI's own shape passes as given


def test_anthropic_structured_output_native_or_by_answer_tool() -> None:
    request = ChatRequest("x", response_format=SCHEMA)
    native = anthropic(request)
    assert native["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in native
    old = anthropic(request, model="claude-3-5-haiku-latest")
    assert old["tools"][-1]["name"] == "city_weather"
    assert old["tool_choice"] == {"type": "tool", "name": "city_weather"}
    assert anthropic(request, structured_output="tool")["tool_choice"]["type"] == "tool"
    with_tools = anthropic(ChatRequest("x", response_format=SCHEMA, tools=[TOOL]),
                           structured_output="tool")
    assert with_tools["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in with_tools["tools"]] == ["lookup", "city_weather"]
    with pytest.raises(Unsupported, match="forced tool use excludes thinking"):
        anthropic(ChatRequest("x", response_format=SCHEMA, reasoning="low"),
                  model="claude-3-5-haiku-latest")


def test_anthropic_answer_tool_comes_back_as_the_answer() -> None:
    data = {"id": "m1", "model": "c", "stop_reason": "tool_use", "usage": {},
            "content": [{"type": "tool_use", "id": "t", "name": "city_weather",
                         "input": {"city": "Paris"}}]}
    message, finish, *_ = anthropic_wire.parse_message(data, "city_weather")
    assert (message.text, message.tool_calls, finish) == ('{"city": "Paris"}', (), "stop")
    decoder = anthropic_wire.AnthropicStreamDecoder("city_weather")
    events = [("content_block_start", {"index": 0, "content_block": {
                  "type": "tool_use", "id": "t", "name": "city_weather", "input": {}}}),
              ("content_block_delta", {"index": 0, "delta": {
                  "type": "input_json_delta", "partial_json": '{"city": "Paris"}'}}),
              ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {}})]
    chunks = [c for name, data in events for c in _feed(decoder, name, data)]
    assert "".join(c.text for c in chunks) == '{"city": "Paris"}'
    assert chunks[-1].finish_reason == "stop" and not any(c.tool_calls for c in chunks)


def _feed(decoder: Any, name: str, data: dict[str, Any]) -> list[Any]:
    out = []
    for line in (f"event: {name}", f"data: {json.dumps({'type': name, **data})}", ""):
        out += decoder.feed(line)
    return out


def test_ollama_schema_and_think() -> None:
    body = ollama_wire.chat_body(ChatRequest("x", response_format=SCHEMA, reasoning="high"),
                                 model="qwen3", stream=False)
    assert body["format"] == SCHEMA and body["think"] is True
    oss = ollama_wire.chat_body(ChatRequest("x", reasoning="minimal"), model="gpt-oss:20b",
                                stream=False)
    assert oss["think"] == "low"
    with pytest.raises(Unsupported, match="parallel_tool_calls=False"):
        ollama_wire.chat_body(ChatRequest("x", tools=[TOOL], parallel_tool_calls=False),
                              model="m", stream=False)


def test_openai_reasoning() -> None:
    body = openai_wire.chat_body(ChatRequest("x", reasoning="high", max_tokens=50), "gpt-4o")
    assert body["reasoning_effort"] == "high" and body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    budget_only = openai_wire.chat_body(ChatRequest("x", reasoning=Reasoning(
        None, budget_tokens=2000)), "o4-mini")
    assert "reasoning_effort" not in budget_only  # OpenAI takes no budget


@pytest.mark.parametrize(("model", "setting", "max_tokens", "want_thinking", "want_max"), [
    ("claude-sonnet-4-5", Reasoning("low"), None, {"type": "enabled", "budget_tokens": 2048},
     2048 + 1000),
    ("claude-sonnet-4-5", Reasoning(budget_tokens=5000), 3000,
     {"type": "enabled", "budget_tokens": 2999}, 3000),
    ("claude-opus-4-6", Reasoning("high"), None, {"type": "adaptive"}, 24576 + 1000),
    ("claude-opus-4-7", Reasoning("minimal"), 4000, {"type": "adaptive"}, 4000),
])
def test_anthropic_thinking(model: str, setting: Reasoning, max_tokens: int | None,
                            want_thinking: dict[str, Any], want_max: int) -> None:
    body = anthropic(ChatRequest("x", reasoning=setting, max_tokens=max_tokens), model=model)
    assert body["thinking"] == want_thinking and body["max_tokens"] == want_max
    if want_thinking["type"] == "adaptive":
        assert body["output_config"]["effort"] in ("low", "medium", "high")


def test_anthropic_thinking_needs_room() -> None:
    with pytest.raises(InvalidRequest, match="at least 1024 tokens below max_tokens"):
        anthropic(ChatRequest("x", reasoning="low", max_tokens=500))
    forced = anthropic(ChatRequest("x", reasoning="low"), model="claude-opus-4-6",
                       thinking="enabled")
    assert forced["thinking"]["type"] == "enabled"


def test_anthropic_cache_marks() -> None:
    request = ChatRequest([Message("system", "rules", cache="1h"),
                           Message("user", "doc", cache=True), Message("user", "q")],
                          tools=[Tool("a", cache="1h")])
    body = anthropic(request)
    assert body["system"] == [{"type": "text", "text": "rules",
                               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "doc", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
        {"type": "text", "text": "q"}]
    unmarked = anthropic(ChatRequest([Message("system", "rules"), Message("user", "q")]))
    assert unmarked["system"] == "rules" and unmarked["messages"][0]["content"] == "q"
    five = ChatRequest([Message("user", str(i), cache=True) for i in range(5)])
    with pytest.raises(InvalidRequest, match="at most 4 cache breakpoints"):
        anthropic(five)


def test_openai_cache_marks_name_the_prefix() -> None:
    def body(request: ChatRequest, model: str = "gpt-4.1") -> dict[str, Any]:
        return openai_wire.chat_body(request, model, prompt_caching=True)

    a = body(ChatRequest([Message("system", "rules", cache="1h"), Message("user", "q1")]))
    b = body(ChatRequest([Message("system", "rules", cache="1h"), Message("user", "q2")]))
    c = body(ChatRequest([Message("system", "other", cache="1h"), Message("user", "q1")]))
    assert a["prompt_cache_key"] == b["prompt_cache_key"] != c["prompt_cache_key"]
    assert a["prompt_cache_retention"] == "24h"
    short = body(ChatRequest([Message("system", "rules", cache="1h"), Message("user", "q")]),
                 "gpt-4o")
    assert "prompt_cache_retention" not in short  # not offered there
    assert "prompt_cache_key" not in body(ChatRequest("q"))
    assert "prompt_cache_key" not in openai_wire.chat_body(
        ChatRequest([Message("user", "q", cache=True)]), "m")  # a server without caching


def test_parallel_tool_switch() -> None:
    off = ChatRequest("x", tools=[TOOL], parallel_tool_calls=False)
    assert openai_wire.chat_body(off, "m")["parallel_tool_calls"] is False
    assert "parallel_tool_calls" not in openai_wire.chat_body(
        ChatRequest("x", parallel_tool_calls=False), "m")  # only with tools
    assert anthropic(off)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    forced = ChatRequest("x", tools=[TOOL], tool_choice="lookup", parallel_tool_calls=False)
    assert anthropic(forced)["tool_choice"] == {"type": "tool", "name": "lookup",
                                                "disable_parallel_tool_use": True}


def _answer(text: str, finish: str = "stop") -> ChatResponse:
    return ChatResponse(Message("assistant", text), "m", "p", finish_reason=finish)


@given(st.text(max_size=40))
def test_invalid_json_from_the_model_is_a_typed_error(text: str) -> None:
    request = ChatRequest("x", response_format=SCHEMA)
    try:
        value = json.loads(text)
    except ValueError:
        for finish, retryable in (("stop", True), ("length", False)):
            with pytest.raises(MalformedResponse, match="not valid JSON") as caught:
                with_parsed("p", request, _answer(text, finish))
            assert caught.value.retryable is retryable
        return
    assert with_parsed("p", request, _answer(text)).parsed == value


def test_nothing_to_parse_when_the_model_calls_a_tool_or_was_filtered() -> None:
    request = ChatRequest("x", response_format="json")
    assert with_parsed("p", request, _answer("", "content_filter")).parsed is None
    assert with_parsed("p", ChatRequest("x"), _answer("{}")).parsed is None


# -- end to end: a broken JSON answer fails the stream itself --------------------------------

def test_broken_json_fails_the_stream_sync_and_async(emulator: Any) -> None:
    import asyncio

    from insightforge import ChatStream
    from providers import Anthropic, Ollama, OpenAI
    from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY

    cut = ChatRequest("one two three four", response_format=SCHEMA, max_tokens=2, stream=True)
    providers = [OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY),
                 Anthropic(base_url=emulator.anthropic_url, api_key=TEST_ANTHROPIC_KEY),
                 Ollama(base_url=emulator.ollama_url)]
    for provider in providers:
        with provider:
            stream = provider(cut)
            assert isinstance(stream, ChatStream)
            with pytest.raises(MalformedResponse, match="raise max_tokens"), stream:
                for _ in stream:
                    pass
            with pytest.raises(MalformedResponse):
                _ = stream.response  # ended failed, never done without a response

            async def run(p: Any = provider) -> None:
                astream = await p.acall(cut)
                with pytest.raises(MalformedResponse):
                    async for _ in astream:
                        pass
                good = await p.acall(ChatRequest("Paris", response_format=SCHEMA, stream=True))
                async with good:
                    async for _ in good:
                        pass
                assert good.response.parsed == {"city": "Paris"}
                early = await p.acall(ChatRequest("a b c", response_format=SCHEMA,
                                                  stream=True))
                await early.__anext__()
                await early.aclose()  # abandoning half way closes the connection
                await p.aclose()

            asyncio.run(run())
