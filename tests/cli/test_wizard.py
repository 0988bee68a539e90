"""``insightforge config init`` driven through a pseudo-terminal with the real console script,
then ``insightforge chat "hi"`` with the file it wrote — no file edited by hand.

The emulator accepts only the test key, so the chat succeeding proves the key went into the
(real) keyring and the YAML found it there; the YAML itself must not contain it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge.testing.emulator import Emulator
from tests.cli.conftest import EXE, subprocess_env
from tests.cli.terminal import Terminal
from tests.conftest import TEST_OPENAI_KEY

pytestmark = pytest.mark.keyring


@pytest.fixture
def guarded() -> Iterator[Any]:
    with Emulator(api_keys=[TEST_OPENAI_KEY]) as emu:
        yield emu


def test_new_user_sets_up_and_chats(keyring_env: dict[str, str], clean_env: Path,
                                    guarded: Any) -> None:
    env = subprocess_env(keyring_env)
    config = clean_env / "conf" / "insightforge.yaml"
    term = Terminal([EXE, "--config", str(config), "config", "init"], env, clean_env)
    with Emulator() as local:  # the keyless ollama, on an emulator that asks for no key
        for prompt, answer in [
            ("Providers to set up", "openai, ollama"),
            ("Name for this openai provider [openai]:", ""),
            ("Model [gpt-4o-mini]:", ""),
            ("Base URL [https://api.openai.com/v1]:", guarded.openai_url),
            ("API key for openai", TEST_OPENAI_KEY),
            ("Test the connection now? [Y/n]:", ""),
            ("test: OK", None),
            ("Name for this ollama provider [ollama]:", "local"),
            ("Model [llama3.1]:", ""),
            ("Base URL [http://localhost:11434]:", local.ollama_url),
            ("Test the connection now? [Y/n]:", ""),
            ("test: OK", None),
            ("Main provider (openai, local) [openai]:", ""),
            ("Retry transient failures", "y"),
            ("If openai fails, fall back to (comma separated: local; or none) [local]:", "nope"),
            ("not a provider set up here: nope", None),
            ("fall back to", ""),
            ("Rate limit in requests per minute (0 for none) [0]:", "600"),
            ("Daily budget in USD (0 for none)", "2"),
            ("Cache answers (none, memory, or a SQLite file path) [none]:", "cache.db"),
            (f"cache: {config.parent / 'cache.db'}", None),
            ("Audit log file (a path, or none) [none]:", "logs/audit.jsonl"),
            (f"audit log: {config.parent / 'logs' / 'audit.jsonl'}", None),
            (f"Wrote {config}", None),
        ]:
            term.expect(prompt)
            if answer is not None:
                term.send(answer)
        assert term.finish() == 0
    written = config.read_text()
    assert TEST_OPENAI_KEY not in written and "api_key_ref: keyring:openai" in written
    doc = yaml.safe_load(written)
    assert [next(iter(layer)) for layer in doc["stack"]] == [
        "audit", "cache", "budget", "fallback", "ratelimit", "retry"]
    assert doc["stack"][3] == {"fallback": ["local"]}
    # since issue 15 the budget and the rate limit outlive a process: SQLite files in the
    # user data folder, written out in the config
    data = clean_env / "home" / ".local" / "share" / "insightforge"
    assert doc["stack"][4] == {"ratelimit": {"rpm": 600,
                                             "store": f"sqlite:///{data / 'ratelimit.db'}"}}
    assert doc["stack"][2] == {"budget": {"limit_usd": 2.0, "period": "day",
                                          "store": f"sqlite:///{data / 'budget.db'}"}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, "--config", str(config), *args], env=env,
                              capture_output=True, text=True, timeout=60, cwd=clean_env)

    checked = run("config", "validate")
    assert checked.returncode == 0 and "6 layer(s)" in checked.stdout, checked.stderr
    for _ in range(2):  # the second answer comes from the SQLite cache the wizard set up
        chat = run("chat", "--trace", "hi")
        assert (chat.returncode, chat.stdout) == (0, "Echo: hi\n"), chat.stderr
    assert "trace: cache.hit" in chat.stderr
    assert guarded.count(api="openai", path="/v1/chat/completions") == 1
    assert guarded.requests[-1].headers.get("authorization") == f"Bearer {TEST_OPENAI_KEY}"
    verified = run("audit", "verify", str(config.parent / "logs" / "audit.jsonl"))
    assert verified.returncode == 0 and verified.stdout.startswith("OK: 2 records"), \
        verified.stdout


def test_defaults_add_only_retry(keyring_env: dict[str, str], clean_env: Path,
                                 guarded: Any) -> None:
    """Enter at every stack question: retry and nothing else (no cache or log file)."""
    config = clean_env / "insightforge.yaml"
    term = Terminal([EXE, "config", "init"], subprocess_env(keyring_env), clean_env)
    for prompt, answer in [("Providers to set up", "openai"), ("Name for this", ""),
                           ("Model", ""), ("Base URL", guarded.openai_url),
                           ("API key for openai", ""), ("Test the connection now?", "n"),
                           ("Retry transient failures", ""), ("Rate limit", ""),
                           ("Daily budget", ""), ("Cache answers", ""),
                           ("Audit log file", ""), ("Wrote", None)]:
        term.expect(prompt)
        if answer is not None:
            term.send(answer)
    assert term.finish() == 0
    assert yaml.safe_load(config.read_text())["stack"] == [{"retry": {"attempts": 3}}]
    assert not [*clean_env.rglob("*.db"), *clean_env.rglob("*.jsonl")]  # no cache, no log


def test_hidden_key_is_not_echoed_and_a_bad_key_can_be_dropped(
        keyring_env: dict[str, str], clean_env: Path, guarded: Any) -> None:
    env = subprocess_env(keyring_env)
    config = clean_env / "insightforge.yaml"
    term = Terminal([EXE, "config", "init"], env, clean_env)
    wrong = "sk-proj-WRONGKEYabcdefghijklmnopqrstuvwxyz012345"
    for prompt, answer in [("Providers to set up", "openai"), ("Name for this", "work"),
                           ("Model", ""), ("Base URL", guarded.openai_url),
                           ("API key for work", wrong)]:
        term.expect(prompt)
        term.send(answer)
    term.expect("Test the connection now?")
    assert wrong not in term.seen
    term.send("")
    term.expect("bad key")
    # since issue 15 a failed test offers to re-enter the URL or key; here: drop it
    term.expect("Re-enter the url, the key, both; keep it anyway; or drop it? "
                "(url, key, both, keep, drop) [key]:")
    term.send("drop")
    term.expect("work dropped")
    term.expect("no provider set up")
    assert term.finish() == 2
    assert not config.exists()


# --- the stack questions, in process ------------------------------------------------------

def ask(fn: Any, answers: list[str], *args: Any) -> tuple[Any, str]:
    """Run one wizard step with typed ``answers``: (its result, what the terminal showed)."""
    from click.testing import CliRunner

    with CliRunner().isolation(input="".join(a + "\n" for a in answers)) as (out, err, _):
        result = fn(*args)
    return result, out.getvalue().decode() + err.getvalue().decode()


def test_cache_answers(tmp_path: Path) -> None:
    from insightforge.cli._wizard import _cache

    assert ask(_cache, [""], tmp_path)[0] is None
    assert ask(_cache, ["memory"], tmp_path)[0] == {"ttl": 3600, "store": "memory"}
    spec, shown = ask(_cache, ["redis://:hunter2@h:6379/0", str(tmp_path), "sqlite:///c.db"],
                      tmp_path)
    assert spec == {"ttl": 3600, "store": f"sqlite:///{tmp_path / 'c.db'}"}
    assert "by hand" in shown and "that is a directory" in shown


def test_audit_answers(tmp_path: Path) -> None:
    from insightforge.cli._wizard import _audit

    assert ask(_audit, ["none"], tmp_path)[0] is None
    assert ask(_audit, ["~/a.jsonl"], tmp_path)[0] == {"sink": str(Path.home() / "a.jsonl")}
    assert ask(_audit, [str(tmp_path), "a.jsonl"], tmp_path)[0] == {
        "sink": str(tmp_path / "a.jsonl")}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(retry=st.sampled_from(["", "y", "n"]), fallback=st.sampled_from(["", "none", "local"]),
       rpm=st.sampled_from(["", "0", "1", "6000"]),
       budget=st.sampled_from(["", "0", "0.5", "2", "1000000"]),
       cache=st.sampled_from(["", "none", "memory", "c.db", "sub/c.sqlite"]),
       audit=st.sampled_from(["", "none", "a.jsonl", "logs/a.jsonl"]))
def test_every_stack_the_wizard_writes_loads(tmp_path: Path, retry: str, fallback: str,
                                             rpm: str, budget: str, cache: str,
                                             audit: str) -> None:
    from insightforge.cli._wizard import _stack
    from insightforge.config import load_config

    stack, _ = ask(_stack, [retry, fallback, rpm, budget, cache, audit], "main", ["local"],
                   tmp_path)
    doc = {"providers": {"main": {"type": "openai", "model": "gpt-4o-mini"},
                         "local": {"type": "ollama", "model": "llama3.1"}},
           "provider": "main", "stack": stack}
    cfg = load_config(yaml.safe_load(yaml.safe_dump(doc)))  # as written, as read back
    names = [layer.name for layer in cfg.stack]
    assert names == sorted(names, key=["audit", "cache", "budget", "fallback", "ratelimit",
                                       "retry"].index)
    assert ("retry" in names) is (retry != "n")
    assert ("fallback" in names) is (fallback != "none")
    assert ("ratelimit" in names) is (rpm not in ("", "0"))


def test_a_keyring_that_drops_keys_is_reported(tmp_path: Path) -> None:
    import keyring
    import keyring.backends.null

    from insightforge.cli._wizard.providers import keep_key

    before = keyring.get_keyring()
    null: Any = keyring.backends.null.Keyring
    keyring.set_keyring(null())
    try:
        spec: dict[str, Any] = {"type": "openai"}
        _, shown = ask(lambda: keep_key("openai", "openai", spec, TEST_OPENAI_KEY,
                                        allow_plaintext=False), [])
    finally:
        keyring.set_keyring(before)
    assert "api_key_ref" not in spec and "NOT stored" in shown and "OPENAI_API_KEY" in shown
    assert TEST_OPENAI_KEY not in shown


# --- issue 15: the wizard keeps the answers it was given ------------------------------------

def test_a_failed_test_asks_again_instead_of_discarding(
        keyring_env: dict[str, str], clean_env: Path, guarded: Any) -> None:
    env = subprocess_env(keyring_env)
    wrong = "sk-proj-WRONGKEYabcdefghijklmnopqrstuvwxyz012345"
    term = Terminal([EXE, "config", "init"], env, clean_env)
    for prompt, answer in [("Providers to set up", "openai"), ("Name for this", ""),
                           ("Model", ""), ("Base URL", "http://127.0.0.1:9/v1"),
                           ("API key for openai", wrong), ("Test the connection now?", ""),
                           ("test: unreachable", None),
                           ("or drop it? (url, key, both, keep, drop) [url]:", ""),
                           ("Base URL [http://127.0.0.1:9/v1]:", guarded.openai_url),
                           ("test: bad key", None),
                           ("or drop it? (url, key, both, keep, drop) [key]:", ""),
                           ("API key for openai", TEST_OPENAI_KEY), ("test: OK", None),
                           ("Stored the key for openai in", None),
                           ("Retry transient failures", ""), ("Rate limit", ""),
                           ("Daily budget", ""), ("Cache answers", ""),
                           ("Audit log file", ""), ("Wrote", None)]:
        term.expect(prompt)
        if answer is not None:
            term.send(answer)
    assert term.finish() == 0
    doc = yaml.safe_load((clean_env / "insightforge.yaml").read_text())
    assert doc["providers"]["openai"]["base_url"] == guarded.openai_url
    from insightforge.credentials import keyring_get

    assert keyring_get("openai") == TEST_OPENAI_KEY  # the key that passed, not the wrong one


def test_without_a_keyring_the_typed_key_is_still_tested(clean_env: Path, guarded: Any) -> None:
    env = subprocess_env({"INSIGHTFORGE_NO_KEYRING": "1"})
    term = Terminal([EXE, "config", "init"], env, clean_env)
    for prompt, answer in [("Providers to set up", "openai"), ("Name for this", ""),
                           ("Model", ""), ("Base URL", guarded.openai_url),
                           ("API key for openai", TEST_OPENAI_KEY),
                           ("Test the connection now?", ""), ("test: OK", None),
                           ("the key was NOT stored; set OPENAI_API_KEY", None),
                           ("Retry transient failures", ""), ("Rate limit", ""),
                           ("Daily budget", ""), ("Cache answers", ""),
                           ("Audit log file", ""), ("Wrote", None)]:
        term.expect(prompt)
        if answer is not None:
            term.send(answer)
    assert term.finish() == 0
    written = (clean_env / "insightforge.yaml").read_text()
    assert TEST_OPENAI_KEY not in written and "api_key_ref" not in written
    assert guarded.requests[-1].headers["authorization"] == f"Bearer {TEST_OPENAI_KEY}"


def test_a_budget_asks_the_price_of_a_model_it_cannot_look_up(tmp_path: Path) -> None:
    from insightforge.cli._wizard import _stack
    from insightforge.config import load_config

    providers: dict[str, Any] = {
        "mine": {"type": "compatible", "model": "my-llm", "base_url": "http://h/v1"},
        "main": {"type": "openai", "model": "gpt-4o-mini"}}
    stack, shown = ask(_stack, ["", "mine", "", "1", "0.5", "1.5", "", ""], "main",
                       ["mine"], tmp_path, providers, tmp_path / "data")
    assert "no price is known for compatible model 'my-llm'" in shown
    assert providers["mine"]["price"] == {"input": 0.5, "output": 1.5}
    assert "price" not in providers["main"]  # known: not asked
    budget = next(layer["budget"] for layer in stack if "budget" in layer)
    assert budget["store"] == f"sqlite:///{tmp_path / 'data' / 'budget.db'}"
    load_config({"providers": providers, "provider": "main", "stack": stack})  # it loads
