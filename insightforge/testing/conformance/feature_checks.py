"""Conformance checks of the request features: structured output, reasoning, prompt
caching, parallel tool calls.

A provider that declares the capability (``provider.capabilities``) must honour it exactly
as the emulator predicts, sync, async and streamed; one that does not must refuse with
``Unsupported`` before any network call — except prompt-cache marks, which are hints: a
provider without ``prompt_caching`` answers as if they were not there and sends none.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from insightforge.errors import InvalidRequest
from insightforge.testing.conformance.capability_support import (
    ask_three_ways,
    capabilities,
    expect_refused,
)
from insightforge.testing.conformance.chat_checks import facts
from insightforge.testing.conformance.spec import CheckFailed, Kit, expect
from insightforge.testing.emulator.schema_instance import instance, tool_arguments
from insightforge.types import ChatRequest, ChatResponse, Message, Tool

__all__ = ["WEATHER_SCHEMA", "check_parallel_tools", "check_prompt_caching", "check_reasoning",
           "check_structured_output"]

WEATHER_SCHEMA = {"title": "weather", "type": "object",
                  "properties": {"city": {"type": "string"}, "words": {"type": "integer"},
                                 "sunny": {"type": "boolean"}},
                  "required": ["city", "words", "sunny"], "additionalProperties": False}
"""A strict-mode-valid schema every structured-output vendor takes."""
_TOOLS = (Tool("get_weather", "The weather in a city.",
               {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}),
          Tool("get_time", "The local time in a city.",
               {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}))


def check_structured_output(kit: Kit) -> None:
    """A JSON-Schema request answers a conforming object in ``response.parsed``."""
    provider = kit.build()
    request = ChatRequest("weather in Paris", response_format=WEATHER_SCHEMA)
    if "structured_output" not in capabilities(provider):
        expect_refused(kit, provider, request, "structured_output")
        return
    want = instance(WEATHER_SCHEMA, "weather in Paris")
    for where, answer in zip(("plain", "async", "stream"),
                             ask_three_ways(kit, provider, request, "structured output"),
                             strict=True):
        expect(answer.parsed == want, f"structured output ({where}): parsed {answer.parsed!r}, "
               f"expected {want!r} (was the schema sent as the vendor's structured output?)")
        expect(json.loads(answer.text) == want, f"structured output ({where}): the text "
               f"{answer.text!r} is not the JSON of the parsed value")
        expect(not answer.tool_calls and answer.finish_reason == "stop",
               f"structured output ({where}): expected a plain answer, got finish "
               f"{answer.finish_reason!r} and tool calls {answer.tool_calls!r}")


def _reasoned(answer: ChatResponse) -> bool:
    usage = answer.usage
    words = len(answer.text.split()) + sum(len(c.arguments.split()) for c in answer.tool_calls)
    return bool(answer.reasoning) or usage.reasoning_tokens > 0 or (
        not usage.estimated and usage.output_tokens > words)


def check_reasoning(kit: Kit) -> None:
    """A reasoning request reasons (reasoning text or reasoning tokens) and answers; its
    reasoning survives a tool-call round trip (Anthropic needs the signed block back)."""
    provider = kit.build()
    model = kit.spec.reasoning_model
    request = ChatRequest("think it through", reasoning="low", model=model)
    if "reasoning" not in capabilities(provider):
        expect_refused(kit, provider, request, "reasoning")
        return
    try:
        plain, later, streamed = ask_three_ways(kit, provider, request, "reasoning")
    except InvalidRequest as exc:
        raise CheckFailed(f"reasoning: the server refused the request ({exc}); if the "
                          f"default model {provider.model!r} does not reason, name one that "
                          "does: ProviderSpec(reasoning_model=...)") from exc
    for where, answer in (("plain", plain), ("async", later), ("stream", streamed)):
        expect(answer.text == "Echo: think it through", f"reasoning ({where}): answer "
               f"{answer.text!r}, expected 'Echo: think it through'")
        expect(_reasoned(answer), f"reasoning ({where}): no sign of reasoning (no reasoning "
               f"text, no reasoning tokens, output {answer.usage.output_tokens} tokens for "
               f"{answer.text!r})")
    expect(streamed.reasoning == plain.reasoning, f"reasoning: streamed reasoning "
           f"{streamed.reasoning!r} differs from the plain answer's {plain.reasoning!r}")
    expect(streamed.thinking == plain.thinking, "reasoning: streamed thinking blocks (and "
           "their signatures) differ from the plain answer's")
    if kit.spec.tools:
        _round_trip(provider, ChatRequest("weather in Paris", reasoning="low", model=model,
                                          tools=_TOOLS[:1]))


def _round_trip(provider: Any, ask: ChatRequest) -> None:
    first = provider(ask)
    expect(bool(first.tool_calls), f"reasoning: expected a tool call, got {first.text!r}")
    results = [Message("tool", "sunny", tool_call_id=c.id, name=c.name)
               for c in first.tool_calls]
    follow = attrs.evolve(ask, messages=(*ask.messages, first.message, *results))
    try:
        final = provider(follow)
    except Exception as exc:
        raise CheckFailed(f"reasoning: sending the assistant turn back (its reasoning and "
                          f"tool calls) with the tool result failed: {exc!r} (keep the "
                          "thinking blocks with their signatures)") from exc
    expect(final.text == "Echo: sunny", f"reasoning: after the tool result the answer is "
           f"{final.text!r}, expected 'Echo: sunny'")


def check_prompt_caching(kit: Kit) -> None:
    """Marked prefixes are written once and read after; without ``prompt_caching`` marks
    are ignored: the same answer, no cache counts, no cache fields on the wire."""
    provider = kit.build()
    kit.emulator.reset()  # an empty prompt cache: the first call writes
    system = "You answer in one short sentence. " * 8
    marked = ChatRequest([Message("system", system, cache="1h"), Message("user", "hello")])
    plain = ChatRequest([Message("system", system), Message("user", "hello")])
    if "prompt_caching" not in capabilities(provider):
        kit.emulator.reset()
        a, b = provider(marked), provider(plain)
        expect(facts(a) == facts(b), "prompt caching: a marked request must answer as an "
               "unmarked one on a provider without prompt_caching")
        body = json.dumps([r.body for r in kit.emulator.requests])
        expect("cache_control" not in body and "prompt_cache" not in body,
               "prompt caching: cache fields were sent by a provider without prompt_caching")
        return
    first, second = provider(marked), provider(marked)
    expect(first.text == second.text and first.usage.input_tokens == second.usage.input_tokens,
           "prompt caching: the same request answered differently the second time")
    expect(second.usage.cache_read_tokens > 0, f"prompt caching: the second identical marked "
           f"request read nothing from the cache ({second.usage!r}); map the marks")
    expect(first.usage.cache_write_1h_tokens == first.usage.cache_write_tokens,
           f"prompt caching: a one-hour mark wrote {first.usage.cache_write_tokens} tokens, "
           f"{first.usage.cache_write_1h_tokens} of them for an hour ({first.usage!r})")
    streamed = provider(attrs.evolve(marked, stream=True))
    with streamed:
        for _ in streamed:
            pass
    usage = streamed.response.usage
    expect(usage.estimated or usage.cache_read_tokens == second.usage.cache_read_tokens,
           f"prompt caching: the streamed answer reports {usage!r}, the plain one "
           f"{second.usage!r}")


def check_parallel_tools(kit: Kit) -> None:
    """Several tool calls come back in one answer (plain, async, streamed) and several
    results go back; without ``parallel_tools``: ``Unsupported`` for the switch."""
    provider = kit.build()
    ask = ChatRequest("Paris", tools=_TOOLS)
    if "parallel_tools" not in capabilities(provider):
        expect_refused(kit, provider, attrs.evolve(ask, parallel_tool_calls=True),
                       "parallel_tools")
        return
    want = [(t.name, tool_arguments(dict(t.parameters), "Paris")) for t in _TOOLS]
    for where, answer in zip(("plain", "async", "stream"),
                             ask_three_ways(kit, provider, ask, "parallel tools"), strict=True):
        got = [(c.name, json.loads(c.arguments)) for c in answer.tool_calls]
        expect(got == want, f"parallel tools ({where}): calls {got!r}, expected {want!r}")
        expect(len({c.id for c in answer.tool_calls}) == 2 and all(
            c.id for c in answer.tool_calls), f"parallel tools ({where}): each call needs "
               "its own id")
        expect(answer.finish_reason == "tool_calls", f"parallel tools ({where}): finish "
               f"{answer.finish_reason!r}")
    first = provider(ask)
    results = [Message("tool", f"{c.name} done", tool_call_id=c.id, name=c.name)
               for c in first.tool_calls]
    final = provider(attrs.evolve(ask, messages=(*ask.messages, first.message, *results)))
    expect(final.text.startswith("Echo: ") and "get_time done" in final.text
           and not final.tool_calls, f"parallel tools: after both results the answer is "
           f"{final.text!r} with calls {final.tool_calls!r}")
