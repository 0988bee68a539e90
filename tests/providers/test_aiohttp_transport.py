"""The aiohttp transport (providers._aiohttp) answers and fails as httpx2's own does.

For every scripted fault of the emulator — HTTP errors, malformed bodies, a dropped
connection, a body cut short, a stall past the timeout — and for streams (whole, cut after a
chunk, an error event, a stall past ``stall_timeout``), an async ``OpenAI`` provider over
``transport="aiohttp"`` gives the same answer or the same error (type, status, retryable,
retry_after, message for an HTTP error answer, chunks delivered) as over ``httpx``. The
credential is in no error; an abandoned stream gives its connection back (the pool of one
serves the next call); closing the provider closes the aiohttp session; a bad transport name
is a ``ConfigError`` naming the choices.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest
from insightforge.errors import ConfigError, InsightForgeError
from insightforge.testing.emulator import Emulator, Fault
from providers import OpenAI
from tests.conftest import TEST_OPENAI_KEY

FAULTS = [
    None,
    Fault.status(429, retry_after=2),
    Fault.status(500),
    Fault.status(503, message="overloaded, try later"),
    Fault.status(401),
    Fault.status(400, message="This model's maximum context length is 128000 tokens"),
    Fault.malformed(),
    Fault.wrong_shape(),
    Fault.content_filter(),
    Fault.truncate(),
    Fault.drop(),
    Fault.delay(3),  # past the provider's 1 s timeout
    Fault.stall(),
]
STREAM_FAULTS = [
    None,
    Fault.truncate(after_chunks=1),
    Fault.stream_error(after_chunks=1),
    Fault.stall_stream(after_chunks=1, seconds=3),  # past stall_timeout
    Fault.drop(),
    Fault.status(503),
]
BELOW_HTTP = ("truncate", "drop", "delay", "stall", "stall_stream")  # words are the library's


def _provider(emulator: Emulator, transport: str, timeout: float = 1,
              **options: Any) -> OpenAI:
    return OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY, timeout=timeout,
                  transport=transport, **options)


def _error(exc: InsightForgeError, fault: Fault | None) -> tuple[Any, ...]:
    assert exc.__cause__ is None and exc.__context__ is None
    assert TEST_OPENAI_KEY not in str(exc) and TEST_OPENAI_KEY not in repr(exc)
    message = "" if fault is not None and fault.kind in BELOW_HTTP else str(exc)
    return (type(exc).__name__, getattr(exc, "status", None), getattr(exc, "retryable", None),
            getattr(exc, "retry_after", None), getattr(exc, "chunks", None), message)


async def _plain(provider: OpenAI) -> tuple[Any, ...]:
    response: Any = await provider.acall(ChatRequest("over aiohttp or not", max_tokens=20))
    return ("ok", response.text, response.finish_reason, response.usage, response.cost_usd)


async def _streamed(provider: OpenAI) -> tuple[Any, ...]:
    stream: Any = await provider.acall(ChatRequest("stream it over aiohttp or not",
                                                   max_tokens=20, stream=True))
    texts = [chunk.text async for chunk in stream]
    final = stream.response
    return ("ok", "".join(texts), final.finish_reason, final.usage)


def _outcome(emulator: Emulator, transport: str, fault: Fault | None, streamed: bool,
             ) -> tuple[Any, ...]:
    # A stall is past stall_timeout well before the read timeout: equal, the two raced (on
    # a loaded machine the socket's read timeout won over one transport, not the other).
    options: dict[str, Any] = {"stall_timeout": 1.0, "timeout": 2.5} if streamed else {}
    provider = _provider(emulator, transport, **options)

    async def run() -> tuple[Any, ...]:
        try:
            return await (_streamed(provider) if streamed else _plain(provider))
        except InsightForgeError as exc:
            return _error(exc, fault)
        finally:
            await provider.aclose()

    if fault is not None:
        emulator.script(fault)
    return asyncio.run(run())


def _id(fault: Fault | None) -> str:
    return "none" if fault is None else f"{fault.kind}-{fault.code or ''}"


@pytest.mark.parametrize("fault", FAULTS, ids=_id)
def test_a_plain_answer_or_failure_is_the_same_over_both_transports(
        emulator: Emulator, fault: Fault | None) -> None:
    outcomes = [_outcome(emulator, t, fault, streamed=False) for t in ("httpx", "aiohttp")]
    assert outcomes[0] == outcomes[1]
    if fault is not None and fault.kind in BELOW_HTTP:
        assert outcomes[0][0] in ("Timeout", "ProviderUnavailable"), outcomes[0]


@pytest.mark.parametrize("fault", STREAM_FAULTS, ids=_id)
def test_a_stream_or_its_cut_is_the_same_over_both_transports(
        emulator: Emulator, fault: Fault | None) -> None:
    outcomes = [_outcome(emulator, t, fault, streamed=True) for t in ("httpx", "aiohttp")]
    assert outcomes[0] == outcomes[1]


def test_an_abandoned_stream_gives_its_connection_back(emulator: Emulator) -> None:
    provider = _provider(emulator, "aiohttp", max_connections=1)

    async def run() -> list[str]:
        texts = []
        try:
            for i in range(3):  # one connection: a leaked one would block the next call
                stream: Any = await provider.acall(ChatRequest(f"long story {i}", stream=True,
                                                               max_tokens=50))
                async for _ in stream:
                    break
                await stream.aclose()
                answer: Any = await asyncio.wait_for(
                    provider.acall(ChatRequest(f"after {i}")), 5)
                texts.append(answer.text)
        finally:
            await provider.aclose()
        return texts

    assert asyncio.run(run()) == [f"Echo: after {i}" for i in range(3)]


def test_closing_the_provider_closes_the_session(emulator: Emulator) -> None:
    provider = _provider(emulator, "aiohttp")

    async def run() -> Any:
        await provider.acall(ChatRequest("hello"))
        client = provider._async.get()
        transport = client._client._transport
        session = transport._session
        assert session is not None and not session.closed
        await provider.aclose()
        return session

    assert asyncio.run(run()).closed


def test_a_bad_transport_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"transport must be 'httpx'.*'aiohttp'"):
        OpenAI(api_key=TEST_OPENAI_KEY, transport="curl")


def test_the_lean_path_goes_straight_to_the_session_with_the_sdks_headers(
        emulator: Emulator) -> None:
    provider = OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY,
                      organization="org-7", transport="aiohttp")
    sent: list[str] = []

    async def run() -> list[str]:
        transport = provider._async.get()._client._transport
        direct = transport.post_bytes

        async def noted(*args: Any, **kwargs: Any) -> Any:
            sent.append("direct")
            return await direct(*args, **kwargs)

        transport.post_bytes = noted
        try:
            plain: Any = await provider.acall(ChatRequest("plain"))
            stream: Any = await provider.acall(ChatRequest("streamed", stream=True))
            return [plain.text, "".join([c.text async for c in stream])]
        finally:
            await provider.aclose()

    emulator.reset()
    assert asyncio.run(run()) == ["Echo: plain", "Echo: streamed"]
    assert sent == ["direct"]  # the plain answer; the stream goes through httpx2 and the SDK
    plain, streamed = emulator.requests
    for name in ("authorization", "user-agent", "openai-organization", "x-stainless-lang",
                 "content-type"):
        assert plain.headers[name] == streamed.headers[name], name
    assert plain.headers["authorization"] == f"Bearer {TEST_OPENAI_KEY}"
