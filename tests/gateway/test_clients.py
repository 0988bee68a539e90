"""Real clients against the gateway: the openai SDK (async, streaming), LangChain's
ChatOpenAI, the anthropic SDK (errors in Anthropic's shape), and the Anthropic wire mapping."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from insightforge import errors
from insightforge.gateway import anthropic_wire as aw
from insightforge.testing.emulator import Emulator
from tests.gateway.helpers import ask, make_key, serving, two_models


@pytest.fixture
def config(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return two_models(emulator, tmp_path, cache=False)


def test_openai_async_client_json_and_stream(config: dict[str, Any]) -> None:
    key, _ = make_key(config, "acme")
    with serving(config) as (server, _):
        async def main() -> tuple[list[str], list[str]]:
            client = openai.AsyncOpenAI(base_url=server.url, api_key=key, max_retries=0)
            replies = await asyncio.gather(*(client.chat.completions.create(
                **ask(f"question {i}", model="mini")) for i in range(8)))
            stream = await client.chat.completions.create(**ask("stream me", stream=True))
            texts = [chunk.choices[0].delta.content or "" async for chunk in stream
                     if chunk.choices]
            await client.close()
            return [r.choices[0].message.content or "" for r in replies], texts

        answers, pieces = asyncio.run(main())
    assert answers == [f"Echo: question {i}" for i in range(8)]
    assert "".join(pieces) == "Echo: stream me"


def test_langchain_chat_openai(config: dict[str, Any]) -> None:
    import langchain_openai  # the dev extras install it
    key, _ = make_key(config, "acme")
    with serving(config) as (server, _):
        llm = langchain_openai.ChatOpenAI(model="gpt-4o-mini", base_url=server.url,
                                          api_key=key, max_retries=0, timeout=10)
        assert llm.invoke("hello from langchain").content == "Echo: hello from langchain"
        pieces = [chunk.content for chunk in llm.stream("streamed from langchain")]
        assert "".join(str(p) for p in pieces) == "Echo: streamed from langchain"
        claude = langchain_openai.ChatOpenAI(model="claude", base_url=server.url,
                                             api_key=key, max_retries=0, timeout=10)
        assert claude.invoke("hi").response_metadata["model_name"] == "claude-sonnet-4-5"


def test_anthropic_errors_have_anthropics_shape(config: dict[str, Any]) -> None:
    key, _ = make_key(config, "acme", budget="0.000001/day")
    with serving(config) as (server, _):
        wrong = anthropic.Anthropic(base_url=server.base_url, api_key="ifk_wrong",
                                    max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as info:
            wrong.messages.create(model="claude", max_tokens=8,
                                  messages=[{"role": "user", "content": "x"}])
        assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        client = anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=2)
        with pytest.raises(anthropic.NotFoundError) as missing:
            client.messages.create(model="claude-9", max_tokens=8,
                                   messages=[{"role": "user", "content": "x"}])
        assert missing.value.body["type"] == "error"  # type: ignore[index]
        with pytest.raises(anthropic.BadRequestError, match="mcp_servers"):
            client.messages.create(model="claude", max_tokens=8,
                                   messages=[{"role": "user", "content": "x"}],
                                   extra_body={"mcp_servers": []})
        with pytest.raises(anthropic.RateLimitError) as refused:  # the budget, not retried
            client.messages.create(model="claude", max_tokens=512,
                                   messages=[{"role": "user", "content": "x " * 200}])
        assert refused.value.response.headers["x-should-retry"] == "false"
        models = client.models.list()
        assert [m.id for m in models.data] == ["gpt-4o-mini", "claude-sonnet", "mini",
                                               "claude"]


def test_messages_parse_system_tools_and_results() -> None:
    body = {"model": "claude", "max_tokens": 100, "system": [{"type": "text", "text": "be"},
                                                             {"type": "text", "text": " brief"}],
            "metadata": {"user_id": "u-1"}, "stop_sequences": ["END"], "top_k": 5,
            "tools": [{"name": "get", "description": "d",
                       "input_schema": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "any"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "tool_use", "id": "t1", "name": "get", "input": {"q": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                    {"type": "text", "text": "thanks"}]}]}
    request = aw.parse_messages(body)
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "be brief"), ("user", "weather?"), ("assistant", "checking"),
        ("tool", "sunny"), ("user", "thanks")]
    assert request.messages[2].tool_calls[0].arguments == '{"q": 1}'
    assert request.messages[3].tool_call_id == "t1"
    assert request.tool_choice == "required" and request.tags == {"user": "u-1"}
    assert request.max_tokens == 100 and request.stop == ("END",)
    assert dict(request.options) == {"top_k": 5}


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"max_tokens": 5, "messages": []}, "messages"),
    ({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]},
     "messages[0].content[0]"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
     "messages[0].content[0].type"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
      "service_tier": "priority"}, "service_tier"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "thinking": {}},
     "thinking.type"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
      "thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking.budget_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
      "metadata": {"tenant": "other"}}, "metadata.tenant"),
])
def test_bad_messages_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidRequest, match="^" + field.replace("[", r"\[")
                       .replace("]", r"\]") + ":"):
        aw.parse_messages(body)


def test_anthropic_tool_use_and_usage_json_and_streamed(config: dict[str, Any]) -> None:
    key, _ = make_key(config, "acme")
    tools: Any = [{"name": "get_weather", "description": "the weather",
                   "input_schema": {"type": "object",
                                    "properties": {"city": {"type": "string"}}}}]
    ask_tool: Any = {"model": "claude", "max_tokens": 50, "tools": tools,
                     "tool_choice": {"type": "tool", "name": "get_weather"},
                     "messages": [{"role": "user", "content": "weather in Paris"}]}
    with serving(config) as (server, _):
        client = anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=0)
        plain = client.messages.create(**ask_tool)
        with client.messages.stream(**ask_tool) as stream:
            streamed = stream.get_final_message()
        text = client.messages.create(model="claude", max_tokens=50,
                                      messages=[{"role": "user", "content": "hi there"}])
        with client.messages.stream(model="claude", max_tokens=50, messages=[
                {"role": "user", "content": "hi there"}]) as stream:
            text_streamed = stream.get_final_message()
    for message in (plain, streamed):
        assert message.stop_reason == "tool_use"
        block = message.content[0]
        assert block.type == "tool_use" and block.name == "get_weather"
        assert block.input == {"city": "weather in Paris"}  # the emulator fills the schema
    for message in (text, text_streamed):
        assert message.stop_reason == "end_turn"
        assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 3)


PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
           "awAAAABJRU5ErkJggg==")


def test_images_thinking_and_cache_marks_through_both_wires(config: dict[str, Any]) -> None:
    """An image, a cache mark and reasoning reach the provider through the OpenAI and the
    Anthropic wire (the emulator describes the image it was sent), and thinking and the
    cached/reasoning usage parts come back in each wire's own shape."""
    key, _ = make_key(config, "acme")
    image_url = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}
    with serving(config) as (server, _):
        oa = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
        reply = oa.chat.completions.create(
            model="claude", reasoning_effort="low",
            messages=[{"role": "user", "content": [
                {"type": "text", "text": "what is this?"}, image_url]}])
        client = anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=0)
        message = client.messages.create(
            model="claude", max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            system=[{"type": "text", "text": "be brief",
                     "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": PNG_B64}},
                {"type": "text", "text": "what is this?"}]}])
        with client.messages.stream(
                model="claude", max_tokens=2048,
                thinking={"type": "enabled", "budget_tokens": 1024},
                messages=[{"role": "user", "content": "think, then say hi"}]) as stream:
            streamed = stream.get_final_message()
    assert "image/png" in (reply.choices[0].message.content or "")
    assert (reply.choices[0].message.model_extra or {}).get("reasoning_content")
    assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
    assert reply.usage.completion_tokens_details is not None
    kinds = [b.type for b in message.content]
    assert "image/png" in "".join(b.text for b in message.content if b.type == "text")
    assert kinds[0] == "thinking" and "text" in kinds, kinds
    thought = streamed.content[0]
    assert thought.type == "thinking" and thought.thinking and thought.signature
    usage = message.usage
    assert usage.input_tokens >= 0 and usage.cache_creation_input_tokens is not None


def test_anthropic_usage_counts_input_tokens_as_anthropic_does() -> None:
    """Anthropic's input_tokens is the uncached part; ours counts every prompt token."""
    from insightforge.types import ChatResponse, Message, Usage

    usage = Usage(100, 5, cache_read_tokens=60, cache_write_tokens=30,
                  cache_write_1h_tokens=10)
    body = aw.message_json(ChatResponse(Message("assistant", "x"), "claude-sonnet-4-5",
                                        "anthropic", usage, "stop"), id="msg_1")
    assert body["usage"] == {"input_tokens": 10, "output_tokens": 5,
                             "cache_read_input_tokens": 60, "cache_creation_input_tokens": 30,
                             "cache_creation": {"ephemeral_5m_input_tokens": 20,
                                                "ephemeral_1h_input_tokens": 10}}
