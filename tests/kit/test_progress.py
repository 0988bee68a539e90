"""The progress hook (insightforge.kit.progress): while a call waits, Retry, Fallback and
RateLimit say why — sync and async alike — and with nobody listening nothing happens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import ChatRequest, Message, ProviderUnavailable, RateLimitError, stack
from insightforge.kit import progress
from insightforge.testing import FakeClock
from insightforge.testing.scripted import ScriptedProvider
from insightforge.types import TraceEvent
from middleware import Fallback, RateLimit, Retry

HI = ChatRequest(messages=[Message("user", "hi")])


def transient(name: str = "scripted") -> ProviderUnavailable:
    return ProviderUnavailable("down for a moment", provider=name)


class Heard:
    """A listener that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, float]] = []

    def __call__(self, event: TraceEvent, wait: float) -> None:
        self.told.append((f"{event.layer}.{event.event}", wait))


def call(llm: Any, mode: str) -> Any:
    return llm(HI) if mode == "sync" else asyncio.run(llm.acall(HI))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_retry_says_it_waits_before_sleeping(mode: str) -> None:
    clock = FakeClock()
    heard = Heard()
    seen_at_sleep: list[int] = []

    def sleep(seconds: float) -> None:
        seen_at_sleep.append(len(heard.told))  # told before the wait, not after
        clock.sleep(seconds)

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    llm = stack(Retry(attempts=3, clock=clock, sleep=sleep, asleep=asleep),
                provider=ScriptedProvider([transient(), RateLimitError(
                    "slow down", provider="scripted", retry_after=2.0), "ok"]))
    with progress.listening(heard):
        assert call(llm, mode).text == "ok"
    assert [name for name, _ in heard.told] == ["retry.attempt", "retry.attempt"]
    assert [wait for _, wait in heard.told] == clock.sleeps and clock.sleeps[1] == 2.0
    assert seen_at_sleep == [1, 2]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fallback_says_it_moves_on(mode: str) -> None:
    heard = Heard()
    local = ScriptedProvider(name="local")
    llm = stack(Fallback(local), provider=ScriptedProvider([transient()], name="main"))
    with progress.listening(heard):
        assert call(llm, mode).provider == "local"
    assert heard.told == [("fallback.fallback", 0.0)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_ratelimit_says_what_it_waits_for(mode: str) -> None:
    clock = FakeClock()
    heard = Heard()
    llm = stack(RateLimit(rpm=1, window=10, max_wait=60, clock=clock, sleep=clock.sleep,
                          asleep=clock.asleep), provider=ScriptedProvider())
    with progress.listening(heard):
        call(llm, mode)
        call(llm, mode)
    assert [name for name, _ in heard.told] == ["ratelimit.waiting"] * len(clock.sleeps)
    assert clock.sleeps and [wait for _, wait in heard.told] == clock.sleeps


def test_nobody_listening_costs_nothing_and_a_broken_listener_changes_nothing() -> None:
    assert not progress.active()
    progress.report(TraceEvent("x", "y"), 1.0)  # no listener: a no-op
    clock = FakeClock()
    llm = stack(Retry(attempts=2, clock=clock, sleep=clock.sleep, asleep=clock.asleep),
                provider=ScriptedProvider([transient(), "ok"]))

    def broken(event: TraceEvent, wait: float) -> None:
        raise RuntimeError("a listener bug")

    with progress.listening(broken):
        assert progress.active()
        assert llm(HI).text == "ok"
    assert not progress.active()


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4))
def test_listening_nests_and_restores(names: list[str]) -> None:
    told: list[str] = []

    def nest(rest: list[str]) -> None:
        if not rest:
            progress.report(TraceEvent("t", "e"))
            return
        with progress.listening(lambda e, w, n=rest[0]: told.append(n)):
            nest(rest[1:])
        progress.report(TraceEvent("t", "e"))

    nest(names)
    # the innermost hears first; each enclosing one hears after its inner block ends
    assert told == list(reversed(names))
    assert not progress.active()
