"""Fallback: order, which errors move on, AllProvidersFailed, streams, parity, routes, repr."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, stack
from insightforge.errors import (
    AllProvidersFailed,
    AuthenticationError,
    ConfigError,
    ContextLengthExceeded,
    InsightForgeError,
    ProviderUnavailable,
    Unsupported,
)
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import Fallback, Retry
from middleware._clock import FakeClock
from middleware.fallback import FallbackPolicy
from tests.middleware._resilience_helpers import (
    FINAL,
    RETRYABLE,
    ProbeLayer,
    make_error,
    trace_facts,
)

REQ = ChatRequest("hello")
outcomes = st.lists(st.sampled_from(("ok", *RETRYABLE, *FINAL)), min_size=2, max_size=5)


def branches(plan: list[str]) -> list[ScriptedProvider]:
    return [ScriptedProvider([] if kind == "ok" else [make_error(kind, f"p{i}")],
                             name=f"p{i}") for i, kind in enumerate(plan)]


def run(plan: list[str], *, use_async: bool = False, on: Any = None) -> tuple[Any, ...]:
    providers = branches(plan)
    llm = stack(Fallback(*providers[1:], on=on), provider=providers[0])
    try:
        reply: Any = asyncio.run(llm.acall(REQ)) if use_async else llm(REQ)
        result: Any = ("ok", reply.provider, trace_facts(reply.trace))
    except AllProvidersFailed as error:
        result = ("all", [type(e).__name__ for e in error.errors], trace_facts(error.trace))
    except InsightForgeError as error:
        result = (type(error).__name__, "", trace_facts(error.trace))
    return result, [len(p.calls) for p in providers]


@settings(max_examples=80, deadline=None)
@given(outcomes)
def test_branches_are_tried_in_order_until_one_answers(plan: list[str]) -> None:
    (kind, detail, trace), calls = run(plan)
    stop = next(i for i, k in enumerate([*plan, "ok"]) if k not in RETRYABLE)
    stop = min(stop, len(plan) - 1)
    assert calls == [1] * (stop + 1) + [0] * (len(plan) - stop - 1)
    hops = [e[3]["to"] for e in trace if e[0] == "fallback"]
    assert hops == [f"p{i}" for i in range(1, stop + 1)]
    if plan[stop] == "ok":
        assert (kind, detail) == ("ok", f"p{stop}")  # the answering provider is reported
    elif plan[stop] in FINAL or stop == 0:
        assert kind != "all"  # an error that does not warrant a fallback is raised as is
    else:
        assert kind == "all" and len(detail) == len(plan)  # every error, in order


@settings(max_examples=40, deadline=None)
@given(outcomes)
def test_sync_and_async_decide_identically(plan: list[str]) -> None:
    assert run(plan) == run(plan, use_async=True)


def test_all_providers_failed_lists_every_error_in_order() -> None:
    (kind, names, trace), _ = run(["503", "timeout", "429"])
    assert kind == "all" and names == ["ProviderUnavailable", "Timeout", "RateLimitError"]
    assert [e[2] for e in trace] == ["fallback to p1 after ProviderUnavailable",
                                     "fallback to p2 after Timeout"]


def test_unwarranted_errors_do_not_fall_back_unless_configured() -> None:
    assert run(["401", "ok"])[1] == [1, 0]
    assert run(["context", "ok"])[1] == [1, 0]
    assert run(["401", "ok"], on=(AuthenticationError,))[0][:2] == ("ok", "p1")
    assert run(["context", "ok"], on=(ContextLengthExceeded,))[0][:2] == ("ok", "p1")
    # a predicate replaces the default rule entirely
    assert run(["503", "ok"], on=lambda e: False)[1] == [1, 0]


def test_policy_is_pure_and_bounded() -> None:
    policy = FallbackPolicy()
    assert policy.next_branch(0, make_error("503"), 3) == 1
    assert policy.next_branch(2, make_error("503"), 3) is None
    assert policy.next_branch(0, make_error("invalid"), 3) is None


def test_alternates_may_be_whole_stacks_and_functions() -> None:
    clock = FakeClock()
    local = stack(Retry(attempts=2, clock=clock, sleep=clock.sleep),
                  provider=ScriptedProvider([make_error("503")], name="local"))
    primary = ScriptedProvider([make_error("503")], name="primary")

    def last_resort(request: ChatRequest) -> str:
        return "from a function"

    llm = stack(Fallback(local, last_resort), provider=primary)
    reply: Any = llm(REQ)
    assert reply.provider == "local" and reply.text == "Echo: hello"
    assert [e.layer for e in reply.trace] == ["fallback", "retry"]
    assert [r.provider for r in llm.routes()] == ["primary", "local", "last_resort"]
    drawing = repr(llm)
    assert "├─ ScriptedProvider(name='primary'" in drawing and "last_resort()" in drawing


def test_stream_failing_before_first_chunk_falls_back() -> None:
    probe = ProbeLayer()
    primary = ScriptedProvider([StreamStep("x", error=make_error("503"), fail_after=0)],
                               name="primary")
    llm = stack(Fallback(ScriptedProvider(name="alt")), probe, provider=primary)
    stream: Any = llm(ChatRequest("hi there", stream=True))
    assert "".join(c.text for c in stream) == "Echo: hi there"
    assert stream.response.provider == "alt"
    assert stream.response.trace[0].detail == "fallback to alt after ProviderUnavailable"
    assert probe.ends == ["error"]  # the failed primary stream ended exactly once


def test_stream_failing_after_first_chunk_never_falls_back_with_resume_off() -> None:
    alt = ScriptedProvider(name="alt")
    primary = ScriptedProvider([StreamStep("a b c", error=make_error("503"), fail_after=1)])
    stream: Any = stack(Fallback(alt, resume=False), provider=primary)(
        ChatRequest("hi", stream=True))
    with pytest.raises(ProviderUnavailable):
        list(stream)
    assert alt.calls == []


def test_stream_cut_after_first_chunk_is_continued_on_the_alternate() -> None:
    alt = ScriptedProvider(name="alt")
    primary = ScriptedProvider([StreamStep("Echo: hi there friend", error=make_error("503"),
                                           fail_after=2)])
    stream: Any = stack(Fallback(alt), provider=primary)(ChatRequest("hi there friend",
                                                                     stream=True))
    assert "".join(c.text for c in stream) == "Echo: hi there friend"
    final = stream.response
    assert final.text == "Echo: hi there friend" and final.provider == "alt"
    assert final.usage.output_tokens == 4  # the alternate's own usage
    assert [str(e).split(":")[0] for e in final.trace] == [
        "stream.interrupted", "fallback.fallback", "stream.resumed"]


def test_a_cut_stream_continues_by_prefill_where_the_alternate_declares_it() -> None:
    alt = ScriptedProvider(name="alt", prefill=True)
    primary = ScriptedProvider([StreamStep("Echo: one two three", error=make_error("503"),
                                           fail_after=2)])
    stream: Any = stack(Fallback(alt), provider=primary)(ChatRequest("one two three",
                                                                     stream=True))
    assert "".join(c.text for c in stream) == "Echo: one two three"
    (asked,) = alt.calls
    assert isinstance(asked, ChatRequest)
    assert asked.messages[-1].role == "assistant" and asked.messages[-1].text == "Echo: one"
    assert stream.response.trace[-1].data["how"] == "prefill"


def test_async_stream_falls_back_before_first_chunk() -> None:
    primary = ScriptedProvider([StreamStep("x", error=make_error("timeout"), fail_after=0)])
    llm = stack(Fallback(ScriptedProvider(name="alt")), provider=primary)

    async def go() -> Any:
        stream: Any = await llm.acall(ChatRequest("one two", stream=True))
        text = "".join([c.text async for c in stream])
        return text, stream.response.provider

    assert asyncio.run(go()) == ("Echo: one two", "alt")


def test_configuration_errors_say_the_fix() -> None:
    with pytest.raises(ConfigError, match="at least one alternate"):
        Fallback()
    with pytest.raises(ConfigError, match="tuple of extra error types"):
        Fallback(ScriptedProvider(), on="503")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="providers, stacks or functions"):
        Fallback(42)


def test_close_reaches_every_branch() -> None:
    closed: list[str] = []

    class Closing(ScriptedProvider):
        def close(self) -> None:
            closed.append(self.name)

    llm = stack(Fallback(Closing(name="b")), provider=Closing(name="a"))
    llm.close()
    assert closed == ["a", "b"]


def test_error_before_fallback_keeps_its_type_and_trace() -> None:
    providers = [ScriptedProvider([ProviderUnavailable("down", provider="a", status=503)],
                                  name="a"),
                 ScriptedProvider([make_error("invalid")], name="b")]
    with pytest.raises(InsightForgeError) as info:
        stack(Fallback(providers[1]), provider=providers[0])(REQ)
    assert type(info.value).__name__ == "InvalidRequest"
    assert info.value.trace[0].detail == "fallback to b after ProviderUnavailable"


# -- context windows ------------------------------------------------------------------------
def _too_long(name: str) -> ScriptedProvider:
    return ScriptedProvider([make_error("context", provider=name)], name=name,
                            context_window=8000)


def test_a_context_overflow_moves_only_to_a_larger_window() -> None:
    primary = _too_long("primary")
    same = ScriptedProvider(name="same", context_window=8000)
    smaller = ScriptedProvider(name="smaller", context_window=4000)
    larger = ScriptedProvider(name="larger", context_window=128000)
    llm = stack(Fallback(same, smaller, larger), provider=primary)
    reply: Any = llm(REQ)
    assert reply.provider == "larger"
    assert same.calls == [] and smaller.calls == []  # never the same request to a same size
    (event,) = reply.trace
    assert event.detail == "fallback to larger after ContextLengthExceeded"


def test_a_context_overflow_with_no_larger_window_is_raised_as_it_is() -> None:
    unknown = ScriptedProvider(name="unknown")  # no known window: not known to be larger
    llm = stack(Fallback(ScriptedProvider(name="same", context_window=8000), unknown),
                provider=_too_long("primary"))
    with pytest.raises(ContextLengthExceeded):
        llm(REQ)
    assert unknown.calls == []
    # asked for by `on`: a branch of unknown size may be tried, a same-size one still not
    same = ScriptedProvider(name="same", context_window=8000)
    llm = stack(Fallback(same, unknown, on=(ContextLengthExceeded,)),
                provider=_too_long("primary"))
    assert llm(REQ).provider == "unknown" and same.calls == []
    # context=False: only `on` decides (here: nothing moves)
    with pytest.raises(ContextLengthExceeded):
        stack(Fallback(ScriptedProvider(name="big", context_window=10**6), context=False),
              provider=_too_long("primary"))(REQ)


@given(st.lists(st.one_of(st.none(), st.integers(1, 10)), min_size=2, max_size=6))
def test_the_window_rule_is_pure_and_never_picks_a_smaller_route(
        windows: list[int | None]) -> None:
    policy = FallbackPolicy()
    error = make_error("context")
    found = policy.next_branch(0, error, len(windows), windows)
    if found is None:
        assert not any(w is not None and (windows[0] is None or w > windows[0])
                       for w in windows[1:])
    else:
        assert windows[found] is not None
        assert windows[0] is None or windows[found] > windows[0]  # type: ignore[operator]
        assert all(w is None or (windows[0] is not None and w <= windows[0])
                   for w in windows[1:found])


def test_an_unsupported_request_moves_on_but_is_never_retried() -> None:
    """A route that cannot take the request (Unsupported) is no reason to fail while another
    may: Fallback moves on by default; Retry never repeats it; a predicate decides alone."""
    def unsupported() -> Exception:
        return Unsupported("scripted cannot take an image part", provider="scripted")

    policy = FallbackPolicy()
    assert policy.next_branch(0, unsupported(), 2) == 1
    assert FallbackPolicy(on=lambda e: False).next_branch(0, unsupported(), 2) is None
    first, second = ScriptedProvider([unsupported()]), ScriptedProvider(["seen"])
    reply: Any = stack(Retry(attempts=3), Fallback(second), provider=first)(REQ)
    assert reply.text == "seen" and len(first.calls) == 1  # moved on, not retried


def test_embeddings_fall_back_from_a_provider_without_them(emulator: Any) -> None:
    """Anthropic has no embeddings API: the same stack embeds through its alternate."""
    from insightforge import EmbedRequest
    from providers import Anthropic, OpenAI

    claude = Anthropic(base_url=emulator.anthropic_url, api_key="sk-ant-test-0000", timeout=5)
    gpt = OpenAI(base_url=emulator.openai_url, api_key="sk-test-0000", timeout=5)
    with claude, gpt:
        llm = stack(Fallback(gpt), provider=claude)
        out: Any = llm(EmbedRequest(["a", "b"]))
        assert len(out.vectors) == 2 and out.provider == "openai"
        assert [e.event for e in out.trace if e.layer == "fallback"] == ["fallback"]
        assert asyncio.run(llm.acall(EmbedRequest("c"))).provider == "openai"
