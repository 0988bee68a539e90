"""The cache key's fast path for plain-text chat requests is the converter's form exactly.

``canonical()`` builds the common request's form without the converter
(``middleware.cache.key._text_chat``) and encodes it with a C encoder made once
(``_encode``). Held here with hypothesis: for any request, the form and its JSON text are
those of the converter's path (``_converted``, ``_ENCODER.encode``), so keys never change
(no ``KEY_VERSION`` bump) and old entries keep matching.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, Message
from insightforge.testing import strategies as ist
from middleware.cache.key import (
    _ENCODER,
    EXCLUDED_OPTIONS,
    _converted,
    _encode,
    _text_chat,
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


def same_form(request: ChatRequest) -> None:
    fast, slow = canonical(request), _converted(request)
    assert fast == slow
    assert _ENCODER.encode(fast) == _ENCODER.encode(slow)  # 1 == 1.0 == True, not in JSON
    assert _encode(slow) == _ENCODER.encode(slow)


@settings(max_examples=200)
@given(text_requests())
def test_plain_text_requests_take_the_fast_path_to_the_same_form(request: ChatRequest) -> None:
    assert _text_chat(request) is not None
    same_form(request)


@settings(max_examples=200)
@given(ist.chat_requests() | ist.chat_requests(parts=True))
def test_any_chat_request_has_the_converters_form(request: ChatRequest) -> None:
    same_form(request)


@given(ist.embed_requests())
def test_embed_requests_have_the_converters_form(request: Any) -> None:
    assert canonical(request) == _converted(request)
    assert _encode(canonical(request)) == _ENCODER.encode(_converted(request))


def test_what_the_fast_path_leaves_to_the_converter() -> None:
    from insightforge.types import Tool

    assert _text_chat(ChatRequest([Message("user", [{"type": "text", "text": "hi"}])])) is None
    assert _text_chat(ChatRequest([Message("user", "hi", cache="5m")])) is None
    assert _text_chat(ChatRequest("hi", tools=[Tool("f", "", {"type": "object"})])) is None
    assert _text_chat(ChatRequest("hi", response_format={"type": "object"})) is None
    for request in (ChatRequest([Message("user", "hi", cache="5m")]),
                    ChatRequest("hi", response_format={"type": "object", "title": "T"})):
        same_form(request)
