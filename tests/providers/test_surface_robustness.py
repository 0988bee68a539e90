"""Invariant 8 for the new answer fields: reasoning text, thinking blocks and signatures,
usage details and cache counts of any shape raise only documented errors, on every wire,
plain and streamed (vendor-shaped skeletons with fuzzed leaves reach the new code)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge.errors import InsightForgeError
from providers import _anthropic_wire as anthropic
from providers import _ollama_wire as ollama
from providers import _openai_wire as openai

leaf = (st.none() | st.booleans() | st.integers(-5, 10**6) | st.just(10**400) | st.floats()
        | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
        | st.dictionaries(st.sampled_from(["cached_tokens", "reasoning_tokens",
                                           "ephemeral_1h_input_tokens"]),
                          st.integers(-5, 10**7), max_size=2))


def documented(call: Any) -> None:
    with contextlib.suppress(InsightForgeError):
        call()


@settings(max_examples=200)
@given(st.lists(leaf, min_size=8, max_size=8))
def test_openai_reasoning_and_usage_details(v: list[Any]) -> None:
    usage = {"prompt_tokens": v[0], "completion_tokens": v[1], "prompt_tokens_details": v[2],
             "completion_tokens_details": v[3]}
    message = {"content": "x", "reasoning_content": v[4], "reasoning": v[5]}
    documented(lambda: openai.parse_chat({"choices": [{"message": message}], "usage": usage},
                                         provider="p", model="m"))
    documented(lambda: openai.parse_chunk({"choices": [{"delta": message}], "usage": usage},
                                          provider="p"))


@settings(max_examples=200)
@given(st.sampled_from(["thinking", "redacted_thinking", "tool_use", "text"]),
       st.lists(leaf, min_size=8, max_size=8))
def test_anthropic_thinking_blocks_and_cache_usage(kind: str, v: list[Any]) -> None:
    block = {"type": kind, "thinking": v[0], "signature": v[1], "data": v[2], "id": "t",
             "name": v[3] if kind != "tool_use" else "answer", "input": v[4], "text": v[5]}
    usage = {"input_tokens": v[6], "cache_creation_input_tokens": v[7],
             "cache_read_input_tokens": v[0], "cache_creation": v[2]}
    documented(lambda: anthropic.parse_message({"content": [block], "usage": usage}, "answer"))
    decoder = anthropic.AnthropicStreamDecoder("answer")
    events = [("message_start", {"message": {"usage": usage}}),
              ("content_block_start", {"index": 0, "content_block": block}),
              ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta",
                                                             "thinking": v[1]}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta",
                                                             "signature": v[3]}}),
              ("message_delta", {"delta": {"stop_reason": v[5]}, "usage": usage})]
    for name, data in events:
        lines = [f"event: {name}", f"data: {json.dumps({'type': name, **data})}", ""]
        documented(lambda lines=lines: [decoder.feed(line) for line in lines])


@settings(max_examples=200)
@given(st.lists(leaf, min_size=4, max_size=4), st.booleans())
def test_ollama_thinking_and_counts(v: list[Any], done: bool) -> None:
    data = {"model": "m", "done": done, "message": {"content": "x", "thinking": v[0]},
            "prompt_eval_count": v[1], "eval_count": v[2], "done_reason": v[3]}
    documented(lambda: ollama.parse_chat(data))
    documented(lambda: ollama.OllamaStreamDecoder().feed(json.dumps(data)))
