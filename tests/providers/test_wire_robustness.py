"""Invariant 8 across every pure wire parser: malformed provider output raises the documented
error (``MalformedResponse``, or the mapped error of an error object), never a Python one.

The values are drawn wider than each provider's own tests draw them: numbers too large for
a float, booleans where numbers belong, non-string event types.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge.errors import InsightForgeError, MalformedResponse
from providers import _anthropic_wire as anthropic
from providers import _ollama_wire as ollama
from providers import _openai_wire as openai
from providers.huggingface import parse_tei

HUGE = 10 ** 400  # valid JSON, too large for a float
scalars = (st.none() | st.booleans() | st.integers() | st.just(HUGE) | st.floats()
           | st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(
                          ["type", "index", "embedding", "embeddings", "data", "choices",
                           "delta", "message", "content", "x"]), inner, max_size=4),
                      max_leaves=10)


def only_documented(parse: Any) -> None:
    with contextlib.suppress(InsightForgeError):
        parse()


@settings(max_examples=300, deadline=None)
@given(values)
def test_every_parser_raises_only_documented_errors(data: Any) -> None:
    only_documented(lambda: openai.parse_chat(data, provider="p", model="m"))
    only_documented(lambda: openai.parse_chunk(data, provider="p"))
    only_documented(lambda: openai.parse_embeddings(data, provider="p", model="m", count=1))
    only_documented(lambda: parse_tei(data, provider="p", model="m", inputs=("a",)))
    if isinstance(data, dict):
        only_documented(lambda: ollama.parse_embed(data, 1))
        only_documented(lambda: ollama.parse_chat(data))
        only_documented(lambda: anthropic.parse_message(data))
    decoders: list[Any] = [ollama.OllamaStreamDecoder(), anthropic.AnthropicStreamDecoder()]
    lines = [[json.dumps(data)], ["event: x", f"data: {json.dumps(data)}", ""]]
    for decoder, feed in zip(decoders, lines, strict=True):
        only_documented(lambda d=decoder, f=feed: [d.feed(line) for line in f])


@pytest.mark.parametrize("vector", [[HUGE], [True, 1.0], ["1.5"], [float("inf")], []])
def test_embedding_vectors_are_finite_numbers(vector: list[Any]) -> None:
    with pytest.raises(MalformedResponse):
        openai.parse_embeddings({"data": [{"index": 0, "embedding": vector}]},
                                provider="p", model="m", count=1)
    with pytest.raises(MalformedResponse):
        parse_tei([vector], provider="p", model="m", inputs=("a",))
    with pytest.raises(MalformedResponse):
        ollama.parse_embed({"embeddings": [vector]}, 1)


@pytest.mark.parametrize("kind", [[1], {"a": 1}, 5, None])
def test_anthropic_event_type_of_the_wrong_kind(kind: Any) -> None:
    decoder = anthropic.AnthropicStreamDecoder()
    with contextlib.suppress(InsightForgeError):
        for line in ("event: message_start", f"data: {json.dumps({'type': kind})}", ""):
            decoder.feed(line)


@given(st.sampled_from(["inf", "-inf", "nan", "1e400", "junk", "", "Infinity"]),
       st.sampled_from(["retry-after", "retry-after-ms", "Retry-After"]))
def test_retry_after_is_finite_or_absent(value: str, header: str) -> None:
    from providers._errors import parse_retry_after

    found = parse_retry_after({header: value})
    assert found is None or (found >= 0 and found != float("inf"))
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
