"""The old ``llm:`` form loads with a DeprecationWarning; ``config migrate`` output loads to
an equal stack (same routes, same layers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from insightforge import ChatRequest, ChatResponse, Message
from insightforge.config import from_config, is_legacy, load_config, migrate, migrate_text
from insightforge.errors import ConfigError
from tests.cli.conftest import invoke


def legacy_text(emu: Any) -> str:
    return (f"llm:\n  provider: ollama\n  model: llama3.1\n  base_url: {emu.ollama_url}\n"
            "  temperature: 0.2\n")


def test_legacy_loads_with_a_deprecation_warning(emulator: Any) -> None:
    with pytest.warns(DeprecationWarning, match="config migrate"):
        llm = from_config(legacy_text(emulator))
    with llm:
        reply = llm(ChatRequest(messages=[Message("user", "hi")]))
    assert isinstance(reply, ChatResponse) and reply.text == "Echo: hi"
    body = emulator.requests[-1].body
    assert body.get("options", {}).get("temperature") == 0.2 or body.get("temperature") == 0.2


def test_migrate_maps_every_field() -> None:
    new = migrate({"llm": {"provider": "openai", "model": "gpt-4o", "base_url": "http://x",
                           "temperature": 0.5, "api_key_env": "MY_KEY"}})
    assert new == {"providers": {"openai": {"type": "openai", "model": "gpt-4o",
                                            "base_url": "http://x",
                                            "api_key_ref": "env:MY_KEY",
                                            "defaults": {"temperature": 0.5}}},
                   "provider": "openai", "stack": []}
    assert not is_legacy(new)


def test_migrated_config_builds_an_equal_stack(emulator: Any, tmp_path: Path) -> None:
    path = tmp_path / "insightforge.yaml"
    path.write_text(legacy_text(emulator))
    with pytest.warns(DeprecationWarning):
        old = from_config(path)
    code, out, err = invoke(["config", "migrate", str(path)])
    assert code == 0, err
    assert "providers:" in out and "llm:" not in out
    new = from_config(yaml.safe_load(out))
    assert old.routes() == new.routes()
    assert repr(old) == repr(new)
    code, _, _ = invoke(["config", "migrate", "--write", str(path)])
    assert code == 0
    assert (tmp_path / "insightforge.yaml.bak").read_text() == legacy_text(emulator)
    assert load_config(path).providers["ollama"].defaults is not None


def test_migrate_text_leaves_new_form_alone() -> None:
    text = "providers:\n  m: {type: ollama, model: llama3.1}\n"
    assert migrate_text(text) == text


def test_bad_legacy_keys_are_reported_with_paths() -> None:
    with pytest.raises(ConfigError) as info, pytest.warns(DeprecationWarning):
        load_config({"llm": {"model": "x", "temprature": 1}})
    found = dict(info.value.problems)
    assert "did you mean 'temperature'" in found["$.llm.temprature"]
    assert "$.llm.provider" in found
