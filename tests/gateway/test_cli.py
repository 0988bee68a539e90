"""The commands: ``insightforge gateway keys ...`` and ``insightforge serve --workers``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from click.testing import CliRunner

from insightforge.cli import cli
from insightforge.gateway.keystore import digest, keystore_from
from insightforge.testing.emulator import Emulator
from tests.gateway.helpers import two_models


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_keys_create_list_rotate_revoke(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'keys.db'}"
    made = _run("gateway", "keys", "create", "--tenant", "acme", "--budget", "50/month",
                "--rpm", "600", "--models", "gpt-4o-mini,claude-sonnet", "--store", store)
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("ifk_") and len(key) > 40
    record = keystore_from(store).by_digest(digest(key))
    assert record is not None and record.tenant == "acme" and record.rpm == 600
    assert str(record.budget_usd) == "50" and record.period == "month"
    assert record.models == ("gpt-4o-mini", "claude-sonnet")
    assert key not in (tmp_path / "keys.db").read_bytes().decode("latin-1")  # only the hash

    listed = _run("gateway", "keys", "list", "--store", store)
    assert record.id in listed.output and "acme" in listed.output and key not in listed.output
    rows = [json.loads(line) for line in
            _run("gateway", "keys", "list", "--json", "--store", store).stdout.splitlines()]
    assert rows[0]["id"] == record.id and "digest" not in rows[0]

    rotated = _run("gateway", "keys", "rotate", record.id, "--json", "--store", store)
    new = json.loads(rotated.stdout)
    assert new["id"] == record.id and new["key"] != key
    assert keystore_from(store).by_digest(digest(key)) is None

    assert _run("gateway", "keys", "revoke", record.id, "--store", store).exit_code == 0
    assert "revoked" in _run("gateway", "keys", "list", "--store", store).output
    again = _run("gateway", "keys", "rotate", record.id, "--store", store)
    assert again.exit_code == 2 and "revoked" in again.output


@pytest.mark.parametrize(("args", "message"), [
    (["create", "--tenant", "acme", "--budget", "lots"], "DOLLARS"),
    (["create", "--tenant", "acme", "--budget", "5/week"], "period"),
    (["create", "--tenant", "a b"], "tenant"),
    (["create", "--tenant", "acme"], "no key store"),
    (["revoke", "key_nope"], "no gateway key"),
])
def test_keys_usage_errors_name_the_problem(tmp_path: Path, args: list[str],
                                            message: str) -> None:
    store = ([] if "no key store" in message
             else ["--store", f"sqlite:///{tmp_path / 'keys.db'}"])
    config = tmp_path / "insightforge.yaml"  # a config without gateway.keys
    config.write_text("providers:\n  local: {type: ollama, model: llama3.1}\n")
    result = _run("gateway", "keys", *args, *store, env={"INSIGHTFORGE_CONFIG": str(config)})
    assert result.exit_code == 2 and message in result.output


def test_serve_with_workers_shares_keys_budgets_and_metrics(emulator: Emulator,
                                                           tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path, store=f"sqlite:///{tmp_path / 'gw.db'}")
    path = tmp_path / "insightforge.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "INSIGHTFORGE_CONFIG": str(path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    made = _run("gateway", "keys", "create", "--tenant", "acme", env={"INSIGHTFORGE_CONFIG":
                                                                      str(path)})
    key = made.stdout.strip()
    proc = subprocess.Popen([sys.executable, "-c", "from insightforge.cli import main; main()",
                             "serve", "--port", "0", "--workers", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://\S+/v1", line)
        assert url, f"no URL in {line!r}"
        client = openai.OpenAI(base_url=url.group(0), api_key=key, max_retries=3, timeout=20)
        for i in range(6):  # spread over both workers by the kernel
            reply = client.chat.completions.create(model="mini", messages=[
                {"role": "user", "content": f"worker question {i}"}])
            assert reply.choices[0].message.content == f"Echo: worker question {i}"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url.group(0), api_key="ifk_nope", max_retries=0
                          ).models.list()
        base = url.group(0)[:-3]
        text = httpx.get(base + "/metrics", timeout=10).text
        counted = sum(float(m.group(1)) for m in re.finditer(
            r'gen_ai_client_operation_duration_seconds_count\{[^}]*tag_tenant="acme"[^}]*\} '
            r'(\S+)', text))
        assert counted == 6  # every worker's samples, whichever worker answered the scrape
        assert httpx.get(base + "/readyz", timeout=10).json()["status"] == "ready"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert key not in log and '"tenant":"acme"' in log  # the access log, no key
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
