"""Conformance-kit factories for every built-in provider, pointed at the emulator.

Each is ``factory(emulator, **overrides) -> provider`` with its :class:`ProviderSpec`
attached (``@conformance_factory``), so ``pytest --insightforge-provider
tests.kit_factories:openai`` runs the kit on it as a plugin author would.
"""

from __future__ import annotations

from typing import Any

from insightforge.testing.conformance import conformance_factory
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_HF_TOKEN, TEST_OPENAI_KEY


def _opts(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **overrides}


@conformance_factory(api="openai", env_var="OPENAI_API_KEY", secret=TEST_OPENAI_KEY,
                     priced=True, label="openai", reasoning_model="o4-mini")
def openai(emulator: Any, **overrides: Any) -> Any:
    from providers import OpenAI

    return OpenAI(**_opts({"model": "gpt-4o-mini", "base_url": emulator.openai_url,
                           "api_key": TEST_OPENAI_KEY}, overrides))


@conformance_factory(api="azure", env_var="AZURE_OPENAI_API_KEY", secret=TEST_AZURE_KEY,
                     priced=True, label="azure", reasoning_model="o4-mini")
def azure(emulator: Any, **overrides: Any) -> Any:
    from providers import AzureOpenAI

    return AzureOpenAI(**_opts({"deployment": "gpt-4o-mini", "endpoint": emulator.azure_url,
                                "api_version": "2024-10-21", "api_key": TEST_AZURE_KEY},
                               overrides))


@conformance_factory(api="anthropic", env_var="ANTHROPIC_API_KEY", embeddings=False,
                     secret=TEST_ANTHROPIC_KEY, priced=True, label="anthropic")
def anthropic(emulator: Any, **overrides: Any) -> Any:
    from providers import Anthropic

    return Anthropic(**_opts({"model": "claude-sonnet-4-5", "base_url": emulator.anthropic_url,
                              "api_key": TEST_ANTHROPIC_KEY}, overrides))


@conformance_factory(api="ollama", label="ollama", priced=True, reasoning_model="qwen3")
def ollama(emulator: Any, **overrides: Any) -> Any:
    from providers import Ollama

    return Ollama(**_opts({"model": "llama3.1", "base_url": emulator.ollama_url}, overrides))


@conformance_factory(api="hf", secret=TEST_HF_TOKEN, label="huggingface")
def huggingface(emulator: Any, **overrides: Any) -> Any:
    from providers import HuggingFace

    if "api_key" in overrides:  # the vendor calls it a token
        overrides["token"] = overrides.pop("api_key")
    return HuggingFace(**_opts({"model": "tgi", "base_url": emulator.hf_url,
                                "embed_url": emulator.hf_url, "token": TEST_HF_TOKEN},
                               overrides))


@conformance_factory(api="openai", secret=TEST_OPENAI_KEY, label="compatible")
def compatible(emulator: Any, **overrides: Any) -> Any:
    from providers import OpenAICompatible

    return OpenAICompatible(**_opts({"model": "llama-3.1-8b", "base_url": emulator.openai_url,
                                     "api_key": TEST_OPENAI_KEY}, overrides))


@conformance_factory(api="openai", embeddings=False, stream_usage=False,
                     label="compatible-quirks")
def compatible_quirks(emulator: Any, **overrides: Any) -> Any:
    """A server with no usage in streams and no embeddings (llama.cpp-like), no key."""
    from providers import OpenAICompatible

    return OpenAICompatible(**_opts({"model": "llama-3.1-8b", "base_url": emulator.openai_url,
                                     "stream_usage": False, "embeddings": False},
                                    overrides))


BUILTIN = {"openai": ("providers.openai", openai), "azure": ("providers.azure", azure),
           "anthropic": ("providers.anthropic", anthropic),
           "ollama": ("providers.ollama", ollama),
           "huggingface": ("providers.huggingface", huggingface),
           "compatible": ("providers.compatible", compatible),
           "compatible-quirks": ("providers.compatible", compatible_quirks)}
"""Label -> (module that must exist, factory)."""
