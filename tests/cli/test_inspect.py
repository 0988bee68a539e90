"""The inspection commands read what other processes wrote, never create a file, and take
their store or file from the config when none is named; ``config validate`` warns about a
budget or rate limit that would not outlive its process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import EXE, invoke, subprocess_env
from tests.conftest import TEST_OPENAI_KEY


def config(tmp: Path, emu: Any, stack: str) -> Path:
    path = tmp / "insightforge.yaml"
    path.write_text(f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
                    f"'{emu.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\nstack: {stack}\n")
    return path


def test_cache_stats_count_every_process_lookups(clean_env: Path, emulator: Any) -> None:
    config(clean_env, emulator, "[{cache: {ttl: 60, store: cache.db}}]")
    for _ in range(3):  # three processes: a miss, then two hits
        done = subprocess.run([EXE, "chat", "same"], env=subprocess_env(), cwd=clean_env,
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0
    code, out, err = invoke(["cache", "stats", "--json"])  # the store from the config
    stats = json.loads(out)
    assert code == 0, err
    assert (stats["entries"], stats["hits"], stats["misses"]) == (1, 2, 1)


@pytest.mark.parametrize(("command", "flag"), [(["cache", "stats"], "--store"),
                                               (["cache", "clear", "--yes"], "--store"),
                                               (["budget", "status"], "--ledger")])
def test_a_typo_creates_no_file(clean_env: Path, command: list[str], flag: str) -> None:
    code, out, err = invoke([*command, flag, "typo.db"])
    assert (code, out) == (1, "") and "no such file" in err and err.count("\n") == 1
    assert not (clean_env / "typo.db").exists()


def test_budget_status_reads_the_cli_ledger_when_the_config_names_none(
        clean_env: Path, emulator: Any) -> None:
    config(clean_env, emulator, "[{budget: {limit_usd: 1, period: day}}]")
    code, _, err = invoke(["budget", "status"])
    assert code == 1 and "no such file" in err  # nothing spent yet: nothing created
    assert invoke(["chat", "hi"])[0] == 0
    code, out, _ = invoke(["budget", "status", "--json"])
    (row,) = json.loads(out)
    assert code == 0 and row["limit_usd"] == "1" and row["spent_usd"] != "0"


def test_audit_commands_take_the_sink_from_the_config(clean_env: Path, emulator: Any) -> None:
    code, _, err = invoke(["audit", "verify"])
    assert code == 2 and "give the audit FILE" in err
    config(clean_env, emulator, "[{retry: {attempts: 2}}]")
    code, _, err = invoke(["audit", "tail"])
    assert code == 2 and "has no audit layer" in err
    config(clean_env, emulator, "[{audit: {sink: logs/audit.jsonl}}]")
    (clean_env / "logs").mkdir()
    assert subprocess.run([EXE, "chat", "hi"], env=subprocess_env(), cwd=clean_env,
                          capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL).returncode == 0
    code, out, _ = invoke(["audit", "verify"])
    assert code == 0 and out.startswith("OK: 1 records")
    code, out, _ = invoke(["audit", "tail", "--json"])
    assert code == 0 and json.loads(out.splitlines()[-1])["outcome"] == "ok"


def test_validate_warns_about_a_budget_or_limit_in_memory(clean_env: Path,
                                                          emulator: Any) -> None:
    config(clean_env, emulator, "[{budget: {limit_usd: 1, store: memory}}, "
           "{ratelimit: {rpm: 5, store: memory}}, {cache: {store: memory}}]")
    code, out, err = invoke(["config", "validate"])
    assert code == 0 and "OK" in out
    warnings = err.splitlines()
    assert len(warnings) == 2 and all(w.startswith("  warning: $.stack[") for w in warnings)
    assert "budget in memory" in warnings[0] and "rate limit in memory" in warnings[1]
    config(clean_env, emulator, "[{budget: {limit_usd: 1}}]")
    assert invoke(["config", "validate"])[2] == ""  # the CLI keeps it in the data folder
