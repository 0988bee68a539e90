"""providers.AzureOpenAI against the emulator's Azure endpoints (deployment paths)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest, EmbedRequest
from insightforge.errors import ConfigError, CredentialError, InsightForgeError
from insightforge.testing.emulator import Emulator, Fault
from providers.azure import AzureOpenAI
from tests.conftest import TEST_AZURE_KEY
from tests.providers.test_openai import FAULTS, PROMPT, assert_fault, check_chat_family

VERSION = "2024-10-21"


def azure(emu: Emulator, **kw: Any) -> AzureOpenAI:
    kw.setdefault("timeout", 5)
    kw.setdefault("api_key", TEST_AZURE_KEY)
    return AzureOpenAI("prod-4o", endpoint=emu.azure_url, api_version=VERSION,
                       model="gpt-4o-mini", **kw)


def test_chat_family(emulator: Emulator) -> None:
    check_chat_family(azure, emulator, priced=True)
    chat = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert chat and all(r.path == "/openai/deployments/prod-4o/chat/completions"
                        for r in chat)
    assert all(r.headers.get("api-key") == TEST_AZURE_KEY for r in chat)


def test_priced_by_the_deployed_model(emulator: Emulator) -> None:
    with azure(emulator) as p:
        r = p(ChatRequest(PROMPT))
    assert r.model == "prod-4o" and r.cost_usd is not None
    assert p.routes()[0].price == p.price("gpt-4o-mini")


def test_embeddings_on_their_deployment(emulator: Emulator) -> None:
    with azure(emulator, embedding_deployment="embed-small") as p:
        r = p(EmbedRequest(["a b"]))
        assert len(r.vectors) == 1
        assert asyncio.run(p.acall(EmbedRequest(["a b"]))).vectors == r.vectors
    assert emulator.requests[-1].path == "/openai/deployments/embed-small/embeddings"


def test_entra_id_token_provider(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    with AzureOpenAI("prod-4o", endpoint=emulator.azure_url, api_version=VERSION,
                     azure_ad_token_provider=lambda: "entra-token-123", timeout=5) as p:
        assert p(ChatRequest(PROMPT)).text
        p.check()
    assert emulator.requests[0].headers.get("authorization") == "Bearer entra-token-123"


def test_api_version_is_required() -> None:
    with pytest.raises(ConfigError, match="api_version is required"):
        AzureOpenAI("d", endpoint="https://x.openai.azure.com", api_key=TEST_AZURE_KEY)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    with pytest.raises(CredentialError, match="AZURE_OPENAI_API_KEY"):
        AzureOpenAI("d", endpoint="https://x.openai.azure.com", api_version=VERSION)


@pytest.mark.parametrize(("name", "fault", "expected"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults(emulator: Emulator, name: str, fault: Fault, expected: type[Exception]) -> None:
    with azure(emulator, timeout=0.5) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT))
    assert_fault(name, info.value, expected, TEST_AZURE_KEY)
    assert TEST_AZURE_KEY not in repr(p)
