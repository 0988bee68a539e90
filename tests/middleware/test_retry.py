"""Retry: the pure policy (hypothesis), the sync and async drivers, streams, trace."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, stack
from insightforge.errors import (
    AuthenticationError,
    ConfigError,
    InsightForgeError,
    ProviderUnavailable,
    RateLimitError,
    StreamInterrupted,
)
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import Retry
from middleware._clock import FakeClock
from middleware.retry import Backoff, RetryPolicy
from tests.middleware._resilience_helpers import (
    RETRYABLE,
    ProbeLayer,
    make_error,
    materialise,
    scripts,
    trace_facts,
)

REQ = ChatRequest("hello world")
jitters = st.sampled_from(["full", "proportional", "none"])
backoffs = st.builds(Backoff, base=st.floats(0, 10), factor=st.floats(1, 10),
                     cap=st.floats(0, 120), jitter=jitters)


def retry(clock: FakeClock, seed: int = 0, **kw: Any) -> Retry:
    return Retry(clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                 random=random.Random(seed).random, **kw)


# -- the pure policy ----------------------------------------------------------------------
@given(backoffs, st.integers(1, 10_000), st.floats(0, 1, exclude_max=True))
def test_backoff_delay_is_within_zero_and_cap(backoff: Backoff, attempt: int,
                                              rand: float) -> None:
    delay = backoff.delay(attempt, rand)
    assert 0 <= delay <= backoff.cap
    ceiling = backoff.ceiling(attempt)
    if backoff.jitter == "none":
        assert delay == ceiling
    elif backoff.jitter == "proportional":
        assert ceiling / 2 <= delay <= ceiling


@given(backoffs, st.integers(1, 60))
def test_backoff_ceiling_never_shrinks(backoff: Backoff, attempt: int) -> None:
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1) + 1e-9


@given(st.floats(0, 100), st.floats(0, 100), st.integers(1, 5), st.floats(0, 50))
def test_server_directed_wait_is_honoured_exactly_or_gives_up(
        retry_after: float, max_retry_after: float, attempt: int, elapsed: float) -> None:
    policy = RetryPolicy(attempts=6, max_retry_after=max_retry_after)
    delay = policy.decide(attempt, make_error("429", retry_after=retry_after), elapsed)
    assert delay == (retry_after if retry_after <= max_retry_after else None)


@given(st.integers(1, 10), st.integers(1, 12), st.sampled_from(RETRYABLE))
def test_decide_gives_up_at_the_attempt_limit(attempts: int, attempt: int, kind: str) -> None:
    delay = RetryPolicy(attempts=attempts).decide(attempt, make_error(kind), 0.0)
    assert (delay is None) == (attempt >= attempts)


@given(st.floats(0, 10), st.floats(0, 20), st.floats(0, 5))
def test_deadline_is_never_overrun(deadline: float, elapsed: float, retry_after: float) -> None:
    policy = RetryPolicy(attempts=5, deadline=deadline)
    delay = policy.decide(1, make_error("429", retry_after=retry_after), elapsed)
    assert delay is None or elapsed + delay <= deadline


def test_retry_on_tuple_and_predicate_override_the_default() -> None:
    auth = make_error("401")
    assert RetryPolicy().decide(1, auth, 0) is None
    assert RetryPolicy(retry_on=(AuthenticationError,)).decide(1, auth, 0) is not None
    assert RetryPolicy(retry_on=lambda e: False).decide(1, make_error("503"), 0) is None
    assert RetryPolicy().decide(1, ValueError("not ours"), 0) is None


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"attempts": 1.5},
                                    {"max_retry_after": -1}, {"deadline": float("nan")},
                                    {"retry_on": "429"}])
def test_bad_options_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Retry(**kwargs)
    with pytest.raises(ConfigError, match="jitter"):
        Backoff(jitter="fancy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="factor"):
        Backoff(factor=0.5)


# -- the drivers ---------------------------------------------------------------------------
def _run_sync(script: list[Any], attempts: int, seed: int) -> tuple[Any, ...]:
    clock = FakeClock()
    provider = ScriptedProvider(materialise(script))
    llm = stack(retry(clock, seed, attempts=attempts), provider=provider)
    try:
        outcome: Any = llm(REQ)
        result = ("ok", outcome.text, trace_facts(outcome.trace))
    except InsightForgeError as error:
        result = (type(error).__name__, "", trace_facts(error.trace))
    return result, len(provider.calls), clock.sleeps


def _run_async(script: list[Any], attempts: int, seed: int) -> tuple[Any, ...]:
    clock = FakeClock()
    provider = ScriptedProvider(materialise(script))
    llm = stack(retry(clock, seed, attempts=attempts), provider=provider)

    async def go() -> Any:
        try:
            outcome: Any = await llm.acall(REQ)
            return ("ok", outcome.text, trace_facts(outcome.trace))
        except InsightForgeError as error:
            return (type(error).__name__, "", trace_facts(error.trace))

    result = asyncio.run(go())
    return result, len(provider.calls), clock.sleeps


@settings(max_examples=60, deadline=None)
@given(scripts, st.integers(1, 6), st.integers(0, 2**32))
def test_sync_and_async_decide_identically(script: list[Any], attempts: int,
                                           seed: int) -> None:
    assert _run_sync(script, attempts, seed) == _run_async(script, attempts, seed)


@settings(max_examples=80, deadline=None)
@given(scripts, st.integers(1, 6))
def test_attempts_never_exceed_the_limit(script: list[Any], attempts: int) -> None:
    (_, _, trace), calls, sleeps = _run_sync(script, attempts, 0)
    assert 1 <= calls <= attempts
    waits = [e[3]["delay"] for e in trace if e[:2] == ("retry", "attempt")]
    assert len(waits) == calls - 1  # one attempt event per retry
    # a sleep for each non-zero wait (a Retry-After of 0 is none; the trace rounds to 1 µs)
    assert len([w for w in waits if w]) <= len(sleeps) <= len(waits)
    # the first non-retryable error or success stops the loop; otherwise the limit does
    stop = next((i for i, (kind, _) in enumerate(script) if kind not in RETRYABLE),
                len(script))
    assert calls == min(attempts, stop + 1)
    slept = iter(sleeps)  # server-directed waits honoured exactly, in order
    for kind, retry_after in script[:calls - 1]:
        if retry_after and kind in ("429", "503"):
            assert retry_after in slept
    assert [e[3]["attempt"] for e in trace if e[1] == "attempt"] == list(range(2, calls + 1))


def test_429_with_retry_after_then_success_shows_the_wait_in_the_trace() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([make_error("429", retry_after=1.2), "fine"])
    reply: Any = stack(retry(clock), provider=provider)(REQ)
    assert reply.text == "fine" and clock.sleeps == [1.2]
    (event,) = reply.trace
    assert event.detail == "attempt 2 after 1.20s: RateLimitError"
    assert dict(event.data) == {"attempt": 2, "delay": 1.2, "error": "RateLimitError",
                                "reason": "retry-after"}


def test_unretryable_error_is_raised_at_once_without_a_trace() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([make_error("401"), "never"])
    with pytest.raises(AuthenticationError) as info:
        stack(retry(clock), provider=provider)(REQ)
    assert len(provider.calls) == 1 and clock.sleeps == [] and info.value.trace == ()


def test_final_failure_carries_every_attempt_in_its_trace() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([make_error("503") for _ in range(3)])
    with pytest.raises(ProviderUnavailable) as info:
        stack(retry(clock, attempts=3), provider=provider)(REQ)
    events = [(e.event, dict(e.data).get("attempt")) for e in info.value.trace]
    assert events == [("attempt", 2), ("attempt", 3), ("gave_up", 3)]


def test_too_long_retry_after_gives_up_at_once() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([make_error("429", retry_after=120), "never"])
    with pytest.raises(RateLimitError) as info:
        stack(retry(clock, max_retry_after=60), provider=provider)(REQ)
    assert len(provider.calls) == 1 and clock.sleeps == []
    assert "retry-after too long" in info.value.trace[-1].detail


def test_deadline_stops_retrying() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([make_error("429", retry_after=2) for _ in range(5)])
    with pytest.raises(RateLimitError):
        stack(retry(clock, attempts=5, deadline=5), provider=provider)(REQ)
    assert clock.sleeps == [2, 2] and len(provider.calls) == 3


# -- streams -------------------------------------------------------------------------------
def test_stream_failing_before_its_first_chunk_is_retried_and_closed_once() -> None:
    clock, probe = FakeClock(), ProbeLayer()
    provider = ScriptedProvider([StreamStep("x y", error=make_error("503"), fail_after=0),
                                 StreamStep("one two three")])
    llm = stack(retry(clock), probe, provider=provider)
    stream: Any = llm(ChatRequest("hi", stream=True))
    assert "".join(c.text for c in stream) == "one two three"
    assert stream.response.trace[0].event == "attempt"
    assert probe.ends == ["error", "end"]  # each attempt finished exactly once


def test_stream_failing_after_its_first_chunk_is_not_retried_with_resume_off() -> None:
    clock, probe = FakeClock(), ProbeLayer()
    provider = ScriptedProvider([StreamStep("a b c d", error=make_error("503"), fail_after=2),
                                 "never"])
    stream: Any = stack(retry(clock, resume=False), probe, provider=provider)(
        ChatRequest("hi", stream=True))
    with pytest.raises(ProviderUnavailable):
        for _ in stream:
            pass
    assert len(provider.calls) == 1 and probe.ends == ["error"]


def test_stream_cut_after_its_first_chunk_is_continued_on_the_same_route() -> None:
    clock, probe = FakeClock(), ProbeLayer()
    provider = ScriptedProvider([StreamStep("a b c d", error=make_error("503"), fail_after=2),
                                 StreamStep("a b c d")])
    stream: Any = stack(retry(clock), probe, provider=provider)(ChatRequest("hi", stream=True))
    pieces = [c.text for c in stream]
    assert "".join(pieces) == "a b c d" == stream.response.text
    assert pieces[:2] == ["a ", "b "]  # what was delivered is never delivered again
    assert len(provider.calls) == 2 and probe.ends == ["error", "end"]
    assert [str(e).split(":")[0] for e in stream.response.trace] == [
        "stream.interrupted", "retry.attempt", "stream.resumed"]
    assert stream.response.trace[2].data["how"] == "restart"


def test_a_continuation_that_does_not_extend_the_delivered_text_is_interrupted() -> None:
    clock = FakeClock()
    provider = ScriptedProvider([StreamStep("a b c d", error=make_error("503"), fail_after=2),
                                 StreamStep("a x c d"), StreamStep("a y"), StreamStep("a z")])
    stream: Any = stack(retry(clock), provider=provider)(ChatRequest("hi", stream=True))
    got: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        for chunk in stream:
            got.append(chunk.text)
    assert "".join(got) == caught.value.partial == "a b "
    assert caught.value.reason == "diverged" and not caught.value.retryable
    assert isinstance(caught.value.cause, ProviderUnavailable)
    assert len(provider.calls) == 3  # attempts=3: the cut one and two restarts


def test_async_stream_failing_before_its_first_chunk_is_retried() -> None:
    clock, probe = FakeClock(), ProbeLayer()
    provider = ScriptedProvider([StreamStep("x", error=make_error("timeout"), fail_after=0),
                                 StreamStep("fine now")])

    async def go() -> str:
        stream: Any = await stack(retry(clock), probe, provider=provider).acall(
            ChatRequest("hi", stream=True))
        return "".join([c.text async for c in stream])

    assert asyncio.run(go()) == "fine now"
    assert probe.ends == ["error", "end"] and len(clock.sleeps) == 1


def test_async_driver_sleeps_with_the_async_sleep_only() -> None:
    clock = FakeClock()

    def forbidden(_: float) -> None:
        raise AssertionError("the async driver must not block the loop with time.sleep")

    layer = Retry(clock=clock, sleep=forbidden, asleep=clock.asleep)
    provider = ScriptedProvider([make_error("503"), "ok"])
    reply: Any = asyncio.run(stack(layer, provider=provider).acall(REQ))
    assert reply.text == "ok" and len(clock.sleeps) == 1


def test_options_from_a_config_mapping() -> None:
    layer = Retry(attempts=2, backoff={"base": 1, "cap": 4, "jitter": "none"},
                  retry_on=[AuthenticationError])
    assert layer.backoff == Backoff(base=1, cap=4, jitter="none")
    assert layer.policy.retries(make_error("401"))
    with pytest.raises(ConfigError, match="backoff accepts base, factor, cap, jitter"):
        Retry(backoff={"initial": 1})


def test_repr_shows_the_configuration() -> None:
    text = repr(stack(Retry(attempts=4), provider=ScriptedProvider()))
    assert "Retry(attempts=4" in text and "ScriptedProvider" in text
