"""Requests are checked when they are made (``insightforge.types.checks``): a NaN or infinite
number, a value out of range, a field of the wrong kind, ``options`` JSON cannot carry —
each an ``InvalidRequest`` naming the field, raised before any network call, so it is never
sent, never blamed on a provider and never retried (issue 12)."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, Tool, stack
from insightforge.errors import InsightForgeError, InvalidRequest
from insightforge.gateway import start, wire
from insightforge.testing import ScriptedProvider
from insightforge.testing.emulator import Emulator
from middleware import Retry
from tests import kit_factories

NAN, INF = float("nan"), float("inf")
BAD_CHAT: list[tuple[dict[str, Any], str]] = [
    ({"temperature": NAN}, "temperature must be a finite number"),
    ({"temperature": INF}, "temperature must be a finite number"),
    ({"temperature": -0.5}, "temperature must be at least 0"),
    ({"temperature": "hot"}, "temperature must be a number"),
    ({"top_p": NAN}, "top_p must be a finite number"),
    ({"top_p": 1.5}, "top_p must be between 0 and 1"),
    ({"max_tokens": 0}, "max_tokens must be a positive integer"),
    ({"max_tokens": 1.5}, "max_tokens must be a positive integer"),
    ({"seed": True}, "seed must be an integer"),
    ({"stream": "yes"}, "stream must be True or False"),
    ({"stop": ["END", 3]}, r"stop\[1\] must be a string"),
    ({"model": ""}, "model must be a non-empty string"),
    ({"tool_choice": 1}, "tool_choice must be a non-empty string"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls must be True, False or None"),
    ({"options": {"logit_bias": {"50256": -INF}}}, "options.logit_bias.50256 must be a finite"),
    ({"options": {"frequency_penalty": NAN}}, "options.frequency_penalty must be a finite"),
    ({"options": {"stop": [object()]}}, r"options.stop\[0\] must be a JSON value"),
    ({"options": {"meta": {1: "x"}}}, "has a key that is not a string"),
    ({"response_format": {"type": "object", "maximum": INF}},
     "response_format.maximum must be a finite"),
    ({"tools": [Tool("f", "", {"type": "object", "properties": {"x": {"minimum": NAN}}})]},
     r"tools\[0\].parameters.properties.x.minimum must be a finite"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_CHAT,
                         ids=[next(iter(f)) + str(i) for i, (f, _) in enumerate(BAD_CHAT)])
def test_a_bad_field_is_invalid_request_naming_it(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        ChatRequest("hi", **fields)
    assert isinstance(caught.value, ValueError)  # an invalid argument, as Python says it too
    assert "nothing was sent" in str(caught.value)
    with pytest.raises(InvalidRequest, match=message):
        attrs.evolve(ChatRequest("hi"), **fields)  # a layer's evolve cannot slip one past


@pytest.mark.parametrize(("fields", "message"), [
    ({"dimensions": 0}, "dimensions must be a positive integer"),
    ({"options": {"scale": INF}}, "options.scale must be a finite"),
    ({"model": ""}, "model must be a non-empty string"),
])
def test_a_bad_embed_field_is_invalid_request(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        EmbedRequest(["text"], **fields)
    with pytest.raises(InvalidRequest, match=r"inputs\[1\] must be a string"):
        EmbedRequest(["text", 3])  # type: ignore[list-item]


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["temperature", "top_p"]))
def test_any_float_is_accepted_or_refused_with_invalid_request(value: float,
                                                               field: str) -> None:
    high = 1.0 if field == "top_p" else math.inf
    try:
        request = ChatRequest("hi", **{field: value})
    except InvalidRequest:
        assert not math.isfinite(value) or not 0 <= value <= high
    else:
        assert math.isfinite(value) and 0 <= getattr(request, field) <= high


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_nan_temperature_never_reaches_the_network(mode: str, emulator: Emulator) -> None:
    """The issue's case: a NaN was sent, blamed on the provider (a ValueError of the JSON
    encoder mapped to a retryable MalformedResponse) and retried."""
    import asyncio

    llm = stack(Retry(attempts=3, backoff={"base": 0.001, "cap": 0.002}),
                provider=kit_factories.openai(emulator, timeout=5))
    with pytest.raises(InvalidRequest, match="temperature"):
        if mode == "sync":
            llm(ChatRequest("hi", temperature=NAN))
        else:
            asyncio.run(llm.acall(ChatRequest("hi", temperature=NAN)))
    assert emulator.count() == 0
    llm.close()


def test_the_gateway_answers_a_nan_with_a_400_naming_the_field() -> None:
    body = {"model": "default", "messages": [{"role": "user", "content": "hi"}],
            "temperature": NAN}
    with pytest.raises(InvalidRequest, match="temperature must be a finite number"):
        wire.parse_chat(json.loads(json.dumps(body)))  # Python's JSON reads NaN
    provider = ScriptedProvider()
    with stack(provider=provider) as llm, start(llm) as server:
        reply = httpx.post(server.url + "/chat/completions", content=json.dumps(body),
                           headers={"content-type": "application/json"}, timeout=10)
    assert reply.status_code == 400, reply.text
    assert "temperature must be a finite number" in reply.json()["error"]["message"]
    assert provider.calls == []


def test_valid_requests_are_untouched() -> None:
    request = ChatRequest("hi", temperature=1, top_p=0, max_tokens=5, seed=-3, stop="END",
                          options={"logit_bias": {"1": -100}, "user": "u", "n": 1,
                                   "nested": [{"a": None, "b": 0.5}]},
                          response_format={"type": "object", "maximum": 1e308})
    assert request.temperature == 1.0 and isinstance(request.temperature, float)
    assert issubclass(InvalidRequest, InsightForgeError) and issubclass(InvalidRequest,
                                                                        ValueError)
