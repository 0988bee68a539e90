"""providers.OpenAICompatible: any OpenAI-wire server, with its quirks switched on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import insightforge
from insightforge import ChatRequest, EmbedRequest
from insightforge.errors import ConfigError, InsightForgeError, Unsupported
from insightforge.testing.emulator import Emulator, Fault
from providers.compatible import OpenAICompatible
from tests.providers.test_openai import FAULTS, PROMPT, assert_fault, check_chat_family

KEY = "gsk_TESTKEYabcdefghijklmnopqrstuvwxyz"


def compatible(emu: Emulator, **kw: Any) -> OpenAICompatible:
    kw.setdefault("timeout", 5)
    return OpenAICompatible("llama-3.1-8b", base_url=emu.openai_url, **kw)


def test_chat_family_without_a_key(emulator: Emulator) -> None:
    check_chat_family(compatible, emulator, priced=False)


def test_priced_when_told(emulator: Emulator) -> None:
    check_chat_family(lambda e: compatible(e, price={"input": 1, "output": 1}), emulator,
                      priced=True)


def test_key_from_a_configurable_env_var(emulator: Emulator,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", KEY)
    with compatible(emulator, name="groq", api_key_env="GROQ_API_KEY") as p:
        assert p(ChatRequest(PROMPT)).provider == "groq"
        assert p.routes()[0].provider == "groq"
        assert KEY not in repr(p)
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_no_stream_usage_quirk_estimates_words(emulator: Emulator) -> None:
    with compatible(emulator, stream_usage=False) as p:
        stream = p(ChatRequest(PROMPT, stream=True))
        response = stream.collect()
    body = emulator.requests[-1].body
    assert isinstance(body, dict) and "stream_options" not in body
    assert response.usage.input_tokens == 6 and response.usage.output_tokens == 4


def test_no_embeddings_quirk(emulator: Emulator) -> None:
    with compatible(emulator, embeddings=False) as p:
        with pytest.raises(Unsupported, match="embeddings"):
            p(EmbedRequest(["x"]))
        with pytest.raises(Unsupported):
            asyncio.run(p.acall(EmbedRequest(["x"])))
    with compatible(emulator, embedding_model="text-embedding-3-small") as p:
        assert len(p(EmbedRequest(["x y"])).vectors) == 1


def test_base_url_is_required() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        OpenAICompatible("m", base_url="")


def test_create_provider_by_name(emulator: Emulator) -> None:
    p = insightforge.create_provider("compatible", model="m", base_url=emulator.openai_url)
    assert p(ChatRequest(PROMPT)).text
    p.close()


@pytest.mark.parametrize(("name", "fault", "expected"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults(emulator: Emulator, name: str, fault: Fault, expected: type[Exception]) -> None:
    with compatible(emulator, timeout=0.5, api_key=KEY) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT))
    assert_fault(name, info.value, expected, KEY)
