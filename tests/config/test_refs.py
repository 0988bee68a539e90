"""Model references (insightforge.config.refs): ``provider/model`` names and aliases in a
config — top-level ``provider:``, fallback alternates, nested stacks, a provider's
``model:`` — and in Python (``create_provider("anthropic/claude-haiku-4-5")``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import create_provider
from insightforge.config import ConfigError, from_config, load_config
from insightforge.config.refs import owner, resolve, split_ref
from insightforge.config.schema import ProviderConfig
from insightforge.registry import split_model
from insightforge.testing.emulator import Emulator
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY

TYPES = ("openai", "anthropic", "ollama")
MAIN = ProviderConfig("openai", "gpt-4o-mini")


def test_a_reference_leads_to_an_instance_or_a_new_one() -> None:
    providers = {"main": MAIN, "claude": ProviderConfig("anthropic", "claude-sonnet-4-5")}
    aliases = {"fast": "main/gpt-4o", "son": "anthropic/claude-sonnet-4-5"}

    def to(text: str) -> Any:
        return resolve(text, providers, aliases, TYPES, bare_model=True)

    assert to("main").name == "main" and to("main").spec is None
    assert to("main/gpt-4o").spec == ProviderConfig("openai", "gpt-4o")
    assert to("fast").name == "main/gpt-4o"
    assert to("son").name == "claude"  # the instance of that type already has that model
    haiku = to("anthropic/claude-haiku-4-5")
    assert haiku.name == "claude/claude-haiku-4-5" and haiku.spec is not None
    assert haiku.spec.type == "anthropic" and haiku.spec.model == "claude-haiku-4-5"
    assert to("ollama/qwen2.5").spec == ProviderConfig("ollama", "qwen2.5")
    assert to("meta-llama/Llama-3").model == "meta-llama/Llama-3"  # a model with a slash
    assert resolve("meta-llama/Llama-3", providers, aliases, TYPES) is None
    assert owner("claude/claude-haiku-4-5") == "claude" and owner("main") == "main"


@given(st.text(alphabet="abc/-.:", max_size=12))
def test_split_never_invents_a_provider(text: str) -> None:
    prefix, model = split_ref(text, {"a"}, {"b"})
    if prefix is None:
        assert model == text
    else:
        assert prefix in ("a", "b") and f"{prefix}/{model}" == text and model


def test_a_config_may_name_models_by_provider_and_alias() -> None:
    cfg = load_config({
        "providers": {"main": {"type": "openai", "model": "gpt-4o-mini"},
                      "claude": {"model": "anthropic/claude-haiku-4-5"}},  # type from model
        "aliases": {"big": "main/gpt-4o"},
        "provider": "big",
        "stack": [{"fallback": ["claude", "ollama/llama3.1",
                                {"stack": ["retry"], "provider": "anthropic/claude-opus-4-1"}]}]})
    assert cfg.providers["claude"] == ProviderConfig("anthropic", "claude-haiku-4-5")
    assert cfg.provider == "main/gpt-4o" and cfg.providers["main/gpt-4o"].model == "gpt-4o"
    alternates = cfg.stack[0].alternates
    assert alternates[:2] == ("claude", "ollama/llama3.1")
    assert alternates[2].provider == "claude/claude-opus-4-1"  # type: ignore[union-attr]
    assert cfg.aliases == {"big": "main/gpt-4o"}


def test_a_reference_to_nothing_is_a_problem_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"providers": {"main": {"type": "openai", "model": "x"}},
                     "aliases": {"oops": "opnai/gpt-4o", "bad": 3},
                     "stack": [{"fallback": ["oops"]}]})
    problems = dict(caught.value.problems)
    assert "no provider named 'oops'" in problems["$.stack[0].fallback[0]"]
    assert "$.aliases.bad" in problems


def test_built_stacks_reach_the_model_named(tmp_path: Any) -> None:
    with Emulator() as emu:
        llm = from_config({
            "providers": {"main": {"type": "openai", "model": "gpt-4o-mini",
                                   "base_url": emu.openai_url, "api_key": TEST_OPENAI_KEY},
                          "claude": {"type": "anthropic", "model": "claude-sonnet-4-5",
                                     "base_url": emu.anthropic_url,
                                     "api_key": TEST_ANTHROPIC_KEY}},
            "provider": "anthropic/claude-haiku-4-5"})
        from insightforge import ChatRequest

        with llm:
            answer = llm(ChatRequest("hi"))
        assert (answer.provider, answer.model) == ("anthropic", "claude-haiku-4-5")
        assert emu.requests[-1].headers["x-api-key"] == TEST_ANTHROPIC_KEY  # claude's key


def test_python_takes_provider_slash_model() -> None:
    assert split_model("anthropic/claude-haiku-4-5") == ("anthropic", "claude-haiku-4-5")
    assert split_model("meta-llama/Llama-3.1-8B") == (None, "meta-llama/Llama-3.1-8B")
    provider = create_provider("ollama/qwen2.5", base_url="http://127.0.0.1:9")
    assert (provider.name, provider.model) == ("ollama", "qwen2.5")
    with pytest.raises(ConfigError, match="names the model already"):
        create_provider("ollama/qwen2.5", model="llama3.1")
