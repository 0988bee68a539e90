"""The one converter: every type round-trips through plain (JSON-able) dicts unchanged."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge.pricing import Price
from insightforge.secrets import Secret
from insightforge.serialize import converter, from_dict, make_converter, to_dict
from insightforge.testing import strategies as S
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    Route,
    TraceEvent,
    Usage,
)

ROUND_TRIPS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (ChatRequest, S.chat_requests()),
    (EmbedRequest, S.embed_requests()),
    (ChatResponse, S.chat_responses()),
    (EmbedResponse, S.embed_responses()),
    (Chunk, S.chunks),
    (Message, S.messages()),
    (TraceEvent, S.trace_events),
    (Usage, S.usages),
]


@settings(max_examples=60)
@given(st.sampled_from(ROUND_TRIPS).flatmap(lambda pair: st.tuples(st.just(pair[0]), pair[1])))
def test_to_dict_then_from_dict_is_identity_even_through_json(pair: tuple[type[Any], Any]
                                                              ) -> None:
    cls, value = pair
    data = to_dict(value)
    assert from_dict(cls, data) == value
    assert from_dict(cls, json.loads(json.dumps(data))) == value


def test_money_is_a_string_on_the_wire_and_exact_in_memory() -> None:
    response = ChatResponse(Message("assistant", "x"), "m", "p",
                            cost_usd=Decimal("0.000001234567"))
    data = to_dict(response)
    assert data["cost_usd"] == "0.000001234567"
    assert from_dict(ChatResponse, data).cost_usd == Decimal("0.000001234567")
    route = Route("openai", "gpt-4o", Price("2.50", "10"), "u")
    assert to_dict(route)["price"] == {"input": "2.50", "output": "10"}
    assert from_dict(Route, to_dict(route)) == route


def test_mappings_unstructure_to_plain_dicts() -> None:
    request = ChatRequest("x", options={"a": {"b": [1, 2]}}, tags={"t": "v"},
                          response_format={"type": "object"})
    data = to_dict(request)
    assert type(data["options"]) is dict and data["options"] == {"a": {"b": [1, 2]}}
    assert data["tags"] == {"t": "v"} and data["response_format"] == {"type": "object"}
    json.dumps(data)


def test_a_secret_unstructures_to_its_mask() -> None:
    key = Secret("sk-proj-0123456789abcdefghij")
    assert to_dict({"api_key": key}) == {"api_key": key.masked}
    assert "0123456789" not in json.dumps(to_dict({"api_key": key}))


def test_make_converter_builds_an_independent_equal_converter() -> None:
    fresh = make_converter()
    assert fresh is not converter
    value = ChatRequest("x", tags={"a": "b"})
    assert fresh.structure(fresh.unstructure(value), ChatRequest) == value
