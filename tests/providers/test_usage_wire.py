"""Usage that says what was billed (issue 11, part 1), from each vendor's real fields, in
plain and streamed answers — pure parsing first, then end to end through the emulator
(a cache-marked request writes the first time and reads the next; a server that reports
nothing gets an estimate marked ``estimated``); and reasoning text from the streams."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from insightforge import ChatRequest, ChatStream, Message, ThinkingPart, Usage
from insightforge.errors import MalformedResponse
from insightforge.testing.emulator import Emulator
from providers import Anthropic, AzureOpenAI, Ollama, OpenAI, OpenAICompatible
from providers import _anthropic_wire as anthropic_wire
from providers import _ollama_wire as ollama_wire
from providers import _openai_wire as openai_wire
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_OPENAI_KEY

OPENAI_USAGE = {"prompt_tokens": 10_000, "completion_tokens": 300, "total_tokens": 10_300,
                "prompt_tokens_details": {"cached_tokens": 9_000, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 200}}
ANTHROPIC_USAGE = {"input_tokens": 50, "cache_creation_input_tokens": 1_000,
                   "cache_read_input_tokens": 4_000, "output_tokens": 70,
                   "cache_creation": {"ephemeral_5m_input_tokens": 400,
                                      "ephemeral_1h_input_tokens": 600}}


def test_openai_usage_details() -> None:
    data = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
            "usage": OPENAI_USAGE}
    assert openai_wire.parse_chat(data, provider="openai", model="m").usage == Usage(
        10_000, 300, cache_read_tokens=9_000, reasoning_tokens=200)
    chunk = openai_wire.parse_chunk({"choices": [], "usage": OPENAI_USAGE}, provider="openai")
    assert chunk is not None and chunk.usage == Usage(10_000, 300, cache_read_tokens=9_000,
                                                      reasoning_tokens=200)
    null_details = {**OPENAI_USAGE, "prompt_tokens_details": None,
                    "completion_tokens_details": None}
    assert openai_wire.parse_chat({**data, "usage": null_details}, provider="p",
                                  model="m").usage == Usage(10_000, 300)


@pytest.mark.parametrize("bad", [
    {**OPENAI_USAGE, "prompt_tokens_details": {"cached_tokens": 20_000}},  # parts > whole
    {**OPENAI_USAGE, "completion_tokens_details": {"reasoning_tokens": -1}},
    {**OPENAI_USAGE, "prompt_tokens_details": ["x"]},
])
def test_openai_usage_that_does_not_add_up_is_malformed(bad: dict[str, Any]) -> None:
    data = {"choices": [{"message": {"content": "x"}}], "usage": bad}
    with pytest.raises(MalformedResponse):
        openai_wire.parse_chat(data, provider="openai", model="m")


def test_anthropic_usage_counts_every_prompt_token() -> None:
    assert anthropic_wire.usage(ANTHROPIC_USAGE) == Usage(
        5_050, 70, cache_read_tokens=4_000, cache_write_tokens=1_000,
        cache_write_1h_tokens=600)
    with pytest.raises(MalformedResponse, match="do not add up"):
        anthropic_wire.usage({**ANTHROPIC_USAGE, "cache_creation": {
            "ephemeral_1h_input_tokens": 5_000}})


def _sse(decoder: Any, name: str, data: dict[str, Any]) -> list[Any]:
    out = []
    for line in (f"event: {name}", f"data: {json.dumps({'type': name, **data})}", ""):
        out += decoder.feed(line)
    return out


def test_anthropic_stream_usage_start_then_delta_and_thinking() -> None:
    decoder = anthropic_wire.AnthropicStreamDecoder()
    start_usage = {k: v for k, v in ANTHROPIC_USAGE.items() if k != "output_tokens"}
    events = [
        ("message_start", {"message": {"id": "m", "model": "c", "usage": {
            **start_usage, "output_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "thinking",
                                                               "thinking": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta",
                                                       "thinking": "hm"}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta",
                                                       "signature": "s1"}}),
        ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "ok"}}),
        ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {
            "output_tokens": 70}}),
        ("message_stop", {}),
    ]
    chunks = [c for name, data in events for c in _sse(decoder, name, data)]
    from insightforge.streams import assemble

    response = assemble(chunks, model="c", provider="anthropic")
    assert response.usage == anthropic_wire.usage(ANTHROPIC_USAGE)
    assert response.thinking == (ThinkingPart("hm", signature="s1"),)
    assert response.text == "ok" and response.reasoning == "hm"
    cumulative = anthropic_wire.AnthropicStreamDecoder()  # newer API: counts in message_delta
    _sse(cumulative, "message_start", {"message": {"usage": {"input_tokens": 5}}})
    last = _sse(cumulative, "message_delta", {"delta": {}, "usage": ANTHROPIC_USAGE})
    assert last[-1].usage == anthropic_wire.usage(ANTHROPIC_USAGE)


def test_reasoning_text_from_compatible_servers_and_ollama() -> None:
    data = {"choices": [{"message": {"content": "4", "reasoning_content": "2+2"},
                         "finish_reason": "stop"}]}
    assert openai_wire.parse_chat(data, provider="p", model="m").reasoning == "2+2"
    chunk = openai_wire.parse_chunk({"choices": [{"delta": {"reasoning": "hm"}}]},
                                    provider="p")
    assert chunk is not None and chunk.reasoning == "hm"
    decoder = ollama_wire.OllamaStreamDecoder()
    lines = [{"model": "q", "message": {"role": "assistant", "content": "", "thinking": "a"},
              "done": False},
             {"model": "q", "message": {"role": "assistant", "content": "b"}, "done": False},
             {"model": "q", "message": {"role": "assistant", "content": ""}, "done": True,
              "prompt_eval_count": 3, "eval_count": 2}]
    chunks = [c for line in lines for c in decoder.feed(json.dumps(line))]
    assert [c.reasoning for c in chunks] == ["a", "", ""]
    assert chunks[-1].usage == Usage(3, 2)
    silent = ollama_wire.parse_chat({"message": {"content": "x"}, "done": True})
    assert silent[2] is None  # no counts at all: the provider estimates


# -- end to end ---------------------------------------------------------------------------

def _read(result: Any) -> Any:
    if isinstance(result, ChatStream):
        with result:
            for _ in result:
                pass
        return result.response
    return result


def _providers(emulator: Emulator) -> dict[str, Any]:
    return {"openai": OpenAI("gpt-4o-mini", base_url=emulator.openai_url,
                             api_key=TEST_OPENAI_KEY),
            "azure": AzureOpenAI("gpt-4o-mini", endpoint=emulator.azure_url,
                                 api_version="2024-10-21", api_key=TEST_AZURE_KEY),
            "anthropic": Anthropic(base_url=emulator.anthropic_url, api_key=TEST_ANTHROPIC_KEY)}


SYSTEM = "Answer briefly and politely, always."
MARKED = ChatRequest([Message("system", SYSTEM, cache="1h"),
                      Message("user", "hello there")])


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", ["openai", "azure", "anthropic"])
def test_a_marked_prefix_is_written_then_read(emulator: Emulator, name: str,
                                              stream: bool) -> None:
    provider = _providers(emulator)[name]
    request = attrs.evolve(MARKED, stream=stream)
    with provider:
        first, second = _read(provider(request)), _read(provider(request))
    prefix = len(SYSTEM.split()) + 3
    total = prefix + 2 + 3
    if name == "anthropic":  # Anthropic bills the write (one hour here)
        assert first.usage == Usage(total, first.usage.output_tokens, cache_write_tokens=prefix,
                                    cache_write_1h_tokens=prefix)
    else:  # OpenAI writes for free and reports none
        assert first.usage.cache_write_tokens == 0 == first.usage.cache_read_tokens
    assert second.usage == Usage(total, second.usage.output_tokens, cache_read_tokens=prefix)
    assert first.text == second.text


def test_a_stream_without_usage_gets_an_estimate(emulator: Emulator) -> None:
    quiet = OpenAICompatible("m", base_url=emulator.openai_url, stream_usage=False)
    with quiet:
        streamed = _read(quiet(ChatRequest("one two three", stream=True)))
        plain = quiet(ChatRequest("one two three"))
    assert streamed.usage == Usage(6, 4, estimated=True)
    assert plain.usage == Usage(6, 4) and not plain.usage.estimated
    assert emulator.requests[0].body.get("stream_options") is None


def test_streams_always_ask_for_usage(emulator: Emulator) -> None:
    for provider in _providers(emulator).values():
        with provider:
            _read(provider(ChatRequest("hi", stream=True)))
    bodies = [r.body for r in emulator.requests]
    assert bodies[0]["stream_options"] == {"include_usage": True}
    assert bodies[1]["stream_options"] == {"include_usage": True}


def test_ollama_without_counts_is_estimated(emulator: Emulator) -> None:
    with Ollama(base_url=emulator.ollama_url) as ollama:
        assert ollama(ChatRequest("a b")).usage == Usage(5, 3)  # counted by the server
        request = ChatRequest("a b")
        silent = ollama._response(request, {"message": {"content": "x y"}, "done": True}, "m")
        assert silent.usage == Usage(5, 2, estimated=True)
        ended = ollama._finish(request, ollama_wire.OllamaStreamDecoder(), "m")
        streamed = ended(silent.__class__(silent.message, "m", "ollama"))
        assert streamed.usage == Usage(5, 2, estimated=True)
