"""Issue 16's must-show: one stack definition sends the same image question, the same
JSON-schema request and the same reasoning request through OpenAI, Azure, Anthropic and
Ollama (emulated wires, real SDK and httpx), sync, async and streamed, and gets equivalent
answers.

"Equivalent": the same answer text (the image question's answer describes the very bytes
sent), the same parsed object, reasoning that happened (reasoning text where the vendor
returns it, reasoning tokens where it counts them) and survives a tool round trip; a
stream's answer equals the plain one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from insightforge import (
    ChatRequest,
    ChatResponse,
    ChatStream,
    ImagePart,
    Message,
    Reasoning,
    Tool,
    stack,
)
from insightforge.testing.emulator import Emulator
from insightforge.testing.strategies import PNG
from middleware import Retry
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_OPENAI_KEY

NAMES = ("openai", "azure", "anthropic", "ollama")
MODES = ("sync", "async", "stream")

IMAGE = ChatRequest([Message("user", ["What is in this picture?", ImagePart(data=PNG)])])
SCHEMA = {"title": "forecast", "type": "object",
          "properties": {"city": {"type": "string"}, "words": {"type": "integer"},
                         "sunny": {"type": "boolean"},
                         "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["city", "words", "sunny", "tags"], "additionalProperties": False}
STRUCTURED = ChatRequest("forecast for Paris", response_format=SCHEMA)
REASONING = ChatRequest("Is 17 a prime?", reasoning=Reasoning("low"))
WEATHER = Tool("get_weather", "The weather in a city.",
               {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]})


def providers(emulator: Emulator) -> dict[str, Any]:
    """Each vendor, pointed at the emulator; every default model reads images, follows
    schemas and reasons."""
    from providers import Anthropic, AzureOpenAI, Ollama, OpenAI

    return {
        "openai": OpenAI("gpt-5-mini", base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY),
        "azure": AzureOpenAI("gpt-5-mini", endpoint=emulator.azure_url, api_version="2024-10-21",
                             api_key=TEST_AZURE_KEY),
        "anthropic": Anthropic("claude-sonnet-4-5", base_url=emulator.anthropic_url,
                               api_key=TEST_ANTHROPIC_KEY),
        "ollama": Ollama("qwen3", base_url=emulator.ollama_url),
    }


def llm(provider: Any) -> Any:
    """The one stack definition."""
    return stack(Retry(attempts=2), provider=provider)


def ask(handler: Any, request: ChatRequest, mode: str) -> ChatResponse:
    if mode == "sync":
        result = handler(request)
    elif mode == "async":
        result = asyncio.run(handler.acall(request))
    else:
        stream = handler(attrs.evolve(request, stream=True))
        assert isinstance(stream, ChatStream)
        with stream:
            texts = [chunk.text for chunk in stream]
        assert "".join(texts) == stream.response.text
        result = stream.response
    assert isinstance(result, ChatResponse)
    return result


@pytest.fixture(scope="module")
def answers() -> Iterator[Callable[[str, ChatRequest, str], ChatResponse]]:
    """``answers(name, request, mode)``: one emulator and one stack per vendor, closed after."""
    with Emulator() as emulator:
        built = providers(emulator)
        stacks = {name: llm(provider) for name, provider in built.items()}
        yield lambda name, request, mode: ask(stacks[name], request, mode)
        for provider in built.values():
            provider.close()


@pytest.mark.parametrize("mode", MODES)
def test_the_same_image_question_gets_the_same_answer_everywhere(answers: Any,
                                                                 mode: str) -> None:
    digest = hashlib.sha256(PNG).hexdigest()[:12]
    want = f"Echo: What is in this picture?\n<image/png {len(PNG)} bytes sha256:{digest}>"
    for name in NAMES:
        reply = answers(name, IMAGE, mode)
        assert reply.text == want, name
        assert reply.finish_reason == "stop" and reply.usage.input_tokens == 12, name


@pytest.mark.parametrize("mode", MODES)
def test_the_same_json_schema_request_parses_to_the_same_object(answers: Any,
                                                                mode: str) -> None:
    want = {"city": "forecast for Paris", "words": 3, "sunny": True,
            "tags": ["forecast for Paris"]}
    for name in NAMES:
        reply = answers(name, STRUCTURED, mode)
        assert reply.parsed == want, name
        assert reply.finish_reason == "stop" and not reply.tool_calls, name


@pytest.mark.parametrize("mode", MODES)
def test_the_same_reasoning_request_reasons_and_answers_alike(answers: Any, mode: str) -> None:
    replies = {name: answers(name, REASONING, mode) for name in NAMES}
    for name, reply in replies.items():
        assert reply.text == "Echo: Is 17 a prime?", name
        # Reasoning is billed as output everywhere: 5 answer words + 6 thinking words.
        assert reply.usage.output_tokens == 11, (name, reply.usage)
    assert replies["openai"].usage.reasoning_tokens == 6  # OpenAI counts, shows no text
    assert replies["azure"].usage.reasoning_tokens == 6
    for name in ("anthropic", "ollama"):  # these return the reasoning itself
        assert replies[name].reasoning == "Thinking about: Is 17 a prime?", name
    signed = replies["anthropic"].thinking[0].signature
    assert signed and signed.startswith("sig_")


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_survives_a_tool_round_trip(answers: Any, mode: str) -> None:
    ask_tool = attrs.evolve(REASONING, messages=(Message("user", "weather in Paris"),),
                            tools=(WEATHER,))
    for name in NAMES:
        first = answers(name, ask_tool, mode)
        assert [c.name for c in first.tool_calls] == ["get_weather"], name
        result = Message("tool", "sunny, 21 C", tool_call_id=first.tool_calls[0].id,
                         name="get_weather")
        follow = attrs.evolve(ask_tool, messages=(*ask_tool.messages, first.message, result))
        final = answers(name, follow, mode)  # Anthropic checks the signed thinking came back
        assert final.text == "Echo: sunny, 21 C", name


def test_stream_and_plain_answers_are_equal_field_by_field(answers: Any) -> None:
    for request in (IMAGE, STRUCTURED, REASONING):
        for name in NAMES:
            plain, streamed = answers(name, request, "sync"), answers(name, request, "stream")
            for field in ("text", "parsed", "reasoning", "thinking", "usage", "finish_reason",
                          "tool_calls", "model"):
                assert getattr(plain, field) == getattr(streamed, field), (name, field)
