"""Properties of the gateway's pure OpenAI mapping (insightforge.gateway.wire / .replies)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import struct
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from insightforge import errors
from insightforge.gateway import replies, wire
from insightforge.gateway.request_json import chat_request_json
from insightforge.secrets import Secret
from insightforge.testing import strategies as s
from insightforge.types import (
    ChatRequest,
    Chunk,
    EmbedResponse,
    FilePart,
    Message,
    Reasoning,
    TextPart,
    ThinkingPart,
    Usage,
)

_KNOWN = {"messages", "model", "temperature", "top_p", "max_tokens", "max_completion_tokens",
          "stop", "seed", "tools", "tool_choice", "response_format", "stream",
          "stream_options", "metadata", "user", "n"}


def _wire_form(request: ChatRequest) -> ChatRequest:
    """The generated request in the form the wire keeps: a bare JSON schema travels wrapped."""
    fmt = request.response_format
    if fmt is not None and not isinstance(fmt, str):
        fmt = {"type": "json_schema", "json_schema": {"name": "response", "schema": dict(fmt)}}
    # only price-neutral fields travel in options (the rest are refused: see below)
    options = {k: v for k, v in request.options.items() if k in wire.PASSED_ON}
    return attrs.evolve(request, response_format=fmt, options=options)


@st.composite
def requests(draw: st.DrawFn) -> ChatRequest:
    request = _wire_form(draw(s.chat_requests()))
    assume(request.model != wire.DEFAULT_MODEL)
    named = draw(st.booleans())
    if request.tools and named:  # a named tool choice
        request = attrs.evolve(request, tool_choice=request.tools[0].name)
        assume(request.tool_choice not in ("auto", "none", "required"))
    return request


@given(requests())
def test_chat_request_round_trips_through_openai_json(request: ChatRequest) -> None:
    body = json.loads(json.dumps(chat_request_json(request)))
    assert wire.parse_chat(body) == request


def _wire_parts_form(request: ChatRequest) -> ChatRequest:
    """What the OpenAI wire keeps of a request with parts: thinking is not sent back,
    text-only content is one string, reasoning travels as its effort alone."""
    def message(m: Message) -> Message:
        parts = tuple(p for p in m.parts if not isinstance(p, ThinkingPart))
        if all(isinstance(p, TextPart) for p in parts):
            return attrs.evolve(m, content="".join(p.text for p in parts
                                                   if isinstance(p, TextPart)))
        return attrs.evolve(m, content=parts)

    reasoning = request.reasoning
    if reasoning is not None:
        reasoning = None if reasoning.effort is None else Reasoning(reasoning.effort)
    return attrs.evolve(request, messages=tuple(message(m) for m in request.messages),
                        reasoning=reasoning)


@given(s.chat_requests(parts=True))
def test_requests_with_parts_marks_and_reasoning_round_trip(request: ChatRequest) -> None:
    assume(not any(isinstance(p, FilePart) and p.data is None
                   for m in request.messages for p in m.parts))  # no OpenAI form
    request = _wire_parts_form(_wire_form(request))
    assume(request.model != wire.DEFAULT_MODEL)
    body = json.loads(json.dumps(chat_request_json(request)))
    assert wire.parse_chat(body) == request


@pytest.mark.parametrize(("part", "field"), [
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}, "[0]"),
    ({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}, "[0]"),
    ({"type": "file", "file": {"file_id": "file-123"}}, "[0]"),
    ({"type": "video_url", "video_url": {}}, "[0].type"),
    ({"type": "text", "text": 3}, "[0].text"),
    ({"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}},
     "[0].cache_control"),
])
def test_bad_parts_name_the_part(part: dict[str, Any], field: str) -> None:
    body = {"messages": [{"role": "user", "content": [part]}]}
    with pytest.raises(errors.InvalidRequest, match="^" + re.escape("messages[0].content" +
                                                                     field)):
        wire.parse_chat(body)


def test_reasoning_effort_is_typed_and_a_bad_one_is_named() -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}],
                            "reasoning_effort": "high", "parallel_tool_calls": False}
    request = wire.parse_chat(body)
    assert request.reasoning == Reasoning("high") and request.parallel_tool_calls is False
    assert "reasoning_effort" not in request.options
    with pytest.raises(errors.InvalidRequest, match=r"^reasoning_effort: "):
        wire.parse_chat({**body, "reasoning_effort": "extreme"})


@given(requests(), s.tags)
def test_tag_headers_win_over_metadata_and_never_reach_options(request: ChatRequest,
                                                               headers: dict[str, str]) -> None:
    body = chat_request_json(request)
    sent = [(f"X-InsightForge-Tag-{k.title()}", v) for k, v in headers.items()]
    parsed = wire.parse_chat(body, sent)
    assert parsed.tags == {**request.tags, **{k: v.strip() for k, v in headers.items()}}
    assert "metadata" not in parsed.options and "user" not in parsed.options


def test_user_field_is_a_tag_and_listed_models_mean_the_stack_default() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a"},
                                         {"type": "text", "text": "b"}]}],
            "user": "u-1", "max_completion_tokens": 5, "frequency_penalty": 0.5}
    request = wire.parse_chat(body, stack_models={"gpt-4o-mini"})
    assert request.model is None and request.tags == {"user": "u-1"}
    assert [(m.role, m.content) for m in request.messages] == [("system", "be brief"),
                                                                ("user", "ab")]
    assert request.max_tokens == 5 and request.options == {"frequency_penalty": 0.5}
    assert wire.parse_chat({**body, "model": "other"}).model == "other"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"messages": [{"role": "user", "content": "x"}], "metadata": {"a": 1}}, "metadata.a"),
    ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
])
def test_bad_chat_bodies_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidRequest, match="^" + re.escape(field)):
        wire.parse_chat(body)


@given(s.json_values(12))
def test_any_json_is_a_request_or_an_invalid_request(body: Any) -> None:
    values = (body, {"messages": body}, {"messages": [body]}, {"input": body},
              {"input": [body]}, {"messages": [{"role": "user", "content": body}]},
              {"messages": [{"role": "user"}], "tools": [body]},
              {"messages": [{"role": "user"}], "tool_choice": body, "response_format": body,
               "stop": body, "metadata": body, "max_tokens": body, "temperature": body})
    for value in values:
        for parse in (wire.parse_chat, wire.parse_embed):
            with contextlib.suppress(errors.InvalidRequest):
                parse(value)


@pytest.mark.parametrize(("field", "value"), [
    ("service_tier", "priority"), ("service_tier", "flex"), ("n", 8),
    ("prediction", {"type": "content", "content": "x"}),
    ("audio", {"voice": "alloy"}), ("modalities", ["text", "audio"]),
    ("web_search_options", {}), ("functions", []), ("verbosity", "high"),
    ("some_new_field", 1),
])
def test_price_changing_and_unknown_fields_are_refused_naming_the_field(field: str,
                                                                        value: Any) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], field: value}
    with pytest.raises(errors.InvalidRequest, match="^" + re.escape(field) + ": "):
        wire.parse_chat(body)


@given(st.integers(1, 10**6) | st.none(), st.integers(1, 10**6) | st.none())
def test_max_completion_tokens_is_mapped_so_the_budget_sees_the_real_cap(
        max_tokens: int | None, max_completion: int | None) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}],
                            "max_tokens": max_tokens, "max_completion_tokens": max_completion,
                            "service_tier": "default", "frequency_penalty": 0.1}
    request = wire.parse_chat(body)
    given_caps = [v for v in (max_tokens, max_completion) if v is not None]
    assert request.max_tokens == (min(given_caps) if given_caps else None)
    # neither cap nor the tier travels in options: the provider gets exactly max_tokens
    assert dict(request.options) == {"frequency_penalty": 0.1}


def test_embed_requests_text_only() -> None:
    request = wire.parse_embed({"input": "one", "model": "default", "dimensions": 8,
                                "user": "u"})
    assert request.inputs == ("one",) and request.model is None and request.dimensions == 8
    assert request.tags == {"user": "u"} and request.options == {}
    with pytest.raises(errors.InvalidRequest, match="token arrays"):
        wire.parse_embed({"input": [[1, 2, 3]]})
    with pytest.raises(errors.InvalidRequest, match="encoding_format"):
        wire.parse_embed({"input": "x", "encoding_format": "int8"})


@given(st.lists(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                         min_size=1, max_size=8), min_size=1, max_size=3))
def test_base64_embeddings_decode_to_the_same_float32_vectors(vectors: list[list[float]]) -> None:
    response = EmbedResponse(tuple(tuple(v) for v in vectors), "m", "p", Usage(3, 0))
    out = replies.embed_json(response, encoding="base64")
    decoded = [list(struct.unpack(f"<{len(v)}f", base64.b64decode(d["embedding"])))
               for v, d in zip(vectors, out["data"], strict=True)]
    assert decoded == vectors
    assert replies.embed_json(response)["data"][0]["embedding"] == vectors[0]


@given(st.lists(s.chunks, max_size=8))
def test_chunk_json_deltas_reassemble_the_text(chunks: list[Chunk]) -> None:
    text, first = [], True
    for chunk in chunks:
        data = replies.chunk_json(chunk, id="c", model="m", created=0, first=first)
        if data is None:
            assert not chunk.text and not chunk.tool_calls and chunk.finish_reason is None
            continue
        first = False
        text.append(data["choices"][0]["delta"].get("content") or "")
    assert "".join(text) == "".join(c.text for c in chunks)


_ERRORS: list[tuple[BaseException, int]] = [
    (errors.BudgetExceeded(scope="global", limit=Decimal(1), spent=Decimal(1)), 429),
    (errors.RateLimited("openai:gpt", wait=2.5, max_wait=1), 429),
    (errors.AuthenticationError("bad key", provider="openai", status=401), 502),
    (errors.RateLimitError("slow down", provider="openai", status=429, retry_after=3), 429),
    (errors.ProviderUnavailable("down", provider="openai", status=503), 502),
    (errors.MalformedResponse("junk", provider="openai"), 502),
    (errors.AllProvidersFailed([errors.ProviderUnavailable("x", provider="a")]), 503),
    (errors.Timeout("slow", provider="openai"), 504),
    (errors.InvalidRequest("bad"), 400),
    (errors.ContextLengthExceeded("long", provider="openai", status=400), 400),
    (errors.ConfigError("bad config"), 500),
    (RuntimeError("a bug"), 500),
]


@pytest.mark.parametrize(("exc", "status"), _ERRORS, ids=lambda v: type(v).__name__)
def test_error_statuses(exc: BaseException, status: int) -> None:
    reply = replies.error_reply(exc)
    assert reply.status == status
    assert set(reply.body["error"]) == {"message", "type", "param", "code"}
    headers = dict(reply.headers)
    if isinstance(exc, errors.BudgetExceeded):
        assert reply.body["error"]["type"] == "insufficient_quota"
        assert headers["x-should-retry"] == "false"
    if isinstance(exc, errors.RateLimited | errors.RateLimitError):
        assert headers["Retry-After"] == "3"


@given(s.secrets, st.sampled_from([e for e, _ in _ERRORS]))
def test_error_bodies_never_carry_a_secret(value: str, template: BaseException) -> None:
    secret = Secret(value)
    exc = (type(template)(f"upstream said: key {value} is wrong", provider="openai")
           if isinstance(template, errors.ProviderError)
           else errors.InvalidRequest(f"bad key {value}"))
    body = json.dumps(replies.error_reply(exc).body)
    assert value not in body
    assert secret  # keep it alive (scrub knows live secrets)
