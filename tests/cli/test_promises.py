"""End to end, as a user at a shell: the real ``insightforge`` console script in
subprocesses (and on a pseudo-terminal where a person types), the loopback emulator behind
the real provider classes, a real keyring, real SQLite files (issue 15's "must show")."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from insightforge.testing.emulator import Emulator
from tests.cli.conftest import EXE, subprocess_env
from tests.cli.terminal import Terminal
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY

ROOT = Path(__file__).resolve().parents[2]
LONG = "a " * 1000  # 1000 words: $0.00075 a call on gpt-4o-mini (echoed back)


@pytest.fixture
def guarded() -> Iterator[Any]:
    with Emulator(api_keys=[TEST_OPENAI_KEY, TEST_ANTHROPIC_KEY]) as emu:
        yield emu


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], input=stdin, env=env or subprocess_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


@pytest.mark.keyring
def test_wizard_then_three_chats_share_one_budget_and_the_third_is_refused(
        keyring_env: dict[str, str], clean_env: Path, guarded: Any) -> None:
    env = subprocess_env(keyring_env)
    config = clean_env / "conf" / "insightforge.yaml"
    term = Terminal([EXE, "--config", str(config), "config", "init"], env, clean_env)
    for prompt, answer in [("Providers to set up", "openai"), ("Name for this", ""),
                           ("Model", ""), ("Base URL", guarded.openai_url),
                           ("API key for openai", TEST_OPENAI_KEY),
                           ("Test the connection now?", ""), ("test: OK", None),
                           ("Stored the key for openai in keyring.backends.SecretService", None),
                           ("Retry transient failures", ""), ("Rate limit", ""),
                           ("Daily budget", "0.0017"), ("Cache answers", ""),
                           ("Audit log file", ""), ("Wrote", None)]:
        term.expect(prompt)
        if answer is not None:
            term.send(answer)
    assert term.finish() == 0
    ledger = clean_env / "home" / ".local" / "share" / "insightforge" / "budget.db"
    budget = yaml.safe_load(config.read_text())["stack"][0]["budget"]
    assert budget["store"] == f"sqlite:///{ledger}"

    answers = [run("--config", str(config), "chat", LONG, cwd=clean_env, env=env)
               for _ in range(3)]  # three separate processes
    assert [a.returncode for a in answers] == [0, 0, 1], [a.stderr for a in answers]
    assert answers[2].stdout == "" and answers[2].stderr.count("\n") == 1
    assert "Budget global" in answers[2].stderr and "exhausted" in answers[2].stderr
    assert guarded.count(api="openai", path="/chat/completions") == 2  # refused before a call

    elsewhere = clean_env / "elsewhere"
    elsewhere.mkdir()
    status = run("budget", "status", "--json", "--config", str(config), cwd=elsewhere, env=env)
    (row,) = yaml.safe_load(status.stdout)
    assert status.returncode == 0 and row["limit_usd"] == "0.0017", status.stderr
    assert row["spent_usd"] == "0.0015021"  # the two answers, exactly
    assert list(elsewhere.iterdir()) == []  # nothing created where it ran


def test_budget_status_from_another_folder_reads_the_same_ledger(clean_env: Path,
                                                                  emulator: Any) -> None:
    """Relative paths in a config start at the config's folder, wherever the CLI runs."""
    home = clean_env / "project"
    home.mkdir()
    config = home / "insightforge.yaml"
    config.write_text(
        f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{emulator.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\n"
        "stack:\n  - audit: {sink: logs/audit.jsonl}\n"
        "  - budget: {limit_usd: 1, period: day, store: budget.db}\n")
    (home / "logs").mkdir()
    other = clean_env / "somewhere" / "else"
    other.mkdir(parents=True)
    env = subprocess_env({"INSIGHTFORGE_CONFIG": str(config)})
    assert run("chat", "hi", cwd=other, env=env).returncode == 0
    assert (home / "budget.db").is_file() and (home / "logs" / "audit.jsonl").is_file()
    for folder in (other, clean_env):
        status = run("budget", "status", cwd=folder, env=env)
        assert status.returncode == 0, status.stderr
        assert "global" in status.stdout and "0.0000" in status.stdout
        verified = run("audit", "verify", cwd=folder, env=env)  # FILE from the config
        assert verified.stdout.startswith("OK: 1 records"), verified.stdout + verified.stderr
    assert list(other.iterdir()) == [] and not (clean_env / "budget.db").exists()


def test_git_diff_piped_with_a_prompt_sends_both(clean_env: Path, emulator: Any) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (apt install git)")
    repo = clean_env / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.com"],
                 ["config", "user.name", "T"]):
        subprocess.run([git, *args], cwd=repo, check=True)
    (repo / "app.py").write_text("print('hello')\n")
    subprocess.run([git, "add", "."], cwd=repo, check=True)
    subprocess.run([git, "commit", "-qm", "one"], cwd=repo, check=True)
    (repo / "app.py").write_text("print('hello, world')\n")
    (repo / "insightforge.yaml").write_text(
        f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{emulator.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\n")
    diff = subprocess.run([git, "diff"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout
    shell = subprocess.run(["sh", "-c", f"git diff | '{EXE}' chat 'review this'"], cwd=repo,
                           env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell.stderr
    sent = emulator.requests[-1].body["messages"][-1]
    assert sent == {"role": "user", "content": "review this\n\n" + diff.rstrip()}
    assert "print('hello, world')" in shell.stdout


def test_m_provider_slash_model_reaches_the_anthropic_wire(clean_env: Path,
                                                           emulator: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        "providers:\n"
        f"  main: {{type: openai, model: gpt-4o-mini, base_url: '{emulator.openai_url}',"
        f" api_key: '{TEST_OPENAI_KEY}'}}\n"
        f"  claude: {{type: anthropic, model: claude-sonnet-4-5, base_url: "
        f"'{emulator.anthropic_url}', api_key: '{TEST_ANTHROPIC_KEY}'}}\n")
    answer = run("chat", "-m", "anthropic/claude-haiku-4-5", "--usage", "hi", cwd=clean_env)
    assert (answer.returncode, answer.stdout) == (0, "Echo: hi\n"), answer.stderr
    assert "provider=anthropic model=claude-haiku-4-5" in answer.stderr
    last = emulator.requests[-1]
    assert (last.api, last.path, last.body["model"]) == (
        "anthropic", "/v1/messages", "claude-haiku-4-5")
    assert last.headers["x-api-key"] == TEST_ANTHROPIC_KEY  # the instance's own key


def test_chat_c_continues_the_last_conversation(clean_env: Path, emulator: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{emulator.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\n")
    assert run("chat", "-s", "be brief", "my name is Ada", cwd=clean_env).returncode == 0
    assert run("chat", "--no-log", "unrelated", cwd=clean_env).returncode == 0
    again = run("chat", "-c", "what is my name?", cwd=clean_env)
    assert (again.returncode, again.stdout) == (0, "Echo: what is my name?\n"), again.stderr
    assert emulator.requests[-1].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "Echo: my name is Ada"},
        {"role": "user", "content": "what is my name?"}]
    logs = run("logs", "-c", "--json", cwd=clean_env)
    turns = yaml.safe_load(logs.stdout)
    assert [t["prompt"] for t in turns] == ["my name is Ada", "what is my name?"]
    assert len({t["conversation"] for t in turns}) == 1
    cid = turns[0]["conversation"]
    assert run("chat", "another one", cwd=clean_env).returncode == 0  # a new conversation
    picked = run("chat", "--cid", cid[:13], "and now?", cwd=clean_env)
    assert picked.returncode == 0, picked.stderr
    assert len(emulator.requests[-1].body["messages"]) == 6  # system + 2 turns + this one


@pytest.mark.parametrize("how", ["plain file", "no backend"])
def test_keys_set_without_a_secure_keyring_refuses_naming_the_fix(clean_env: Path,
                                                                   how: str) -> None:
    store = clean_env / "keys.json"
    env = subprocess_env({"INSIGHTFORGE_KEYRING_SERVICE": "insightforge-test-plain"})
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # a headless machine: no Secret Service
    if how == "plain file":
        env.update(PYTHON_KEYRING_BACKEND="tests.plaintext_keyring.PlainFile",
                   PYTHONPATH=str(ROOT), INSIGHTFORGE_TEST_KEYRING_FILE=str(store))
    else:
        env.pop("PYTHON_KEYRING_BACKEND", None)
    refused = run("keys", "set", "openai", cwd=clean_env, env=env, stdin=TEST_OPENAI_KEY)
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    line = refused.stderr
    assert line.startswith("Error: cannot store the key for openai: ") and line.count("\n") == 1
    assert "set OPENAI_API_KEY instead" in line and TEST_OPENAI_KEY not in line
    assert "Traceback" not in line and not store.exists()
    if how == "no backend":
        assert "no usable keyring backend" in line and "gnome-keyring" in line
        return
    assert "tests.plaintext_keyring.PlainFile, keeps keys in a plain file" in line
    assert "--allow-plaintext" in line and "gnome-keyring" in line
    allowed = run("keys", "set", "openai", "--allow-plaintext", cwd=clean_env, env=env,
                  stdin=TEST_OPENAI_KEY)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("Stored the key for openai in "
                                     "tests.plaintext_keyring.PlainFile")
    assert "plain file" in allowed.stdout and TEST_OPENAI_KEY in store.read_text()


def test_interactive_chat_on_a_terminal(clean_env: Path, emulator: Any) -> None:
    (clean_env / "insightforge.yaml").write_text(
        f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
        f"'{emulator.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\n")
    term = Terminal([EXE, "chat"], subprocess_env(), clean_env)
    term.expect("Chatting with main")
    term.expect("> ")
    term.send("hello there")
    term.expect("Echo: hello there")
    term.expect("> ")
    term.send("and again")
    term.expect("Echo: and again")
    term.expect("> ")
    term.send("exit")
    assert term.finish() == 0
    assert emulator.requests[-1].body["messages"] == [
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "Echo: hello there"},
        {"role": "user", "content": "and again"}]
    assert emulator.requests[-1].body["stream"] is True  # a terminal: streamed
    # the REPL's turns are one conversation in the history: -c continues it
    assert run("chat", "-c", "third", cwd=clean_env).returncode == 0
    assert len(emulator.requests[-1].body["messages"]) == 5
    term = Terminal([EXE, "chat", "-c"], subprocess_env(), clean_env)  # Ctrl-D leaves
    term.expect("continuing after 3 turn(s)")
    term.expect("> ")
    os.write(term.master, b"\x04")
    assert term.finish() == 0
