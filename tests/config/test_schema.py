"""Config schema: structuring, every problem with its $.path, building through the registry."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from insightforge import ChatRequest, ChatResponse, Message
from insightforge.config import from_config, json_schema, load_config
from insightforge.config.jsonschema import json_schema as _schema
from insightforge.config.layers import layer_fields
from insightforge.config.schema import ProviderConfig
from insightforge.config.show import to_document
from insightforge.errors import ConfigError, CredentialError
from insightforge.registry import register_layer
from insightforge.stack import Middleware

KEY = "sk-proj-TESTKEYabcdefghijklmnopqrstuvwxyz0123456789"
BUILT_IN_LAYERS = ("audit", "cache", "budget", "ratelimit", "retry", "fallback")


def full(emu: Any) -> dict[str, Any]:
    return {
        "providers": {
            "main": {"type": "openai", "model": "gpt-4o-mini", "api_key": "${TEST_KEY}",
                     "timeout": 30, "base_url": emu.openai_url},
            "local": {"type": "ollama", "model": "llama3.1", "base_url": emu.ollama_url},
        },
        "stack": [
            {"budget": {"limit_usd": 5, "period": "day"}},
            {"fallback": ["local", {"stack": [{"retry": {"attempts": 2}}],
                                    "provider": "local"}]},
            {"ratelimit": {"rpm": 500}},
            {"retry": {"attempts": 4}},
        ],
        "provider": "main",
        "prices": {"openai": {"my-model": {"input": 1, "output": 2}}},
    }


def problems(doc: Any, env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_config(doc, env=env or {})
    return dict(info.value.problems)


def test_full_config_structures(emulator: Any) -> None:
    cfg = load_config(full(emulator), env={"TEST_KEY": KEY})
    assert isinstance(cfg.providers["main"], ProviderConfig)
    assert cfg.providers["main"].timeout == 30.0
    assert [layer.name for layer in cfg.stack] == ["budget", "fallback", "ratelimit", "retry"]
    assert cfg.stack[1].alternates[0] == "local"
    assert KEY not in repr(cfg)


def test_from_config_builds_a_working_stack(emulator: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    llm = from_config(full(emulator))
    drawing = repr(llm)
    assert drawing.index("Budget") < drawing.index("Fallback") < drawing.index("RateLimit")
    assert {r.provider for r in llm.routes()} == {"openai", "ollama"}
    with llm:
        reply = llm(ChatRequest(messages=[Message("user", "hello there")]))
    assert isinstance(reply, ChatResponse) and reply.text == "Echo: hello there"
    assert KEY not in drawing


def test_provider_override_and_without(emulator: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    llm = from_config(full(emulator), provider="local", without=("fallback", "budget"))
    assert [r.provider for r in llm.routes()] == ["ollama"]
    assert "Budget" not in repr(llm)


def test_three_mistakes_all_reported_with_paths() -> None:
    found = problems({
        "providers": {"main": {"type": "openai", "model": "gpt-4o", "timout": 3}},
        "stack": [{"cache": {"ttl": -1}}, {"retry": {}}, {"budget": {"limit_usd": -5}}],
    })
    assert found["$.providers.main.timout"] == "unknown key 'timout' (did you mean 'timeout'?)"
    assert "negative" in found["$.stack[0].cache.ttl"]
    assert found["$.stack[2].budget.limit_usd"] == "expected a positive number"
    assert len(found) == 3


def test_unknown_names_get_the_nearest_valid_one() -> None:
    found = problems({"provders": {}, "providers": {"m": {"type": "opena", "model": "x"}},
                      "stack": ["retyr", {"fallback": ["mm"]}]})
    assert "did you mean 'providers'" in found["$.provders"]
    assert "did you mean 'openai'" in found["$.providers.m.type"]
    assert "did you mean 'retry'" in found["$.stack[0]"]
    assert "no provider named 'mm'" in found["$.stack[1].fallback[0]"]


def test_azure_needs_api_version() -> None:
    found = problems({"providers": {"az": {"type": "azure", "deployment": "gpt4o"}}})
    assert "required for type azure" in found["$.providers.az.api_version"]


def test_unknown_model_without_price_under_a_budget() -> None:
    doc: dict[str, Any] = {"providers": {"m": {"type": "openai", "model": "my-model"}},
                           "stack": [{"budget": {"limit_usd": 1}}]}
    assert "no price known" in problems(doc)["$.providers.m.model"]
    doc["prices"] = {"openai": {"my-model": {"input": 1, "output": 2}}}
    assert load_config(doc).prices["openai"]["my-model"].output == 2
    doc.pop("prices")
    doc["providers"]["m"]["price"] = {"input": 1}
    assert load_config(doc).providers["m"].price is not None
    del doc["stack"]  # no budget: an unknown price is fine
    doc["providers"]["m"].pop("price")
    load_config(doc)


@pytest.mark.parametrize(("doc", "path", "text"), [
    ({"providers": {"m": {"type": "openai", "model": "x", "timeout": 0}}},
     "$.providers.m.timeout", "positive"),
    ({"providers": {"m": {"type": "openai", "model": ["a"]}}}, "$.providers.m.model",
     "string"),
    ({"providers": {"m": {"type": "openai", "model": "x", "api_key_ref": "vault:x"}}},
     "$.providers.m.api_key_ref", "keyring:NAME"),
    ({"providers": {"m": {"type": "openai"}}}, "$.providers.m.model", "required"),
    ({"providers": {"m": {"type": "openai", "model": "x"}}, "stack": [{"retry": {
        "attempts": "many"}}]}, "$.stack[0].retry.attempts", "expected a number"),
    ({"providers": {"m": {"type": "openai", "model": "x"}}, "stack": [{"budget": {
        "limit_usd": 1, "period": "fortnight"}}]}, "$.stack[0].budget.period", "one of"),
    ({"providers": {"m": {"type": "openai", "model": "x"}}, "stack": [{"a": 1, "b": 2}]},
     "$.stack[0]", "one layer per entry"),
    ({"providers": {"m": {"type": "openai", "model": "x"}}, "stack": [{"fallback": []}]},
     "$.stack[0].fallback", "list of provider names"),
    ({"providers": {"m": {"type": "openai", "model": "x", "api_key": "${NOPE}"}}},
     "$.providers.m.api_key", "NOPE is not set"),
])
def test_each_mistake_names_its_path(doc: Any, path: str, text: str) -> None:
    found = problems(doc)
    assert path in found, found
    assert text in found[path]


def test_plugin_layers_from_the_registry() -> None:
    @attrs.frozen
    class Tag:
        label: str = "x"

        def __call__(self, inner: Any) -> Any:
            return _Tagged(self, inner)

    class _Tagged(Middleware):
        def __call__(self, request: Any, /) -> Any:
            label = getattr(self.layer, "label", "")
            return self.inner(attrs.evolve(request, tags={"label": label}))

    register_layer("tagger", Tag)
    doc = {"providers": {"m": {"type": "ollama", "model": "llama3.1"}},
           "stack": [{"tagger": {"label": "hi"}}]}
    assert "Tag(label='hi')" in repr(from_config(doc))
    doc["stack"] = [{"tagger": {"lable": "hi"}}]
    assert "did you mean 'label'" in problems(doc)["$.stack[0].tagger.lable"]


def test_build_errors_carry_the_path(monkeypatch: Any) -> None:
    doc = {"providers": {"m": {"type": "openai", "model": "x", "api_key_ref": "env:NOPE_KEY"}}}
    with pytest.raises(CredentialError, match="NOPE_KEY"):
        from_config(doc)
    bad = {"providers": {"m": {"type": "ollama", "model": "x", "options": {"bogus": 1}}},
           "stack": []}
    with pytest.raises(ConfigError) as info:
        from_config(bad)
    assert info.value.path.startswith("$.providers.m")


def test_show_masks_secrets() -> None:
    cfg = load_config({"providers": {"m": {"type": "openai", "model": "x", "api_key": KEY,
                                           "options": {"organization_token": KEY}}}})
    text = json.dumps(to_document(cfg))
    assert KEY not in text
    assert "sk-p" in text


def test_json_schema_covers_the_classes() -> None:
    schema = json_schema()
    assert schema is not _schema() and json.loads(json.dumps(schema)) == schema
    provider = schema["$defs"]["provider"]["properties"]
    assert set(provider) == {f.name for f in attrs.fields(ProviderConfig)}
    assert provider["timeout"]["exclusiveMinimum"] == 0
    stack_items = json.dumps(schema["$defs"]["stack"])
    for name in BUILT_IN_LAYERS:
        assert f'"{name}"' in stack_items


def test_docs_mention_every_field() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for field in attrs.fields(ProviderConfig):
        assert f"`{field.name}`" in text, f"docs/configuration.md misses {field.name}"
    for name in BUILT_IN_LAYERS:  # every option a layer takes (its own attrs fields)
        from insightforge.registry import layer_factory

        options = ["on"] if name == "fallback" else list(layer_fields(layer_factory(name)))
        for option in options:
            assert f"`{option}`" in text, f"docs/configuration.md misses {name}.{option}"
