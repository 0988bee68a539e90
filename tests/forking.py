"""``in_child(check)``: run ``check`` in a forked child and say whether it held there."""

from __future__ import annotations

import os
from collections.abc import Callable


def in_child(check: Callable[[], bool]) -> bool:
    """``check()`` in a forked child (POSIX); ``True`` when it returned true and the child
    exited cleanly. Any exception in the child counts as false."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ok = False
            try:
                ok = bool(check())
            finally:
                os.write(writer, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(writer)
    _, status = os.waitpid(pid, 0)
    answer = os.read(reader, 2)
    os.close(reader)
    return answer == b"ok" and status == 0
