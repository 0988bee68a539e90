"""The registry: built-ins through entry points, code registration, broken plugins reported."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from insightforge import registry
from insightforge.errors import ConfigError
from insightforge.registry import (
    create_layer,
    create_provider,
    list_layers,
    list_providers,
    plugin_errors,
    provider_factory,
    register_provider,
)

BUILTIN_PROVIDERS = {"anthropic": "providers.anthropic:Anthropic",
                     "azure": "providers.azure:AzureOpenAI",
                     "compatible": "providers.compatible:OpenAICompatible",
                     "huggingface": "providers.huggingface:HuggingFace",
                     "ollama": "providers.ollama:Ollama", "openai": "providers.openai:OpenAI"}
BUILTIN_LAYERS = {"audit", "budget", "cache", "fallback", "ratelimit", "retry"}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations and load errors made by a test vanish after it."""
    for reg in (registry._providers, registry._layers):
        monkeypatch.setattr(reg, "_code", dict(reg._code))
        monkeypatch.setattr(reg, "_loaded", dict(reg._loaded))
        monkeypatch.setattr(reg, "_errors", dict(reg._errors))


class RaisingEntryPoint(EntryPoint):
    """An entry point whose plugin blows up while loading."""

    def load(self) -> Any:
        raise RuntimeError("plugin import crashed")


def _with_extra(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    """The provider registry sees the installed entry points plus ``extra``."""
    reg = registry._providers
    real = reg._entry_points

    def fake() -> dict[str, EntryPoint]:
        return {**real(), **{ep.name: ep for ep in extra}}

    monkeypatch.setattr(reg, "_entry_points", fake)


def test_builtin_providers_and_layers_register_through_entry_points() -> None:
    rows = {r.name: r for r in list_providers()}
    for name, target in BUILTIN_PROVIDERS.items():
        assert rows[name].source == "builtin" and rows[name].target == target
    assert {r.name for r in list_layers() if r.source == "builtin"} >= BUILTIN_LAYERS


def test_create_provider_builds_a_builtin_by_name() -> None:
    from providers.ollama import Ollama

    assert provider_factory("ollama") is Ollama
    built = create_provider("ollama", model="llama3.1", base_url="http://127.0.0.1:9")
    assert isinstance(built, Ollama) and built.model == "llama3.1"
    assert create_layer("retry", attempts=2) is not None


def test_unknown_names_and_bad_options_are_config_errors_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown provider 'nope'; known: anthropic, azure"):
        create_provider("nope")
    with pytest.raises(ConfigError, match="bad options for provider 'ollama'"):
        create_provider("ollama", no_such_option=1)
    with pytest.raises(ConfigError, match="unknown layer 'nope'"):
        create_layer("nope")


def test_code_registration_wins_and_is_listed_as_code() -> None:
    def mine(**options: Any) -> tuple[str, dict[str, Any]]:
        return "mine", options

    register_provider("ollama", mine)
    assert create_provider("ollama", model="x") == ("mine", {"model": "x"})
    row = next(r for r in list_providers() if r.name == "ollama")
    assert row.source == "code" and row.target.endswith(":mine")


def test_a_factory_raising_type_error_is_reported_as_bad_options() -> None:
    def picky(*, model: str) -> str:
        return model

    register_provider("picky", picky)
    with pytest.raises(ConfigError, match=r"bad options for provider 'picky'.*unexpected"):
        create_provider("picky", modle="typo")


@pytest.mark.parametrize("ep", [
    EntryPoint("broken", "no_such_plugin_module_xyz:Provider", registry.PROVIDER_GROUP),
    RaisingEntryPoint("broken", "crashy:Provider", registry.PROVIDER_GROUP),
], ids=["missing-module", "crashes-on-import"])
def test_a_broken_plugin_is_reported_and_never_breaks_the_others(
        monkeypatch: pytest.MonkeyPatch, ep: EntryPoint) -> None:
    _with_extra(monkeypatch, ep)
    with pytest.raises(ConfigError) as caught:
        provider_factory("broken")
    text = str(caught.value)
    assert "provider plugin 'broken'" in text and ep.value in text and "failed to load" in text
    rows = {r.name: r for r in list_providers(load=True)}
    assert rows["broken"].error is not None
    assert ("ModuleNotFoundError" in rows["broken"].error
            or "plugin import crashed" in rows["broken"].error)
    assert all(rows[name].error is None for name in BUILTIN_PROVIDERS)
    assert set(plugin_errors()) == {"broken"}
    ollama = create_provider("ollama", model="m", base_url="http://127.0.0.1:9")
    assert ollama.model == "m"


def test_listing_without_load_does_not_import_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_extra(monkeypatch, RaisingEntryPoint("broken", "crashy:P", registry.PROVIDER_GROUP))
    rows = {r.name: r for r in list_providers()}
    assert rows["broken"].error is None and plugin_errors() == {}
