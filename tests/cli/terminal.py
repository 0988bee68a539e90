"""A child process on a pseudo-terminal, with expect/send: how the tests drive the wizard,
the interactive chat and the live status line exactly as a person at a terminal would."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from pathlib import Path

__all__ = ["Terminal"]


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

    def raw(self) -> str:
        """Everything the terminal has shown so far and not yet consumed by ``expect``."""
        return self.seen

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2) or self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the wizard did not finish:\n{self.seen}")
        os.close(self.master)
        return self.proc.wait(timeout=5)
