"""First-token and stall limits, one malformed event, a missing end marker — for every
provider driver (the openai SDK's and httpx's), sync and async, over the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from insightforge import ChatRequest
from insightforge.errors import (
    ConfigError,
    FirstTokenTimeout,
    InvalidRequest,
    MalformedResponse,
    StallTimeout,
)
from insightforge.testing.emulator import Emulator, Fault
from providers import Anthropic, Ollama, OpenAI
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY

PROMPT = "one two three four five six seven eight nine"
ANSWER = "Echo: " + PROMPT
Build = Callable[..., Any]


def _openai(emu: Emulator, **kw: Any) -> Any:
    return OpenAI(base_url=emu.openai_url, api_key=TEST_OPENAI_KEY, timeout=5, **kw)


def _anthropic(emu: Emulator, **kw: Any) -> Any:
    return Anthropic("claude-sonnet-4-5", base_url=emu.anthropic_url,
                     api_key=TEST_ANTHROPIC_KEY, timeout=5, **kw)


def _ollama(emu: Emulator, **kw: Any) -> Any:
    return Ollama(base_url=emu.ollama_url, timeout=5, **kw)


BUILDERS = {"openai": _openai, "anthropic": _anthropic, "ollama": _ollama}


@pytest.fixture(params=sorted(BUILDERS))
def build(request: Any, emulator: Emulator) -> Iterator[Build]:
    made: list[Any] = []

    def make(**kw: Any) -> Any:
        made.append(BUILDERS[request.param](emulator, **kw))
        return made[-1]

    yield make
    for provider in made:
        provider.close()


def _read(provider: Any, request: ChatRequest, use_async: bool,
          pause: float = 0.0) -> tuple[str, Any]:
    """The streamed text and final response (``pause`` between reads: the consumer's)."""
    async def arun() -> tuple[str, Any]:
        stream = await provider.acall(request)
        got = []
        async with stream:
            async for chunk in stream:
                got.append(chunk.text)
                await asyncio.sleep(pause)
        return "".join(got), stream.response

    if use_async:
        return asyncio.run(arun())
    stream = provider(request)
    got = []
    with stream:
        for chunk in stream:
            got.append(chunk.text)
            time.sleep(pause)
    return "".join(got), stream.response


@pytest.mark.parametrize("use_async", [False, True])
def test_no_first_token_within_the_limit_is_a_first_token_timeout(
        build: Build, emulator: Emulator, use_async: bool) -> None:
    provider = build(first_token_timeout=0.3)
    emulator.script(Fault.slow_first_token(3))
    started = time.monotonic()
    with pytest.raises(FirstTokenTimeout) as caught:
        _read(provider, ChatRequest(PROMPT, stream=True), use_async)
    assert time.monotonic() - started < 1.5  # the limit, not the 3 s the token took
    assert caught.value.limit == 0.3 and caught.value.retryable
    assert caught.value.provider == provider.name
    emulator.reset()  # the same provider answers the next request (a generous limit here)
    again = ChatRequest(PROMPT, stream=True, options={"first_token_timeout": 5})
    assert _read(provider, again, use_async)[0] == ANSWER


@pytest.mark.parametrize("use_async", [False, True])
def test_a_silent_server_is_a_first_token_timeout_before_the_read_timeout(
        build: Build, emulator: Emulator, use_async: bool) -> None:
    provider = build(first_token_timeout=0.3)
    emulator.script(Fault.stall())  # no headers at all
    started = time.monotonic()
    with pytest.raises(FirstTokenTimeout):
        _read(provider, ChatRequest(PROMPT, stream=True), use_async)
    assert time.monotonic() - started < 1.5  # timeout=5 would have taken 5 s


@pytest.mark.parametrize("use_async", [False, True])
def test_a_stream_silent_mid_way_is_a_stall_timeout(build: Build, emulator: Emulator,
                                                   use_async: bool) -> None:
    provider = build(stall_timeout=0.3)
    emulator.script(Fault.stall_stream(4, seconds=3))
    started = time.monotonic()
    with pytest.raises(StallTimeout) as caught:
        _read(provider, ChatRequest(PROMPT, stream=True), use_async)
    assert time.monotonic() - started < 1.5
    assert caught.value.chunks >= 4 and caught.value.limit == 0.3


@pytest.mark.parametrize("use_async", [False, True])
def test_the_consumers_time_is_never_counted(build: Build, emulator: Emulator,
                                             use_async: bool) -> None:
    provider = build(first_token_timeout=2, stall_timeout=0.2)
    text, _ = _read(provider, ChatRequest("a b", stream=True), use_async, pause=0.3)
    assert text == "Echo: a b"


@pytest.mark.parametrize("use_async", [False, True])
def test_a_request_overrides_the_limits_and_never_sends_them(build: Build, emulator: Emulator,
                                                             use_async: bool) -> None:
    provider = build(first_token_timeout=30)
    emulator.script(Fault.slow_first_token(3))
    request = ChatRequest(PROMPT, stream=True,
                          options={"first_token_timeout": 0.3, "stall_timeout": 2})
    with pytest.raises(FirstTokenTimeout):
        _read(provider, request, use_async)
    body = emulator.requests[-1].body
    assert "first_token_timeout" not in str(body) and "stall_timeout" not in str(body)
    with pytest.raises(InvalidRequest, match="first_token_timeout"):
        _read(provider, ChatRequest(PROMPT, stream=True,
                                    options={"first_token_timeout": -1}), use_async)


def test_bad_limits_are_config_errors_naming_the_option(build: Build) -> None:
    with pytest.raises(ConfigError) as caught:
        build(stall_timeout=0)
    assert caught.value.path == "stall_timeout"
    with pytest.raises(ConfigError) as caught:
        build(malformed_events="ignore")
    assert caught.value.path == "malformed_events"
    with pytest.raises(ConfigError):
        build(context_window=0)


@pytest.mark.parametrize("use_async", [False, True])
def test_one_malformed_event_is_skipped_or_fails_as_configured(
        build: Build, emulator: Emulator, use_async: bool) -> None:
    emulator.script(Fault.malformed())
    text, response = _read(build(), ChatRequest(PROMPT, stream=True), use_async)
    assert text == response.text == ANSWER  # garbage never reaches the text
    skipped = [e for e in response.trace if e.event == "skipped"]
    assert len(skipped) == 1 and skipped[0].data["count"] == 1
    emulator.script(Fault.malformed())
    with pytest.raises(MalformedResponse):
        _read(build(malformed_events="fail"), ChatRequest(PROMPT, stream=True), use_async)


@pytest.mark.parametrize("use_async", [False, True])
def test_a_stream_of_garbage_is_still_malformed(build: Build, emulator: Emulator,
                                               use_async: bool) -> None:
    emulator.script(Fault.wrong_shape())
    with pytest.raises(MalformedResponse):
        _read(build(), ChatRequest(PROMPT, stream=True), use_async)


@pytest.mark.parametrize("use_async", [False, True])
def test_a_missing_done_marker_is_not_waited_for(emulator: Emulator, use_async: bool) -> None:
    with _openai(emulator) as provider:
        emulator.script(Fault.no_done())
        started = time.monotonic()
        text, response = _read(provider, ChatRequest(PROMPT, stream=True), use_async)
    assert text == ANSWER and response.usage.output_tokens == 10
    assert time.monotonic() - started < 2.0  # the 5 s read timeout never came into it


def test_routes_know_their_context_window_and_prefill(emulator: Emulator) -> None:
    with _openai(emulator) as gpt, _anthropic(emulator) as claude, \
            Anthropic("claude-sonnet-4-6", api_key=TEST_ANTHROPIC_KEY) as newer, \
            _ollama(emulator, context_window=8192) as local:
        (g,), (c,), (n,), (o,) = (p.routes() for p in (gpt, claude, newer, local))
    assert (g.context_window, g.prefill) == (128000, False)
    assert (c.context_window, c.prefill) == (200000, True)
    assert n.prefill is False  # Claude from 4.6 on rejects a prefill
    assert (o.context_window, o.prefill) == (8192, True)
