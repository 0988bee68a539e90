"""``insightforge config init`` driven through a pseudo-terminal with the real console script,
then ``insightforge chat "hi"`` with the file it wrote — no file edited by hand.

The emulator accepts only the test key, so the chat succeeding proves the key went into the
(real) keyring and the YAML found it there; the YAML itself must not contain it.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from insightforge.testing.emulator import Emulator
from tests.cli.conftest import EXE, subprocess_env
from tests.conftest import TEST_OPENAI_KEY

pytestmark = pytest.mark.keyring


class Terminal:
    """A child process on a pseudo-terminal, with expect/send."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.seen = ""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.seen += data.decode(errors="replace").replace("\r\n", "\n")
        return bool(data)

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None
                             and text not in self.seen):
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen}")
        self.seen = self.seen[self.seen.index(text) + len(text):]

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\r").encode())

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2) or self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the wizard did not finish:\n{self.seen}")
        os.close(self.master)
        return self.proc.wait(timeout=5)


@pytest.fixture
def guarded() -> Iterator[Any]:
    with Emulator(api_keys=[TEST_OPENAI_KEY]) as emu:
        yield emu


def test_new_user_sets_up_and_chats(keyring_env: dict[str, str], clean_env: Path,
                                    guarded: Any) -> None:
    env = subprocess_env(keyring_env)
    config = clean_env / "conf" / "insightforge.yaml"
    term = Terminal([EXE, "--config", str(config), "config", "init"], env, clean_env)
    transcript = []
    for prompt, answer in [
        ("Providers to set up", "openai"),
        ("Name for this openai provider [openai]:", ""),
        ("Model [gpt-4o-mini]:", ""),
        ("Base URL [https://api.openai.com/v1]:", guarded.openai_url),
        ("API key for openai", TEST_OPENAI_KEY),
        ("Test the connection now? [Y/n]:", ""),
        ("test: OK", None),
        ("Retry transient failures", "y"),
        ("Daily budget in USD (0 for none)", "2"),
        (f"Wrote {config}", None),
    ]:
        term.expect(prompt)
        transcript.append(prompt)
        if answer is not None:
            term.send(answer)
    assert term.finish() == 0
    written = config.read_text()
    assert TEST_OPENAI_KEY not in written and "api_key_ref: keyring:openai" in written
    assert "budget" in written and "retry" in written

    chat = subprocess.run([EXE, "--config", str(config), "chat", "hi"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=clean_env)
    assert (chat.returncode, chat.stdout) == (0, "Echo: hi\n"), chat.stderr
    assert guarded.requests[-1].headers.get("authorization") == f"Bearer {TEST_OPENAI_KEY}"


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
    term.expect("Keep this provider anyway? [y/N]:")
    term.send("n")
    term.expect("no provider set up")
    assert term.finish() == 2
    assert not config.exists()
