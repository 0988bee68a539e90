"""``insightforge models``: what each server offers, asked from the server itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import invoke
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY


def test_every_configured_server_is_asked(clean_env: Path, emulator: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        "providers:\n"
        f"  main: {{type: openai, model: gpt-4o-mini, base_url: '{emulator.openai_url}',"
        f" api_key: '{TEST_OPENAI_KEY}'}}\n"
        f"  claude: {{type: anthropic, model: claude-sonnet-4-5, base_url: "
        f"'{emulator.anthropic_url}', api_key: '{TEST_ANTHROPIC_KEY}'}}\n"
        f"  local: {{type: ollama, model: llama3.1, base_url: '{emulator.ollama_url}'}}\n"
        f"  tgi: {{type: huggingface, model: tgi, base_url: '{emulator.hf_url}'}}\n")
    code, out, err = invoke(["models"])
    assert code == 0, err
    lines = out.splitlines()
    assert "main/gpt-4o-mini" in lines and "claude/claude-sonnet-4-5" in lines
    assert "local/llama3.1:latest" in lines and "tgi/meta-llama/Llama-3.1-8B-Instruct" in lines
    paths = {(r.api, r.path) for r in emulator.requests}
    assert {("openai", "/v1/models"), ("anthropic", "/v1/models"), ("ollama", "/api/tags"),
            ("hf", "/hf/info")} <= paths
    code, out, _ = invoke(["models", "anthropic", "--json"])  # a type: its instances
    assert code == 0 and list(json.loads(out)) == ["claude"]


def test_an_unreachable_server_is_one_line_exit_1(clean_env: Path, emulator: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        "providers:\n"
        f"  up: {{type: ollama, model: llama3.1, base_url: '{emulator.ollama_url}'}}\n"
        "  down: {type: ollama, model: llama3.1, base_url: 'http://127.0.0.1:9'}\n")
    code, out, err = invoke(["models"])
    assert code == 1 and "up/llama3.1:latest" in out
    assert err.startswith("Error: down: ProviderUnavailable") and err.count("\n") == 1
