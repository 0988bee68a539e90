"""Retry, Fallback and RateLimit over real sockets: the emulator, the real openai SDK
(``providers.OpenAI``), the Ollama wire, a real Redis, SQLite files, and two ``spawn``-ed
processes sharing one limit. Server-directed waits up to 1 s use the real sleep; longer
backoffs are injected."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import providers.ollama as ollama_provider
import providers.openai as openai_provider
from insightforge import ChatRequest, stack
from insightforge.errors import AllProvidersFailed, AuthenticationError, ProviderUnavailable
from insightforge.testing.emulator.faults import Fault
from middleware import Fallback, RateLimit, Retry
from middleware._clock import FakeClock
from tests.conftest import TEST_OPENAI_KEY
from tests.middleware import _ratelimit_worker


@pytest.fixture
def openai(emulator: Any) -> Iterator[Any]:
    provider = openai_provider.OpenAI(model="gpt-4o-mini", base_url=emulator.openai_url,
                                      api_key=TEST_OPENAI_KEY, timeout=10)
    yield provider
    provider.close()


@pytest.fixture
def ollama(emulator: Any) -> Iterator[Any]:
    provider = ollama_provider.Ollama(model="llama3.1", base_url=emulator.ollama_url, timeout=10)
    yield provider
    provider.close()


def fake_retry(**kw: Any) -> Retry:
    clock = FakeClock()
    return Retry(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kw)


def test_429_with_retry_after_then_200_waits_as_the_server_said(emulator: Any,
                                                                openai: Any) -> None:
    emulator.script(Fault.status(429, retry_after=1), api="openai")
    reply: Any = stack(Retry(attempts=3), provider=openai)(ChatRequest("hello there"))
    assert reply.text == "Echo: hello there" and reply.provider == "openai"
    (event,) = reply.trace
    assert event.detail == "attempt 2 after 1.00s: RateLimitError"
    assert event.data["delay"] == 1.0 and event.data["reason"] == "retry-after"
    first, second = emulator.requests
    assert first.fault == "status" and second.fault is None
    assert second.at - first.at >= 1.0  # the real wait happened, on the wire


def test_retry_after_ms_is_honoured_async(emulator: Any, openai: Any) -> None:
    emulator.script(Fault.status(429, retry_after_ms=250), api="openai")
    llm = stack(Retry(attempts=2), provider=openai)
    reply: Any = asyncio.run(llm.acall(ChatRequest("async hello")))
    assert reply.text == "Echo: async hello"
    assert reply.trace[0].data["delay"] == 0.25
    assert emulator.count(api="openai") == 2


def test_primary_failing_with_503_three_times_falls_back(emulator: Any, openai: Any,
                                                         ollama: Any) -> None:
    emulator.script(Fault.status(503), api="openai", times=3)
    llm = stack(Fallback(ollama), fake_retry(attempts=3), provider=openai)
    reply: Any = llm(ChatRequest("where am I"))
    assert reply.provider == "ollama" and reply.text == "Echo: where am I"
    assert emulator.count(api="openai") == 3 and emulator.count(api="ollama") == 1
    assert [str(e).split(":")[0] for e in reply.trace] == [
        "retry.attempt", "retry.attempt", "retry.gave_up", "fallback.fallback"]
    assert reply.trace[3].detail == "fallback to ollama after ProviderUnavailable"


def test_503_everywhere_lists_every_provider(emulator: Any, openai: Any,
                                             ollama: Any) -> None:
    emulator.script(Fault.status(503), times=2)
    with pytest.raises(AllProvidersFailed) as info:
        stack(Fallback(ollama), provider=openai)(ChatRequest("x"))
    assert [(type(e), e.provider) for e in info.value.errors] == [
        (ProviderUnavailable, "openai"), (ProviderUnavailable, "ollama")]


def test_401_is_not_retried_and_falls_back_only_if_configured(emulator: Any, openai: Any,
                                                              ollama: Any) -> None:
    emulator.script(Fault.status(401), api="openai")
    with pytest.raises(AuthenticationError):
        stack(Fallback(ollama), fake_retry(attempts=3), provider=openai)(ChatRequest("x"))
    assert emulator.count(api="openai") == 1 and emulator.count(api="ollama") == 0

    emulator.reset()
    emulator.script(Fault.status(401), api="openai")
    llm = stack(Fallback(ollama, on=(AuthenticationError,)), fake_retry(attempts=3),
                provider=openai)
    assert llm(ChatRequest("y")).provider == "ollama"
    assert emulator.count(api="openai") == 1 and emulator.count(api="ollama") == 1


def test_stream_is_retried_before_its_first_chunk_and_continued_after(emulator: Any,
                                                                       openai: Any) -> None:
    emulator.script(Fault.status(503), api="openai")
    llm = stack(fake_retry(attempts=3), provider=openai)
    stream: Any = llm(ChatRequest("stream me please", stream=True))
    assert "".join(c.text for c in stream) == "Echo: stream me please"
    assert stream.response.trace[0].event == "attempt"

    emulator.reset()  # after a chunk reached the caller: continued, nothing delivered twice
    emulator.script(Fault.stream_error(after_chunks=2), api="openai")
    stream = llm(ChatRequest("stream me please", stream=True))
    assert "".join(c.text for c in stream) == "Echo: stream me please"
    assert emulator.count(api="openai") == 2

    emulator.reset()  # with resume=False: never retried after the first chunk
    emulator.script(Fault.stream_error(after_chunks=2), api="openai")
    plain = stack(fake_retry(attempts=3, resume=False), provider=openai)
    stream = plain(ChatRequest("stream me please", stream=True))
    with pytest.raises(ProviderUnavailable):
        list(stream)
    assert emulator.count(api="openai") == 1


def test_rate_limit_in_front_of_the_real_provider(emulator: Any, openai: Any) -> None:
    openai(ChatRequest("warm up"))  # the SDK client and its connection are made lazily:
    emulator.reset()                # keep that one-off delay out of the measured arrivals
    llm = stack(RateLimit(rpm=3, window=0.5, max_wait=2), provider=openai)
    for i in range(7):
        llm(ChatRequest(f"r{i}"))
    times = [r.at for r in emulator.requests]
    assert times[6] - times[0] >= 1.0 - SLACK  # 7 at 3 per 0.5 s: two full windows


# -- two processes sharing one limit ------------------------------------------------------
LIMIT, WINDOW, PER_PROCESS = 10, 2.0, 14
SLACK = 0.25  # arrival times differ from admission times by the loopback latency (and load)


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window)
               for i, start in enumerate(times))


def _run_two_processes(store_spec: str, emulator: Any) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    args = (store_spec, emulator.openai_url, PER_PROCESS, LIMIT, WINDOW, start_at)
    with ctx.Pool(2) as pool:
        answered = pool.starmap_async(_ratelimit_worker.run, [args, args]).get(timeout=60)
    assert answered == [PER_PROCESS, PER_PROCESS]
    return [r.at for r in emulator.requests if r.path.endswith("/chat/completions")]


def _assert_never_exceeded(times: list[float]) -> None:
    assert len(times) == 2 * PER_PROCESS
    assert _max_in_window(times, WINDOW - SLACK) <= LIMIT
    # 28 requests at 10 per 2 s need at least two full windows: proof the limit was shared
    assert max(times) - min(times) >= 2 * WINDOW - SLACK


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_share_a_redis_limit(emulator: Any, redis_url: str,
                                           redis_client: Any) -> None:
    _assert_never_exceeded(_run_two_processes(redis_url, emulator))


@pytest.mark.slow
def test_two_processes_share_a_sqlite_limit(emulator: Any, tmp_path: Path) -> None:
    _assert_never_exceeded(_run_two_processes(f"sqlite:{tmp_path / 'limits.db'}", emulator))


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("INSIGHTFORGE_FULL_MINUTE"),
                    reason="the literal rpm=60 over 60 s run takes ~70 s; "
                           "set INSIGHTFORGE_FULL_MINUTE=1 to run it")
@pytest.mark.timeout(180)
def test_rpm_60_over_a_real_minute(emulator: Any, redis_url: str, redis_client: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    args = (redis_url, emulator.openai_url, 40, 60, 60.0, time.time() + 2.0)
    with ctx.Pool(2) as pool:
        assert pool.starmap_async(_ratelimit_worker.run, [args, args]).get(timeout=150) == [40, 40]
    times = [r.at for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert len(times) == 80 and _max_in_window(times, 60.0 - SLACK) <= 60
    assert max(times) - min(times) >= 60.0 - SLACK
