"""providers.HuggingFace: TGI Messages API chat and TEI embeddings on the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest, EmbedRequest
from insightforge.errors import (
    CredentialError,
    InsightForgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimitError,
    Unsupported,
)
from insightforge.testing.emulator import Emulator, Fault
from providers.huggingface import HuggingFace
from tests.conftest import TEST_HF_TOKEN
from tests.providers.test_openai import (
    FAULTS,
    PROMPT,
    STREAM_FAULTS,
    assert_fault,
    check_chat_family,
)


def hf(emu: Emulator, **kw: Any) -> HuggingFace:
    kw.setdefault("timeout", 5)
    kw.setdefault("token", TEST_HF_TOKEN)
    return HuggingFace("meta-llama/Llama-3.1-8B-Instruct", base_url=emu.hf_url,
                       embed_url=emu.hf_url, **kw)


def test_chat_family(emulator: Emulator) -> None:
    check_chat_family(hf, emulator, priced=False)
    assert emulator.count(api="hf", path="/hf/v1/chat/completions") == 4
    assert emulator.requests[0].headers["authorization"] == f"Bearer {TEST_HF_TOKEN}"


def test_priced_when_told(emulator: Emulator) -> None:
    with hf(emulator, price={"input": 1, "output": 1}) as p:
        assert p(ChatRequest(PROMPT)).cost_usd is not None


def test_tei_embeddings(emulator: Emulator) -> None:
    with hf(emulator) as p:
        r = p(EmbedRequest(["one two", "three"]))
        assert len(r.vectors) == 2 and r.usage.input_tokens == 3 and r.cost_usd is None
        assert asyncio.run(p.acall(EmbedRequest(["one two", "three"]))).vectors == r.vectors
        p.check()
        asyncio.run(p.acheck())
    sent = [x for x in emulator.requests if x.path == "/hf/embed"]
    assert sent[0].body == {"inputs": ["one two", "three"]}


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault.status(429, retry_after=3), RateLimitError), (Fault.status(503), ProviderUnavailable),
    (Fault.malformed(), MalformedResponse), (Fault.wrong_shape(), MalformedResponse),
    (Fault.drop(), ProviderUnavailable)])
def test_tei_faults(emulator: Emulator, fault: Fault, expected: type[Exception]) -> None:
    with hf(emulator) as p:
        emulator.script(fault.where(path="/hf/embed"))
        with pytest.raises(expected) as info:
            p(EmbedRequest(["x"]))
    assert TEST_HF_TOKEN not in str(info.value)
    if isinstance(info.value, RateLimitError):
        assert info.value.retry_after == 3


def test_no_embed_url_is_unsupported(emulator: Emulator) -> None:
    with HuggingFace("m", base_url=emulator.hf_url, token=TEST_HF_TOKEN) as p, \
            pytest.raises(Unsupported, match="embed_url"):
        p(EmbedRequest(["x"]))


def test_hosted_endpoints_need_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    with pytest.raises(CredentialError, match="HF_TOKEN"):
        HuggingFace("m", base_url="https://abc.endpoints.huggingface.cloud")
    HuggingFace("m", base_url="http://localhost:8080").close()  # a local TGI needs none


@pytest.mark.parametrize(("name", "fault", "expected"), FAULTS, ids=[f[0] for f in FAULTS])
def test_chat_faults(emulator: Emulator, name: str, fault: Fault,
                     expected: type[Exception]) -> None:
    with hf(emulator, timeout=0.5) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT))
    assert_fault(name, info.value, expected, TEST_HF_TOKEN)


@pytest.mark.parametrize(("name", "fault", "expected"), STREAM_FAULTS,
                         ids=[f[0] for f in STREAM_FAULTS])
def test_stream_faults(emulator: Emulator, name: str, fault: Fault,
                       expected: type[Exception]) -> None:
    with hf(emulator, timeout=0.5) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT, stream=True)).collect()
    assert_fault(name, info.value, expected, TEST_HF_TOKEN)
