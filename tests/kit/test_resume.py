"""Stream continuation (issue 13), the pure splice and the whole loop, with hypothesis.

The invariants: whatever the cut point and however the continuation is chunked, the text
delivered is exactly the final response's text, no delivered chunk comes twice, and a
continuation that does not extend what was delivered ends in ``StreamInterrupted`` carrying
exactly the partial text — sync and async alike, by prefill or by restart, on the same route
(``Retry``) or the next (``Fallback``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, Message, stack
from insightforge.errors import (
    ContentFiltered,
    InvalidRequest,
    ProviderUnavailable,
    StreamInterrupted,
    Timeout,
)
from insightforge.kit.splice import Splice, continuation, prefill_ok
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.types import Route
from middleware import AuditLog, Budget, Fallback, Retry
from middleware.audit import FileSink, flush_all

words = st.lists(st.text("abcxyz", min_size=1, max_size=5), min_size=2, max_size=12)


def _pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


# -- the pure splice --------------------------------------------------------------------------
@given(words, st.integers(0, 200), st.lists(st.integers(0, 200), max_size=8), st.booleans())
def test_a_continuation_passes_on_exactly_what_extends_the_delivered_text(
        parts: list[str], cut: int, chunking: list[int], prefill: bool) -> None:
    text = " ".join(parts)
    delivered = text[:cut % (len(text) + 1)]
    base = delivered.rstrip() if prefill else ""
    splice = Splice(delivered, base)
    passed = [splice.feed(piece) for piece in _pieces(text[len(base):], chunking)]
    assert None not in passed
    assert delivered + "".join(p or "" for p in passed) == text
    assert splice.caught_up


@given(words, st.integers(1, 200), st.text("QRS", min_size=1, max_size=3))
def test_a_continuation_that_departs_is_caught_where_it_departs(
        parts: list[str], cut: int, other: str) -> None:
    text = " ".join(parts)
    delivered = text[:max(1, cut % (len(text) + 1))]
    at = cut % len(delivered)
    wrong = delivered[:at] + other  # departs at `at`, before what was delivered ends
    splice = Splice(delivered)
    assert splice.feed(wrong) is None


def test_prefill_only_for_plain_text_on_routes_that_declare_it() -> None:
    yes, no = Route("a", "m", prefill=True), Route("b", "m")
    request = ChatRequest("hi")
    assert prefill_ok(request, (yes,), "Echo: h")
    assert not prefill_ok(request, (yes, no), "Echo: h")
    assert not prefill_ok(request, (yes,), "   ")
    assert not prefill_ok(ChatRequest("hi", response_format="json"), (yes,), "{")
    asked, base = continuation(request, "Echo: one ", prefill=True)
    assert asked.messages[-1] == Message("assistant", "Echo: one") and base == "Echo: one"
    assert asked.stream and continuation(request, "x", prefill=False) == (
        ChatRequest("hi", stream=True), "")


# -- the whole loop, with scripted providers -------------------------------------------------
def _collect(result: Any, use_async: bool) -> tuple[str, Any, BaseException | None]:
    """(delivered text, final response or None, error)."""
    async def arun(stream: Any) -> tuple[str, Any, BaseException | None]:
        got: list[str] = []
        try:
            async for chunk in stream:
                got.append(chunk.text)
        except StreamInterrupted as error:
            return "".join(got), None, error
        return "".join(got), stream.response, None

    if use_async:
        return asyncio.run(arun(result))
    got: list[str] = []
    try:
        for chunk in result:
            got.append(chunk.text)
    except StreamInterrupted as error:
        return "".join(got), None, error
    return "".join(got), result.response, None


def _ask(llm: Any, request: ChatRequest, use_async: bool) -> tuple[str, Any, Any]:
    if not use_async:
        return _collect(llm(request), False)

    async def go() -> tuple[str, Any, Any]:
        stream = await llm.acall(request)
        got: list[str] = []
        try:
            async for chunk in stream:
                got.append(chunk.text)
        except StreamInterrupted as error:
            return "".join(got), None, error
        return "".join(got), stream.response, None

    return asyncio.run(go())


@settings(max_examples=80)
@given(words, st.integers(1, 11), st.booleans(), st.booleans(), st.booleans())
def test_the_delivered_text_is_the_final_text_for_any_cut_point(
        parts: list[str], cut: int, prefill: bool, by_fallback: bool, use_async: bool) -> None:
    prompt = " ".join(parts)
    answer = "Echo: " + prompt
    cut = cut % (len(parts) + 1) or 1
    broken = StreamStep(answer, ProviderUnavailable("cut", provider="primary"), cut)
    primary = ScriptedProvider([broken], name="primary", prefill=prefill)
    alternate = ScriptedProvider(name="alternate", prefill=prefill)
    if by_fallback:
        llm = stack(Fallback(alternate), Retry(attempts=1), provider=primary)
    else:
        llm = stack(Retry(attempts=2, sleep=lambda _: None), provider=primary)
    text, response, error = _ask(llm, ChatRequest(prompt, stream=True), use_async)
    assert error is None
    assert text == response.text == answer  # seamless, nothing twice
    assert response.provider == ("alternate" if by_fallback else "primary")
    resumed = [e for e in response.trace if e.event == "resumed"]
    assert [e.data["how"] for e in resumed] == ["prefill" if prefill else "restart"]


@settings(max_examples=40)
@given(words, st.integers(1, 11), st.booleans())
def test_a_continuation_that_does_not_extend_ends_with_the_partial_text(
        parts: list[str], cut: int, use_async: bool) -> None:
    prompt = " ".join(parts)
    cut = cut % (len(parts) + 1) or 1
    broken = StreamStep("Echo: " + prompt, ProviderUnavailable("cut", provider="p"), cut)
    primary = ScriptedProvider([broken], name="primary")
    other = ScriptedProvider([StreamStep("Something else entirely " + prompt)], name="other")
    llm = stack(Fallback(other), Retry(attempts=1), provider=primary)
    text, response, error = _ask(llm, ChatRequest(prompt, stream=True), use_async)
    assert response is None and isinstance(error, StreamInterrupted)
    assert error.partial == text and ("Echo: " + prompt).startswith(text)
    assert error.reason == "diverged" and isinstance(error.cause, ProviderUnavailable)


def test_a_refused_prefill_restarts_cleanly_and_never_hides_the_real_failure() -> None:
    cut = ProviderUnavailable("cut", provider="primary")
    primary = ScriptedProvider([StreamStep("Echo: a b c d", cut, 2)], name="primary")
    refusing = ScriptedProvider([InvalidRequest("does not support assistant message prefill"),
                                 StreamStep("Echo: a b c d")], name="alt", prefill=True)
    llm = stack(Fallback(refusing), Retry(attempts=1), provider=primary)
    stream: Any = llm(ChatRequest("a b c d", stream=True))
    assert "".join(c.text for c in stream) == "Echo: a b c d"
    events = [f"{e.layer}.{e.event}" for e in stream.response.trace]
    assert events[-2:] == ["stream.prefill_rejected", "stream.resumed"]
    assert stream.response.trace[-1].data["how"] == "restart"
    first, second = refusing.calls
    assert first.messages[-1].role == "assistant" and second.messages[-1].role == "user"

    # the refusal and a failing restart: the error names the cut, not the refusal
    primary = ScriptedProvider([StreamStep("Echo: a b c d", cut, 2)], name="primary")
    refusing = ScriptedProvider([InvalidRequest("no prefill"),
                                 ProviderUnavailable("down too", provider="alt")],
                                name="alt", prefill=True)
    llm = stack(Fallback(refusing), Retry(attempts=1), provider=primary)
    with pytest.raises(StreamInterrupted) as caught:
        list(llm(ChatRequest("a b c d", stream=True)))
    assert caught.value.cause is cut and caught.value.partial == "Echo: a "
    assert [type(e).__name__ for e in caught.value.errors] == [
        "ProviderUnavailable", "InvalidRequest", "ProviderUnavailable"]


def test_an_error_the_layer_does_not_act_on_reaches_the_caller_unchanged() -> None:
    filtered = ContentFiltered("filtered mid-way", provider="primary")
    primary = ScriptedProvider([StreamStep("Echo: a b c", filtered, 1)], name="primary")
    alternate = ScriptedProvider(name="alt")
    llm = stack(Fallback(alternate), Retry(attempts=3), provider=primary)
    with pytest.raises(ContentFiltered):
        list(llm(ChatRequest("a b c", stream=True)))
    assert alternate.calls == []


def test_a_silent_route_moves_on_at_once_when_an_alternate_waits() -> None:
    primary = ScriptedProvider([Timeout("silent", provider="primary")] * 3, name="primary")
    alone = stack(Retry(attempts=3, sleep=lambda _: None), provider=primary)
    with pytest.raises(Timeout):
        alone(ChatRequest("hi"))
    assert len(primary.calls) == 3  # no alternate: retried as usual

    primary = ScriptedProvider([Timeout("silent", provider="primary")] * 3, name="primary")
    llm = stack(Fallback(ScriptedProvider(name="alt")),
                Retry(attempts=3, sleep=lambda _: None), provider=primary)
    reply: Any = llm(ChatRequest("hi"))
    assert reply.provider == "alt" and len(primary.calls) == 1
    assert reply.trace[0].data["reason"] == "alternate waiting"
    # prefer_alternate=False: the old behaviour, three timeouts first
    primary = ScriptedProvider([Timeout("silent", provider="primary")] * 3, name="primary")
    llm = stack(Fallback(ScriptedProvider(name="alt")),
                Retry(attempts=3, sleep=lambda _: None, prefer_alternate=False),
                provider=primary)
    assert llm(ChatRequest("hi")).provider == "alt" and len(primary.calls) == 3


def test_the_audit_log_and_the_budget_see_every_piece(tmp_path: Any) -> None:
    cut = ProviderUnavailable("cut", provider="primary")
    primary = ScriptedProvider([StreamStep("Echo: one two three four", cut, 3)],
                               name="primary")
    alternate = ScriptedProvider(name="alt")
    llm = stack(AuditLog(FileSink(tmp_path / "audit.jsonl", fsync="never")),
                Budget(limit_usd=10), Fallback(alternate), provider=primary)
    stream: Any = llm(ChatRequest("one two three four", stream=True))
    assert "".join(c.text for c in stream) == "Echo: one two three four"
    final = stream.response
    assert (final.provider, final.usage.output_tokens) == ("alt", 5)  # its own usage
    piece = next(e for e in final.trace if e.event == "interrupted")
    assert piece.data["provider"] == "primary" and piece.data["chars"] == len("Echo: one two ")
    assert alternate.price is not None
    own = alternate.price.cost(final.usage)
    assert final.cost_usd is not None and final.cost_usd > own  # the cut piece is billed too
    flush_all()
    import json

    (record,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text()
                 .splitlines() if '"outcome"' in line]
    assert record["provider"] == "alt" and record["attempts"] == 2
    assert any(t.startswith("stream.interrupted") for t in map(str, record["trace"]))
