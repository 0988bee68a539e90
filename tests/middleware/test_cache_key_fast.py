"""The cache key's fast path for plain-text chat requests is the converter's text exactly.

``cache_key`` writes the common request's JSON text directly
(``middleware.cache.key._text_json``) and encodes any other request's canonical form with
a C encoder made once (``_encode``). Held here with hypothesis: for any request, the text
hashed is ``_ENCODER.encode(canonical(request))`` byte for byte — the key as it always was
— so keys never change (no ``KEY_VERSION`` bump) and old entries keep matching.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, Message
from insightforge.testing import strategies as ist
from middleware.cache.key import (
    _ENCODER,
    EXCLUDED_OPTIONS,
    KEY_VERSION,
    _encode,
    _text_json,
    cache_key,
    canonical,
)

_excluded = st.dictionaries(st.sampled_from(sorted(EXCLUDED_OPTIONS)), ist.json_values(),
                            max_size=3)


@st.composite
def text_requests(draw: st.DrawFn) -> ChatRequest:
    """Plain-text chat requests with every field the fast path takes, set or not."""
    roles = st.sampled_from(["system", "user", "assistant", "tool"])
    messages = draw(st.lists(st.builds(
        Message, roles, ist.texts, name=st.none() | ist.identifiers,
        tool_call_id=st.none() | ist.identifiers), min_size=1, max_size=4))
    return ChatRequest(
        messages,
        model=draw(st.none() | ist.identifiers),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False) | st.integers(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1, allow_nan=False) | st.sampled_from([0, 1])),
        max_tokens=draw(st.none() | st.integers(1, 4096)),
        stop=tuple(draw(st.lists(st.text(min_size=1, max_size=5), max_size=2))),
        tool_choice=draw(st.none() | st.sampled_from(["auto", "none", "required", "f"])),
        response_format=draw(st.none() | st.just("json")),
        seed=draw(st.none() | st.integers(0, 2**31)),
        reasoning=draw(st.none() | st.sampled_from(["minimal", "low", "medium", "high"])),
        parallel_tool_calls=draw(st.none() | st.booleans()),
        stream=draw(st.booleans()),
        options={**draw(ist.options), **draw(_excluded)},
        tags=draw(ist.tags),
    )


def reference_key(request: Any, routes: str) -> str:
    """The key as it was computed before the fast paths: converter, encoder, SHA-256."""
    text = routes + "\0" + _ENCODER.encode(canonical(request))
    return f"if{KEY_VERSION}:{hashlib.sha256(text.encode()).hexdigest()}"


def same_text(request: Any) -> None:
    form = canonical(request)
    assert _encode(form) == _ENCODER.encode(form)
    if isinstance(request, ChatRequest):
        text = _text_json(request)
        assert text is None or text == _ENCODER.encode(form)
    assert cache_key(request, "openai:gpt\nr2") == reference_key(request, "openai:gpt\nr2")


@settings(max_examples=200)
@given(text_requests())
def test_plain_text_requests_take_the_fast_path_to_the_same_text(request: ChatRequest) -> None:
    assert _text_json(request) is not None
    same_text(request)


@settings(max_examples=200)
@given(ist.chat_requests() | ist.chat_requests(parts=True))
def test_any_chat_request_has_the_converters_text(request: ChatRequest) -> None:
    same_text(request)


@given(ist.embed_requests())
def test_embed_requests_have_the_converters_text(request: Any) -> None:
    same_text(request)


def test_what_the_fast_path_leaves_to_the_converter() -> None:
    from insightforge.types import Tool

    left = [ChatRequest([Message("user", [{"type": "text", "text": "hi"}])]),
            ChatRequest([Message("user", "hi", cache="5m")]),
            ChatRequest("hi", tools=[Tool("f", "", {"type": "object"})]),
            ChatRequest("hi", response_format={"type": "object", "title": "T"}),
            ChatRequest([Message("user", "hi", name=5)])]  # type: ignore[arg-type]
    for request in left:
        assert _text_json(request) is None
        same_text(request)
