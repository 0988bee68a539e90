"""Real servers for the test suite: Redis on a free loopback port, torn down at the end.

Tests never mock these. When a server binary is missing, tests that need it are skipped
locally with the command to install it; under CI (``INSIGHTFORGE_REQUIRE_SERVICES=1``, set
by ``.ci/run``) a missing server is a failure instead, so a green CI always means the
tests really ran.
"""

from __future__ import annotations

import os
import shutil
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


@contextmanager
def redis_server() -> Iterator[str]:
    """Start ``redis-server`` on loopback; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server", "run `apt-get install redis-server` (or bash .ci/setup)")
        raise AssertionError("unreachable")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
