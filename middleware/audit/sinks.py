"""Where sealed audit records go: a JSON-lines file, or any stdlib/structlog logger.

:class:`FileSink` appends one canonical JSON line per record. Reading the last hash and
writing the next line happen under an exclusive ``fcntl.flock`` (plus a thread lock), so
several processes and threads appending to one file keep one chain. The lock is taken on
``<path>.lock``, a file that is never renamed. Rotation (``max_bytes``) renames the full file
aside and starts a new one whose header points at the old file's last hash.
``fsync``: ``"always"`` (each record durable before the request returns),
``"interval"`` (at most every ``fsync_interval`` seconds, and on close), ``"never"`` (the OS
decides). :class:`LoggerSink` keeps the chain in memory, per sink.

What must not live here: record building or redaction (``record.py``), hashing rules
(``chain.py``).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from middleware.audit import chain

__all__ = ["FileSink", "LoggerSink", "Sink", "as_sink", "last_hash_of"]

FSYNC_POLICIES = ("always", "interval", "never")


@runtime_checkable
class Sink(Protocol):
    """Takes an unsealed record, chains and stores it, returns the sealed record."""

    blocking: bool

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


def last_hash_of(fd: int, size: int) -> str | None:
    """The ``hash`` of the last complete line of an open file (``None`` if empty)."""
    if size == 0:
        return None
    block, data = 4096, b""
    pos = size
    while pos > 0:
        step = min(block, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
        body = data.rstrip(b"\n")
        cut = body.rfind(b"\n")
        if cut >= 0 or pos == 0:
            line = body[cut + 1:]
            try:
                return str(json.loads(line)["hash"])
            except (ValueError, KeyError, TypeError):
                raise ValueError(
                    "the last line of the audit file is not an audit record; run "
                    "`insightforge audit verify FILE` and move the damaged file aside") from None
        block *= 2
    return None


class FileSink:
    """Append-only JSON-lines file with a hash chain (see the module docstring).

    Attributes:
        path: the audit file. fsync: ``always`` | ``interval`` | ``never``.
        fsync_interval: seconds between fsyncs for ``interval``.
        max_bytes: rotate when the file reaches this size (``None``: never).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: str = "interval",
                 fsync_interval: float = 1.0, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if max_bytes is not None and max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024, got {max_bytes!r}")
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_interval = float(fsync_interval)
        self.max_bytes = max_bytes
        self.blocking = fsync != "never"
        self._clock = clock
        self._lock = threading.Lock()
        self._lockpath = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None
        self._lockfd: int | None = None
        self._pid = 0
        self._ino = 0
        self._synced = 0.0
        self._dirty = False

    # -- file handling ---------------------------------------------------------------
    def _fds(self) -> tuple[int, int]:
        """(lock fd, data fd) for this process; reopened after a fork."""
        if self._fd is None or self._lockfd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfd = os.open(self._lockpath, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd = None
            self._pid = os.getpid()
            self._reopen()
        assert self._fd is not None and self._lockfd is not None
        return self._lockfd, self._fd

    def _reopen(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._ino = os.fstat(self._fd).st_ino
        return self._fd

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Chain ``record`` to the file's last line and append it, atomically.

        Mutual exclusion: a thread lock, then ``flock`` on ``<path>.lock`` (a file that is
        never renamed, so rotation cannot race with a writer in another process).
        """
        with self._lock:
            lockfd, fd = self._fds()
            fcntl.flock(lockfd, fcntl.LOCK_EX)
            try:
                try:
                    current = os.stat(self.path).st_ino
                except FileNotFoundError:
                    current = -1
                if current != self._ino:  # rotated (or moved away) by someone else
                    fd = self._reopen()
                return self._append(fd, record)
            finally:
                fcntl.flock(lockfd, fcntl.LOCK_UN)

    def _append(self, fd: int, record: Mapping[str, Any]) -> dict[str, Any]:
        size = os.fstat(fd).st_size
        prev = last_hash_of(fd, size)
        lines = []
        if prev is not None and self.max_bytes is not None and size >= self.max_bytes:
            fd, head = self._rotate(fd, prev)
            lines.append(chain.canonical(head))
            prev = head["hash"]
        elif prev is None:
            head = chain.header(prev_file=None, ts=self._now())
            lines.append(chain.canonical(head))
            prev = head["hash"]
        sealed = chain.seal(record, prev)
        lines.append(chain.canonical(sealed))
        os.write(fd, ("\n".join(lines) + "\n").encode("ascii"))
        self._sync(fd)
        return sealed

    def _rotate(self, fd: int, last: str) -> tuple[int, dict[str, Any]]:
        """Rename the full file aside; the new file's header carries ``last``."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        os.fsync(fd)
        os.rename(self.path, target)
        head = chain.header(last, prev_file=target.name, ts=self._now())
        return self._reopen(), head

    def _sync(self, fd: int) -> None:
        if self.fsync == "always":
            os.fsync(fd)
        elif self.fsync == "interval":
            now = time.monotonic()
            if now - self._synced >= self.fsync_interval:
                os.fsync(fd)
                self._synced = now
                self._dirty = False
            else:
                self._dirty = True

    def _now(self) -> str:
        from middleware.audit.record import iso_utc

        return iso_utc(self._clock())

    def close(self) -> None:
        """fsync pending records (``interval``) and close the file."""
        with self._lock:
            fd, lockfd, self._fd, self._lockfd = self._fd, self._lockfd, None, None
            if self._pid != os.getpid():
                return
            if fd is not None:
                if self._dirty:
                    os.fsync(fd)
                os.close(fd)
            if lockfd is not None:
                os.close(lockfd)

    def __repr__(self) -> str:
        return f"FileSink({str(self.path)!r}, fsync={self.fsync!r})"


class LoggerSink:
    """Sends each sealed record to a logger: stdlib gets one JSON line per ``info`` call,
    a structlog logger gets ``info("audit", **record)``. The chain lives in memory, so it
    restarts at genesis (with a header record) in every process.

    Attributes:
        logger: a ``logging.Logger`` or a structlog bound logger.
    """

    blocking = False

    def __init__(self, logger: Any) -> None:
        if not callable(getattr(logger, "info", None)):
            raise TypeError(f"a logger sink needs an object with .info(), got "
                            f"{type(logger).__name__}; pass a path or a logging.Logger")
        self.logger = logger
        self._lock = threading.Lock()
        self._prev: str | None = None

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._prev is None:
                head = chain.header()
                self._emit(head)
                self._prev = head["hash"]
            sealed = chain.seal(record, self._prev)
            self._emit(sealed)
            self._prev = sealed["hash"]
            return sealed

    def _emit(self, record: dict[str, Any]) -> None:
        if isinstance(self.logger, (logging.Logger, logging.LoggerAdapter)):
            self.logger.info(chain.canonical(record))
        else:
            self.logger.info("audit", **record)

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"LoggerSink({getattr(self.logger, 'name', type(self.logger).__name__)!r})"


def as_sink(target: Any) -> Sink:
    """A sink from a path, a sink object, or a logger."""
    if isinstance(target, (str, os.PathLike)):
        return FileSink(target)
    if isinstance(target, Sink):
        return target
    if callable(getattr(target, "info", None)):
        return LoggerSink(target)
    raise TypeError(f"AuditLog sink must be a file path, a sink, or a logger; got "
                    f"{type(target).__name__}")
