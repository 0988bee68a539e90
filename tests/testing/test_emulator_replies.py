"""Property tests for the emulator's pure reply rules and fault framing (no sockets)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing.emulator import Fault, injection, wire_anthropic, wire_ollama, wire_openai
from insightforge.testing.emulator.replies import (
    ChatInput,
    Turn,
    count_tokens,
    cut_words,
    embed_vector,
    input_tokens,
    make_reply,
    stream_pieces,
)

texts = st.text(alphabet=st.sampled_from("ab c\n\t\u00a0é"), max_size=40) | st.text(max_size=40)
words = st.text(alphabet="abcxyz", min_size=1, max_size=6)
sentences = st.lists(words, min_size=1, max_size=12).map(" ".join)
turns = st.lists(
    st.builds(Turn, st.sampled_from(["system", "user", "assistant", "tool"]), texts),
    min_size=1, max_size=5,
)


@given(texts)
def test_stream_pieces_concatenate_to_the_text(text: str) -> None:
    pieces = stream_pieces(text)
    assert "".join(pieces) == text
    if count_tokens(text):
        assert [count_tokens(piece) for piece in pieces] == [1] * count_tokens(text)


@given(texts, st.integers(min_value=0, max_value=20))
def test_cut_words_keeps_a_prefix_of_n_words(text: str, limit: int) -> None:
    cut = cut_words(text, limit)
    assert text.startswith(cut)
    assert count_tokens(cut) == min(limit, count_tokens(text))


@given(turns)
def test_input_tokens_are_words_plus_three_per_message(conversation: list[Turn]) -> None:
    expected = sum(len(turn.text.split()) for turn in conversation) + 3 * len(conversation)
    assert input_tokens(conversation) == expected


@given(turns, st.none() | st.integers(min_value=0, max_value=10))
def test_max_tokens_is_respected(conversation: list[Turn], limit: int | None) -> None:
    chat = ChatInput("m", tuple(conversation), max_tokens=limit)
    reply = make_reply(chat)
    full = make_reply(ChatInput("m", tuple(conversation)))
    assert reply == make_reply(chat)  # deterministic
    assert full.text.startswith(reply.text)
    assert reply.output_tokens == count_tokens(reply.text)
    if limit is not None:
        assert reply.output_tokens <= limit
    assert (reply.finish == "length") == (limit is not None and full.output_tokens > limit)


@given(sentences, st.lists(words, min_size=1, max_size=3))
def test_stop_sequences_cut_before_the_first_match(text: str, stops: list[str]) -> None:
    reply = make_reply(ChatInput("m", (Turn("user", text),), stop=tuple(stops)))
    assert not any(stop in reply.text for stop in stops)
    assert ("Echo: " + text).startswith(reply.text)
    assert reply.finish == "stop"
    if reply.stop_sequence is not None:
        assert reply.stop_sequence in stops


@given(sentences, st.lists(words, min_size=1, max_size=3, unique=True), st.booleans())
def test_tool_calls_carry_the_last_user_message(text: str, tools: list[str], none: bool) -> None:
    reply = make_reply(ChatInput("m", (Turn("user", text),), tools=tuple(tools),
                                 tool_choice_none=none, forced_tool=tools[-1]))
    if none:
        assert reply.tool_call is None and reply.text == "Echo: " + text
    else:
        assert reply.tool_call is not None and reply.finish == "tool_calls"
        assert reply.tool_call.name == tools[-1]
        assert json.loads(reply.tool_call.arguments) == {"input": text}


@given(st.text(max_size=30), st.integers(min_value=1, max_value=64))
def test_embeddings_are_deterministic_unit_vectors(text: str, size: int) -> None:
    vector = embed_vector(text, size)
    assert vector == embed_vector(text, size)
    assert len(vector) == size
    assert all(-1.0 <= value <= 1.0 for value in vector)
    assert math.isclose(math.fsum(value * value for value in vector), 1.0, rel_tol=1e-9)


@given(st.lists(sentences, min_size=1, max_size=4), st.none() | st.integers(0, 8), sentences)
def test_every_wire_parses_to_the_same_reply(
    history: list[str], limit: int | None, system: str
) -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": text}
                for i, text in enumerate(history)]
    budget: dict[str, Any] = {} if limit is None else {"max_tokens": limit}
    as_openai = wire_openai.parse_chat(
        {"model": "m", "messages": [{"role": "system", "content": system}, *messages], **budget})
    ceiling = 10**6 if limit is None else limit
    as_anthropic = wire_anthropic.parse_chat(
        {"model": "m", "system": system, "messages": messages, "max_tokens": ceiling})
    options = {} if limit is None else {"num_predict": limit}
    as_ollama = wire_ollama.parse_chat({"model": "m", "options": options,
                                        "messages": [{"role": "system", "content": system},
                                                     *messages]})
    replies = {make_reply(chat) for chat in (as_openai, as_anthropic, as_ollama)}
    assert len(replies) == 1


@given(sentences, st.integers(min_value=0, max_value=15))
def test_truncate_and_stream_error_cut_at_a_content_chunk(text: str, after: int) -> None:
    reply = make_reply(ChatInput("m", (Turn("user", text),)))
    stream = wire_openai.chat_stream(reply, "m", 1, faults=wire_openai.STREAM_FAULTS)
    full, clean = injection.stream_frames(stream, None)
    assert clean and full[-1] == b"data: [DONE]\n\n"
    cut, clean = injection.stream_frames(stream, Fault.truncate(after))
    kept = min(after, len(stream.content))
    assert not clean and cut == stream.head + stream.content[:kept]
    failed, clean = injection.stream_frames(stream, Fault.stream_error(after))
    assert clean and failed[:-1] == cut and b'"error"' in failed[-1]
