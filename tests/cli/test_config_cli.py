"""``insightforge config validate|show|migrate|schema``, ``providers``, help and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import EXE, invoke, subprocess_env
from tests.conftest import TEST_OPENAI_KEY

THREE_MISTAKES = """\
providers:
  main: {type: openai, model: gpt-4o-mini, timout: 30}
stack:
  - cache: {ttl: -5}
  - retry: {attempts: 3}
  - budget: {limit_usd: 0}
"""


def test_three_mistakes_reported_at_once_exit_2(clean_env: Path) -> None:
    path = clean_env / "bad.yaml"
    path.write_text(THREE_MISTAKES)
    proc = subprocess.run([EXE, "config", "validate", str(path)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{path}: 3 problem(s)"
    assert "  $.providers.main.timout: unknown key 'timout' (did you mean 'timeout'?)" in lines
    assert any(ln.startswith("  $.stack[0].cache.ttl: ") for ln in lines)
    assert "  $.stack[2].budget.limit_usd: expected a positive number" in lines


def test_validate_ok_and_config_discovery(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                          ) -> None:
    assert invoke(["config", "validate"])[0] == 2  # nothing found
    user = clean_env / "home" / ".config" / "insightforge"
    user.mkdir(parents=True)
    (user / "insightforge.yaml").write_text("providers: {u: {type: ollama, model: llama3.1}}\n")
    code, out, _ = invoke(["config", "validate"])
    assert code == 0 and "primary 'u'" in out
    (clean_env / "insightforge.yaml").write_text("providers: {c: {type: ollama, model: x}}\n")
    assert "primary 'c'" in invoke(["config", "validate"])[1]  # cwd beats the user dir
    env_file = clean_env / "env.yaml"
    env_file.write_text("providers: {e: {type: ollama, model: x}}\n")
    monkeypatch.setenv("INSIGHTFORGE_CONFIG", str(env_file))
    assert "primary 'e'" in invoke(["config", "validate"])[1]
    flag = clean_env / "flag.yaml"
    flag.write_text("providers: {f: {type: ollama, model: x}}\n")
    assert "primary 'f'" in invoke(["--config", str(flag), "config", "validate"])[1]
    code, _, err = invoke(["--config", "missing.yaml", "config", "validate"])
    assert code == 2 and "does not exist" in err


def test_yaml_syntax_error_is_one_line(clean_env: Path) -> None:
    (clean_env / "insightforge.yaml").write_text("providers: [unclosed\n")
    code, _, err = invoke(["config", "show"])
    assert code == 2 and "line" in err and err.count("\n") == 1


def test_show_masks_secrets(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", TEST_OPENAI_KEY)
    (clean_env / "insightforge.yaml").write_text(
        "providers: {m: {type: openai, model: gpt-4o, api_key: '${K}'}}\n"
        "stack: [{retry: {attempts: 2}}]\n")
    code, out, _ = invoke(["config", "show"])
    assert code == 0 and TEST_OPENAI_KEY not in out and "sk-p…" in out
    assert "attempts: 2" in out
    data = json.loads(invoke(["config", "show", "--json"])[1])
    assert data["providers"]["m"]["api_key"].startswith("sk-p")
    # masked once: the length shown is the key's, not the length of its mask
    assert data["providers"]["m"]["api_key"] == f"sk-p…({len(TEST_OPENAI_KEY)} chars)"


def test_migrate_missing_or_broken_file_is_one_line_exit_2(clean_env: Path) -> None:
    code, out, err = invoke(["config", "migrate", "missing.yaml"])
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "missing.yaml" in err and "does not exist" in err and "Traceback" not in err
    (clean_env / "broken.yaml").write_text("llm: [unclosed\n")
    code, _, err = invoke(["config", "migrate", "broken.yaml"])
    assert code == 2 and err.startswith("Error: broken.yaml at line") and err.count("\n") == 1


def test_schema_is_json(clean_env: Path) -> None:
    code, out, _ = invoke(["config", "schema"])
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "InsightForge configuration"


def test_providers_list_and_show(clean_env: Path) -> None:
    code, out, _ = invoke(["providers", "list"])
    assert code == 0 and "openai" in out and "ollama" in out
    code, out, _ = invoke(["providers", "show", "openai"])
    assert code == 0 and "gpt-4o-mini" in out and "OPENAI_API_KEY" in out
    assert "free" in invoke(["providers", "show", "ollama"])[1]
    code, _, err = invoke(["providers", "show", "opena"])
    assert code == 2 and "unknown provider" in err


def test_broken_plugin_is_shown_with_its_error(clean_env: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "site" / "brokenplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[insightforge.providers]\nbroken = brokenplugin_missing:Provider\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    from insightforge import registry

    # keep the registry's memory of this broken plugin to this test
    monkeypatch.setattr(registry._providers, "_errors", {})
    monkeypatch.setattr(registry._providers, "_loaded", dict(registry._providers._loaded))
    code, out, _ = invoke(["providers", "list"])
    line = next(ln for ln in out.splitlines() if ln.startswith("broken"))
    assert code == 0 and "brokenplugin" in line and "BROKEN" in line
    assert "ModuleNotFoundError" in line


def _commands() -> list[list[str]]:
    from insightforge.cli import cli

    found: list[list[str]] = [[]]

    def walk(group: Any, prefix: list[str]) -> None:
        import click

        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            found.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command: list[str]) -> None:
    code, out, _ = invoke([*command, "--help"])
    assert code == 0 and "Usage:" in out
    body = out.split("\n\n", 2)
    assert len(body) >= 2 and body[1].strip(), f"{command} has no help text"


@pytest.mark.parametrize("command", [["serve", "--emulator", "-q"], ["emulator"]])
def test_port_in_use_is_one_line_exit_2(clean_env: Path, command: list[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = invoke([*command, "--port", str(port)])
    assert code == 2 and err.count("\n") == 1, err
    assert f"127.0.0.1:{port}" in err and "--port" in err and "Traceback" not in err
