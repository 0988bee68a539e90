"""The live status line: on a terminal, retries, fallbacks and rate-limit waits show on one
line of stderr while they happen, erased before the answer; nothing when stderr is piped;
nothing with -q. Driven through a pseudo-terminal with the real console script."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.cli._status import status_text
from insightforge.testing.emulator import Fault
from insightforge.types import TraceEvent
from tests.cli.conftest import EXE, subprocess_env
from tests.cli.terminal import Terminal
from tests.conftest import TEST_OPENAI_KEY

ERASE = "\r\x1b[2K"


def config(tmp: Path, emu: Any, stack: str) -> None:
    (tmp / "insightforge.yaml").write_text(
        "providers:\n"
        f"  main: {{type: openai, model: gpt-4o-mini, base_url: '{emu.openai_url}',"
        f" api_key: '{TEST_OPENAI_KEY}'}}\n"
        f"  local: {{type: ollama, model: llama3.1, base_url: '{emu.ollama_url}'}}\n"
        f"provider: main\nstack: {stack}\n")


def on_terminal(tmp: Path, *args: str) -> tuple[int, str]:
    term = Terminal([EXE, "chat", *args], subprocess_env(), tmp)
    code = term.finish(timeout=60)
    return code, term.seen


def test_a_retry_wait_shows_on_a_terminal_and_is_erased(clean_env: Path, emulator: Any) -> None:
    config(clean_env, emulator, "[{retry: {attempts: 2, max_retry_after: 5}}]")
    emulator.script(Fault.status(429, retry_after=1), api="openai")
    code, shown = on_terminal(clean_env, "hi")
    assert code == 0
    status = shown.index("retry: attempt 2 after 1.00s: RateLimitError (waiting")
    answer = shown.index("Echo: hi")
    assert status < answer and ERASE in shown[status:answer]  # erased before the answer


def test_a_fallback_shows(clean_env: Path, emulator: Any) -> None:
    config(clean_env, emulator, "[{fallback: [local]}]")
    emulator.script(Fault.status(503), api="openai")
    code, shown = on_terminal(clean_env, "hi")
    assert code == 0 and "fallback: fallback to ollama after ProviderUnavailable" in shown


def test_a_rate_limit_wait_shows_in_the_interactive_chat(clean_env: Path,
                                                         emulator: Any) -> None:
    config(clean_env, emulator, "[{ratelimit: {rpm: 1, window: 3, max_wait: 10}}]")
    term = Terminal([EXE, "chat"], subprocess_env(), clean_env)
    term.expect("> ")
    term.send("one")
    term.expect("Echo: one")
    term.expect("> ")
    term.send("two")  # one request per 3 s: this one waits, and says so
    term.expect("ratelimit: waiting")
    term.expect("Echo: two")
    term.expect("> ")
    term.send("exit")
    assert term.finish() == 0


def test_quiet_and_pipes_show_nothing(clean_env: Path, emulator: Any) -> None:
    config(clean_env, emulator, "[{retry: {attempts: 2, max_retry_after: 5}}]")
    emulator.script(Fault.status(429, retry_after=0.2), api="openai")
    code, shown = on_terminal(clean_env, "-q", "hi")
    assert code == 0 and "retry:" not in shown and ERASE not in shown
    emulator.script(Fault.status(429, retry_after=0.2), api="openai")
    piped = subprocess.run([EXE, "chat", "hi"], env=subprocess_env(), cwd=clean_env,
                           capture_output=True, text=True, timeout=60)
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "Echo: hi\n", "")
    assert emulator.count(api="openai") == 4  # both retried: only the line is missing


@pytest.mark.parametrize("args", [["-q", "chat"], ["chat", "--quiet"]])
def test_quiet_before_or_after_the_command(clean_env: Path, emulator: Any,
                                           args: list[str]) -> None:
    config(clean_env, emulator, "[{retry: {attempts: 2, max_retry_after: 5}}]")
    emulator.script(Fault.status(429, retry_after=0.2), api="openai")
    term = Terminal([EXE, *args, "hi"], subprocess_env(), clean_env)
    assert term.finish(timeout=60) == 0 and "retry:" not in term.seen


@given(st.text(max_size=40), st.floats(min_value=0, max_value=100, allow_nan=False))
def test_status_text_is_one_line(detail: str, left: float) -> None:
    text = status_text(TraceEvent("retry", "attempt", detail.replace("\n", " ")
                                  .replace("\r", " ")), left)
    assert text.startswith("retry: ") and "\n" not in text
    assert ("waiting" in text) is (left > 0.05)
