"""The ``models:`` and ``gateway:`` sections: validation with paths, and answers that name
the model that produced them — after a fallback too, streamed or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from insightforge.config import load_config
from insightforge.errors import ConfigError
from insightforge.testing.emulator import Emulator, Fault
from tests.gateway.helpers import make_key, serving, two_models


@pytest.fixture
def config(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    config = two_models(emulator, tmp_path, cache=False)
    config["providers"]["local"] = {"type": "ollama", "model": "llama3.1",
                                    "base_url": emulator.ollama_url, "timeout": 10}
    config["models"]["resilient"] = {
        "provider": "openai", "stack": [{"fallback": ["local"]}]}
    return config


def test_after_a_fallback_the_answer_names_the_alternates_model(
        config: dict[str, Any], emulator: Emulator) -> None:
    key, _ = make_key(config, "acme")
    with serving(config) as (server, _):
        client = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
        emulator.script(Fault.status(503), api="openai")
        reply = client.chat.completions.create(
            model="resilient", messages=[{"role": "user", "content": "fall back"}])
        assert reply.model == "llama3.1" and reply.choices[0].message.content == (
            "Echo: fall back")
        emulator.script(Fault.status(503), api="openai")
        chunks = list(client.chat.completions.create(
            model="resilient", stream=True,
            messages=[{"role": "user", "content": "fall back streamed"}]))
        assert {c.model for c in chunks} == {"llama3.1"}
        emulator.script(Fault.status(503), api="openai")
        an = anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=0)
        with an.messages.stream(model="resilient", max_tokens=32,
                                messages=[{"role": "user", "content": "via anthropic"}]) as s:
            message = s.get_final_message()
        assert message.model == "llama3.1"
        assert [m.id for m in client.models.list()] == ["gpt-4o-mini", "claude-sonnet",
                                                        "resilient", "mini", "claude"]
        assert emulator.count(api="ollama") == 3


@pytest.mark.parametrize(("models", "gateway", "path"), [
    ({"m": {"provider": "nope"}}, None, "$.models.m.provider"),
    ({"m": {"model": "x"}}, None, "$.models.m.provider"),
    ({"m": {"provider": "p", "aliases": ["m"]}}, None, "$.models.m.aliases[0]"),
    ({"m": {"provider": "p"}, "n": {"provider": "p", "aliases": ["m"]}}, None,
     "$.models.n.aliases[0]"),
    ({"m": {"provider": "p", "colour": "red"}}, None, "$.models.m.colour"),
    ({"m": {"provider": "p", "stack": [{"nolayer": {}}]}}, None, "$.models.m.stack[0]"),
    ({"m": "p"}, {"store": "ftp://x"}, "$.gateway.store"),
    ({"m": "p"}, {"max_body_bytes": -1}, "$.gateway.max_body_bytes"),
    ({"m": "p"}, {"keys": "memory"}, "$.gateway.keys"),
    ({"m": "p"}, {"colour": 1}, "$.gateway.colour"),
])
def test_bad_sections_name_the_path(models: Any, gateway: Any, path: str) -> None:
    doc: dict[str, Any] = {"providers": {"p": {"type": "ollama", "model": "llama3.1"}},
                           "models": models}
    if gateway is not None:
        doc["gateway"] = gateway
    with pytest.raises(ConfigError) as info:
        load_config(doc)
    assert path in str(info.value)


def test_good_sections_load() -> None:
    load_config({"providers": {"p": {"type": "ollama", "model": "llama3.1"}},
                 "models": {"small": "p", "big": {"provider": "p", "model": "llama3.1:70b",
                                                   "aliases": ["large"]}},
                 "gateway": {"keys": "sqlite:///keys.db", "store": "redis://r:6379/0",
                             "max_json_depth": 32, "cache_per_tenant": False}})
