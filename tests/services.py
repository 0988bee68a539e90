"""Real servers for the test suite: Redis on a free loopback port, torn down at the end.

Tests never mock these. When a server binary is missing, tests that need it are skipped
locally with the command to install it; under CI (``INSIGHTFORGE_REQUIRE_SERVICES=1``, set
by ``.ci/run``) a missing server is a failure instead, so a green CI always means the
tests really ran.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str, fix: str) -> None:
    message = f"{what} is not installed; {fix}"
    if os.environ.get("INSIGHTFORGE_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


class RedisProcess:
    """A real ``redis-server`` on a loopback port that a test may stop and start again (on
    the same port, with an empty memory: what a restart without persistence looks like)."""

    def __init__(self, binary: str, port: int, folder: str, persist: bool = False) -> None:
        self.binary, self.port, self.folder, self.persist = binary, port, folder, persist
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
             "--dir", self.folder, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(timeout=10)
            self.proc = None

    def stall(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@contextmanager
def redis_process(persist: bool = False) -> Iterator[RedisProcess]:
    """A started :class:`RedisProcess` (``persist``: an append-only file, so a restart
    keeps the data, as a production server would), stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server", "run `apt-get install redis-server` (or bash scripts/setup)")
        raise AssertionError("unreachable")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisProcess(binary, free_port(), tmp, persist)
        server.start()
        try:
            yield server
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.resume()
            server.stop()


@contextmanager
def redis_server() -> Iterator[str]:
    """Start ``redis-server`` on loopback; yields its URL."""
    with redis_process() as server:
        yield server.url


@contextmanager
def small_disk(folder: str, size: str = "64k") -> Iterator[str]:
    """A tiny tmpfs mounted at ``folder`` (a full disk, on demand); skipped with the reason
    when this machine does not let the tests mount one (mounting needs root)."""
    os.makedirs(folder, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here for the full-disk test "
                    f"({proc.stderr.strip() or 'mount failed'}); it needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], capture_output=True)


def remount(folder: str, mode: str) -> None:
    """Remount a :func:`small_disk` read-only (``"ro"``) or writable (``"rw"``)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", folder], check=True, capture_output=True)
