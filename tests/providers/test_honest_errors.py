"""Honest errors (issue 12, item 4), over real sockets with the real SDKs and httpx: a stream
cut after N chunks and a stream stalled after N chunks say so, and after how many; a
vendor's content-policy refusal is ``ContentFiltered`` (never retried; ``Fallback(on=
(ContentFiltered,))`` acts on it); the transport's unexpected failures are typed with their
cause, and our own bugs surface as themselves, never retried.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import (
    ContentFiltered,
    InsightForgeError,
    ProviderUnavailable,
    Timeout,
)
from insightforge.testing.conformance import spec_of
from insightforge.testing.emulator import Emulator, Fault, refusal, stream_refusal
from middleware import Fallback, Retry
from providers import Ollama
from tests import kit_factories
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_OPENAI_KEY
from tests.providers._stall_proxy import StallProxy

LABELS = ["openai", "azure", "anthropic", "ollama", "huggingface", "compatible"]
PROMPT = "word " * 60
QUICK = {"base": 0.001, "cap": 0.002}


def _factory(label: str) -> Any:
    return kit_factories.BUILTIN[label][1]


def _read(handler: Any, mode: str, request: ChatRequest) -> tuple[int, BaseException | None]:
    """How many chunks reached the caller, and what the stream ended with."""
    if mode == "sync":
        received = 0
        try:
            with handler(request) as stream:
                for _ in stream:
                    received += 1
        except Exception as exc:
            return received, exc
        return received, None

    async def go() -> tuple[int, BaseException | None]:
        received = 0
        try:
            async with await handler.acall(request) as stream:
                async for _ in stream:
                    received += 1
        except Exception as exc:
            return received, exc
        finally:
            await handler.aclose()
        return received, None

    return asyncio.run(go())


def _call(handler: Any, mode: str, request: ChatRequest) -> Any:
    if mode == "sync":
        return handler(request)

    async def go() -> Any:
        try:
            return await handler.acall(request)
        finally:
            await handler.aclose()

    return asyncio.run(go())


class _Via:
    """Every vendor URL of the emulator, through a proxy in front of it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.openai_url = url + "/v1"
        self.azure_url = self.anthropic_url = self.ollama_url = url
        self.hf_url = url + "/hf"


# -- cut and stalled streams ----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("label", LABELS)
def test_a_cut_stream_says_it_was_cut_and_after_how_many_chunks(label: str, mode: str,
                                                                 emulator: Emulator) -> None:
    factory = _factory(label)
    provider = factory(emulator, timeout=5)
    emulator.script(Fault.truncate(after_chunks=40), api=spec_of(factory).api)
    try:
        received, error = _read(provider, mode, ChatRequest(PROMPT, stream=True))
    finally:
        provider.close()
    assert received == 40
    assert isinstance(error, ProviderUnavailable) and error.retryable, repr(error)
    text = str(error)
    assert "cut the stream after 40 chunks" in text and "incomplete" in text, text
    assert "could not be reached" not in text and "Is the server running" not in text


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("label", LABELS)
def test_a_stalled_stream_says_it_stalled_and_after_how_many_chunks(label: str, mode: str,
                                                                    emulator: Emulator) -> None:
    with StallProxy(emulator.port, frames=8) as proxy:
        provider = _factory(label)(_Via(proxy.url), timeout=1)
        try:
            received, error = _read(provider, mode, ChatRequest(PROMPT, stream=True))
        finally:
            provider.close()
    assert received >= 1  # some of the answer came before the silence
    assert isinstance(error, Timeout) and error.retryable, repr(error)
    chunks = f"{received} chunk{'s' * (received != 1)}"
    assert f"stalled mid-stream: nothing arrived within the read timeout after {chunks}" \
        in str(error), str(error)


# -- content-policy refusals ----------------------------------------------------------------

REFUSALS = [("openai", "policy"), ("openai", "prompt"), ("azure", "policy"),
            ("anthropic", "policy"), ("huggingface", "policy"), ("compatible", "policy")]


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
@pytest.mark.parametrize(("label", "variant"), REFUSALS)
def test_a_policy_refusal_is_content_filtered_and_never_retried(label: str, variant: str,
                                                               mode: str,
                                                               emulator: Emulator) -> None:
    factory = _factory(label)
    api = spec_of(factory).api
    llm = stack(Retry(attempts=3, backoff=QUICK), provider=factory(emulator, timeout=5))
    emulator.script(refusal(api, variant))
    request = ChatRequest("something the filter dislikes", stream=mode == "stream")
    with pytest.raises(ContentFiltered) as caught:
        result = _call(llm, "sync" if mode == "stream" else mode, request)
        list(result)
    assert not caught.value.retryable and caught.value.status == 400
    assert "usage policy" in str(caught.value)
    assert emulator.count(api=api) == 1  # refused once, asked once


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("label", ["anthropic", "openai", "azure"])
def test_a_refusal_mid_stream_is_content_filtered(label: str, mode: str,
                                                  emulator: Emulator) -> None:
    factory = _factory(label)
    provider = factory(emulator, timeout=5)
    emulator.script(stream_refusal(spec_of(factory).api, after_chunks=3))
    try:
        received, error = _read(provider, mode, ChatRequest(PROMPT, stream=True))
    finally:
        provider.close()
    assert received == 3
    assert isinstance(error, ContentFiltered) and not error.retryable, repr(error)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fallback_on_content_filtered_acts_on_a_real_refusal(mode: str,
                                                             emulator: Emulator) -> None:
    alternate = stack(provider=kit_factories.ollama(emulator, timeout=5))
    llm = stack(Fallback(alternate, on=(ContentFiltered,)), Retry(attempts=3, backoff=QUICK),
                provider=kit_factories.openai(emulator, timeout=5))
    emulator.script(refusal("openai"))
    answer = _call(llm, mode, ChatRequest("hello there"))
    assert answer.provider == "ollama" and answer.text == "Echo: hello there"
    assert emulator.count(api="openai") == 1 and emulator.count(api="ollama") == 1


def test_the_emulators_refusals_read_as_the_vendors_own_in_their_sdks(
        emulator: Emulator) -> None:
    """The bodies the emulator refuses with are what the real SDKs take for the vendors'."""
    import anthropic
    import openai

    client = openai.OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY,
                           max_retries=0)
    for variant, code in (("policy", "content_policy_violation"), ("prompt", "invalid_prompt")):
        emulator.script(refusal("openai", variant))
        with pytest.raises(openai.BadRequestError) as oa:
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
        assert oa.value.code == code
    azure = openai.AzureOpenAI(azure_endpoint=emulator.azure_url, api_key=TEST_AZURE_KEY,
                               api_version="2024-10-21", max_retries=0)
    emulator.script(refusal("azure"))
    with pytest.raises(openai.BadRequestError) as az:
        azure.chat.completions.create(model="gpt-4o-mini",
                                      messages=[{"role": "user", "content": "hi"}])
    assert az.value.code == "content_filter"
    assert isinstance(az.value.body, dict)
    assert az.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    claude = anthropic.Anthropic(base_url=emulator.anthropic_url, api_key=TEST_ANTHROPIC_KEY,
                                 max_retries=0)
    emulator.script(refusal("anthropic"))
    with pytest.raises(anthropic.BadRequestError) as an:
        claude.messages.create(model="claude-sonnet-4-5", max_tokens=16,
                               messages=[{"role": "user", "content": "hi"}])
    assert "Output blocked by content filtering policy" in str(an.value)
    for closing in (client, azure, claude):
        closing.close()


def test_a_plain_bad_request_stays_invalid_request(emulator: Emulator) -> None:
    """No false alarm: a 400 that is not a refusal is still ``InvalidRequest``."""
    from insightforge.errors import InvalidRequest

    provider = kit_factories.openai(emulator, timeout=5)
    emulator.script(Fault.status(400, message="Invalid 'messages[0].content': expected a "
                                 "string, got an object."), api="openai")
    try:
        with pytest.raises(InvalidRequest) as caught:
            provider(ChatRequest("hi"))
    finally:
        provider.close()
    assert not isinstance(caught.value, ContentFiltered)


# -- unexpected transport failures and our own bugs -----------------------------------------

@pytest.mark.parametrize("label", ["ollama", "anthropic"])
def test_an_unexpected_transport_failure_is_typed_with_its_cause_chained(
        label: str, emulator: Emulator) -> None:
    """A pooled client closed under the provider (another thread's ``close``): httpx raises
    a plain ``RuntimeError``, not one of its own errors."""
    provider = _factory(label)(emulator, timeout=5)
    provider._sync.get().close()
    try:
        for request in (ChatRequest("hi"), ChatRequest("hi", stream=True)):
            with pytest.raises(ProviderUnavailable) as caught:
                provider(request)
            assert caught.value.retryable
            assert "failed unexpectedly (RuntimeError" in str(caught.value)
            assert isinstance(caught.value.__cause__, RuntimeError)
            assert "client has been closed" in str(caught.value.__cause__)
    finally:
        provider.close()
    assert provider(ChatRequest("hi again")).text == "Echo: hi again"  # a fresh client


def test_an_unexpected_failure_of_the_embeddings_client_is_typed(emulator: Emulator) -> None:
    provider = kit_factories.huggingface(emulator, timeout=5)
    provider._http.get().close()
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            provider(EmbedRequest(["a b"]))
        assert isinstance(caught.value.__cause__, RuntimeError)
    finally:
        provider.close()


class _BuggyOllama(Ollama):
    """A provider with a bug of ours: a header value that is not a string."""

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "x-retries": 3}  # type: ignore[dict-item]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_programming_error_surfaces_as_itself_and_is_never_retried(
        mode: str, emulator: Emulator) -> None:
    buggy = _BuggyOllama(base_url=emulator.ollama_url, timeout=5)
    alternate = stack(provider=kit_factories.ollama(emulator, timeout=5))
    llm = stack(Fallback(alternate), Retry(attempts=3, backoff=QUICK), provider=buggy)
    with pytest.raises(TypeError, match="Header value must be str or bytes") as caught:
        _call(llm, mode, ChatRequest("hi"))
    assert not isinstance(caught.value, InsightForgeError)
    assert emulator.count() == 0  # not sent, not retried, not hidden by the fallback
