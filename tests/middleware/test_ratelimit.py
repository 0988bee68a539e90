"""RateLimit: the window invariant (hypothesis, fake clock), tokens, keys, max_wait,
sync/async parity, and the SQLite and Redis stores shared by several limiter instances."""

from __future__ import annotations

import asyncio
import bisect
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, RateLimited, stack
from insightforge.errors import ConfigError
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import RateLimit
from middleware._clock import FakeClock
from middleware.ratelimit import MemoryStore, RedisStore, SQLiteStore, estimate_tokens
from middleware.ratelimit.policy import Limits, token_units, wait_for


def limiter(clock: FakeClock, **kw: Any) -> RateLimit:
    kw.setdefault("max_wait", 1e6)
    return RateLimit(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kw)


def max_in_window(times_ms: list[int], window_ms: int, weights: list[int] | None = None) -> int:
    """The most units admitted in any closed window [t, t + window] (t an admission time)."""
    weights = weights or [1] * len(times_ms)
    best = 0
    for i, start in enumerate(times_ms):
        end = bisect.bisect_right(times_ms, start + window_ms)
        best = max(best, sum(weights[i:end]))
    return best


class Recorder(ScriptedProvider):
    """Records the (fake) time of every call that got through the limiter."""

    def __init__(self, clock: FakeClock, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.times: list[int] = []

    def __call__(self, request: Any, /) -> Any:
        self.times.append(int(self.clock() * 1000))
        return super().__call__(request)

    async def acall(self, request: Any, /) -> Any:
        self.times.append(int(self.clock() * 1000))
        return await super().acall(request)


gaps = st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.sampled_from([0.5, 1.0, 2.0]), gaps)
def test_no_window_ever_holds_more_than_the_limit(limit: int, window: float,
                                                  arrivals: list[float]) -> None:
    clock = FakeClock()
    provider = Recorder(clock)
    llm = stack(limiter(clock, rpm=limit, window=window), provider=provider)
    for gap in arrivals:
        clock.advance(gap)
        llm(ChatRequest("hi"))
    assert len(provider.times) == len(arrivals)
    assert max_in_window(provider.times, int(window * 1000)) <= limit


@settings(max_examples=40, deadline=None)
@given(st.integers(50, 400), st.lists(st.tuples(st.floats(0, 2), st.integers(1, 60)),
                                      min_size=1, max_size=25))
def test_tokens_in_any_window_never_exceed_tpm(tpm: int, calls: list[tuple[float, int]]) -> None:
    clock = FakeClock()
    provider = Recorder(clock)
    llm = stack(limiter(clock, tpm=tpm, window=1.0, estimate_tokens=lambda r: r.max_tokens),
                provider=provider)
    weights = []
    for gap, tokens in calls:
        clock.advance(gap)
        llm(ChatRequest("x", max_tokens=tokens))
        weights.append(min(tpm, tokens))
    assert max_in_window(provider.times, 1000, weights) <= tpm


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), gaps)
def test_sync_and_async_decide_identically(limit: int, arrivals: list[float]) -> None:
    def drive(use_async: bool) -> tuple[list[int], list[float]]:
        clock = FakeClock()
        provider = Recorder(clock)
        llm = stack(limiter(clock, rpm=limit, window=1.0), provider=provider)

        async def go() -> None:
            for gap in arrivals:
                clock.advance(gap)
                await llm.acall(ChatRequest("hi"))

        if use_async:
            asyncio.run(go())
        else:
            for gap in arrivals:
                clock.advance(gap)
                llm(ChatRequest("hi"))
        return provider.times, clock.sleeps

    assert drive(False) == drive(True)


@given(st.one_of(st.none(), st.integers(0, 100_000)), st.floats(0, 20), st.floats(0, 20))
def test_wait_for_never_exceeds_max_wait(retry_after_ms: int | None, waited: float,
                                         max_wait: float) -> None:
    delay = wait_for(retry_after_ms, waited, max_wait)
    assert delay is None or (delay > 0 and waited + delay <= max_wait)
    if retry_after_ms is None:
        assert delay is None


@given(st.integers(1, 10**7), st.integers(0, 10**8))
def test_token_units_round_up_and_never_exceed_the_window(tpm: int, tokens: int) -> None:
    limits = Limits(tpm=tpm)
    rate = limits.token_rate()
    assert rate is not None and rate.limit * limits.token_unit <= tpm
    units = token_units(tokens, limits.token_unit, rate.limit)
    assert 0 <= units <= rate.limit
    if units < rate.limit:
        assert units * limits.token_unit >= tokens


def test_waiting_longer_than_max_wait_raises_rate_limited_without_calling() -> None:
    clock = FakeClock()
    provider = ScriptedProvider()
    llm = stack(limiter(clock, rpm=2, window=60, max_wait=5), provider=provider)
    llm(ChatRequest("a"))
    llm(ChatRequest("b"))
    with pytest.raises(RateLimited) as info:
        llm(ChatRequest("c"))
    assert len(provider.calls) == 2 and clock.sleeps == []
    assert info.value.wait is not None and 59 < info.value.wait <= 60.01
    assert "max_wait=5" in str(info.value)


def test_a_wait_is_recorded_in_the_trace() -> None:
    clock = FakeClock()
    llm = stack(limiter(clock, rpm=1, window=2), provider=ScriptedProvider())
    assert llm(ChatRequest("a")).trace == ()
    reply: Any = llm(ChatRequest("b"))
    assert [e.event for e in reply.trace] == ["waited"]
    assert 1.9 < reply.trace[0].data["waited"] <= 2.01


def test_tag_keys_give_each_tenant_its_own_limit() -> None:
    clock = FakeClock()
    llm = stack(limiter(clock, rpm=1, key="tag:tenant", max_wait=0),
                provider=ScriptedProvider())
    llm(ChatRequest("a", tags={"tenant": "acme"}))
    llm(ChatRequest("a", tags={"tenant": "globex"}))
    with pytest.raises(RateLimited, match="tenant=acme"):
        llm(ChatRequest("again", tags={"tenant": "acme"}))


def test_route_key_separates_providers_sharing_a_store() -> None:
    clock, store = FakeClock(), MemoryStore()
    one = stack(limiter(clock, rpm=1, store=store, max_wait=0),
                provider=ScriptedProvider(name="one"))
    two = stack(limiter(clock, rpm=1, store=store, max_wait=0),
                provider=ScriptedProvider(name="two"))
    one(ChatRequest("a"))
    two(ChatRequest("a"))  # a different route: its own log
    with pytest.raises(RateLimited):
        one(ChatRequest("b"))


def test_token_estimate_is_corrected_after_the_call() -> None:
    clock = FakeClock()
    # the estimate says 1 token; the scripted provider reports ~40 (words + 3 per message)
    llm = stack(limiter(clock, tpm=50, window=10, estimate_tokens=lambda r: 1, max_wait=0),
                provider=ScriptedProvider())
    reply: Any = llm(ChatRequest(" ".join(["word"] * 30)))
    assert reply.usage.total_tokens > 40
    with pytest.raises(RateLimited):  # the real usage was charged, so the window is full
        llm(ChatRequest("x"))


def test_streamed_usage_is_corrected_at_the_end() -> None:
    clock = FakeClock()
    llm = stack(limiter(clock, tpm=50, window=10, estimate_tokens=lambda r: 10, max_wait=0),
                provider=ScriptedProvider([StreamStep(" ".join(["w"] * 40))]))
    stream: Any = llm(ChatRequest("hi", stream=True))
    assert stream.collect().usage.output_tokens == 40
    with pytest.raises(RateLimited):  # 44 real tokens + 10 estimated > 50
        llm(ChatRequest("x"))


def test_default_estimate_counts_prompt_and_max_tokens() -> None:
    request = ChatRequest("a b c d", max_tokens=100)  # 4 words > 7 chars / 4
    assert estimate_tokens(request) == 4 + 3 + 100
    assert estimate_tokens(ChatRequest("x" * 400)) == 100 + 3 + 512
    assert estimate_tokens(EmbedRequest(["a b", "c"])) == 3


def test_async_waiting_never_blocks_the_event_loop() -> None:
    llm = stack(RateLimit(rpm=1, window=0.3, max_wait=2), provider=ScriptedProvider())

    async def go() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        await llm.acall(ChatRequest("a"))
        await llm.acall(ChatRequest("b"))  # waits ~0.3 s
        task.cancel()
        return ticks

    started = time.monotonic()
    ticks = asyncio.run(go())
    assert time.monotonic() - started >= 0.25 and ticks >= 8


@pytest.mark.parametrize("kwargs, field", [
    ({}, "rpm"), ({"rpm": 0}, "rpm"), ({"rpm": 1.5}, "rpm"), ({"tpm": -1}, "tpm"),
    ({"rpm": 1, "window": 0}, "window"), ({"rpm": 1, "max_wait": -1}, "max_wait"),
    ({"rpm": 1, "key": "tenant"}, "key"), ({"rpm": 1, "store": "postgres://x"}, "store"),
])
def test_bad_options_raise_config_error_naming_the_field(kwargs: dict[str, Any],
                                                          field: str) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimit(**kwargs)
    assert info.value.path == field


# -- shared stores -------------------------------------------------------------------------
def _shared_pair(store_a: Any, store_b: Any, clock: FakeClock) -> tuple[Any, Any]:
    provider = ScriptedProvider()
    return (stack(limiter(clock, rpm=3, window=1, store=store_a, max_wait=0), provider=provider),
            stack(limiter(clock, rpm=3, window=1, store=store_b, max_wait=0), provider=provider))


def _assert_shared(a: Any, b: Any, clock: FakeClock) -> None:
    a(ChatRequest("1"))
    b(ChatRequest("2"))
    a(ChatRequest("3"))
    with pytest.raises(RateLimited):
        b(ChatRequest("4"))  # the two limiters count in one log
    clock.advance(1.01)
    b(ChatRequest("5"))


def test_sqlite_store_is_shared_between_connections(tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    path = tmp_path / "limits.db"
    a, b = _shared_pair(SQLiteStore(path), SQLiteStore(path), clock)
    _assert_shared(a, b, clock)
    assert repr(SQLiteStore(path)) == f"SQLiteStore({str(path)!r})"


def test_sqlite_store_from_a_url_string(tmp_path: Path) -> None:
    layer = RateLimit(rpm=1, store=f"sqlite:///{tmp_path}/x.db")
    assert isinstance(layer.store, SQLiteStore) and layer.store.path == tmp_path / "x.db"


@pytest.mark.redis
def test_redis_store_is_shared_between_clients(redis_url: str, redis_client: Any) -> None:
    clock = FakeClock(time.time())
    a, b = _shared_pair(RedisStore(redis_url), RedisStore(redis_url), clock)
    _assert_shared(a, b, clock)


@pytest.mark.redis
def test_redis_store_async_path(redis_url: str, redis_client: Any) -> None:
    clock = FakeClock(time.time())
    llm = stack(limiter(clock, rpm=2, window=1, store=RedisStore(redis_url)),
                provider=ScriptedProvider())

    async def go() -> None:
        for _ in range(5):
            await llm.acall(ChatRequest("x"))

    asyncio.run(go())
    assert len(clock.sleeps) == 2  # 5 requests at 2 per second: two waits


def test_redis_store_repr_hides_the_password() -> None:
    store = RedisStore("redis://user:hunter2secret@localhost:6379/0")
    assert "hunter2secret" not in repr(store) and "***" in repr(store)


@pytest.mark.parametrize("spec", ["redis+sentinel://:hunter2secret@host:26379/0",
                                  "postgres://app:hunter2secret@db/limits",
                                  "redis://:hunter2secret@[::1/0"])
def test_a_bad_store_url_is_named_without_its_password(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimit(rpm=1, store=spec)
    assert "hunter2secret" not in str(info.value) and "***" in str(info.value)
