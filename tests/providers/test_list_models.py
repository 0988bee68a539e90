"""``provider.list_models()``: the models a server offers, from the server (what
``insightforge models`` prints), for every built-in provider against the emulator."""

from __future__ import annotations

import pytest

from insightforge.errors import MalformedResponse, ProviderUnavailable, Unsupported
from insightforge.testing.emulator import Emulator, Fault
from insightforge.testing.scripted import ScriptedProvider
from providers import Anthropic, AzureOpenAI, HuggingFace, Ollama, OpenAI, OpenAICompatible
from providers._base import BaseProvider
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_OPENAI_KEY


def test_each_provider_lists_what_its_server_offers(emulator: Emulator) -> None:
    made = {
        "openai": OpenAI(model="x", base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY),
        "compatible": OpenAICompatible("x", base_url=emulator.openai_url),
        "azure": AzureOpenAI(deployment="d", endpoint=emulator.azure_url,
                             api_version="2024-10-21", api_key=TEST_AZURE_KEY),
        "anthropic": Anthropic(model="x", base_url=emulator.anthropic_url,
                               api_key=TEST_ANTHROPIC_KEY),
        "ollama": Ollama(model="x", base_url=emulator.ollama_url),
        "huggingface": HuggingFace("x", base_url=emulator.hf_url),
    }
    listed = {}
    for name, provider in made.items():
        with provider:
            listed[name] = provider.list_models()
    assert "gpt-4o-mini" in listed["openai"] and listed["openai"] == listed["compatible"]
    assert "gpt-4o-mini" in listed["azure"]
    assert "claude-sonnet-4-5" in listed["anthropic"]
    assert "llama3.1:latest" in listed["ollama"]
    assert listed["huggingface"] == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert all(names == sorted(names) for names in listed.values())
    anthropic = [r for r in emulator.requests if r.api == "anthropic"]
    assert anthropic[-1].headers["x-api-key"] == TEST_ANTHROPIC_KEY


def test_a_bad_answer_or_a_dead_server_is_the_documented_error(emulator: Emulator) -> None:
    emulator.script(Fault.wrong_shape(), api="ollama")
    with Ollama(model="x", base_url=emulator.ollama_url) as ollama, \
            pytest.raises(MalformedResponse):
        ollama.list_models()
    emulator.script(Fault.wrong_shape(), api="openai")
    with OpenAI(model="x", base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY) as openai, \
            pytest.raises(MalformedResponse):
        openai.list_models()
    with Anthropic(model="x", base_url="http://127.0.0.1:9", api_key=TEST_ANTHROPIC_KEY) \
            as dead, pytest.raises(ProviderUnavailable):
        dead.list_models()


def test_the_base_says_unsupported() -> None:
    class Minimal(BaseProvider):
        name = "minimal"
        default_base_url = "http://127.0.0.1:9"
        key_required = False

    with pytest.raises(Unsupported, match="cannot list the models"):
        Minimal(model="m").list_models()
    assert not hasattr(ScriptedProvider(), "list_models")  # optional: `models` says so
