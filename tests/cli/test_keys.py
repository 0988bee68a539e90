"""``insightforge keys set|list|delete|test`` against a real keyring backend (gnome-keyring's
Secret Service under D-Bus, else keyrings.alt's file backend) and a key-checking emulator."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from insightforge import credentials
from insightforge.testing.emulator import Emulator
from tests.cli.conftest import EXE, invoke, subprocess_env
from tests.conftest import TEST_OPENAI_KEY

pytestmark = pytest.mark.keyring
WRONG_KEY = "sk-proj-WRONGKEYabcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Any]:
    """An emulator that accepts only TEST_OPENAI_KEY."""
    with Emulator(api_keys=[TEST_OPENAI_KEY]) as emu:
        yield emu


def test_set_list_test_delete_in_process(keyring_env: dict[str, str], clean_env: Path,
                                         guarded: Any) -> None:
    code, out, _ = invoke(["keys", "set", "openai"], input=TEST_OPENAI_KEY + "\n")
    assert code == 0 and "Stored" in out
    assert credentials.keyring_get("openai") == TEST_OPENAI_KEY  # really in the backend
    code, out, _ = invoke(["keys", "list"])
    line = next(ln for ln in out.splitlines() if ln.startswith("openai "))
    assert "keyring" in line and "sk-p…(" in line and TEST_OPENAI_KEY not in out
    code, out, _ = invoke(["keys", "test", "openai", "--base-url", guarded.openai_url])
    assert (code, out) == (0, "openai: OK\n")
    assert guarded.requests[-1].path.endswith("/models")

    invoke(["keys", "set", "openai"], input=WRONG_KEY)
    code, out, _ = invoke(["keys", "test", "openai", "--base-url", guarded.openai_url])
    assert code == 1 and "bad key" in out and WRONG_KEY not in out
    code, out, _ = invoke(["keys", "test", "openai", "--base-url", "http://127.0.0.1:9/v1"])
    assert code == 1 and "unreachable" in out

    assert invoke(["keys", "delete", "openai"])[1] == "Deleted the key for openai.\n"
    assert credentials.keyring_get("openai") is None
    code, out, _ = invoke(["keys", "list"])
    assert "not set" in next(ln for ln in out.splitlines() if ln.startswith("openai "))
    code, out, _ = invoke(["keys", "test", "openai", "--base-url", guarded.openai_url])
    assert code == 1 and "no key" in out


def test_environment_wins_and_is_reported(keyring_env: dict[str, str], clean_env: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.keyring_set("openai", WRONG_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_OPENAI_KEY)
    _, out, _ = invoke(["keys", "list"])
    line = next(ln for ln in out.splitlines() if ln.startswith("openai "))
    assert "environment" in line and "OPENAI_API_KEY" in line
    assert TEST_OPENAI_KEY not in out and WRONG_KEY not in out


def test_instance_names_from_the_config(keyring_env: dict[str, str], clean_env: Path,
                                        guarded: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        f"providers:\n  work: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{guarded.openai_url}', api_key_ref: 'keyring:work'}}\n")
    invoke(["keys", "set", "work"], input=TEST_OPENAI_KEY)
    _, out, _ = invoke(["keys", "list"])
    assert any(ln.startswith("work ") and "keyring:work" in ln for ln in out.splitlines())
    assert invoke(["keys", "test"])[:2] == (0, "work: OK\n")


def test_empty_key_is_refused(keyring_env: dict[str, str]) -> None:
    code, _, err = invoke(["keys", "set", "openai"], input="\n")
    assert code == 2 and "empty" in err


def test_console_script_end_to_end(keyring_env: dict[str, str], clean_env: Path,
                                   guarded: Any) -> None:
    env = subprocess_env(keyring_env)

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, "keys", *args], input=stdin, env=env, capture_output=True,
                              text=True, timeout=60, cwd=clean_env)

    assert run("set", "openai", stdin=TEST_OPENAI_KEY).returncode == 0
    assert credentials.keyring_get("openai") == TEST_OPENAI_KEY  # same backend, other process
    listed = run("list")
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("openai "))
    assert line.split()[1] == "keyring" and "sk-p…(" in line, listed.stdout
    assert TEST_OPENAI_KEY not in listed.stdout + listed.stderr
    checked = run("test", "openai", "--base-url", guarded.openai_url)
    assert (checked.returncode, checked.stdout) == (0, "openai: OK\n"), checked.stderr
    assert run("delete", "openai").returncode == 0
    assert credentials.keyring_get("openai") is None


def test_a_keyring_ref_in_the_config_beats_the_environment(
        keyring_env: dict[str, str], clean_env: Path, guarded: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`api_key_ref: keyring:work` (what `config init` writes) names the key to use: an
    unrelated OPENAI_API_KEY in the shell must not silently replace it."""
    (clean_env / "insightforge.yaml").write_text(
        f"providers:\n  work: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{guarded.openai_url}', api_key_ref: 'keyring:work'}}\n")
    credentials.keyring_set("work", TEST_OPENAI_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    assert invoke(["keys", "test", "work"])[:2] == (0, "work: OK\n")
    _, out, _ = invoke(["keys", "list"])
    line = next(ln for ln in out.splitlines() if ln.startswith("work "))
    assert line.split()[1] == "keyring" and "keyring:work" in line
    assert invoke(["chat", "--no-stream", "hi"])[:2] == (0, "Echo: hi\n")
    credentials.keyring_delete("work")  # no entry: the usual order (the env var) applies
    code, out, _ = invoke(["keys", "test", "work"])
    assert code == 1 and "bad key" in out


# --- no usable keyring: a usage error (exit 2), one line naming the fix ------------------

@pytest.fixture
def backend() -> Iterator[Any]:
    """Set a keyring backend for one test; the previous one comes back after."""
    import keyring

    before = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(before)


@pytest.mark.parametrize("kind", ["fail", "null"])
def test_set_without_a_usable_keyring_is_exit_2(clean_env: Path, backend: Any,
                                                kind: str) -> None:
    import keyring.backends.fail
    import keyring.backends.null

    make: Any = {"fail": keyring.backends.fail.Keyring,
                 "null": keyring.backends.null.Keyring}[kind]
    backend(make())
    code, out, err = invoke(["keys", "set", "openai"], input=TEST_OPENAI_KEY)
    assert (code, out) == (2, ""), err
    assert err.startswith("Error: cannot store the key for openai: ") and err.count("\n") == 1
    assert "keyrings.alt" in err and "set OPENAI_API_KEY instead" in err
    assert TEST_OPENAI_KEY not in err and "Stored" not in err


def test_set_with_the_keyring_switched_off_is_exit_2(
        keyring_env: dict[str, str], clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "insightforge.yaml").write_text(
        "providers: {work: {type: anthropic, model: claude-haiku-4-5}}\n")
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    code, _, err = invoke(["keys", "set", "work"], input=TEST_OPENAI_KEY)
    assert code == 2 and err.count("\n") == 1
    assert "unset INSIGHTFORGE_NO_KEYRING" in err and "ANTHROPIC_API_KEY" in err  # its type's
    monkeypatch.delenv("INSIGHTFORGE_NO_KEYRING")
    assert credentials.keyring_get("work") is None  # nothing was stored behind the switch


def test_console_script_no_keyring_backend(clean_env: Path) -> None:
    env = subprocess_env({"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    proc = subprocess.run([EXE, "keys", "set", "openai"], input=TEST_OPENAI_KEY, env=env,
                          capture_output=True, text=True, timeout=60, cwd=clean_env)
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.count("\n") == 1 and "NoKeyringError" in proc.stderr
    assert "Traceback" not in proc.stderr and TEST_OPENAI_KEY not in proc.stderr
