"""Fixtures for the CLI tests: a real keyring, a clean config environment, a runner."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.keyring_backend import real_keyring

EXE = str(Path(sys.executable).with_name("insightforge"))


@pytest.fixture
def keyring_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real keyring backend (Secret Service or file), with env for subprocesses."""
    with real_keyring(tmp_path) as env:
        yield env


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config anywhere but what the test writes: cwd, user config and data dirs in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for var in ("INSIGHTFORGE_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST",
                "INSIGHTFORGE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment (as the fixtures set it) plus ``extra``."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


def invoke(args: list[str], input: str | None = None,
           env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    """Run the real ``insightforge`` entry logic in-process: (exit code, stdout, stderr)."""
    from insightforge.cli import cli
    from insightforge.cli._errors import run

    with CliRunner().isolation(input=input, env=env) as (out, err, _):
        code = run(cli, args)
    return code, out.getvalue().decode(), err.getvalue().decode()
